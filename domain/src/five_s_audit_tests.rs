//! Given/when/then tests of 5S audits, and a property test of their scores.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::five_s::{Scale, TemplateItem};
use crate::ids::TemplateId;
use crate::test_support::{member, text};
use crate::values::{Name, ReasonCode};

type Given = TestFramework<FiveSAudit>;
const AUDITOR: MemberId = MemberId(Uuid::from_u128(1));
const OWNER: MemberId = MemberId(Uuid::from_u128(2));
const OTHER: MemberId = MemberId(Uuid::from_u128(3));

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).single().unwrap_or_default()
}
fn reason() -> Reason {
    Reason { code: ReasonCode::DataEntryError, text: "typo".into() }
}
fn item(id: &str, section: Section) -> TemplateItem {
    TemplateItem {
        item_id: id.into(),
        section,
        text: Name::parse("text", "Aisles are clear").unwrap_or_else(|e| panic!("{e}")),
        guidance: None,
        weight: Decimal::ONE,
        na_allowed: id != "b",
        critical: false,
        auto_finding_at_or_below: Some(1),
        photo_required_at_or_below: Some(0),
    }
}
fn template() -> TemplateDefinition {
    TemplateDefinition {
        template_id: TemplateId(Uuid::from_u128(9)),
        name: Name::parse("name", "5S").unwrap_or_else(|e| panic!("{e}")),
        version: 2,
        scale: Scale::parse(0, 4, 1).unwrap_or_else(|e| panic!("{e}")),
        items: vec![item("a", Section::Sort), item("b", Section::Shine)],
        bands: vec![],
        anchors: Default::default(),
    }
}
fn start(audit_type: AuditType, conducted_by: Vec<MemberId>) -> AuditStart {
    AuditStart {
        audit_id: AuditId(Uuid::from_u128(7)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        zone_active: true,
        zone_owner: Some(OWNER),
        audit_type,
        template: template(),
        checksum: "sum".into(),
        conducted_by,
        actor_may_conduct: true,
        open_audit_exists: false,
    }
}
fn started() -> AuditEvent {
    AuditEvent::AuditStarted {
        audit_id: AuditId(Uuid::from_u128(7)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        audit_type: AuditType::Supervisor,
        template: template(),
        checksum: "sum".into(),
        conducted_by: vec![AUDITOR],
        zone_owner_present: false,
        started_at: at(),
    }
}
fn scored(item_id: &str, value: ItemValue) -> AuditEvent {
    let section = if item_id == "a" { Section::Sort } else { Section::Shine };
    let comment = (value == ItemValue::NotApplicable).then(|| text("no storage here"));
    AuditEvent::AuditItemScored { item_id: item_id.into(), section, before: None, after: ItemResult { value, comment, evidence: vec![] } }
}
fn score_cmd(item_id: &str, value: ItemValue, comment: Option<LongText>) -> AuditCommand {
    AuditCommand::ScoreItem { actor: member(AUDITOR), item_id: item_id.into(), value, comment, evidence: vec![] }
}

#[test]
fn a_five_s_auditor_starts_an_audit_pinning_the_template() {
    let command = AuditCommand::Start { actor: member(AUDITOR), start: Box::new(start(AuditType::Supervisor, vec![])), now: at() };
    Given::with(()).given_no_previous_events().when(command).then_expect_events(vec![started()]);
}

#[test]
fn starting_needs_an_allowed_auditor_an_active_zone_independence_and_no_open_audit() {
    let mut not_allowed = start(AuditType::Supervisor, vec![]);
    not_allowed.actor_may_conduct = false;
    let r = Given::with(())
        .given_no_previous_events()
        .when(AuditCommand::Start { actor: member(AUDITOR), start: Box::new(not_allowed), now: at() })
        .inspect_result();
    assert!(matches!(r, Err(DomainError::Forbidden(_))));
    let mut archived = start(AuditType::Supervisor, vec![]);
    archived.zone_active = false;
    let r = Given::with(())
        .given_no_previous_events()
        .when(AuditCommand::Start { actor: member(AUDITOR), start: Box::new(archived), now: at() })
        .inspect_result();
    assert!(matches!(r, Err(DomainError::Invalid(e)) if e.field == "zoneId"));
    let owner_in =
        AuditCommand::Start { actor: member(AUDITOR), start: Box::new(start(AuditType::CrossFunctional, vec![OWNER])), now: at() };
    Given::with(())
        .given_no_previous_events()
        .when(owner_in)
        .then_expect_error(DomainError::Rule("the zone's owner does not conduct an independent audit of their own zone"));
    let self_audit = AuditCommand::Start { actor: member(OWNER), start: Box::new(start(AuditType::SelfAudit, vec![])), now: at() };
    assert!(Given::with(()).given_no_previous_events().when(self_audit).inspect_result().is_ok());
    let mut open = start(AuditType::Supervisor, vec![]);
    open.open_audit_exists = true;
    Given::with(())
        .given_no_previous_events()
        .when(AuditCommand::Start { actor: member(AUDITOR), start: Box::new(open), now: at() })
        .then_expect_error(DomainError::Rule("an audit of this zone and type is already in progress"));
}

#[test]
fn items_are_scored_on_the_scale_and_na_needs_permission_and_a_comment() {
    Given::with(())
        .given(vec![started()])
        .when(score_cmd("a", ItemValue::Score(3), None))
        .then_expect_events(vec![scored("a", ItemValue::Score(3))]);
    let off_scale = Given::with(()).given(vec![started()]).when(score_cmd("a", ItemValue::Score(5), None)).inspect_result();
    assert!(matches!(off_scale, Err(DomainError::Invalid(e)) if e.field == "value"));
    let na_no_comment = Given::with(()).given(vec![started()]).when(score_cmd("a", ItemValue::NotApplicable, None)).inspect_result();
    assert!(matches!(na_no_comment, Err(DomainError::Invalid(e)) if e.field == "comment"));
    let na_forbidden =
        Given::with(()).given(vec![started()]).when(score_cmd("b", ItemValue::NotApplicable, Some(text("x")))).inspect_result();
    assert!(matches!(na_forbidden, Err(DomainError::Invalid(e)) if e.field == "value"));
    let no_photo = Given::with(()).given(vec![started()]).when(score_cmd("a", ItemValue::Score(0), None)).inspect_result();
    assert!(matches!(no_photo, Err(DomainError::Invalid(e)) if e.field == "evidence"));
    let unknown = Given::with(()).given(vec![started()]).when(score_cmd("zz", ItemValue::Score(1), None)).inspect_result();
    assert!(matches!(unknown, Err(DomainError::Invalid(e)) if e.field == "itemId"));
    let outsider =
        AuditCommand::ScoreItem { actor: member(OTHER), item_id: "a".into(), value: ItemValue::Score(1), comment: None, evidence: vec![] };
    assert!(matches!(Given::with(()).given(vec![started()]).when(outsider).inspect_result(), Err(DomainError::Forbidden(_))));
}

#[test]
fn submitting_needs_every_item_and_freezes_the_computed_scores() {
    let submit = || AuditCommand::Submit { actor: member(AUDITOR), now: at() };
    Given::with(())
        .given(vec![started(), scored("a", ItemValue::Score(3))])
        .when(submit())
        .then_expect_error(DomainError::Rule("every item must be scored or marked not applicable before submitting"));
    let result = Given::with(())
        .given(vec![started(), scored("a", ItemValue::NotApplicable), scored("b", ItemValue::Score(1))])
        .when(submit())
        .inspect_result();
    match result.as_deref() {
        Ok([AuditEvent::AuditSubmitted { scores, na_count: 1, item_count: 2, auto_finding_items, template_checksum, .. }]) => {
            assert_eq!(scores.score_pct, Some(Decimal::from(25)));
            assert_eq!(auto_finding_items, &["b".to_owned()]);
            assert_eq!(template_checksum, "sum");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_correction_after_submit_needs_a_reason_and_carries_item_and_totals_before_and_after() {
    let given = || {
        vec![started(), scored("a", ItemValue::Score(2)), scored("b", ItemValue::Score(2)), {
            let values: BTreeMap<String, ItemValue> =
                [("a".to_owned(), ItemValue::Score(2)), ("b".to_owned(), ItemValue::Score(2))].into_iter().collect();
            AuditEvent::AuditSubmitted {
                scores: score(&template(), &values),
                item_count: 2,
                na_count: 0,
                finding_count: 0,
                auto_finding_items: vec![],
                conducted_by: vec![AUDITOR],
                template_checksum: "sum".into(),
                submitted_at: at(),
            }
        }]
    };
    let correct = AuditCommand::CorrectItemScore {
        actor: member(AUDITOR),
        item_id: "a".into(),
        value: ItemValue::Score(4),
        comment: None,
        reason: reason(),
    };
    let events = Given::with(()).given(given()).when(correct).inspect_result().unwrap_or_default();
    let [AuditEvent::AuditScoreCorrected { scores_before, scores_after, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((scores_before.score_pct, scores_after.score_pct), (Some(Decimal::from(50)), Some(Decimal::from(75))));
    let paths: Vec<String> = events[0].changes().into_iter().map(|c| c.path).collect();
    assert_eq!(paths, ["items.a", "scorePct", "band", "sections.sort"]);
    let rescore = score_cmd("a", ItemValue::Score(1), None);
    Given::with(()).given(given()).when(rescore).then_expect_error(DomainError::Rule("the audit is not in progress"));
}

#[test]
fn an_audit_in_progress_is_cancelled_with_a_reason() {
    Given::with(())
        .given(vec![started()])
        .when(AuditCommand::Cancel { actor: member(AUDITOR), reason: reason() })
        .then_expect_events(vec![AuditEvent::AuditCancelled { reason: reason() }]);
    let auditor_role = Actor { member_id: AUDITOR, role: Role::Auditor };
    assert!(matches!(
        Given::with(()).given(vec![started()]).when(AuditCommand::Cancel { actor: auditor_role, reason: reason() }).inspect_result(),
        Err(DomainError::Forbidden(_))
    ));
}

#[test]
fn findings_are_recorded_once() {
    let finding = Finding {
        finding_id: "f1".into(),
        item_id: Some("a".into()),
        description: text("oil on floor"),
        suggested_priority: Priority::B,
        raise_defect: true,
        abnormality_type: Some(AbnormalityType::ContaminationSource),
    };
    let record = || AuditCommand::RecordFinding { actor: member(AUDITOR), finding: finding.clone() };
    Given::with(())
        .given(vec![started()])
        .when(record())
        .then_expect_events(vec![AuditEvent::AuditFindingRecorded { finding: finding.clone() }]);
    Given::with(())
        .given(vec![started(), AuditEvent::AuditFindingRecorded { finding: finding.clone() }])
        .when(record())
        .then_expect_error(DomainError::Rule("the finding is already recorded"));
}

proptest! {
    #[test]
    fn a_submitted_score_is_within_0_and_100_and_equals_the_formula(a in 1_i32..=4, b in 1_i32..=4, a_na in any::<bool>()) {
        let mut events = vec![started()];
        events.push(if a_na { scored("a", ItemValue::NotApplicable) } else { scored("a", ItemValue::Score(a)) });
        events.push(scored("b", ItemValue::Score(b)));
        let result = Given::with(()).given(events).when(AuditCommand::Submit { actor: member(AUDITOR), now: at() }).inspect_result();
        let Ok(submitted) = result else { return Err(TestCaseError::fail("submit failed")) };
        let Some(AuditEvent::AuditSubmitted { scores, .. }) = submitted.first() else { return Err(TestCaseError::fail("no event")) };
        let expected = if a_na { Decimal::from(100 * b) / Decimal::from(4) } else { Decimal::from(100 * (a + b)) / Decimal::from(8) };
        prop_assert_eq!(scores.score_pct, Some(expected));
        prop_assert!(expected >= Decimal::ZERO && expected <= Decimal::from(100));
    }
}
