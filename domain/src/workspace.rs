//! Workspace cancellation: an organisation's Owner cancels the workspace, which is then locked
//! (no commands but `RestoreWorkspace`, reads for Owners only) for a grace period of
//! [`GRACE_DAYS`]; within it an Owner restores everything as it was; after it the system purges
//! the primary data (read models, registry, evidence files, sign-in data) and shreds every
//! person key, while the events stay (the chain still verifies, personal values read as
//! erased). The stream is one per organisation, with the organisation's id, aggregate type
//! `Workspace`.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome};
use crate::values::Reason;

/// Days between a cancellation and the earliest purge.
pub const GRACE_DAYS: i64 = 30;

/// Where a workspace stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkspaceStatus {
    /// In use.
    #[default]
    Active,
    /// Cancelled, in its grace period: locked, restorable.
    Cancelled,
    /// Purged after the grace period: only the events remain.
    Purged,
}

/// State of a workspace.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Workspace {
    status: WorkspaceStatus,
    purge_after: Option<DateTime<Utc>>,
}

/// Commands on a workspace.
#[derive(Clone, Debug)]
pub enum WorkspaceCommand {
    /// An Owner cancels the workspace at `at`, with a reason.
    Cancel { actor: Actor, reason: Reason, at: DateTime<Utc> },
    /// An Owner restores the cancelled workspace within its grace period.
    Restore { actor: Actor, reason: Reason, at: DateTime<Utc> },
    /// The system purges the cancelled workspace after its grace period; the counts are what
    /// the write side removes in the same transaction.
    Purge { at: DateTime<Utc>, person_keys_shredded: u64, evidence_files_deleted: u64 },
}

/// Events of a workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorkspaceEvent {
    /// The workspace is locked; it is purged at the earliest at `purge_after`.
    WorkspaceCancelled { reason: Reason, cancelled_at: DateTime<Utc>, purge_after: DateTime<Utc> },
    /// The workspace is in use again, exactly as it was.
    WorkspaceRestored { reason: Reason },
    /// The primary data was removed and the person keys shredded; the events stay.
    WorkspacePurged { purged_at: DateTime<Utc>, person_keys_shredded: u64, evidence_files_deleted: u64 },
}

impl DomainEvent for WorkspaceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WorkspaceCancelled { .. } => "WorkspaceCancelled",
            Self::WorkspaceRestored { .. } => "WorkspaceRestored",
            Self::WorkspacePurged { .. } => "WorkspacePurged",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for WorkspaceEvent {
    fn changes(&self) -> Vec<Change> {
        let status = |before: WorkspaceStatus, after: WorkspaceStatus| Change::new("status", before, after);
        match self {
            Self::WorkspaceCancelled { purge_after, .. } => {
                vec![status(WorkspaceStatus::Active, WorkspaceStatus::Cancelled), Change::created("purgeAfter", purge_after)]
            }
            Self::WorkspaceRestored { .. } => vec![status(WorkspaceStatus::Cancelled, WorkspaceStatus::Active)],
            Self::WorkspacePurged { person_keys_shredded, evidence_files_deleted, .. } => vec![
                status(WorkspaceStatus::Cancelled, WorkspaceStatus::Purged),
                Change::created("personKeysShredded", person_keys_shredded),
                Change::created("evidenceFilesDeleted", evidence_files_deleted),
            ],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::WorkspaceCancelled { reason, .. } | Self::WorkspaceRestored { reason } => Some(reason),
            Self::WorkspacePurged { .. } => None,
        }
    }
}

impl Aggregate for Workspace {
    const TYPE: &'static str = "Workspace";
    type Command = WorkspaceCommand;
    type Event = WorkspaceEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        if self.status == WorkspaceStatus::Purged {
            return Err(DomainError::Rule("the workspace was purged"));
        }
        match command {
            WorkspaceCommand::Cancel { actor, reason, at } => {
                actor.require_owner()?;
                if self.status == WorkspaceStatus::Cancelled {
                    return Err(DomainError::WorkspaceCancelled);
                }
                let purge_after = at + Duration::days(GRACE_DAYS);
                sink.write(WorkspaceEvent::WorkspaceCancelled { reason, cancelled_at: at, purge_after }, self).await;
            }
            WorkspaceCommand::Restore { actor, reason, at } => {
                actor.require_owner()?;
                let Some(until) = self.purge_after.filter(|_| self.status == WorkspaceStatus::Cancelled) else {
                    return Err(DomainError::Rule("the workspace is not cancelled"));
                };
                if at > until {
                    return Err(DomainError::RecoveryWindowClosed);
                }
                sink.write(WorkspaceEvent::WorkspaceRestored { reason }, self).await;
            }
            WorkspaceCommand::Purge { at, person_keys_shredded, evidence_files_deleted } => {
                let Some(after) = self.purge_after.filter(|_| self.status == WorkspaceStatus::Cancelled) else {
                    return Err(DomainError::Rule("only a cancelled workspace is purged"));
                };
                if at <= after {
                    return Err(DomainError::Rule("the workspace's grace period has not ended"));
                }
                sink.write(WorkspaceEvent::WorkspacePurged { purged_at: at, person_keys_shredded, evidence_files_deleted }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            WorkspaceEvent::WorkspaceCancelled { purge_after, .. } => {
                self.status = WorkspaceStatus::Cancelled;
                self.purge_after = Some(purge_after);
            }
            WorkspaceEvent::WorkspaceRestored { .. } => {
                self.status = WorkspaceStatus::Active;
                self.purge_after = None;
            }
            WorkspaceEvent::WorkspacePurged { .. } => self.status = WorkspaceStatus::Purged,
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

    type Given = TestFramework<Workspace>;

    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(3)), role }
    }
    fn reason() -> Reason {
        Reason { code: ReasonCode::Other, text: "plant closed".into() }
    }
    fn at(day: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(12_000 + day)
    }
    fn cancelled() -> WorkspaceEvent {
        WorkspaceEvent::WorkspaceCancelled { reason: reason(), cancelled_at: at(0), purge_after: at(GRACE_DAYS) }
    }
    fn purge(day: i64) -> WorkspaceCommand {
        WorkspaceCommand::Purge { at: at(day), person_keys_shredded: 2, evidence_files_deleted: 1 }
    }

    #[test]
    fn only_an_owner_cancels_and_restores() {
        Given::with(())
            .given_no_previous_events()
            .when(WorkspaceCommand::Cancel { actor: actor(Role::Owner), reason: reason(), at: at(0) })
            .then_expect_events(vec![cancelled()]);
        for role in [Role::Admin, Role::Member, Role::Auditor] {
            let result = Given::with(())
                .given_no_previous_events()
                .when(WorkspaceCommand::Cancel { actor: actor(role), reason: reason(), at: at(0) })
                .inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
            let result = Given::with(())
                .given(vec![cancelled()])
                .when(WorkspaceCommand::Restore { actor: actor(role), reason: reason(), at: at(1) })
                .inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
        }
    }

    #[test]
    fn a_restore_is_accepted_within_the_grace_period_only() {
        let restore = |day| WorkspaceCommand::Restore { actor: actor(Role::Owner), reason: reason(), at: at(day) };
        Given::with(())
            .given(vec![cancelled()])
            .when(restore(GRACE_DAYS))
            .then_expect_events(vec![WorkspaceEvent::WorkspaceRestored { reason: reason() }]);
        Given::with(()).given(vec![cancelled()]).when(restore(GRACE_DAYS + 1)).then_expect_error(DomainError::RecoveryWindowClosed);
        Given::with(()).given_no_previous_events().when(restore(1)).then_expect_error(DomainError::Rule("the workspace is not cancelled"));
    }

    #[test]
    fn a_purge_waits_for_the_end_of_the_grace_period_and_ends_everything() {
        Given::with(())
            .given(vec![cancelled()])
            .when(purge(GRACE_DAYS))
            .then_expect_error(DomainError::Rule("the workspace's grace period has not ended"));
        Given::with(())
            .given_no_previous_events()
            .when(purge(90))
            .then_expect_error(DomainError::Rule("only a cancelled workspace is purged"));
        let purged = WorkspaceEvent::WorkspacePurged { purged_at: at(GRACE_DAYS + 1), person_keys_shredded: 2, evidence_files_deleted: 1 };
        Given::with(()).given(vec![cancelled()]).when(purge(GRACE_DAYS + 1)).then_expect_events(vec![purged.clone()]);
        Given::with(())
            .given(vec![cancelled(), purged])
            .when(WorkspaceCommand::Cancel { actor: actor(Role::Owner), reason: reason(), at: at(40) })
            .then_expect_error(DomainError::Rule("the workspace was purged"));
    }
}
