//! Soft deletion of a zone, defect, kaizen, A3 case or member, recoverable for a window.
//!
//! A deletion is its own small aggregate (type `Deletion`) whose stream has the **same id as
//! the deleted entity**, so the entity's history shows the deletion and its recovery (who,
//! when, reason) next to its own events, while the entity's aggregate is never changed: a
//! recovery brings it back exactly as it was. The event types name the entity
//! (`ZoneDeleted`, `DefectRecovered`, ...).
//!
//! Invariants: only an Owner or Admin deletes or recovers, always with a reason; an entity is
//! deleted at most once at a time; a recovery is accepted until `recoverable_until`
//! ([`RECOVERY_WINDOW_DAYS`] after the deletion, fixed in the event), never after. What may
//! not be deleted (a zone with open work, the last Owner, ...) is a fact the write side looks
//! up and passes in as `refused`. While deleted, the write side refuses every other command on
//! the entity (`DomainError::Deleted`).

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome};
use crate::values::Reason;

/// How long a deleted entity can be recovered, in days from its deletion.
pub const RECOVERY_WINDOW_DAYS: i64 = 30;

/// What kind of entity a deletion hides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeletableKind {
    /// A zone (refused while it has open work).
    Zone,
    /// A defect.
    Defect,
    /// A kaizen.
    Kaizen,
    /// An A3 case.
    A3Case,
    /// A member (refused for an Owner, one's own membership and zone owners).
    Member,
}

impl DeletableKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [Self::Zone, Self::Defect, Self::Kaizen, Self::A3Case, Self::Member];

    /// The aggregate type of the entity (and the prefix of the event types).
    pub fn aggregate_type(self) -> &'static str {
        match self {
            Self::Zone => "Zone",
            Self::Defect => "Defect",
            Self::Kaizen => "Kaizen",
            Self::A3Case => "A3Case",
            Self::Member => "Member",
        }
    }

    /// The kind whose aggregate type is `aggregate_type`.
    pub fn of_aggregate_type(aggregate_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.aggregate_type() == aggregate_type)
    }
}

/// State of the deletion of one entity.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Deletion {
    kind: Option<DeletableKind>,
    recoverable_until: Option<DateTime<Utc>>,
}

impl Deletion {
    /// Whether the entity is deleted now.
    pub fn is_deleted(&self) -> bool {
        self.recoverable_until.is_some()
    }
}

/// Commands on the deletion of an entity.
#[derive(Clone, Debug)]
pub enum DeletionCommand {
    /// An Owner or Admin deletes an existing entity at `at`, with a reason. `refused` is the
    /// write side's finding why this entity may not be deleted now (open work, last Owner...).
    Delete { actor: Actor, kind: DeletableKind, exists: bool, refused: Option<&'static str>, reason: Reason, at: DateTime<Utc> },
    /// An Owner or Admin recovers the deleted entity at `at`, with a reason.
    Recover { actor: Actor, reason: Reason, at: DateTime<Utc> },
}

/// Events of the deletion of an entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DeletionEvent {
    /// The entity is hidden from every view; it can be recovered until `recoverable_until`.
    Deleted { kind: DeletableKind, reason: Reason, deleted_at: DateTime<Utc>, recoverable_until: DateTime<Utc> },
    /// The entity is back, exactly as it was.
    Recovered { kind: DeletableKind, reason: Reason },
}

impl DomainEvent for DeletionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Deleted { kind, .. } => format!("{}Deleted", kind.aggregate_type()),
            Self::Recovered { kind, .. } => format!("{}Recovered", kind.aggregate_type()),
        }
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for DeletionEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::Deleted { recoverable_until, .. } => {
                vec![Change::new("deleted", false, true), Change::created("recoverableUntil", recoverable_until)]
            }
            Self::Recovered { .. } => vec![Change::new("deleted", true, false)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Deleted { reason, .. } | Self::Recovered { reason, .. } => Some(reason),
        }
    }
}

impl Aggregate for Deletion {
    const TYPE: &'static str = "Deletion";
    type Command = DeletionCommand;
    type Event = DeletionEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            DeletionCommand::Delete { actor, kind, exists, refused, reason, at } => {
                actor.require_admin()?;
                if !exists {
                    return Err(DomainError::NotFound);
                }
                if self.is_deleted() {
                    return Err(DomainError::Deleted);
                }
                if let Some(why) = refused {
                    return Err(DomainError::Rule(why));
                }
                let recoverable_until = at + Duration::days(RECOVERY_WINDOW_DAYS);
                sink.write(DeletionEvent::Deleted { kind, reason, deleted_at: at, recoverable_until }, self).await;
            }
            DeletionCommand::Recover { actor, reason, at } => {
                actor.require_admin()?;
                let (Some(kind), Some(until)) = (self.kind, self.recoverable_until) else {
                    return Err(DomainError::Rule("the record is not deleted"));
                };
                if at > until {
                    return Err(DomainError::RecoveryWindowClosed);
                }
                sink.write(DeletionEvent::Recovered { kind, reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            DeletionEvent::Deleted { kind, recoverable_until, .. } => {
                self.kind = Some(kind);
                self.recoverable_until = Some(recoverable_until);
            }
            DeletionEvent::Recovered { kind, .. } => {
                self.kind = Some(kind);
                self.recoverable_until = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MemberId;
    use crate::values::{ReasonCode, Role};
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Deletion>;

    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(7)), role }
    }
    fn reason() -> Reason {
        Reason { code: ReasonCode::Other, text: "entered twice".into() }
    }
    fn at(day: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(10_000 + day)
    }
    fn delete(role: Role, refused: Option<&'static str>) -> DeletionCommand {
        DeletionCommand::Delete { actor: actor(role), kind: DeletableKind::Defect, exists: true, refused, reason: reason(), at: at(0) }
    }
    fn deleted() -> DeletionEvent {
        DeletionEvent::Deleted {
            kind: DeletableKind::Defect,
            reason: reason(),
            deleted_at: at(0),
            recoverable_until: at(RECOVERY_WINDOW_DAYS),
        }
    }
    fn recover(day: i64) -> DeletionCommand {
        DeletionCommand::Recover { actor: actor(Role::Admin), reason: reason(), at: at(day) }
    }

    #[test]
    fn an_admin_deletes_with_a_reason_and_the_window_is_fixed_in_the_event() {
        Given::with(()).given_no_previous_events().when(delete(Role::Admin, None)).then_expect_events(vec![deleted()]);
        assert_eq!(deleted().event_type(), "DefectDeleted");
        assert_eq!(deleted().reason(), Some(&reason()));
    }

    #[test]
    fn members_and_auditors_cannot_delete() {
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(()).given_no_previous_events().when(delete(role, None)).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
        }
    }

    #[test]
    fn a_deletion_is_refused_for_a_missing_a_deleted_or_a_blocked_entity() {
        let missing = DeletionCommand::Delete {
            actor: actor(Role::Owner),
            kind: DeletableKind::Zone,
            exists: false,
            refused: None,
            reason: reason(),
            at: at(0),
        };
        Given::with(()).given_no_previous_events().when(missing).then_expect_error(DomainError::NotFound);
        Given::with(()).given(vec![deleted()]).when(delete(Role::Owner, None)).then_expect_error(DomainError::Deleted);
        Given::with(())
            .given_no_previous_events()
            .when(delete(Role::Owner, Some("the zone has open work")))
            .then_expect_error(DomainError::Rule("the zone has open work"));
    }

    #[test]
    fn recovery_is_accepted_up_to_the_end_of_the_window_and_refused_after() {
        let recovered = DeletionEvent::Recovered { kind: DeletableKind::Defect, reason: reason() };
        assert_eq!(recovered.event_type(), "DefectRecovered");
        Given::with(()).given(vec![deleted()]).when(recover(RECOVERY_WINDOW_DAYS)).then_expect_events(vec![recovered.clone()]);
        Given::with(()).given(vec![deleted()]).when(recover(RECOVERY_WINDOW_DAYS + 1)).then_expect_error(DomainError::RecoveryWindowClosed);
        Given::with(())
            .given(vec![deleted(), recovered])
            .when(recover(1))
            .then_expect_error(DomainError::Rule("the record is not deleted"));
    }

    #[test]
    fn a_recovered_entity_can_be_deleted_again() {
        let recovered = DeletionEvent::Recovered { kind: DeletableKind::Defect, reason: reason() };
        Given::with(()).given(vec![deleted(), recovered]).when(delete(Role::Owner, None)).then_expect_events(vec![deleted()]);
    }
}
