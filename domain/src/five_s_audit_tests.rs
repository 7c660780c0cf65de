//! Given/when/then tests of 5S audits, and a property test of their scores.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::audit::Change;
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
        was_scheduled: false,
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
        .then_expect_events(vec![AuditEvent::AuditCancelled { reason: reason(), from: AuditStatus::InProgress }]);
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

fn later(hours: i64) -> DateTime<Utc> {
    at() + chrono::Duration::hours(hours)
}
fn plan(due_hours: i64) -> AuditPlan {
    AuditPlan {
        audit_id: AuditId(Uuid::from_u128(7)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        zone_active: true,
        audit_type: AuditType::Supervisor,
        due_at: later(due_hours),
        actor_may_schedule: true,
    }
}
fn scheduled() -> AuditEvent {
    AuditEvent::AuditScheduled {
        audit_id: AuditId(Uuid::from_u128(7)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        audit_type: AuditType::Supervisor,
        due_at: later(48),
        scheduled_by: Some(OTHER),
    }
}
fn sha(n: u8) -> EvidenceRef {
    EvidenceRef::parse("evidence", &format!("{n:02x}").repeat(32)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_audit_is_scheduled_with_a_future_due_date_by_someone_allowed() {
    let schedule = |plan, now| AuditCommand::Schedule { actor: member(OTHER), plan, now };
    Given::with(()).given_no_previous_events().when(schedule(plan(48), at())).then_expect_events(vec![scheduled()]);
    assert!(matches!(
        Given::with(()).given_no_previous_events().when(schedule(plan(48), later(49))).inspect_result(),
        Err(DomainError::Invalid(e)) if e.field == "dueAt"
    ));
    let not_allowed = AuditPlan { actor_may_schedule: false, ..plan(48) };
    assert!(matches!(
        Given::with(()).given_no_previous_events().when(schedule(not_allowed, at())).inspect_result(),
        Err(DomainError::Forbidden(_))
    ));
    let archived = AuditPlan { zone_active: false, ..plan(48) };
    assert!(matches!(
        Given::with(()).given_no_previous_events().when(schedule(archived, at())).inspect_result(),
        Err(DomainError::Invalid(e)) if e.field == "zoneId"
    ));
    Given::with(())
        .given(vec![scheduled()])
        .when(schedule(plan(48), at()))
        .then_expect_error(DomainError::Rule("the audit already exists"));
    let by_auditor = AuditCommand::Schedule { actor: Actor { member_id: OTHER, role: Role::Auditor }, plan: plan(48), now: at() };
    assert!(matches!(Given::with(()).given_no_previous_events().when(by_auditor).inspect_result(), Err(DomainError::Forbidden(_))));
}

#[test]
fn a_scheduled_audit_is_started_for_its_zone_and_type() {
    let start_it = |start| AuditCommand::Start { actor: member(AUDITOR), start: Box::new(start), now: at() };
    let events = Given::with(()).given(vec![scheduled()]).when(start_it(start(AuditType::Supervisor, vec![]))).inspect_result();
    let Ok([AuditEvent::AuditStarted { was_scheduled: true, .. }]) = events.as_deref() else { panic!("{events:?}") };
    let paths: Vec<Change> = events.as_deref().map(|e| e[0].changes()).unwrap_or_default();
    assert!(paths.iter().any(|c| c.path == "status" && c.before == "SCHEDULED" && c.after == "IN_PROGRESS"), "{paths:?}");
    let other_type = Given::with(()).given(vec![scheduled()]).when(start_it(start(AuditType::Management, vec![]))).inspect_result();
    assert!(matches!(other_type, Err(DomainError::Invalid(e)) if e.field == "auditId"));
    let missed = AuditEvent::AuditMissed { due_at: later(48) };
    Given::with(())
        .given(vec![scheduled(), missed])
        .when(start_it(start(AuditType::Supervisor, vec![])))
        .then_expect_error(DomainError::Rule("a missed audit is not started; schedule a new one"));
    Given::with(())
        .given(vec![started()])
        .when(start_it(start(AuditType::Supervisor, vec![])))
        .then_expect_error(DomainError::Rule("the audit already exists"));
}

#[test]
fn the_system_marks_a_scheduled_audit_missed_only_after_its_due_date() {
    let missed = |hours| AuditCommand::MarkMissed { now: later(hours) };
    Given::with(()).given(vec![scheduled()]).when(missed(49)).then_expect_events(vec![AuditEvent::AuditMissed { due_at: later(48) }]);
    Given::with(()).given(vec![scheduled()]).when(missed(47)).then_expect_error(DomainError::Rule("the audit is not due yet"));
    Given::with(()).given(vec![started()]).when(missed(49)).then_expect_error(DomainError::Rule("only a scheduled audit is missed"));
    Given::with(())
        .given(vec![scheduled(), AuditEvent::AuditMissed { due_at: later(48) }])
        .when(missed(50))
        .then_expect_error(DomainError::Rule("only a scheduled audit is missed"));
    Given::with(()).given_no_previous_events().when(missed(49)).then_expect_error(DomainError::NotFound);
}

#[test]
fn a_scheduled_audit_is_cancelled_by_its_scheduler_or_an_admin() {
    let cancel = |actor| AuditCommand::Cancel { actor, reason: reason() };
    Given::with(())
        .given(vec![scheduled()])
        .when(cancel(member(OTHER)))
        .then_expect_events(vec![AuditEvent::AuditCancelled { reason: reason(), from: AuditStatus::Scheduled }]);
    assert!(
        Given::with(()).given(vec![scheduled()]).when(cancel(Actor { member_id: AUDITOR, role: Role::Admin })).inspect_result().is_ok()
    );
    assert!(matches!(
        Given::with(()).given(vec![scheduled()]).when(cancel(member(AUDITOR))).inspect_result(),
        Err(DomainError::Forbidden(_))
    ));
    Given::with(())
        .given(vec![scheduled(), AuditEvent::AuditMissed { due_at: later(48) }])
        .when(cancel(member(OTHER)))
        .then_expect_error(DomainError::Rule("only a scheduled audit or one in progress is cancelled"));
}

#[test]
fn marking_an_item_not_applicable_needs_permission_and_records_the_comment() {
    let mark =
        |item: &str| AuditCommand::MarkItemNotApplicable { actor: member(AUDITOR), item_id: item.into(), comment: text("no storage here") };
    Given::with(()).given(vec![started(), scored("a", ItemValue::Score(3))]).when(mark("a")).then_expect_events(vec![
        AuditEvent::AuditItemMarkedNotApplicable {
            item_id: "a".into(),
            section: Section::Sort,
            before: Some(ItemValue::Score(3)),
            comment: text("no storage here"),
        },
    ]);
    assert!(
        matches!(Given::with(()).given(vec![started()]).when(mark("b")).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "value")
    );
    Given::with(())
        .given(vec![started(), scored("a", ItemValue::NotApplicable)])
        .when(mark("a"))
        .then_expect_error(DomainError::Rule("the item is already marked not applicable"));
    let outsider = AuditCommand::MarkItemNotApplicable { actor: member(OTHER), item_id: "a".into(), comment: text("x") };
    assert!(matches!(Given::with(()).given(vec![started()]).when(outsider).inspect_result(), Err(DomainError::Forbidden(_))));
    Given::with(()).given(vec![scheduled()]).when(mark("a")).then_expect_error(DomainError::Rule("the audit is not in progress"));
}

#[test]
fn evidence_attached_to_an_item_satisfies_its_photo_requirement() {
    let attach =
        |item: Option<&str>, n| AuditCommand::AttachEvidence { actor: member(AUDITOR), item_id: item.map(str::to_owned), evidence: sha(n) };
    Given::with(())
        .given(vec![started()])
        .when(attach(Some("a"), 1))
        .then_expect_events(vec![AuditEvent::AuditEvidenceAttached { item_id: Some("a".into()), evidence: sha(1) }]);
    assert!(Given::with(()).given(vec![started()]).when(attach(None, 1)).inspect_result().is_ok());
    let attached = AuditEvent::AuditEvidenceAttached { item_id: Some("a".into()), evidence: sha(1) };
    // "a" needs a photo when scored 0; the attachment counts.
    assert!(
        Given::with(()).given(vec![started(), attached.clone()]).when(score_cmd("a", ItemValue::Score(0), None)).inspect_result().is_ok()
    );
    Given::with(())
        .given(vec![started(), attached])
        .when(attach(Some("a"), 1))
        .then_expect_error(DomainError::Rule("this evidence is already attached"));
    assert!(matches!(
        Given::with(()).given(vec![started()]).when(attach(Some("zz"), 1)).inspect_result(),
        Err(DomainError::Invalid(e)) if e.field == "itemId"
    ));
    let outsider = AuditCommand::AttachEvidence { actor: member(OTHER), item_id: None, evidence: sha(2) };
    assert!(matches!(Given::with(()).given(vec![started()]).when(outsider).inspect_result(), Err(DomainError::Forbidden(_))));
}

fn any_audit_command() -> impl Strategy<Value = AuditCommand> {
    // Mostly the auditor, so audits get conducted through to submission.
    let who = prop::sample::select(vec![AUDITOR, AUDITOR, AUDITOR, OWNER, OTHER]);
    let role = prop::sample::select(vec![Role::Admin, Role::Member, Role::Member, Role::Auditor]);
    (who, role, 0_u8..12, 0_i64..100, 1_i32..6, any::<bool>()).prop_map(|(member_id, role, which, hours, v, flag)| {
        let actor = Actor { member_id, role };
        let item = if flag { "a" } else { "b" };
        match which {
            0 => AuditCommand::Schedule { actor, plan: plan(48), now: later(hours) },
            1 => AuditCommand::Start { actor, start: Box::new(start(AuditType::Supervisor, vec![])), now: later(hours) },
            2 | 3 | 9 | 10 => {
                AuditCommand::ScoreItem { actor, item_id: item.into(), value: ItemValue::Score(v), comment: None, evidence: vec![] }
            }
            4 => AuditCommand::MarkItemNotApplicable { actor, item_id: item.into(), comment: text("n/a") },
            5 => AuditCommand::AttachEvidence { actor, item_id: Some(item.into()), evidence: sha(1) },
            6 => AuditCommand::Submit { actor, now: later(hours) },
            // Rare, or few audits would get as far as submission.
            7 if v == 1 => AuditCommand::Cancel { actor, reason: reason() },
            8 => AuditCommand::MarkMissed { now: later(hours) },
            _ => {
                AuditCommand::CorrectItemScore { actor, item_id: item.into(), value: ItemValue::Score(v), comment: None, reason: reason() }
            }
        }
    })
}

fn run(audit: &mut FiveSAudit, command: AuditCommand) -> Result<Vec<AuditEvent>, DomainError> {
    let sink = EventSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
    runtime.block_on(async {
        audit.handle(command, &(), &sink).await?;
        Ok(sink.collect().await)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_audit_commands_keep_the_audit_invariants(commands in prop::collection::vec(any_audit_command(), 1..40)) {
        let mut audit = FiveSAudit::default();
        for command in commands {
            let before = audit.status();
            let auditor = match &command {
                AuditCommand::Schedule { actor, .. } | AuditCommand::Start { actor, .. } | AuditCommand::ScoreItem { actor, .. }
                | AuditCommand::MarkItemNotApplicable { actor, .. } | AuditCommand::AttachEvidence { actor, .. }
                | AuditCommand::RecordFinding { actor, .. } | AuditCommand::Submit { actor, .. }
                | AuditCommand::CorrectItemScore { actor, .. } | AuditCommand::Cancel { actor, .. } => actor.role == Role::Auditor,
                AuditCommand::MarkMissed { .. } | AuditCommand::ScheduleFromPlan { .. } => false,
            };
            let missed = matches!(command, AuditCommand::MarkMissed { .. });
            let result = run(&mut audit, command);
            if auditor {
                prop_assert!(result.is_err(), "an auditor changed an audit");
            }
            if result.is_err() {
                prop_assert_eq!(before, audit.status(), "a refused command changed the state");
            } else if missed {
                prop_assert_eq!(before, AuditStatus::Scheduled, "only a scheduled audit is missed");
            }
            if audit.status() == AuditStatus::Missed {
                prop_assert!(matches!(before, AuditStatus::Scheduled | AuditStatus::Missed));
            }
            // A submitted audit resolved every item, each N/A with a comment, each score on the scale.
            if audit.status() == AuditStatus::Submitted {
                prop_assert_eq!(audit.results().len(), 2);
                for result in audit.results().values() {
                    match result.value {
                        ItemValue::NotApplicable => prop_assert!(result.comment.is_some()),
                        ItemValue::Score(v) => prop_assert!((0..=4).contains(&v)),
                    }
                }
                prop_assert!(audit.scores().is_some());
            }
        }
    }

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

#[test]
fn the_system_schedules_an_audit_from_the_zone_plan() {
    let from_plan = |plan: AuditPlan| AuditCommand::ScheduleFromPlan { plan, now: at() };
    Given::with(()).given_no_previous_events().when(from_plan(plan(48))).then_expect_events(vec![AuditEvent::AuditScheduled {
        audit_id: AuditId(Uuid::from_u128(7)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        audit_type: AuditType::Supervisor,
        due_at: later(48),
        scheduled_by: None,
    }]);
    Given::with(()).given(vec![scheduled()]).when(from_plan(plan(48))).then_expect_error(DomainError::Rule("the audit already exists"));
    let archived =
        Given::with(()).given_no_previous_events().when(from_plan(AuditPlan { zone_active: false, ..plan(48) })).inspect_result();
    assert!(matches!(archived, Err(DomainError::Invalid(e)) if e.field == "zoneId"));
}
