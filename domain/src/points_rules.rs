//! The PointsRuleSet aggregate (one stream per organisation): the points each rule awards,
//! published as immutable, numbered versions with a checksum (reference/domain.md §4.1,
//! §4.9). Until an organisation publishes its own, the default rules (version 0) apply.
//! A rule with 0 points is switched off.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::values::Reason;

/// Points of one rule, with an optional cap per member and ISO week (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleValue {
    pub points: i64,
    pub weekly_cap: Option<i64>,
}

impl RuleValue {
    const fn of(points: i64) -> Self {
        Self { points, weekly_cap: None }
    }
}

/// A savings tier: verified annualised hard savings of at least `at_least` (in any one
/// currency) earn `bonus` more points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsTier {
    pub at_least: Decimal,
    pub bonus: i64,
}

/// Every rule of the points policy. Points of kaizen rules are split among authors by
/// their shares (rounded half up; a share worth 0 points earns nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsRules {
    /// The finder, when their tag is first assigned (accepted as real); reversed when the
    /// defect is cancelled as a duplicate or not a defect.
    pub defect_accepted: RuleValue,
    /// The resolver, when the defect is closed; reversed by a reopen within the
    /// recurrence window.
    pub defect_resolved: RuleValue,
    /// Added for the resolver when closed by the original due date.
    pub defect_on_time_bonus: RuleValue,
    /// The verifier, unless they found the defect themselves.
    pub defect_verified: RuleValue,
    /// The authors, when their kaizen is approved (rejected ideas earn nothing).
    pub kaizen_accepted: RuleValue,
    /// The authors and each implementer, when the kaizen is implemented; reversed when
    /// it is reopened.
    pub kaizen_implemented: RuleValue,
    /// The authors, when savings are verified.
    pub kaizen_savings_verified: RuleValue,
    /// Bonus tiers on verified hard savings, highest applicable only.
    pub kaizen_savings_tiers: Vec<SavingsTier>,
    /// Each member who conducted a submitted audit (on or before its due date, if any).
    pub audit_submitted: RuleValue,
    /// The owner of an A3 closed with its target met.
    pub a3_closed_owner: RuleValue,
    /// Each team member of an A3 closed with its target met.
    pub a3_closed_team: RuleValue,
}

impl Default for PointsRules {
    fn default() -> Self {
        Self {
            defect_accepted: RuleValue { points: 1, weekly_cap: Some(20) },
            defect_resolved: RuleValue::of(3),
            defect_on_time_bonus: RuleValue::of(1),
            defect_verified: RuleValue::of(1),
            kaizen_accepted: RuleValue { points: 1, weekly_cap: Some(10) },
            kaizen_implemented: RuleValue::of(5),
            kaizen_savings_verified: RuleValue::of(5),
            kaizen_savings_tiers: vec![
                SavingsTier { at_least: Decimal::from(1_000), bonus: 5 },
                SavingsTier { at_least: Decimal::from(10_000), bonus: 10 },
            ],
            audit_submitted: RuleValue::of(2),
            a3_closed_owner: RuleValue::of(10),
            a3_closed_team: RuleValue::of(3),
        }
    }
}

impl PointsRules {
    /// Most points one rule may award.
    pub const MAX_POINTS: i64 = 1_000;

    fn values(&self) -> [(&'static str, RuleValue); 10] {
        [
            ("defectAccepted", self.defect_accepted),
            ("defectResolved", self.defect_resolved),
            ("defectOnTimeBonus", self.defect_on_time_bonus),
            ("defectVerified", self.defect_verified),
            ("kaizenAccepted", self.kaizen_accepted),
            ("kaizenImplemented", self.kaizen_implemented),
            ("kaizenSavingsVerified", self.kaizen_savings_verified),
            ("auditSubmitted", self.audit_submitted),
            ("a3ClosedOwner", self.a3_closed_owner),
            ("a3ClosedTeam", self.a3_closed_team),
        ]
    }

    /// Checks every value: points within 0..=1000, caps at least 1, tiers positive and
    /// strictly increasing.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (name, value) in self.values() {
            if !(0..=Self::MAX_POINTS).contains(&value.points) {
                return Err(ValidationError::new(name, "points are between 0 and 1000"));
            }
            if value.weekly_cap.is_some_and(|cap| cap < 1) {
                return Err(ValidationError::new(name, "a weekly cap is at least 1"));
            }
        }
        let mut previous: Option<Decimal> = None;
        for tier in &self.kaizen_savings_tiers {
            if tier.at_least <= Decimal::ZERO || !(1..=Self::MAX_POINTS).contains(&tier.bonus) {
                return Err(ValidationError::new("kaizenSavingsTiers", "need a positive amount and 1 to 1000 points"));
            }
            if previous.is_some_and(|p| tier.at_least <= p) {
                return Err(ValidationError::new("kaizenSavingsTiers", "are listed by increasing amount"));
            }
            previous = Some(tier.at_least);
        }
        if self.kaizen_savings_tiers.len() > 10 {
            return Err(ValidationError::new("kaizenSavingsTiers", "lists at most 10 tiers"));
        }
        Ok(())
    }

    /// The bonus of the highest tier reached by `hard` (0 below every tier).
    pub fn savings_bonus(&self, hard: Decimal) -> i64 {
        self.kaizen_savings_tiers.iter().filter(|t| hard >= t.at_least).map(|t| t.bonus).max().unwrap_or(0)
    }
}

/// State: the latest published version.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PointsRuleSet {
    version: u32,
    rules: Option<PointsRules>,
}

impl PointsRuleSet {
    /// The latest version (0: the defaults).
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// Commands on an organisation's rules.
#[derive(Clone, Debug)]
pub enum PointsRuleSetCommand {
    /// An Owner or Admin publishes a new version; `checksum` is the sha256 of the rules'
    /// canonical JSON, computed by the write side.
    Publish { actor: Actor, rules: PointsRules, checksum: String },
}

/// Events of an organisation's rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PointsRuleSetEvent {
    /// A new, immutable version applies from now on.
    PointsRuleSetPublished { version: u32, rules: PointsRules, checksum: String },
}

impl DomainEvent for PointsRuleSetEvent {
    fn event_type(&self) -> String {
        "PointsRuleSetPublished".to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for PointsRuleSetEvent {
    fn changes(&self) -> Vec<Change> {
        let Self::PointsRuleSetPublished { version, rules, checksum } = self;
        vec![
            Change::new("version", version.saturating_sub(1), version),
            Change::created(&format!("versions.{version}.rules"), rules),
            Change::created(&format!("versions.{version}.checksum"), checksum),
        ]
    }
    fn reason(&self) -> Option<&Reason> {
        None
    }
}

impl Aggregate for PointsRuleSet {
    const TYPE: &'static str = "PointsRuleSet";
    type Command = PointsRuleSetCommand;
    type Event = PointsRuleSetEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        let PointsRuleSetCommand::Publish { actor, rules, checksum } = command;
        actor.require_admin()?;
        rules.validate()?;
        if self.rules.as_ref() == Some(&rules) || (self.rules.is_none() && rules == PointsRules::default()) {
            return Err(DomainError::Rule("these rules are already in force"));
        }
        sink.write(PointsRuleSetEvent::PointsRuleSetPublished { version: self.version + 1, rules, checksum }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let PointsRuleSetEvent::PointsRuleSetPublished { version, rules, .. } = event;
        self.version = version;
        self.rules = Some(rules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MemberId;
    use crate::values::Role;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<PointsRuleSet>;

    fn publish(role: Role, rules: PointsRules) -> PointsRuleSetCommand {
        PointsRuleSetCommand::Publish { actor: Actor { member_id: MemberId(Uuid::nil()), role }, rules, checksum: "c".into() }
    }
    fn richer() -> PointsRules {
        PointsRules { audit_submitted: RuleValue::of(4), ..PointsRules::default() }
    }
    fn published(version: u32, rules: PointsRules) -> PointsRuleSetEvent {
        PointsRuleSetEvent::PointsRuleSetPublished { version, rules, checksum: "c".into() }
    }

    #[test]
    fn an_admin_publishes_numbered_versions() {
        Given::with(()).given_no_previous_events().when(publish(Role::Admin, richer())).then_expect_events(vec![published(1, richer())]);
        Given::with(())
            .given(vec![published(1, richer())])
            .when(publish(Role::Owner, PointsRules::default()))
            .then_expect_events(vec![published(2, PointsRules::default())]);
    }

    #[test]
    fn members_and_auditors_do_not_publish() {
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(()).given_no_previous_events().when(publish(role, richer())).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))));
        }
    }

    #[test]
    fn publishing_the_rules_in_force_is_refused() {
        Given::with(())
            .given_no_previous_events()
            .when(publish(Role::Admin, PointsRules::default()))
            .then_expect_error(DomainError::Rule("these rules are already in force"));
        Given::with(())
            .given(vec![published(1, richer())])
            .when(publish(Role::Admin, richer()))
            .then_expect_error(DomainError::Rule("these rules are already in force"));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let bad = [
            PointsRules { defect_resolved: RuleValue::of(-1), ..PointsRules::default() },
            PointsRules { defect_resolved: RuleValue::of(1_001), ..PointsRules::default() },
            PointsRules { kaizen_accepted: RuleValue { points: 1, weekly_cap: Some(0) }, ..PointsRules::default() },
            PointsRules {
                kaizen_savings_tiers: vec![
                    SavingsTier { at_least: Decimal::from(10), bonus: 1 },
                    SavingsTier { at_least: Decimal::from(5), bonus: 2 },
                ],
                ..PointsRules::default()
            },
            PointsRules { kaizen_savings_tiers: vec![SavingsTier { at_least: Decimal::ZERO, bonus: 1 }], ..PointsRules::default() },
        ];
        for rules in bad {
            let result = Given::with(()).given_no_previous_events().when(publish(Role::Admin, rules)).inspect_result();
            assert!(matches!(result, Err(DomainError::Invalid(_))), "{result:?}");
        }
    }

    #[test]
    fn the_highest_reached_tier_counts() {
        let rules = PointsRules::default();
        assert_eq!(rules.savings_bonus(Decimal::from(999)), 0);
        assert_eq!(rules.savings_bonus(Decimal::from(1_000)), 5);
        assert_eq!(rules.savings_bonus(Decimal::from(250_000)), 10);
    }
}
