//! Disposal of expired records (reference/domain.md §7, SPEC §2): an explicit, audited
//! operation, never a silent TTL. One stream per disposal (id = UUIDv5 of the organisation
//! and the last disposed position), so the same prefix is never disposed of twice.
//!
//! The write side establishes the facts (the organisation's retention and legal hold at the
//! time, the prefix of the chain that is older than the retention, its anchor hash and the
//! snapshots taken of the aggregates it touches); the aggregate refuses under a legal hold,
//! refuses members who are not Owners, and records `RecordsDisposed`.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::MemberId;
use crate::organization::MIN_RETENTION_YEARS;
use crate::values::{Reason, Role};

/// What a disposal covers, as the write side found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisposalFacts {
    /// The organisation's retention in years when the disposal ran.
    pub retention_years: u32,
    /// Whether a legal hold was in place.
    pub legal_hold: bool,
    /// Events recorded before this instant are past their retention.
    pub cutoff: DateTime<Utc>,
    /// The last disposed position (`tenant_seq`): every event up to it is disposed of.
    pub up_to_seq: i64,
    /// When the last disposed event was recorded.
    pub up_to_recorded_at: DateTime<Utc>,
    /// How many events are disposed of.
    pub count: i64,
    /// The hash of the last disposed event (hex): the retained chain starts from it.
    pub anchor_hash: String,
    /// How many aggregates were snapshotted before their early events went.
    pub snapshots: i64,
    /// sha256 (hex) of the canonical JSON of those snapshots.
    pub snapshots_sha256: String,
}

/// State of one disposal.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RecordsDisposal {
    disposed: bool,
}

/// Commands of a disposal.
#[derive(Clone, Debug)]
pub enum RecordsDisposalCommand {
    /// Records the disposal of the expired prefix of the organisation's events.
    /// `approved_by` is `None` for an operator at the command line (who holds the database
    /// credentials); a member must be an Owner.
    Dispose { approved_by: Option<Actor>, facts: DisposalFacts, reason: Reason },
}

/// Events of a disposal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RecordsDisposalEvent {
    /// The events of the organisation up to `up_to_seq` were disposed of; the retained
    /// chain starts from `anchor_hash`.
    RecordsDisposed {
        /// Always `organisation` (the whole stream's prefix).
        scope: String,
        approved_by: Option<MemberId>,
        facts: DisposalFacts,
        reason: Reason,
    },
}

impl DomainEvent for RecordsDisposalEvent {
    fn event_type(&self) -> String {
        "RecordsDisposed".to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for RecordsDisposalEvent {
    fn changes(&self) -> Vec<Change> {
        let Self::RecordsDisposed { scope, facts, .. } = self;
        vec![
            Change::created("scope", scope),
            Change::created("upToSeq", facts.up_to_seq),
            Change::created("count", facts.count),
            Change::created("anchorHash", &facts.anchor_hash),
            Change::created("cutoff", facts.cutoff),
            Change::created("retentionYears", facts.retention_years),
        ]
    }
    fn reason(&self) -> Option<&Reason> {
        let Self::RecordsDisposed { reason, .. } = self;
        Some(reason)
    }
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

impl Aggregate for RecordsDisposal {
    const TYPE: &'static str = "RecordsDisposal";
    type Command = RecordsDisposalCommand;
    type Event = RecordsDisposalEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        let RecordsDisposalCommand::Dispose { approved_by, facts, reason } = command;
        if let Some(actor) = approved_by {
            actor.require_owner()?;
        }
        if self.disposed {
            return Err(DomainError::Rule("these records were already disposed of"));
        }
        if facts.legal_hold {
            return Err(DomainError::Rule("a legal hold is in place: nothing is disposed of"));
        }
        if facts.retention_years < MIN_RETENTION_YEARS {
            return Err(ValidationError::new("retentionYears", "is at least the legal floor of 7").into());
        }
        if facts.up_to_seq < 1 || facts.count < 1 || facts.count > facts.up_to_seq {
            return Err(ValidationError::new("upToSeq", "names at least one disposed event").into());
        }
        if facts.up_to_recorded_at >= facts.cutoff {
            return Err(DomainError::Rule("an event within its retention cannot be disposed of"));
        }
        if !is_hash(&facts.anchor_hash) || !is_hash(&facts.snapshots_sha256) {
            return Err(ValidationError::new("anchorHash", "is a sha256 in hex").into());
        }
        let approved_by = approved_by.filter(|a| a.role == Role::Owner).map(|a| a.member_id);
        sink.write(RecordsDisposalEvent::RecordsDisposed { scope: "organisation".into(), approved_by, facts, reason }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RecordsDisposalEvent::RecordsDisposed { .. } => self.disposed = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<RecordsDisposal>;

    fn facts(legal_hold: bool) -> DisposalFacts {
        let cutoff = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(4000);
        DisposalFacts {
            retention_years: 7,
            legal_hold,
            cutoff,
            up_to_seq: 12,
            up_to_recorded_at: cutoff - chrono::Duration::days(1),
            count: 12,
            anchor_hash: "ab".repeat(32),
            snapshots: 3,
            snapshots_sha256: "cd".repeat(32),
        }
    }
    fn reason() -> Reason {
        Reason { code: crate::ReasonCode::Other, text: "retention expired".into() }
    }
    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(3)), role }
    }
    fn dispose(by: Option<Actor>, facts: DisposalFacts) -> RecordsDisposalCommand {
        RecordsDisposalCommand::Dispose { approved_by: by, facts, reason: reason() }
    }

    #[test]
    fn an_owner_or_an_operator_disposes_once() {
        let owner = actor(Role::Owner);
        let disposed = RecordsDisposalEvent::RecordsDisposed {
            scope: "organisation".into(),
            approved_by: Some(owner.member_id),
            facts: facts(false),
            reason: reason(),
        };
        Given::with(()).given_no_previous_events().when(dispose(Some(owner), facts(false))).then_expect_events(vec![disposed.clone()]);
        let by_operator = Given::with(()).given_no_previous_events().when(dispose(None, facts(false))).inspect_result();
        assert!(matches!(by_operator.as_deref(), Ok([RecordsDisposalEvent::RecordsDisposed { approved_by: None, .. }])));
        let again = Given::with(()).given(vec![disposed]).when(dispose(Some(owner), facts(false))).inspect_result();
        assert!(matches!(again, Err(DomainError::Rule(_))));
    }

    #[test]
    fn a_legal_hold_admins_and_unexpired_events_block_a_disposal() {
        let hold = Given::with(()).given_no_previous_events().when(dispose(None, facts(true))).inspect_result();
        assert_eq!(hold, Err(DomainError::Rule("a legal hold is in place: nothing is disposed of")));
        for role in [Role::Admin, Role::Member, Role::Auditor] {
            let result = Given::with(()).given_no_previous_events().when(dispose(Some(actor(role)), facts(false))).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
        }
        let recent = DisposalFacts { up_to_recorded_at: facts(false).cutoff, ..facts(false) };
        assert!(matches!(
            Given::with(()).given_no_previous_events().when(dispose(None, recent)).inspect_result(),
            Err(DomainError::Rule(_))
        ));
        let short = DisposalFacts { retention_years: 5, ..facts(false) };
        assert!(matches!(
            Given::with(()).given_no_previous_events().when(dispose(None, short)).inspect_result(),
            Err(DomainError::Invalid(_))
        ));
    }
}
