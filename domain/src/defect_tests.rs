//! Given/when/then tests of the Defect aggregate, and a property test of its invariants.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::test_support::{member, text};
use crate::values::ReasonCode;

type Given = TestFramework<Defect>;

const FINDER: MemberId = MemberId(Uuid::from_u128(1));
const LEAD: MemberId = MemberId(Uuid::from_u128(2));
const FIXER: MemberId = MemberId(Uuid::from_u128(3));
const VERIFIER: MemberId = MemberId(Uuid::from_u128(4));
const DEFECT: DefectId = DefectId(Uuid::from_u128(10));
const ZONE: ZoneId = ZoneId(Uuid::from_u128(20));

fn at(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).single().unwrap_or_default() + Duration::hours(hour)
}
fn reason() -> Reason {
    Reason { code: ReasonCode::Other, text: "because".into() }
}
fn evidence() -> Vec<EvidenceRef> {
    vec![EvidenceRef::parse("evidence", &"ab".repeat(32)).unwrap_or_else(|e| panic!("{e}"))]
}
fn zone() -> ZoneFacts {
    ZoneFacts { zone_active: true, ..ZoneFacts::default() }
}
fn lead() -> ZoneFacts {
    ZoneFacts { zone_active: true, actor_leads_zone: true, actor_is_defect_verifier: false }
}
fn new_defect(kind: AbnormalityType, tag_class: TagClass, priority: Priority) -> NewDefect {
    NewDefect {
        defect_id: DEFECT,
        zone_id: ZONE,
        abnormality_type: kind,
        tag_class,
        priority,
        title: Name::parse("title", "Oil leak at press 3").unwrap_or_else(|e| panic!("{e}")),
        description: text("drips onto the walkway"),
        origin: Origin::OperatorReport,
        evidence_before: evidence(),
    }
}
fn raised_with(tag_class: TagClass, priority: Priority) -> DefectEvent {
    let d = new_defect(AbnormalityType::ContaminationSource, tag_class, priority);
    DefectEvent::DefectRaised {
        defect_id: d.defect_id,
        zone_id: d.zone_id,
        abnormality_type: d.abnormality_type,
        tag_class: d.tag_class,
        priority: d.priority,
        title: d.title,
        description: d.description,
        origin: d.origin,
        evidence_before: d.evidence_before,
        found_by: FINDER,
        found_at: at(0),
    }
}
fn raised() -> DefectEvent {
    raised_with(TagClass::Operator, Priority::B)
}
fn assigned() -> DefectEvent {
    DefectEvent::DefectAssigned { assignee: FIXER, due_at: at(24 * 7), original_due_at: Some(at(24 * 7)) }
}
fn resolved() -> DefectEvent {
    DefectEvent::DefectResolved {
        from: DefectStatus::Assigned,
        countermeasure: text("new seal"),
        evidence_after: vec![],
        resolved_by: FIXER,
        resolved_at: at(30),
        fixed_on_spot: false,
    }
}
fn closed() -> DefectEvent {
    DefectEvent::DefectClosed {
        verified_by: LEAD,
        verified_at: at(40),
        note: None,
        signature_meaning: "verified".into(),
        resolved_by: Some(FIXER),
        found_by: Some(FINDER),
        original_due_at: Some(at(24 * 7)),
    }
}
fn forbidden(result: Result<Vec<DefectEvent>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Forbidden(_)))
}
fn invalid(result: Result<Vec<DefectEvent>, DomainError>, field: &str) -> bool {
    matches!(result, Err(DomainError::Invalid(e)) if e.field == field)
}
fn assign(due_at: Option<DateTime<Utc>>) -> DefectCommand {
    DefectCommand::Assign {
        actor: member(LEAD),
        facts: lead(),
        assignee: FIXER,
        assignee_active: true,
        due_at,
        slas: PrioritySlas::default(),
        now: at(1),
    }
}

#[test]
fn a_member_raises_a_defect_in_an_active_zone() {
    let raise = DefectCommand::Raise {
        actor: member(FINDER),
        facts: zone(),
        defect: new_defect(AbnormalityType::ContaminationSource, TagClass::Operator, Priority::B),
        now: at(0),
    };
    Given::with(()).given_no_previous_events().when(raise).then_expect_events(vec![raised()]);
}

#[test]
fn a_defect_is_not_raised_in_an_archived_zone_nor_by_an_auditor_nor_twice() {
    let d = || new_defect(AbnormalityType::MinorFlaw, TagClass::Operator, Priority::C);
    let archived = ZoneFacts::default();
    assert!(invalid(
        Given::with(())
            .given_no_previous_events()
            .when(DefectCommand::Raise { actor: member(FINDER), facts: archived, defect: d(), now: at(0) })
            .inspect_result(),
        "zoneId"
    ));
    let auditor = Actor { member_id: FINDER, role: Role::Auditor };
    assert!(forbidden(
        Given::with(())
            .given_no_previous_events()
            .when(DefectCommand::Raise { actor: auditor, facts: zone(), defect: d(), now: at(0) })
            .inspect_result()
    ));
    Given::with(())
        .given(vec![raised()])
        .when(DefectCommand::Raise { actor: member(FINDER), facts: zone(), defect: d(), now: at(0) })
        .then_expect_error(DomainError::Rule("the defect already exists"));
}

#[test]
fn an_unsafe_place_is_never_raised_as_priority_c() {
    let raise = DefectCommand::Raise {
        actor: member(FINDER),
        facts: zone(),
        defect: new_defect(AbnormalityType::UnsafePlace, TagClass::Safety, Priority::C),
        now: at(0),
    };
    assert!(invalid(Given::with(()).given_no_previous_events().when(raise).inspect_result(), "priority"));
}

#[test]
fn fixing_on_the_spot_raises_and_resolves_in_one_command() {
    let command = DefectCommand::RaiseFixedOnSpot {
        actor: member(FINDER),
        facts: zone(),
        defect: new_defect(AbnormalityType::ContaminationSource, TagClass::Operator, Priority::B),
        countermeasure: text("wiped and tightened"),
        evidence_after: vec![],
        now: at(0),
    };
    let resolved = DefectEvent::DefectResolved {
        from: DefectStatus::Open,
        countermeasure: text("wiped and tightened"),
        evidence_after: vec![],
        resolved_by: FINDER,
        resolved_at: at(0),
        fixed_on_spot: true,
    };
    Given::with(()).given_no_previous_events().when(command).then_expect_events(vec![raised(), resolved]);
}

#[test]
fn assigning_defaults_the_due_date_from_the_priority_sla_and_keeps_the_original() {
    let due = at(1) + Duration::days(7);
    Given::with(()).given(vec![raised()]).when(assign(None)).then_expect_events(vec![DefectEvent::DefectAssigned {
        assignee: FIXER,
        due_at: due,
        original_due_at: Some(due),
    }]);
}

#[test]
fn assigning_needs_the_zone_lead_an_active_assignee_and_a_future_due_date() {
    let by_member = DefectCommand::Assign {
        actor: member(FINDER),
        facts: zone(),
        assignee: FIXER,
        assignee_active: true,
        due_at: None,
        slas: PrioritySlas::default(),
        now: at(1),
    };
    assert!(forbidden(Given::with(()).given(vec![raised()]).when(by_member).inspect_result()));
    let inactive = DefectCommand::Assign {
        actor: member(LEAD),
        facts: lead(),
        assignee: FIXER,
        assignee_active: false,
        due_at: None,
        slas: PrioritySlas::default(),
        now: at(1),
    };
    assert!(invalid(Given::with(()).given(vec![raised()]).when(inactive).inspect_result(), "assigneeId"));
    assert!(invalid(Given::with(()).given(vec![raised()]).when(assign(Some(at(0)))).inspect_result(), "dueAt"));
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(assign(None))
        .then_expect_error(DomainError::Rule("only an open defect is assigned; reassign it instead"));
    Given::with(()).given_no_previous_events().when(assign(None)).then_expect_error(DomainError::NotFound);
}

#[test]
fn an_admin_assigns_without_leading_the_zone() {
    let admin = Actor { member_id: VERIFIER, role: Role::Admin };
    let command = DefectCommand::Assign {
        actor: admin,
        facts: zone(),
        assignee: FIXER,
        assignee_active: true,
        due_at: Some(at(48)),
        slas: PrioritySlas::default(),
        now: at(1),
    };
    Given::with(()).given(vec![raised()]).when(command).then_expect_events(vec![DefectEvent::DefectAssigned {
        assignee: FIXER,
        due_at: at(48),
        original_due_at: Some(at(48)),
    }]);
}

#[test]
fn changing_the_due_date_records_before_and_after_and_never_moves_the_original() {
    let change = DefectCommand::ChangeDueDate { actor: member(LEAD), facts: lead(), due_at: at(24 * 14), reason: reason(), now: at(2) };
    Given::with(()).given(vec![raised(), assigned()]).when(change).then_expect_events(vec![DefectEvent::DefectDueDateChanged {
        before: Some(at(24 * 7)),
        after: at(24 * 14),
        reason: reason(),
    }]);
    let mut defect = Defect::default();
    for e in [raised(), assigned(), DefectEvent::DefectDueDateChanged { before: Some(at(24 * 7)), after: at(24 * 14), reason: reason() }] {
        defect.apply(e);
    }
    assert_eq!((defect.original_due_at(), defect.due_at()), (Some(at(24 * 7)), Some(at(24 * 14))));
}

#[test]
fn reassigning_names_a_different_active_member_with_a_reason() {
    let reassign =
        |assignee| DefectCommand::Reassign { actor: member(LEAD), facts: lead(), assignee, assignee_active: true, reason: reason() };
    Given::with(()).given(vec![raised(), assigned()]).when(reassign(VERIFIER)).then_expect_events(vec![DefectEvent::DefectReassigned {
        before: FIXER,
        after: VERIFIER,
        reason: reason(),
    }]);
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(reassign(FIXER))
        .then_expect_error(DomainError::Rule("the defect is already assigned to this member"));
    Given::with(())
        .given(vec![raised()])
        .when(reassign(FIXER))
        .then_expect_error(DomainError::Rule("only an assigned defect is reassigned"));
}

#[test]
fn the_assignee_starts_work_puts_it_on_hold_and_resumes() {
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(DefectCommand::StartWork { actor: member(FIXER), facts: zone() })
        .then_expect_events(vec![DefectEvent::DefectWorkStarted]);
    assert!(forbidden(
        Given::with(())
            .given(vec![raised(), assigned()])
            .when(DefectCommand::StartWork { actor: member(FINDER), facts: zone() })
            .inspect_result()
    ));
    let hold =
        DefectCommand::PutOnHold { actor: member(FIXER), facts: zone(), hold_reason: HoldReason::WaitingParts, text: text("seal ordered") };
    Given::with(()).given(vec![raised(), assigned(), DefectEvent::DefectWorkStarted]).when(hold).then_expect_events(vec![
        DefectEvent::DefectPutOnHold { from: DefectStatus::InProgress, hold_reason: HoldReason::WaitingParts, text: text("seal ordered") },
    ]);
    let on_hold = DefectEvent::DefectPutOnHold { from: DefectStatus::Assigned, hold_reason: HoldReason::PlannedShutdown, text: text("x") };
    Given::with(())
        .given(vec![raised(), assigned(), on_hold.clone()])
        .when(DefectCommand::Resume { actor: member(FIXER), facts: zone() })
        .then_expect_events(vec![DefectEvent::DefectResumed { to: DefectStatus::Assigned }]);
    let resolve =
        DefectCommand::Resolve { actor: member(FIXER), facts: zone(), countermeasure: text("x"), evidence_after: vec![], now: at(3) };
    Given::with(())
        .given(vec![raised(), assigned(), on_hold])
        .when(resolve)
        .then_expect_error(DomainError::Rule("only assigned or in-progress work is resolved"));
}

#[test]
fn containment_and_countermeasure_are_recorded_with_before_and_after() {
    Given::with(())
        .given(vec![raised()])
        .when(DefectCommand::RecordContainment { actor: member(FINDER), text: text("drip tray") })
        .then_expect_events(vec![DefectEvent::DefectContainmentRecorded { before: None, after: text("drip tray") }]);
    let first = DefectEvent::DefectCountermeasureRecorded { before: None, after: text("seal"), root_cause: None };
    Given::with(())
        .given(vec![raised(), assigned(), first])
        .when(DefectCommand::RecordCountermeasure {
            actor: member(FIXER),
            countermeasure: text("new seal type"),
            root_cause: Some(text("wrong material")),
        })
        .then_expect_events(vec![DefectEvent::DefectCountermeasureRecorded {
            before: Some(text("seal")),
            after: text("new seal type"),
            root_cause: Some(text("wrong material")),
        }]);
}

#[test]
fn resolving_a_maintenance_or_safety_tag_needs_after_evidence() {
    for class in [TagClass::Maintenance, TagClass::Safety] {
        let resolve = DefectCommand::Resolve {
            actor: member(FIXER),
            facts: zone(),
            countermeasure: text("fixed"),
            evidence_after: vec![],
            now: at(3),
        };
        assert!(invalid(
            Given::with(()).given(vec![raised_with(class, Priority::B), assigned()]).when(resolve).inspect_result(),
            "evidenceAfter"
        ));
        let with_evidence = DefectCommand::Resolve {
            actor: member(FIXER),
            facts: zone(),
            countermeasure: text("fixed"),
            evidence_after: evidence(),
            now: at(3),
        };
        assert!(Given::with(()).given(vec![raised_with(class, Priority::B), assigned()]).when(with_evidence).inspect_result().is_ok());
    }
}

#[test]
fn the_resolver_never_verifies() {
    let fixer_verifying = DefectCommand::Verify { actor: member(FIXER), facts: lead(), note: None, now: at(40) };
    Given::with(())
        .given(vec![raised(), assigned(), resolved()])
        .when(fixer_verifying)
        .then_expect_error(DomainError::Forbidden("the verifier must not be the person who resolved the defect"));
}

#[test]
fn the_zone_lead_the_finder_or_a_defect_verifier_verifies_with_a_signature() {
    Given::with(())
        .given(vec![raised(), assigned(), resolved()])
        .when(DefectCommand::Verify { actor: member(LEAD), facts: lead(), note: None, now: at(40) })
        .then_expect_events(vec![closed()]);
    assert!(
        Given::with(())
            .given(vec![raised(), assigned(), resolved()])
            .when(DefectCommand::Verify { actor: member(FINDER), facts: zone(), note: None, now: at(40) })
            .inspect_result()
            .is_ok()
    );
    let capability = ZoneFacts { zone_active: true, actor_leads_zone: false, actor_is_defect_verifier: true };
    assert!(
        Given::with(())
            .given(vec![raised(), assigned(), resolved()])
            .when(DefectCommand::Verify { actor: member(VERIFIER), facts: capability, note: None, now: at(40) })
            .inspect_result()
            .is_ok()
    );
    assert!(forbidden(
        Given::with(())
            .given(vec![raised(), assigned(), resolved()])
            .when(DefectCommand::Verify { actor: member(VERIFIER), facts: zone(), note: None, now: at(40) })
            .inspect_result()
    ));
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(DefectCommand::Verify { actor: member(LEAD), facts: lead(), note: None, now: at(40) })
        .then_expect_error(DomainError::Rule("only a resolved defect is verified"));
}

#[test]
fn failed_verification_sends_the_defect_back_to_its_assignee() {
    Given::with(())
        .given(vec![raised(), assigned(), resolved()])
        .when(DefectCommand::FailVerification { actor: member(LEAD), facts: lead(), reason: reason() })
        .then_expect_events(vec![DefectEvent::DefectVerificationFailed { reason: reason() }]);
}

#[test]
fn reopening_within_the_window_counts_as_a_recurrence() {
    let reopen =
        |now| DefectCommand::Reopen { actor: member(LEAD), facts: lead(), reason: reason(), recurrence_window: Duration::days(30), now };
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(reopen(at(50)))
        .then_expect_events(vec![DefectEvent::DefectReopened { reason: reason(), recurrence: true }]);
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(reopen(at(40) + Duration::days(31)))
        .then_expect_events(vec![DefectEvent::DefectReopened { reason: reason(), recurrence: false }]);
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(reopen(at(50)))
        .then_expect_error(DomainError::Rule("only a closed defect is reopened"));
}

#[test]
fn cancelling_as_duplicate_names_the_original() {
    let cancel = |reason, duplicate_of| DefectCommand::Cancel {
        actor: member(LEAD),
        facts: lead(),
        cancel_reason: reason,
        duplicate_of,
        text: text("seen"),
    };
    let other = DefectId(Uuid::from_u128(11));
    Given::with(()).given(vec![raised()]).when(cancel(CancelReason::Duplicate, Some(other))).then_expect_events(vec![
        DefectEvent::DefectCancelled {
            from: DefectStatus::Open,
            cancel_reason: CancelReason::Duplicate,
            duplicate_of: Some(other),
            text: text("seen"),
        },
    ]);
    assert!(invalid(Given::with(()).given(vec![raised()]).when(cancel(CancelReason::Duplicate, None)).inspect_result(), "duplicateOf"));
    assert!(invalid(
        Given::with(()).given(vec![raised()]).when(cancel(CancelReason::NotADefect, Some(other))).inspect_result(),
        "duplicateOf"
    ));
    assert!(invalid(
        Given::with(()).given(vec![raised()]).when(cancel(CancelReason::Duplicate, Some(DEFECT))).inspect_result(),
        "duplicateOf"
    ));
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(cancel(CancelReason::OutOfScope, None))
        .then_expect_error(DomainError::Rule("only an open defect is cancelled"));
}

#[test]
fn reclassifying_records_only_what_changed_with_a_reason() {
    let reclassify = DefectCommand::Reclassify {
        actor: member(LEAD),
        facts: lead(),
        abnormality_type: AbnormalityType::ContaminationSource,
        tag_class: TagClass::Maintenance,
        priority: Priority::A,
        reason: reason(),
    };
    let event = DefectEvent::DefectReclassified {
        abnormality_type: (AbnormalityType::ContaminationSource, AbnormalityType::ContaminationSource),
        tag_class: (TagClass::Operator, TagClass::Maintenance),
        priority: (Priority::B, Priority::A),
        reason: reason(),
    };
    assert_eq!(event.changes().iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["tagClass", "priority"]);
    Given::with(()).given(vec![raised()]).when(reclassify).then_expect_events(vec![event]);
    let same = DefectCommand::Reclassify {
        actor: member(LEAD),
        facts: lead(),
        abnormality_type: AbnormalityType::ContaminationSource,
        tag_class: TagClass::Operator,
        priority: Priority::B,
        reason: reason(),
    };
    Given::with(()).given(vec![raised()]).when(same).then_expect_error(DomainError::Rule("the defect already has this classification"));
}

#[test]
fn a_suggestion_changes_nothing_until_a_person_accepts_it() {
    let suggested = DefectEvent::DefectTypeSuggested {
        suggestion_id: "s1".into(),
        abnormality_type: AbnormalityType::UnsafePlace,
        source: "keywords".into(),
    };
    Given::with(())
        .given(vec![raised()])
        .when(DefectCommand::RecordSuggestion {
            suggestion_id: "s1".into(),
            abnormality_type: AbnormalityType::UnsafePlace,
            source: "keywords".into(),
        })
        .then_expect_events(vec![suggested.clone()]);
    let mut defect = Defect::default();
    defect.apply(raised());
    defect.apply(suggested.clone());
    assert_eq!(defect.state().abnormality_type, Some(AbnormalityType::ContaminationSource), "advisory only");

    let accept = |actor, facts| DefectCommand::AcceptSuggestion { actor, facts, suggestion_id: "s1".into() };
    assert!(forbidden(Given::with(()).given(vec![raised(), suggested.clone()]).when(accept(member(FIXER), zone())).inspect_result()));
    Given::with(()).given(vec![raised(), suggested.clone()]).when(accept(member(FINDER), zone())).then_expect_events(vec![
        DefectEvent::DefectSuggestionAccepted {
            suggestion_id: "s1".into(),
            before: AbnormalityType::ContaminationSource,
            after: AbnormalityType::UnsafePlace,
        },
    ]);
    Given::with(())
        .given(vec![raised(), suggested.clone()])
        .when(DefectCommand::RejectSuggestion { actor: member(LEAD), facts: lead(), suggestion_id: "s1".into() })
        .then_expect_events(vec![DefectEvent::DefectSuggestionRejected { suggestion_id: "s1".into() }]);
    Given::with(())
        .given(vec![raised(), suggested])
        .when(DefectCommand::AcceptSuggestion { actor: member(FINDER), facts: zone(), suggestion_id: "other".into() })
        .then_expect_error(DomainError::Rule("there is no such pending suggestion"));
}

fn sha(n: u8) -> EvidenceRef {
    EvidenceRef::parse("evidence", &format!("{n:02x}").repeat(32)).unwrap_or_else(|e| panic!("{e}"))
}
fn a3() -> A3Id {
    A3Id(Uuid::from_u128(30))
}
fn kaizen() -> KaizenId {
    KaizenId(Uuid::from_u128(40))
}
fn work_order(text: &str) -> Code {
    Code::parse("workOrderRef", text).unwrap_or_else(|e| panic!("{e}"))
}
fn cancelled() -> DefectEvent {
    DefectEvent::DefectCancelled {
        from: DefectStatus::Open,
        cancel_reason: CancelReason::OutOfScope,
        duplicate_of: None,
        text: text("not ours"),
    }
}

#[test]
fn evidence_is_attached_before_or_after_once_until_closure() {
    let attach = |phase| DefectCommand::AttachEvidence { actor: member(FIXER), evidence: sha(7), phase };
    Given::with(()).given(vec![raised()]).when(attach(EvidencePhase::After)).then_expect_events(vec![
        DefectEvent::DefectEvidenceAttached { evidence: sha(7), phase: EvidencePhase::After, attached_by: FIXER },
    ]);
    let attached = DefectEvent::DefectEvidenceAttached { evidence: sha(7), phase: EvidencePhase::Before, attached_by: FIXER };
    Given::with(())
        .given(vec![raised(), attached])
        .when(attach(EvidencePhase::Before))
        .then_expect_error(DomainError::Rule("this evidence is already attached"));
    // The raise's own before-evidence counts too.
    let again = DefectCommand::AttachEvidence { actor: member(FIXER), evidence: evidence()[0].clone(), phase: EvidencePhase::Before };
    Given::with(()).given(vec![raised()]).when(again).then_expect_error(DomainError::Rule("this evidence is already attached"));
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(attach(EvidencePhase::After))
        .then_expect_error(DomainError::Rule("evidence is attached until the defect is closed"));
    let auditor = Actor { member_id: FIXER, role: Role::Auditor };
    let by_auditor = DefectCommand::AttachEvidence { actor: auditor, evidence: sha(7), phase: EvidencePhase::After };
    assert!(forbidden(Given::with(()).given(vec![raised()]).when(by_auditor).inspect_result()));
    Given::with(()).given_no_previous_events().when(attach(EvidencePhase::After)).then_expect_error(DomainError::NotFound);
}

#[test]
fn comments_keep_their_author_and_time_even_after_closure() {
    let comment = DefectCommand::Comment { actor: member(VERIFIER), text: text("seen again on night shift"), now: at(50) };
    Given::with(()).given(vec![raised(), assigned(), resolved(), closed()]).when(comment).then_expect_events(vec![
        DefectEvent::DefectCommented { comment: DefectComment { author: VERIFIER, text: text("seen again on night shift"), at: at(50) } },
    ]);
    let by_auditor = DefectCommand::Comment { actor: Actor { member_id: VERIFIER, role: Role::Auditor }, text: text("x"), now: at(50) };
    assert!(forbidden(Given::with(()).given(vec![raised()]).when(by_auditor).inspect_result()));
    let nothing = DefectCommand::Comment { actor: member(VERIFIER), text: text("x"), now: at(1) };
    Given::with(()).given_no_previous_events().when(nothing).then_expect_error(DomainError::NotFound);
}

#[test]
fn comments_are_kept_in_order() {
    let mut defect = Defect::default();
    defect.apply(raised());
    for (i, words) in ["first", "second"].into_iter().enumerate() {
        let events = run(&mut defect, DefectCommand::Comment { actor: member(FINDER), text: text(words), now: at(i as i64) });
        assert!(events.is_ok(), "{events:?}");
    }
    let texts: Vec<&str> = defect.state().comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
}

#[test]
fn links_name_an_existing_a3_or_kaizen_once() {
    let link_a3 = |exists| DefectCommand::LinkToA3 { actor: member(LEAD), facts: lead(), a3_id: a3(), a3_exists: exists };
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(link_a3(true))
        .then_expect_events(vec![DefectEvent::DefectLinkedToA3 { before: None, after: a3() }]);
    assert!(invalid(Given::with(()).given(vec![raised()]).when(link_a3(false)).inspect_result(), "a3Id"));
    Given::with(())
        .given(vec![raised(), DefectEvent::DefectLinkedToA3 { before: None, after: a3() }])
        .when(link_a3(true))
        .then_expect_error(DomainError::Rule("the defect is already linked to this A3 case"));
    Given::with(())
        .given(vec![raised(), cancelled()])
        .when(link_a3(true))
        .then_expect_error(DomainError::Rule("a cancelled defect is not linked"));

    let link_kaizen = |actor, exists| DefectCommand::LinkToKaizen { actor, facts: zone(), kaizen_id: kaizen(), kaizen_exists: exists };
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(link_kaizen(member(FIXER), true))
        .then_expect_events(vec![DefectEvent::DefectLinkedToKaizen { kaizen_id: kaizen() }]);
    assert!(forbidden(Given::with(()).given(vec![raised()]).when(link_kaizen(member(FINDER), true)).inspect_result()));
    let lead_link = DefectCommand::LinkToKaizen { actor: member(LEAD), facts: lead(), kaizen_id: kaizen(), kaizen_exists: false };
    assert!(invalid(Given::with(()).given(vec![raised()]).when(lead_link).inspect_result(), "kaizenId"));
    Given::with(())
        .given(vec![raised(), assigned(), DefectEvent::DefectLinkedToKaizen { kaizen_id: kaizen() }])
        .when(link_kaizen(member(FIXER), true))
        .then_expect_error(DomainError::Rule("the defect is already linked to this kaizen"));
}

#[test]
fn the_work_order_reference_records_before_and_after() {
    let set = |r: &str| DefectCommand::SetWorkOrderRef { actor: member(LEAD), facts: lead(), work_order_ref: work_order(r) };
    Given::with(())
        .given(vec![raised(), DefectEvent::DefectWorkOrderLinked { before: None, after: work_order("WO-1") }])
        .when(set("WO-2"))
        .then_expect_events(vec![DefectEvent::DefectWorkOrderLinked { before: Some(work_order("WO-1")), after: work_order("WO-2") }]);
    Given::with(())
        .given(vec![raised(), DefectEvent::DefectWorkOrderLinked { before: None, after: work_order("WO-1") }])
        .when(set("wo-1"))
        .then_expect_error(DomainError::Rule("the defect already has this work order"));
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(set("WO-3"))
        .then_expect_error(DomainError::Rule("the work order of a finished defect is fixed"));
    let by_finder = DefectCommand::SetWorkOrderRef { actor: member(FINDER), facts: zone(), work_order_ref: work_order("WO-4") };
    assert!(forbidden(Given::with(()).given(vec![raised()]).when(by_finder).inspect_result()));
}

#[test]
fn an_unassigned_priority_a_defect_is_escalated_once_per_level_after_the_acknowledgement_time() {
    let escalate =
        |level, hour| DefectCommand::Escalate { rule: EscalationRule::PriorityAUnassigned, level, a_ack_minutes: 60, now: at(hour) };
    let a = || raised_with(TagClass::Safety, Priority::A);
    let escalated = |from: u32, level, hour| DefectEvent::DefectEscalated {
        rule: EscalationRule::PriorityAUnassigned,
        from_level: Some(from),
        to_level: level,
        escalated_at: at(hour),
    };
    Given::with(()).given(vec![a()]).when(escalate(1, 1)).then_expect_events(vec![escalated(0, 1, 1)]);
    Given::with(())
        .given(vec![a()])
        .when(escalate(2, 1))
        .then_expect_error(DomainError::Rule("the acknowledgement time of this escalation level has not passed"));
    Given::with(())
        .given(vec![a()])
        .when(escalate(0, 5))
        .then_expect_error(DomainError::Rule("the acknowledgement time of this escalation level has not passed"));
    Given::with(())
        .given(vec![a(), escalated(0, 1, 1)])
        .when(escalate(1, 2))
        .then_expect_error(DomainError::Rule("the defect is already escalated at this level"));
    Given::with(()).given(vec![a(), escalated(0, 1, 1)]).when(escalate(2, 2)).then_expect_events(vec![escalated(1, 2, 2)]);
    Given::with(())
        .given(vec![raised()])
        .when(escalate(1, 5))
        .then_expect_error(DomainError::Rule("only a priority-A defect that is still unassigned is escalated"));
    Given::with(())
        .given(vec![a(), assigned()])
        .when(escalate(1, 5))
        .then_expect_error(DomainError::Rule("only a priority-A defect that is still unassigned is escalated"));
    // A flag, not a state.
    let mut defect = Defect::default();
    defect.apply(a());
    defect.apply(escalated(0, 1, 1));
    assert_eq!((defect.status(), defect.state().escalation_level), (DefectStatus::Open, 1));
}

#[test]
fn every_defect_event_states_its_changes() {
    for event in [
        raised(),
        assigned(),
        resolved(),
        closed(),
        DefectEvent::DefectWorkStarted,
        DefectEvent::DefectVerificationFailed { reason: reason() },
        DefectEvent::DefectEvidenceAttached { evidence: sha(1), phase: EvidencePhase::Before, attached_by: FINDER },
        DefectEvent::DefectCommented { comment: DefectComment { author: FINDER, text: text("x"), at: at(0) } },
        DefectEvent::DefectLinkedToA3 { before: None, after: a3() },
        DefectEvent::DefectLinkedToKaizen { kaizen_id: kaizen() },
        DefectEvent::DefectWorkOrderLinked { before: None, after: work_order("WO-1") },
        DefectEvent::DefectEscalated { rule: EscalationRule::PriorityAUnassigned, from_level: Some(0), to_level: 1, escalated_at: at(0) },
    ] {
        assert!(!event.changes().is_empty(), "{event:?}");
    }
}

// ---- property test: random command sequences keep the invariants ----

fn any_actor() -> impl Strategy<Value = Actor> {
    (
        prop::sample::select(vec![FINDER, LEAD, FIXER, VERIFIER]),
        prop::sample::select(vec![Role::Owner, Role::Admin, Role::Member, Role::Auditor]),
    )
        .prop_map(|(member_id, role)| Actor { member_id, role })
}

fn any_command() -> impl Strategy<Value = DefectCommand> {
    let facts = (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c)| ZoneFacts {
        zone_active: a,
        actor_leads_zone: b,
        actor_is_defect_verifier: c,
    });
    let hour = 0_i64..2000;
    let priority = prop::sample::select(vec![Priority::A, Priority::B, Priority::C]);
    let tag = prop::sample::select(vec![TagClass::Operator, TagClass::Maintenance, TagClass::Safety]);
    let kind = prop::sample::select(vec![AbnormalityType::MinorFlaw, AbnormalityType::UnsafePlace, AbnormalityType::Other]);
    (any_actor(), facts, hour, priority, tag, kind, 0_u8..23, any::<bool>()).prop_map(
        |(actor, facts, h, priority, tag, kind, which, flag)| {
            let now = at(h);
            let evidence = if flag { evidence() } else { vec![] };
            match which {
                0 => DefectCommand::Raise { actor, facts, defect: new_defect(kind, tag, priority), now },
                1 => DefectCommand::RaiseFixedOnSpot {
                    actor,
                    facts,
                    defect: new_defect(kind, tag, priority),
                    countermeasure: text("fix"),
                    evidence_after: evidence,
                    now,
                },
                2 => DefectCommand::Assign {
                    actor,
                    facts,
                    assignee: FIXER,
                    assignee_active: flag,
                    due_at: None,
                    slas: PrioritySlas::default(),
                    now,
                },
                3 => DefectCommand::Reassign {
                    actor,
                    facts,
                    assignee: if flag { FIXER } else { VERIFIER },
                    assignee_active: true,
                    reason: reason(),
                },
                4 => DefectCommand::ChangeDueDate { actor, facts, due_at: now + Duration::days(3), reason: reason(), now },
                5 => DefectCommand::StartWork { actor, facts },
                6 => DefectCommand::PutOnHold { actor, facts, hold_reason: HoldReason::Other, text: text("wait") },
                7 => DefectCommand::Resume { actor, facts },
                8 => DefectCommand::Resolve { actor, facts, countermeasure: text("fix"), evidence_after: evidence, now },
                9 => DefectCommand::Verify { actor, facts, note: None, now },
                10 => DefectCommand::FailVerification { actor, facts, reason: reason() },
                11 => DefectCommand::Reopen { actor, facts, reason: reason(), recurrence_window: Duration::days(30), now },
                12 => DefectCommand::Cancel { actor, facts, cancel_reason: CancelReason::OutOfScope, duplicate_of: None, text: text("no") },
                13 => DefectCommand::Reclassify { actor, facts, abnormality_type: kind, tag_class: tag, priority, reason: reason() },
                15 => DefectCommand::AttachEvidence {
                    actor,
                    evidence: sha(u8::try_from(h % 4).unwrap_or(0)),
                    phase: if flag { EvidencePhase::Before } else { EvidencePhase::After },
                },
                16 => DefectCommand::Comment { actor, text: text("note"), now },
                17 => DefectCommand::LinkToA3 { actor, facts, a3_id: a3(), a3_exists: flag },
                18 => DefectCommand::LinkToKaizen { actor, facts, kaizen_id: kaizen(), kaizen_exists: flag },
                19 => DefectCommand::SetWorkOrderRef { actor, facts, work_order_ref: work_order(if flag { "WO-1" } else { "WO-2" }) },
                20 => DefectCommand::Escalate {
                    rule: EscalationRule::PriorityAUnassigned,
                    level: u32::try_from(h % 3).unwrap_or(0),
                    a_ack_minutes: 60,
                    now,
                },
                21 => DefectCommand::TransferZone {
                    actor,
                    to_zone: if flag { ZoneId(Uuid::from_u128(21)) } else { ZONE },
                    to_zone_active: flag,
                    reason: reason(),
                },
                _ => DefectCommand::RecordContainment { actor, text: text("tray") },
            }
        },
    )
}

fn actor_of(command: &DefectCommand) -> Option<Actor> {
    use DefectCommand as C;
    match command {
        C::Raise { actor, .. }
        | C::RaiseFixedOnSpot { actor, .. }
        | C::Assign { actor, .. }
        | C::Reassign { actor, .. }
        | C::ChangeDueDate { actor, .. }
        | C::StartWork { actor, .. }
        | C::RecordContainment { actor, .. }
        | C::PutOnHold { actor, .. }
        | C::Resume { actor, .. }
        | C::RecordCountermeasure { actor, .. }
        | C::Resolve { actor, .. }
        | C::Verify { actor, .. }
        | C::FailVerification { actor, .. }
        | C::Reopen { actor, .. }
        | C::Cancel { actor, .. }
        | C::Reclassify { actor, .. }
        | C::AcceptSuggestion { actor, .. }
        | C::RejectSuggestion { actor, .. }
        | C::AttachEvidence { actor, .. }
        | C::Comment { actor, .. }
        | C::LinkToA3 { actor, .. }
        | C::LinkToKaizen { actor, .. }
        | C::SetWorkOrderRef { actor, .. }
        | C::TransferZone { actor, .. } => Some(*actor),
        C::RecordSuggestion { .. } | C::Escalate { .. } => None,
    }
}

fn run(defect: &mut Defect, command: DefectCommand) -> Result<Vec<DefectEvent>, DomainError> {
    let sink = EventSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
    runtime.block_on(async {
        defect.handle(command, &(), &sink).await?;
        Ok(sink.collect().await)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_command_sequences_keep_the_defect_invariants(commands in prop::collection::vec(any_command(), 1..40)) {
        let mut defect = Defect::default();
        let mut original_due: Option<DateTime<Utc>> = None;
        for command in commands {
            let auditor = actor_of(&command).is_some_and(|a| a.role == Role::Auditor);
            let escalation = matches!(command, DefectCommand::Escalate { .. });
            let before = defect.status();
            let level_before = defect.state().escalation_level;
            // `handle` applies the events it emits through the sink.
            let result = run(&mut defect, command);
            if auditor {
                prop_assert!(result.is_err(), "an auditor changed a defect");
            }
            if result.is_err() {
                prop_assert_eq!(before, defect.status(), "a refused command changed the state");
            }
            // Escalation is a flag raised only on unassigned priority-A defects; it never moves.
            prop_assert!(defect.state().escalation_level >= level_before);
            if escalation && result.is_ok() {
                prop_assert_eq!(defect.status(), DefectStatus::Open);
                prop_assert_eq!(defect.state().priority, Some(Priority::A));
                prop_assert!(defect.state().escalation_level > level_before);
            }
            // A closed defect was verified by someone other than its resolver.
            if defect.status() == DefectStatus::Closed {
                prop_assert!(defect.verified_by().is_some());
                prop_assert_ne!(defect.verified_by(), defect.resolved_by());
            }
            // The original due date, once set, never changes.
            if let Some(original) = original_due {
                prop_assert_eq!(defect.original_due_at(), Some(original));
            }
            original_due = defect.original_due_at();
        }
    }
}

#[test]
fn an_admin_transfers_an_open_defect_to_another_active_zone_with_a_reason() {
    let other = ZoneId(Uuid::from_u128(21));
    let transfer = |role: Role, to_zone: ZoneId, to_zone_active: bool| DefectCommand::TransferZone {
        actor: Actor { member_id: LEAD, role },
        to_zone,
        to_zone_active,
        reason: reason(),
    };
    Given::with(())
        .given(vec![raised(), assigned()])
        .when(transfer(Role::Admin, other, true))
        .then_expect_events(vec![DefectEvent::DefectTransferred { from: ZONE, to: other, reason: reason() }]);
    assert!(forbidden(Given::with(()).given(vec![raised()]).when(transfer(Role::Member, other, true)).inspect_result()));
    assert!(invalid(Given::with(()).given(vec![raised()]).when(transfer(Role::Owner, other, false)).inspect_result(), "transferToZoneId"));
    Given::with(())
        .given(vec![raised()])
        .when(transfer(Role::Owner, ZONE, true))
        .then_expect_error(DomainError::Rule("the defect is already in this zone"));
    Given::with(())
        .given(vec![raised(), assigned(), resolved(), closed()])
        .when(transfer(Role::Owner, other, true))
        .then_expect_error(DomainError::Rule("only an open defect is transferred"));
    let mut defect = Defect::default();
    for event in [raised(), DefectEvent::DefectTransferred { from: ZONE, to: other, reason: reason() }] {
        defect.apply(event);
    }
    assert_eq!(defect.state().zone_id, Some(other));
}

#[test]
fn only_the_assignee_a_zone_leader_or_an_admin_resolves() {
    let resolve = |actor: Actor, facts: ZoneFacts| DefectCommand::Resolve {
        actor,
        facts,
        countermeasure: text("fixed"),
        evidence_after: vec![],
        now: at(3),
    };
    assert!(forbidden(Given::with(()).given(vec![raised(), assigned()]).when(resolve(member(FINDER), zone())).inspect_result()));
    for (actor, facts) in [(member(FIXER), zone()), (member(LEAD), lead()), (Actor { member_id: FINDER, role: Role::Admin }, zone())] {
        let result = Given::with(()).given(vec![raised(), assigned()]).when(resolve(actor, facts)).inspect_result();
        assert!(matches!(result.as_deref(), Ok([DefectEvent::DefectResolved { .. }])), "{actor:?}: {result:?}");
    }
}
