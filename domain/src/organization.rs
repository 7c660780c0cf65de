//! The Organization aggregate: one per tenant.

use std::collections::BTreeSet;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::defect::PrioritySlas;
use crate::error::{DomainError, Outcome, ValidationError};
use crate::five_s_audit::AuditType;
use crate::ids::{MemberId, OrgId};
use crate::kaizen::Currency;
use crate::values::{Name, Reason, ReasonCode, Timezone};

/// State of an organisation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Organization {
    id: Option<OrgId>,
    name: Option<Name>,
    settings: Settings,
}

/// The legal floor of the audit log's retention.
pub const MIN_RETENTION_YEARS: u32 = 7;

/// 5S settings: which audit types count towards the zone score, over how many days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FiveSSettings {
    /// Audit types counted in scores and KPIs (at least one).
    pub counted_audit_types: BTreeSet<AuditType>,
    /// How far back audits count, in days.
    pub lookback_days: u32,
}

impl Default for FiveSSettings {
    fn default() -> Self {
        Self {
            counted_audit_types: [AuditType::SelfAudit, AuditType::Supervisor, AuditType::CrossFunctional, AuditType::Management]
                .into_iter()
                .collect(),
            lookback_days: 90,
        }
    }
}

/// Kaizen settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KaizenSettings {
    /// Savings at or above this amount (in the default currency) need a savings verifier.
    pub verifier_threshold_amount: Option<Decimal>,
}

/// The reason codes every organisation starts with.
pub const DEFAULT_REASON_CODES: [ReasonCode; 6] = [
    ReasonCode::DataEntryError,
    ReasonCode::Reclassification,
    ReasonCode::ScopeChange,
    ReasonCode::Duplicate,
    ReasonCode::CustomerRequest,
    ReasonCode::Other,
];

/// Settings that drive KPIs and compliance. Fields added later take their defaults when
/// older events are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Defect service levels per priority.
    pub defect_slas: PrioritySlas,
    /// A reopen within this many days counts as a recurrence.
    pub recurrence_window_days: u32,
    /// Audit-log retention in years (at least 7).
    pub retention_years: u32,
    /// While set, nothing is disposed of.
    pub legal_hold: bool,
    /// The currency amounts default to.
    pub default_currency: Currency,
    /// The month (1-12) the fiscal year starts in.
    pub fiscal_year_start_month: u32,
    /// The time zone of the organisation (sites have their own).
    pub default_timezone: Timezone,
    /// 5S scoring settings.
    pub five_s: FiveSSettings,
    /// Kaizen settings.
    pub kaizen: KaizenSettings,
    /// How long a red-tagged item is held before disposition, in days.
    pub red_tag_hold_days: u32,
    /// Priority-A defects are acknowledged within this many minutes.
    pub a_ack_minutes: u32,
    /// The reason codes offered for changes.
    pub reason_codes: Vec<ReasonCode>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            defect_slas: PrioritySlas::default(),
            recurrence_window_days: 30,
            retention_years: MIN_RETENTION_YEARS,
            legal_hold: false,
            default_currency: Currency::default(),
            fiscal_year_start_month: 1,
            default_timezone: Timezone::default(),
            five_s: FiveSSettings::default(),
            kaizen: KaizenSettings::default(),
            red_tag_hold_days: 30,
            a_ack_minutes: 60,
            reason_codes: DEFAULT_REASON_CODES.to_vec(),
        }
    }
}

/// A change of general settings: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub default_currency: Option<Currency>,
    pub fiscal_year_start_month: Option<u32>,
    pub default_timezone: Option<Timezone>,
    pub five_s_counted_audit_types: Option<BTreeSet<AuditType>>,
    pub five_s_lookback_days: Option<u32>,
    pub kaizen_verifier_threshold_amount: Option<Decimal>,
    pub red_tag_hold_days: Option<u32>,
    pub a_ack_minutes: Option<u32>,
    pub reason_codes: Option<Vec<ReasonCode>>,
}

impl SettingsPatch {
    /// Checks the patch and applies it to `settings`.
    fn apply_to(self, settings: &Settings) -> Result<Settings, ValidationError> {
        let in_range = |field: &str, value: Option<u32>, range: std::ops::RangeInclusive<u32>, message: &str| match value {
            Some(v) if !range.contains(&v) => Err(ValidationError::new(field, message)),
            _ => Ok(value),
        };
        let mut after = settings.clone();
        if let Some(currency) = self.default_currency {
            after.default_currency = currency;
        }
        if let Some(month) = in_range("fiscalYearStartMonth", self.fiscal_year_start_month, 1..=12, "is between 1 and 12")? {
            after.fiscal_year_start_month = month;
        }
        if let Some(zone) = self.default_timezone {
            after.default_timezone = zone;
        }
        if let Some(types) = self.five_s_counted_audit_types {
            if types.is_empty() {
                return Err(ValidationError::new("fiveSCountedAuditTypes", "must name at least one audit type"));
            }
            after.five_s.counted_audit_types = types;
        }
        if let Some(days) = in_range("fiveSLookbackDays", self.five_s_lookback_days, 1..=3650, "is between 1 and 3650")? {
            after.five_s.lookback_days = days;
        }
        if let Some(amount) = self.kaizen_verifier_threshold_amount {
            if amount.is_sign_negative() {
                return Err(ValidationError::new("kaizenVerifierThresholdAmount", "is zero or more"));
            }
            after.kaizen.verifier_threshold_amount = Some(amount.normalize());
        }
        if let Some(days) = in_range("redTagHoldDays", self.red_tag_hold_days, 1..=365, "is between 1 and 365")? {
            after.red_tag_hold_days = days;
        }
        if let Some(minutes) = in_range("aAckMinutes", self.a_ack_minutes, 1..=10_080, "is between 1 minute and a week")? {
            after.a_ack_minutes = minutes;
        }
        if let Some(codes) = self.reason_codes {
            let unique: BTreeSet<String> = codes.iter().map(|c| format!("{c:?}")).collect();
            if codes.is_empty() || unique.len() != codes.len() {
                return Err(ValidationError::new("reasonCodes", "must list at least one reason code, each once"));
            }
            after.reason_codes = codes;
        }
        Ok(after)
    }
}

/// Whether a settings change alters scoring, SLAs or savings, so it needs a reason.
fn alters_kpis(before: &Settings, after: &Settings) -> bool {
    before.five_s != after.five_s
        || before.kaizen != after.kaizen
        || before.a_ack_minutes != after.a_ack_minutes
        || before.defect_slas != after.defect_slas
        || before.recurrence_window_days != after.recurrence_window_days
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
    /// Owners and Admins patch the general settings; a reason is required when scoring,
    /// SLA or savings settings change.
    ChangeSettings { actor: Actor, patch: SettingsPatch, reason: Option<Reason> },
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
    /// Settings changed (the changes list only the fields that differ).
    OrganizationSettingsChanged {
        before: Box<Settings>,
        after: Box<Settings>,
        #[serde(default)]
        reason: Option<Reason>,
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
                        if &before == after {
                            continue;
                        }
                        // Groups of settings (five_s, kaizen) list their changed fields one by one.
                        match (key.as_str(), before.as_object(), after.as_object()) {
                            ("five_s" | "kaizen", Some(bo), Some(ao)) => {
                                for (inner, a) in ao {
                                    let b = bo.get(inner).cloned().unwrap_or_default();
                                    if &b != a {
                                        changes.push(Change::new(&format!("settings.{key}.{inner}"), b, a));
                                    }
                                }
                            }
                            _ => changes.push(Change::new(&format!("settings.{key}"), before, after)),
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
            Self::OrganizationSettingsChanged { reason, .. } => reason.as_ref(),
            Self::RetentionPolicyChanged { reason, .. } | Self::LegalHoldPlaced { reason } | Self::LegalHoldReleased { reason } => {
                Some(reason)
            }
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
                sink.write(
                    OrganizationEvent::OrganizationSettingsChanged {
                        before: Box::new(self.settings.clone()),
                        after: Box::new(after),
                        reason: Some(reason),
                    },
                    self,
                )
                .await;
            }
            OrganizationCommand::ChangeSettings { actor, patch, reason } => {
                actor.require_admin()?;
                self.id.ok_or(DomainError::NotFound)?;
                let after = patch.apply_to(&self.settings)?;
                if after == self.settings {
                    return Err(DomainError::Rule("the settings are unchanged"));
                }
                if reason.is_none() && alters_kpis(&self.settings, &after) {
                    return Err(ValidationError::new("reason", "is required when scoring, SLA or savings settings change").into());
                }
                sink.write(
                    OrganizationEvent::OrganizationSettingsChanged {
                        before: Box::new(self.settings.clone()),
                        after: Box::new(after),
                        reason,
                    },
                    self,
                )
                .await;
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
            OrganizationEvent::OrganizationSettingsChanged { after, .. } => self.settings = *after,
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

    fn change(role: Role, patch: SettingsPatch, reason: Option<Reason>) -> OrganizationCommand {
        OrganizationCommand::ChangeSettings { actor: actor(role), patch, reason }
    }

    #[test]
    fn a_settings_patch_lists_only_the_fields_that_changed() {
        let patch = SettingsPatch {
            default_currency: Some(Currency::parse("usd").unwrap_or_default()),
            fiscal_year_start_month: Some(4),
            default_timezone: Some(Timezone::parse("tz", "America/Chicago").unwrap_or_default()),
            red_tag_hold_days: Some(14),
            reason_codes: Some(vec![crate::ReasonCode::DataEntryError, crate::ReasonCode::Other]),
            ..SettingsPatch::default()
        };
        let events = Given::with(()).given(vec![created()]).when(change(Role::Admin, patch, None)).inspect_result().unwrap_or_default();
        let paths: Vec<String> = events.iter().flat_map(|e| e.changes()).map(|c| c.path).collect();
        assert_eq!(
            paths,
            [
                "settings.default_currency",
                "settings.default_timezone",
                "settings.fiscal_year_start_month",
                "settings.reason_codes",
                "settings.red_tag_hold_days"
            ]
        );
        assert_eq!(events.first().and_then(|e| e.reason()), None, "these settings need no reason");
    }

    #[test]
    fn scoring_sla_and_savings_settings_need_a_reason() {
        let patches = [
            SettingsPatch { five_s_lookback_days: Some(30), ..SettingsPatch::default() },
            SettingsPatch { five_s_counted_audit_types: Some([AuditType::Management].into_iter().collect()), ..SettingsPatch::default() },
            SettingsPatch { kaizen_verifier_threshold_amount: Some(Decimal::new(5000, 0)), ..SettingsPatch::default() },
            SettingsPatch { a_ack_minutes: Some(30), ..SettingsPatch::default() },
        ];
        for patch in patches {
            let result = Given::with(()).given(vec![created()]).when(change(Role::Owner, patch.clone(), None)).inspect_result();
            assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "reason"), "{patch:?}");
            let events = Given::with(())
                .given(vec![created()])
                .when(change(Role::Owner, patch.clone(), Some(reason())))
                .inspect_result()
                .unwrap_or_default();
            assert_eq!(events.first().and_then(|e| e.reason()), Some(&reason()), "{patch:?}");
        }
        let threshold = SettingsPatch { kaizen_verifier_threshold_amount: Some(Decimal::new(5000, 0)), ..SettingsPatch::default() };
        let events = Given::with(())
            .given(vec![created()])
            .when(change(Role::Owner, threshold, Some(reason())))
            .inspect_result()
            .unwrap_or_default();
        let changes: Vec<Change> = events.iter().flat_map(|e| e.changes()).collect();
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].path.as_str(), &changes[0].before), ("settings.kaizen.verifier_threshold_amount", &serde_json::Value::Null));
    }

    #[test]
    fn a_settings_patch_is_validated_and_refused_when_it_changes_nothing() {
        let invalid = [
            ("fiscalYearStartMonth", SettingsPatch { fiscal_year_start_month: Some(13), ..SettingsPatch::default() }),
            ("fiveSLookbackDays", SettingsPatch { five_s_lookback_days: Some(0), ..SettingsPatch::default() }),
            ("fiveSCountedAuditTypes", SettingsPatch { five_s_counted_audit_types: Some(BTreeSet::new()), ..SettingsPatch::default() }),
            (
                "kaizenVerifierThresholdAmount",
                SettingsPatch { kaizen_verifier_threshold_amount: Some(Decimal::new(-1, 0)), ..SettingsPatch::default() },
            ),
            ("redTagHoldDays", SettingsPatch { red_tag_hold_days: Some(0), ..SettingsPatch::default() }),
            ("aAckMinutes", SettingsPatch { a_ack_minutes: Some(0), ..SettingsPatch::default() }),
            ("reasonCodes", SettingsPatch { reason_codes: Some(vec![]), ..SettingsPatch::default() }),
            (
                "reasonCodes",
                SettingsPatch { reason_codes: Some(vec![crate::ReasonCode::Other, crate::ReasonCode::Other]), ..SettingsPatch::default() },
            ),
        ];
        for (field, patch) in invalid {
            let result = Given::with(()).given(vec![created()]).when(change(Role::Admin, patch, Some(reason()))).inspect_result();
            assert!(matches!(&result, Err(DomainError::Invalid(e)) if e.field == field), "{field}: {result:?}");
        }
        let same = SettingsPatch { fiscal_year_start_month: Some(1), ..SettingsPatch::default() };
        Given::with(())
            .given(vec![created()])
            .when(change(Role::Admin, same, None))
            .then_expect_error(DomainError::Rule("the settings are unchanged"));
        let any = SettingsPatch { red_tag_hold_days: Some(10), ..SettingsPatch::default() };
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(()).given(vec![created()]).when(change(role, any.clone(), Some(reason()))).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
        }
        Given::with(()).given_no_previous_events().when(change(Role::Admin, any, None)).then_expect_error(DomainError::NotFound);
    }

    #[test]
    fn settings_events_recorded_before_the_new_fields_still_read() {
        let old = serde_json::json!({"OrganizationSettingsChanged": {
            "before": {"defect_slas": serde_json::to_value(PrioritySlas::default()).unwrap_or_default(), "recurrence_window_days": 30, "retention_years": 7, "legal_hold": false},
            "after": {"defect_slas": serde_json::to_value(PrioritySlas::default()).unwrap_or_default(), "recurrence_window_days": 60, "retention_years": 7, "legal_hold": false},
            "reason": {"code": "other", "text": "policy"}}});
        let event: OrganizationEvent = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
        let paths: Vec<String> = event.changes().into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["settings.recurrence_window_days"]);
        assert_eq!(event.reason().map(|r| r.text.as_str()), Some("policy"));
    }
}
