//! The Organization aggregate: one per tenant.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::defect::PrioritySlas;
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{MemberId, OrgId};
use crate::values::{Name, Reason};

/// State of an organisation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Organization {
    id: Option<OrgId>,
    name: Option<Name>,
    settings: Settings,
}

/// The legal floor of the audit log's retention.
pub const MIN_RETENTION_YEARS: u32 = 7;

/// Settings that drive KPIs and compliance. Changes need a reason (they alter KPIs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Defect service levels per priority.
    pub defect_slas: PrioritySlas,
    /// A reopen within this many days counts as a recurrence.
    pub recurrence_window_days: u32,
    /// Audit-log retention in years (at least 7).
    pub retention_years: u32,
    /// While set, nothing is disposed of.
    pub legal_hold: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { defect_slas: PrioritySlas::default(), recurrence_window_days: 30, retention_years: MIN_RETENTION_YEARS, legal_hold: false }
    }
}

impl Organization {
    /// The organisation's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// Commands on an organisation.
#[derive(Clone, Debug)]
pub enum OrganizationCommand {
    /// Sign-up creates the organisation; its founder becomes its first Owner.
    Create { org_id: OrgId, name: Name, founder: MemberId },
    /// Owners and Admins may rename it.
    Rename { actor: Actor, name: Name },
    /// Owners and Admins change the defect SLAs and recurrence window, with a reason.
    ChangeDefectSettings { actor: Actor, defect_slas: PrioritySlas, recurrence_window_days: u32, reason: Reason },
    /// Owners set the retention (never below the legal floor), with a reason.
    SetRetentionPolicy { actor: Actor, years: u32, reason: Reason },
    /// Owners place or release a legal hold, with a reason.
    SetLegalHold { actor: Actor, hold: bool, reason: Reason },
}

/// Events of an organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    /// The organisation exists.
    OrganizationCreated {
        org_id: OrgId,
        name: Name,
        founded_by: MemberId,
    },
    /// Its name changed.
    OrganizationRenamed {
        before: Name,
        after: Name,
    },
    OrganizationSettingsChanged {
        before: Settings,
        after: Settings,
        reason: Reason,
    },
    RetentionPolicyChanged {
        before: u32,
        after: u32,
        reason: Reason,
    },
    LegalHoldPlaced {
        reason: Reason,
    },
    LegalHoldReleased {
        reason: Reason,
    },
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrganizationCreated { .. } => "OrganizationCreated",
            Self::OrganizationRenamed { .. } => "OrganizationRenamed",
            Self::OrganizationSettingsChanged { .. } => "OrganizationSettingsChanged",
            Self::RetentionPolicyChanged { .. } => "RetentionPolicyChanged",
            Self::LegalHoldPlaced { .. } => "LegalHoldPlaced",
            Self::LegalHoldReleased { .. } => "LegalHoldReleased",
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
            Self::OrganizationSettingsChanged { before, after, .. } => {
                let (b, a) = (serde_json::to_value(before).unwrap_or_default(), serde_json::to_value(after).unwrap_or_default());
                let mut changes = Vec::new();
                if let (Some(b), Some(a)) = (b.as_object(), a.as_object()) {
                    for (key, after) in a {
                        let before = b.get(key).cloned().unwrap_or_default();
                        if &before != after {
                            changes.push(Change::new(&format!("settings.{key}"), before, after));
                        }
                    }
                }
                changes
            }
            Self::RetentionPolicyChanged { before, after, .. } => vec![Change::new("settings.retention_years", before, after)],
            Self::LegalHoldPlaced { .. } => vec![Change::new("settings.legal_hold", false, true)],
            Self::LegalHoldReleased { .. } => vec![Change::new("settings.legal_hold", true, false)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::OrganizationSettingsChanged { reason, .. }
            | Self::RetentionPolicyChanged { reason, .. }
            | Self::LegalHoldPlaced { reason }
            | Self::LegalHoldReleased { reason } => Some(reason),
            _ => None,
        }
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
            OrganizationCommand::ChangeDefectSettings { actor, defect_slas, recurrence_window_days, reason } => {
                actor.require_admin()?;
                self.id.ok_or(DomainError::NotFound)?;
                let positive = [defect_slas.a, defect_slas.b, defect_slas.c].iter().all(|d| *d > chrono::Duration::zero());
                if !positive || defect_slas.a > defect_slas.b || defect_slas.b > defect_slas.c {
                    return Err(ValidationError::new("defectSlas", "are positive and A <= B <= C").into());
                }
                if !(1..=3650).contains(&recurrence_window_days) {
                    return Err(ValidationError::new("recurrenceWindowDays", "is between 1 and 3650").into());
                }
                let after = Settings { defect_slas, recurrence_window_days, ..self.settings.clone() };
                if after == self.settings {
                    return Err(DomainError::Rule("the settings are unchanged"));
                }
                sink.write(OrganizationEvent::OrganizationSettingsChanged { before: self.settings.clone(), after, reason }, self).await;
            }
            OrganizationCommand::SetRetentionPolicy { actor, years, reason } => {
                actor.require_owner()?;
                self.id.ok_or(DomainError::NotFound)?;
                if !(MIN_RETENTION_YEARS..=100).contains(&years) {
                    return Err(ValidationError::new("years", "is between the legal floor of 7 and 100").into());
                }
                if years == self.settings.retention_years {
                    return Err(DomainError::Rule("the retention is unchanged"));
                }
                sink.write(OrganizationEvent::RetentionPolicyChanged { before: self.settings.retention_years, after: years, reason }, self)
                    .await;
            }
            OrganizationCommand::SetLegalHold { actor, hold, reason } => {
                actor.require_owner()?;
                self.id.ok_or(DomainError::NotFound)?;
                if hold == self.settings.legal_hold {
                    return Err(DomainError::Rule(if hold { "a legal hold is already in place" } else { "there is no legal hold" }));
                }
                let event =
                    if hold { OrganizationEvent::LegalHoldPlaced { reason } } else { OrganizationEvent::LegalHoldReleased { reason } };
                sink.write(event, self).await;
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
            OrganizationEvent::OrganizationSettingsChanged { after, .. } => self.settings = after,
            OrganizationEvent::RetentionPolicyChanged { after, .. } => self.settings.retention_years = after,
            OrganizationEvent::LegalHoldPlaced { .. } => self.settings.legal_hold = true,
            OrganizationEvent::LegalHoldReleased { .. } => self.settings.legal_hold = false,
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

    fn reason() -> Reason {
        Reason { code: crate::ReasonCode::Other, text: "policy".into() }
    }

    #[test]
    fn an_admin_changes_the_defect_slas_with_a_reason() {
        let slas = PrioritySlas { a: chrono::Duration::hours(8), ..PrioritySlas::default() };
        let change = OrganizationCommand::ChangeDefectSettings {
            actor: actor(Role::Admin),
            defect_slas: slas,
            recurrence_window_days: 60,
            reason: reason(),
        };
        let events = Given::with(()).given(vec![created()]).when(change).inspect_result().unwrap_or_default();
        let paths: Vec<String> = events.iter().flat_map(|e| e.changes()).map(|c| c.path).collect();
        assert_eq!(paths, ["settings.defect_slas", "settings.recurrence_window_days"]);
        let inverted = PrioritySlas { a: chrono::Duration::days(40), ..PrioritySlas::default() };
        let bad = OrganizationCommand::ChangeDefectSettings {
            actor: actor(Role::Admin),
            defect_slas: inverted,
            recurrence_window_days: 30,
            reason: reason(),
        };
        assert!(matches!(Given::with(()).given(vec![created()]).when(bad).inspect_result(), Err(DomainError::Invalid(_))));
    }

    #[test]
    fn only_owners_set_retention_never_below_seven_years_and_legal_holds() {
        let set = |role, years| OrganizationCommand::SetRetentionPolicy { actor: actor(role), years, reason: reason() };
        assert!(matches!(
            Given::with(()).given(vec![created()]).when(set(Role::Admin, 10)).inspect_result(),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(Given::with(()).given(vec![created()]).when(set(Role::Owner, 5)).inspect_result(), Err(DomainError::Invalid(_))));
        Given::with(())
            .given(vec![created()])
            .when(set(Role::Owner, 10))
            .then_expect_events(vec![OrganizationEvent::RetentionPolicyChanged { before: 7, after: 10, reason: reason() }]);
        let hold = |hold| OrganizationCommand::SetLegalHold { actor: actor(Role::Owner), hold, reason: reason() };
        Given::with(())
            .given(vec![created()])
            .when(hold(true))
            .then_expect_events(vec![OrganizationEvent::LegalHoldPlaced { reason: reason() }]);
        Given::with(()).given(vec![created()]).when(hold(false)).then_expect_error(DomainError::Rule("there is no legal hold"));
    }

    #[test]
    fn renaming_to_the_same_name_is_refused() {
        Given::with(())
            .given(vec![created()])
            .when(OrganizationCommand::Rename { actor: actor(Role::Owner), name: name("Acme") })
            .then_expect_error(DomainError::Rule("the organisation already has this name"));
    }
}
