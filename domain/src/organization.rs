//! The Organization aggregate: one per tenant.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome};
use crate::ids::{MemberId, OrgId};
use crate::values::{Name, Reason};

/// State of an organisation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Organization {
    id: Option<OrgId>,
    name: Option<Name>,
}

/// Commands on an organisation.
#[derive(Clone, Debug)]
pub enum OrganizationCommand {
    /// Sign-up creates the organisation; its founder becomes its first Owner.
    Create { org_id: OrgId, name: Name, founder: MemberId },
    /// Owners and Admins may rename it.
    Rename { actor: Actor, name: Name },
}

/// Events of an organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    /// The organisation exists.
    OrganizationCreated { org_id: OrgId, name: Name, founded_by: MemberId },
    /// Its name changed.
    OrganizationRenamed { before: Name, after: Name },
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrganizationCreated { .. } => "OrganizationCreated",
            Self::OrganizationRenamed { .. } => "OrganizationRenamed",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for OrganizationEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::OrganizationCreated { name, founded_by, .. } => {
                vec![Change::created("name", name), Change::created("foundedBy", founded_by)]
            }
            Self::OrganizationRenamed { before, after } => vec![Change::new("name", before, after)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        None
    }
}

impl Aggregate for Organization {
    const TYPE: &'static str = "Organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            OrganizationCommand::Create { org_id, name, founder } => {
                if self.id.is_some() {
                    return Err(DomainError::Rule("the organisation already exists"));
                }
                sink.write(OrganizationEvent::OrganizationCreated { org_id, name, founded_by: founder }, self).await;
            }
            OrganizationCommand::Rename { actor, name } => {
                actor.require_admin()?;
                let before = self.name.clone().ok_or(DomainError::NotFound)?;
                if before == name {
                    return Err(DomainError::Rule("the organisation already has this name"));
                }
                sink.write(OrganizationEvent::OrganizationRenamed { before, after: name }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OrganizationEvent::OrganizationCreated { org_id, name, .. } => {
                self.id = Some(org_id);
                self.name = Some(name);
            }
            OrganizationEvent::OrganizationRenamed { after, .. } => self.name = Some(after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Role;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Organization>;

    fn name(text: &str) -> Name {
        Name::parse("name", text).unwrap_or_else(|e| panic!("{e}"))
    }
    fn created() -> OrganizationEvent {
        OrganizationEvent::OrganizationCreated { org_id: OrgId(Uuid::nil()), name: name("Acme"), founded_by: MemberId(Uuid::nil()) }
    }
    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(1)), role }
    }

    #[test]
    fn sign_up_creates_the_organisation() {
        Given::with(())
            .given_no_previous_events()
            .when(OrganizationCommand::Create { org_id: OrgId(Uuid::nil()), name: name("Acme"), founder: MemberId(Uuid::nil()) })
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn an_organisation_is_created_once() {
        Given::with(())
            .given(vec![created()])
            .when(OrganizationCommand::Create { org_id: OrgId(Uuid::nil()), name: name("Acme"), founder: MemberId(Uuid::nil()) })
            .then_expect_error(DomainError::Rule("the organisation already exists"));
    }

    #[test]
    fn an_admin_renames_it() {
        Given::with(())
            .given(vec![created()])
            .when(OrganizationCommand::Rename { actor: actor(Role::Admin), name: name("Acme Plants") })
            .then_expect_events(vec![OrganizationEvent::OrganizationRenamed { before: name("Acme"), after: name("Acme Plants") }]);
    }

    #[test]
    fn members_and_auditors_cannot_rename_it() {
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(())
                .given(vec![created()])
                .when(OrganizationCommand::Rename { actor: actor(role), name: name("X") })
                .inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
        }
    }

    #[test]
    fn renaming_to_the_same_name_is_refused() {
        Given::with(())
            .given(vec![created()])
            .when(OrganizationCommand::Rename { actor: actor(Role::Owner), name: name("Acme") })
            .then_expect_error(DomainError::Rule("the organisation already has this name"));
    }
}
