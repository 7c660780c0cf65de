//! The person issuing a command, as the write side established it.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::MemberId;
use crate::values::Role;

/// Who issues a command and in what role (looked up at the time of the command).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The acting member.
    pub member_id: MemberId,
    /// The member's role when the command was issued.
    pub role: Role,
}

impl Actor {
    /// Auditors are read-only: every mutation from one is refused.
    pub fn require_mutator(&self) -> Result<(), DomainError> {
        match self.role {
            Role::Auditor => Err(DomainError::Forbidden("auditors are read-only")),
            _ => Ok(()),
        }
    }

    /// Organisation settings, plant structure and membership need an Owner or an Admin.
    pub fn require_admin(&self) -> Result<(), DomainError> {
        self.require_mutator()?;
        match self.role {
            Role::Owner | Role::Admin => Ok(()),
            _ => Err(DomainError::Forbidden("only an owner or an admin may do this")),
        }
    }

    /// Only an Owner grants, revokes or removes the Owner role.
    pub fn require_owner(&self) -> Result<(), DomainError> {
        self.require_mutator()?;
        match self.role {
            Role::Owner => Ok(()),
            _ => Err(DomainError::Forbidden("only an owner may do this")),
        }
    }
}
