//! Errors of the write side.

use gemba_domain::{DomainError, ValidationError};

/// Why a command did not take effect. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The domain refused the command (validation, permission, state rule, not found).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Another command changed the record first, or a uniqueness rule was hit.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The credentials or token do not authenticate anyone.
    #[error("not authenticated")]
    Unauthenticated,
    /// Too many attempts.
    #[error("rate limited")]
    RateLimited,
    /// A legal hold is in place: nothing is disposed of.
    #[error("a legal hold is in place: nothing is disposed of")]
    LegalHold,
    /// Projections have not applied the events a disposal would remove (named).
    #[error("projections have not yet applied the events to dispose of: {0}")]
    ProjectionsBehind(String),
    /// The database failed; details are logged, never shown to clients.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Something that cannot happen with a correct deployment (bad key, corrupt event).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationError> for CommandError {
    fn from(error: ValidationError) -> Self {
        Self::Domain(DomainError::Invalid(error))
    }
}

impl From<crate::store::StoreError> for CommandError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::Conflict => Self::Conflict("the record was changed by another request; try again"),
            StoreError::Constraint(rule) => Self::Conflict(rule),
            StoreError::Rule(rule) => Self::Domain(DomainError::Rule(rule)),
            StoreError::Database(e) => Self::Database(e),
            StoreError::Corrupt(e) => Self::Internal(e),
        }
    }
}
