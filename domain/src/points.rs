//! The PointsLedger aggregate: one stream per member (reference/domain.md §4.9).
//!
//! Points are derived facts, recorded as events so that every score change is auditable
//! and reversible. Awards are idempotent per award id (rule + source event + member), the
//! rule version is pinned, Auditors never accrue points, every reversal names an existing
//! award, and manual adjustments are Owner/Admin-only with a reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::values::{Reason, Role};

/// An award to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    /// Deterministic: rule, source and member; the same award is recorded once.
    pub award_id: String,
    pub rule_id: String,
    pub rule_version: u32,
    pub points: i64,
    /// What earned it, e.g. `Defect/<id>#7`.
    pub source: String,
    pub earned_at: DateTime<Utc>,
}

/// Commands on a ledger.
#[derive(Clone, Debug)]
pub enum PointsCommand {
    /// A policy awards points; `beneficiary_role` is the member's role at the time.
    Award { award: Award, beneficiary_role: Role },
    /// An Owner or Admin reverses an award by hand, with a reason (the policy reverses
    /// awards whose source was reversed by itself).
    Reverse { actor: Actor, award_id: String, reason: Reason },
    /// An Owner or Admin adjusts another member's balance, with a reason; `member` is
    /// the ledger's member and `beneficiary_role` their role.
    Adjust { actor: Actor, member: crate::ids::MemberId, beneficiary_role: Role, adjustment_id: String, delta: i64, reason: Reason },
}

/// Events of a ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PointsEvent {
    PointsAwarded { award: Award },
    PointsReversed { award_id: String, points: i64, reason: Reason },
    PointsAdjusted { adjustment_id: String, delta: i64, reason: Reason },
}

impl DomainEvent for PointsEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PointsAwarded { .. } => "PointsAwarded",
            Self::PointsReversed { .. } => "PointsReversed",
            Self::PointsAdjusted { .. } => "PointsAdjusted",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for PointsEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::PointsAwarded { award } => vec![Change::created(&format!("awards.{}", award.award_id), award.points)],
            Self::PointsReversed { award_id, points, .. } => vec![Change::new(&format!("awards.{award_id}"), points, 0)],
            Self::PointsAdjusted { adjustment_id, delta, .. } => vec![Change::created(&format!("adjustments.{adjustment_id}"), delta)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::PointsAwarded { .. } => None,
            Self::PointsReversed { reason, .. } | Self::PointsAdjusted { reason, .. } => Some(reason),
        }
    }
}

/// State of a member's ledger.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PointsLedger {
    /// award id → (points, reversed)
    awards: BTreeMap<String, (i64, bool)>,
    adjustments: BTreeMap<String, i64>,
}

impl PointsLedger {
    /// The current balance.
    pub fn balance(&self) -> i64 {
        self.awards.values().filter(|(_, reversed)| !reversed).map(|(p, _)| p).sum::<i64>() + self.adjustments.values().sum::<i64>()
    }
    /// Whether an award was recorded.
    pub fn has_award(&self, award_id: &str) -> bool {
        self.awards.contains_key(award_id)
    }
}

impl Aggregate for PointsLedger {
    const TYPE: &'static str = "PointsLedger";
    type Command = PointsCommand;
    type Event = PointsEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        let event = match command {
            PointsCommand::Award { award, beneficiary_role } => {
                if beneficiary_role == Role::Auditor {
                    return Err(DomainError::Rule("auditors never accrue points"));
                }
                if self.awards.contains_key(&award.award_id) {
                    return Err(DomainError::Rule("the award is already recorded"));
                }
                if award.points <= 0 {
                    return Err(ValidationError::new("points", "an award is positive").into());
                }
                PointsEvent::PointsAwarded { award }
            }
            PointsCommand::Reverse { actor, award_id, reason } => match self.awards.get(&award_id) {
                _ if actor.require_admin().is_err() => return Err(DomainError::Forbidden("only owners and admins reverse points")),
                None => return Err(DomainError::NotFound),
                Some((_, true)) => return Err(DomainError::Rule("the award is already reversed")),
                Some((points, false)) => PointsEvent::PointsReversed { award_id, points: *points, reason },
            },
            PointsCommand::Adjust { actor, member, beneficiary_role, adjustment_id, delta, reason } => {
                actor.require_admin()?;
                if actor.member_id == member {
                    return Err(DomainError::Forbidden("nobody adjusts their own points"));
                }
                if beneficiary_role == Role::Auditor {
                    return Err(DomainError::Rule("auditors never accrue points"));
                }
                if delta == 0 || delta.abs() > 10_000 {
                    return Err(ValidationError::new("delta", "is non-zero and at most 10000 either way").into());
                }
                if self.adjustments.contains_key(&adjustment_id) {
                    return Err(DomainError::Rule("the adjustment is already recorded"));
                }
                PointsEvent::PointsAdjusted { adjustment_id, delta, reason }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PointsEvent::PointsAwarded { award } => {
                self.awards.insert(award.award_id, (award.points, false));
            }
            PointsEvent::PointsReversed { award_id, .. } => {
                if let Some(entry) = self.awards.get_mut(&award_id) {
                    entry.1 = true;
                }
            }
            PointsEvent::PointsAdjusted { adjustment_id, delta, .. } => {
                self.adjustments.insert(adjustment_id, delta);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MemberId;
    use crate::values::ReasonCode;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<PointsLedger>;

    fn award(id: &str, points: i64) -> Award {
        Award {
            award_id: id.into(),
            rule_id: "defect_closed".into(),
            rule_version: 1,
            points,
            source: "Defect/x#6".into(),
            earned_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }
    fn reason() -> Reason {
        Reason { code: ReasonCode::Other, text: "correction".into() }
    }
    fn admin() -> Actor {
        Actor { member_id: MemberId(Uuid::nil()), role: Role::Admin }
    }

    #[test]
    fn an_award_is_recorded_once_and_never_for_an_auditor() {
        Given::with(())
            .given_no_previous_events()
            .when(PointsCommand::Award { award: award("a", 3), beneficiary_role: Role::Member })
            .then_expect_events(vec![PointsEvent::PointsAwarded { award: award("a", 3) }]);
        Given::with(())
            .given(vec![PointsEvent::PointsAwarded { award: award("a", 3) }])
            .when(PointsCommand::Award { award: award("a", 3), beneficiary_role: Role::Member })
            .then_expect_error(DomainError::Rule("the award is already recorded"));
        Given::with(())
            .given_no_previous_events()
            .when(PointsCommand::Award { award: award("a", 3), beneficiary_role: Role::Auditor })
            .then_expect_error(DomainError::Rule("auditors never accrue points"));
    }

    #[test]
    fn a_reversal_names_an_existing_award_and_the_balance_follows() {
        Given::with(())
            .given_no_previous_events()
            .when(PointsCommand::Reverse { actor: admin(), award_id: "a".into(), reason: reason() })
            .then_expect_error(DomainError::NotFound);
        assert!(matches!(
            Given::with(())
                .given(vec![PointsEvent::PointsAwarded { award: award("a", 3) }])
                .when(PointsCommand::Reverse { actor: Actor { role: Role::Member, ..admin() }, award_id: "a".into(), reason: reason() })
                .inspect_result(),
            Err(DomainError::Forbidden(_))
        ));
        Given::with(())
            .given(vec![
                PointsEvent::PointsAwarded { award: award("a", 3) },
                PointsEvent::PointsReversed { award_id: "a".into(), points: 3, reason: reason() },
            ])
            .when(PointsCommand::Reverse { actor: admin(), award_id: "a".into(), reason: reason() })
            .then_expect_error(DomainError::Rule("the award is already reversed"));
        Given::with(())
            .given(vec![PointsEvent::PointsAwarded { award: award("a", 3) }])
            .when(PointsCommand::Reverse { actor: admin(), award_id: "a".into(), reason: reason() })
            .then_expect_events(vec![PointsEvent::PointsReversed { award_id: "a".into(), points: 3, reason: reason() }]);
        let mut ledger = PointsLedger::default();
        ledger.apply(PointsEvent::PointsAwarded { award: award("a", 3) });
        ledger.apply(PointsEvent::PointsAwarded { award: award("b", 4) });
        ledger.apply(PointsEvent::PointsReversed { award_id: "a".into(), points: 3, reason: reason() });
        ledger.apply(PointsEvent::PointsAdjusted { adjustment_id: "x".into(), delta: -1, reason: reason() });
        assert_eq!(ledger.balance(), 3);
    }

    #[test]
    fn only_owners_and_admins_adjust_with_a_reason() {
        let adjust = |role, member: u128, beneficiary_role, delta| PointsCommand::Adjust {
            actor: Actor { member_id: MemberId(Uuid::nil()), role },
            member: MemberId(Uuid::from_u128(member)),
            beneficiary_role,
            adjustment_id: "x".into(),
            delta,
            reason: reason(),
        };
        for refused in [adjust(Role::Member, 1, Role::Member, 5), adjust(Role::Admin, 0, Role::Admin, 5)] {
            assert!(matches!(Given::with(()).given_no_previous_events().when(refused).inspect_result(), Err(DomainError::Forbidden(_))));
        }
        Given::with(())
            .given_no_previous_events()
            .when(adjust(Role::Owner, 1, Role::Auditor, 5))
            .then_expect_error(DomainError::Rule("auditors never accrue points"));
        for delta in [0, 10_001, -10_001] {
            let result = Given::with(()).given_no_previous_events().when(adjust(Role::Owner, 1, Role::Member, delta)).inspect_result();
            assert!(matches!(result, Err(DomainError::Invalid(_))));
        }
        Given::with(())
            .given(vec![PointsEvent::PointsAdjusted { adjustment_id: "x".into(), delta: 5, reason: reason() }])
            .when(adjust(Role::Owner, 1, Role::Member, 5))
            .then_expect_error(DomainError::Rule("the adjustment is already recorded"));
        Given::with(())
            .given_no_previous_events()
            .when(adjust(Role::Admin, 1, Role::Member, 5))
            .then_expect_events(vec![PointsEvent::PointsAdjusted { adjustment_id: "x".into(), delta: 5, reason: reason() }]);
    }
}
