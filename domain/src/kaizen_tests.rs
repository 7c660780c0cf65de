//! Given/when/then tests of the Kaizen aggregate and a property test of its totals.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::test_support::{member, text};
use crate::values::{ReasonCode, Role};

type Given = TestFramework<Kaizen>;
const AUTHOR: MemberId = MemberId(Uuid::from_u128(1));
const REVIEWER: MemberId = MemberId(Uuid::from_u128(2));
const IMPLEMENTER: MemberId = MemberId(Uuid::from_u128(3));
const VERIFIER: MemberId = MemberId(Uuid::from_u128(4));

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).single().unwrap_or_default()
}
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default()
}
fn reason() -> Reason {
    Reason { code: ReasonCode::Other, text: "because".into() }
}
fn eur(amount: i64) -> Option<Money> {
    Some(Money { amount: Decimal::from(amount), currency: Currency::parse("EUR").unwrap_or_else(|e| panic!("{e}")) })
}
fn evidence() -> Vec<EvidenceRef> {
    vec![EvidenceRef::parse("evidence", &"cd".repeat(32)).unwrap_or_else(|e| panic!("{e}"))]
}
fn line(id: &str, kind: LineKind, classification: Classification, amount: i64) -> ImpactLine {
    ImpactLine {
        line_id: id.into(),
        kind,
        classification,
        money: eur(amount),
        recurrence: Recurrence::Recurring { period: Period::Month, start_on: day(), end_on: None },
        calculation: Some(text("2 h/week less changeover x 50 EUR/h")),
        evidence: evidence(),
    }
}
fn drafted() -> KaizenEvent {
    KaizenEvent::KaizenDrafted {
        kaizen_id: KaizenId(Uuid::from_u128(9)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        title: Name::parse("title", "Quick-change die clamps").unwrap_or_else(|e| panic!("{e}")),
        category: KaizenCategory::Cost,
        problem: text("changeovers take 40 minutes"),
        proposal: text("hydraulic clamps"),
        author: AUTHOR,
    }
}
fn implemented() -> Vec<KaizenEvent> {
    vec![
        drafted(),
        KaizenEvent::KaizenSubmitted { submitted_at: at() },
        KaizenEvent::KaizenReviewStarted { reviewer: REVIEWER },
        KaizenEvent::KaizenApproved { implementers: vec![IMPLEMENTER], due_at: None },
        KaizenEvent::KaizenImplementationStarted,
        KaizenEvent::KaizenImplemented {
            implemented_at: at(),
            just_do_it: false,
            authors: vec![AuthorShare { member_id: AUTHOR, share_pct: 100 }],
            implementers: vec![IMPLEMENTER],
        },
    ]
}
fn impact_submitted() -> Vec<KaizenEvent> {
    let mut events = implemented();
    let hard = line("a1", LineKind::Actual, Classification::Hard, 100);
    events.push(KaizenEvent::KaizenImpactLineSet { before: None, after: hard.clone(), reason: None });
    events.push(KaizenEvent::KaizenImpactSubmitted { actual: SavingsTotals::of([&hard], LineKind::Actual) });
    events
}
fn verify(actor: MemberId, capability: bool) -> KaizenCommand {
    KaizenCommand::VerifySavings { actor: member(actor), is_savings_verifier: capability, admin_threshold: None, now: at() }
}
fn forbidden(result: Result<Vec<KaizenEvent>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Forbidden(_)))
}

#[test]
fn a_member_drafts_and_submits_a_kaizen() {
    let draft = KaizenCommand::Draft {
        actor: member(AUTHOR),
        kaizen_id: KaizenId(Uuid::from_u128(9)),
        zone_id: ZoneId(Uuid::from_u128(8)),
        zone_active: true,
        title: Name::parse("title", "Quick-change die clamps").unwrap_or_else(|e| panic!("{e}")),
        category: KaizenCategory::Cost,
        problem: text("changeovers take 40 minutes"),
        proposal: text("hydraulic clamps"),
    };
    Given::with(()).given_no_previous_events().when(draft).then_expect_events(vec![drafted()]);
    Given::with(())
        .given(vec![drafted()])
        .when(KaizenCommand::Submit { actor: member(AUTHOR), now: at() })
        .then_expect_events(vec![KaizenEvent::KaizenSubmitted { submitted_at: at() }]);
    assert!(forbidden(
        Given::with(()).given(vec![drafted()]).when(KaizenCommand::Submit { actor: member(REVIEWER), now: at() }).inspect_result()
    ));
}

#[test]
fn an_author_never_reviews_their_own_kaizen() {
    let submitted = vec![drafted(), KaizenEvent::KaizenSubmitted { submitted_at: at() }];
    let own = KaizenCommand::StartReview { actor: member(AUTHOR), may_review: true };
    Given::with(())
        .given(submitted.clone())
        .when(own)
        .then_expect_error(DomainError::Forbidden("an author does not review their own kaizen"));
    let not_lead = KaizenCommand::StartReview { actor: member(REVIEWER), may_review: false };
    assert!(forbidden(Given::with(()).given(submitted.clone()).when(not_lead).inspect_result()));
    Given::with(())
        .given(submitted)
        .when(KaizenCommand::StartReview { actor: member(REVIEWER), may_review: true })
        .then_expect_events(vec![KaizenEvent::KaizenReviewStarted { reviewer: REVIEWER }]);
}

#[test]
fn only_the_reviewer_approves_or_rejects_and_a_rejection_carries_feedback() {
    let review =
        vec![drafted(), KaizenEvent::KaizenSubmitted { submitted_at: at() }, KaizenEvent::KaizenReviewStarted { reviewer: REVIEWER }];
    let approve = |actor| KaizenCommand::Approve { actor: member(actor), implementers: vec![IMPLEMENTER], due_at: None };
    assert!(forbidden(Given::with(()).given(review.clone()).when(approve(AUTHOR)).inspect_result()));
    Given::with(())
        .given(review.clone())
        .when(approve(REVIEWER))
        .then_expect_events(vec![KaizenEvent::KaizenApproved { implementers: vec![IMPLEMENTER], due_at: None }]);
    let no_implementer = KaizenCommand::Approve { actor: member(REVIEWER), implementers: vec![], due_at: None };
    assert!(
        matches!(Given::with(()).given(review.clone()).when(no_implementer).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "implementerIds")
    );
    Given::with(())
        .given(review)
        .when(KaizenCommand::Reject { actor: member(REVIEWER), feedback: text("already done on line 2") })
        .then_expect_events(vec![KaizenEvent::KaizenRejected { feedback: text("already done on line 2") }]);
}

#[test]
fn hard_lines_need_a_calculation_and_evidence_and_soft_lines_a_calculation() {
    let mut hard = line("a1", LineKind::Actual, Classification::Hard, 100);
    hard.evidence.clear();
    assert_eq!(hard.validate().map_err(|e| e.field), Err("evidence".to_owned()));
    let mut soft = line("a2", LineKind::Actual, Classification::Soft, 100);
    soft.evidence.clear();
    assert!(soft.validate().is_ok());
    soft.calculation = None;
    assert_eq!(soft.validate().map_err(|e| e.field), Err("calculation".to_owned()));
    let mut qualitative = line("q", LineKind::Actual, Classification::Qualitative, 1);
    assert!(qualitative.validate().is_err());
    qualitative.money = None;
    assert!(qualitative.validate().is_ok());
}

#[test]
fn target_lines_lock_once_approved() {
    let set = |reason| KaizenCommand::SetImpactLine {
        actor: member(AUTHOR),
        line: line("t1", LineKind::Target, Classification::Soft, 50),
        reason,
    };
    let result = Given::with(()).given(implemented()).when(set(None)).inspect_result();
    assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "reason"));
    assert!(Given::with(()).given(implemented()).when(set(Some(reason()))).inspect_result().is_ok());
    assert!(Given::with(()).given(vec![drafted()]).when(set(None)).inspect_result().is_ok());
}

#[test]
fn impact_is_submitted_with_actual_lines_and_verified_by_an_independent_savings_verifier() {
    Given::with(())
        .given(implemented())
        .when(KaizenCommand::SubmitImpact { actor: member(IMPLEMENTER) })
        .then_expect_error(DomainError::Rule("submit at least one actual impact line"));
    for involved in [AUTHOR, IMPLEMENTER, REVIEWER] {
        let result = Given::with(()).given(impact_submitted()).when(verify(involved, true)).inspect_result();
        assert_eq!(
            result,
            Err(DomainError::Forbidden("the savings verifier is not an author, implementer or reviewer of the kaizen")),
            "{involved:?}"
        );
    }
    Given::with(())
        .given(impact_submitted())
        .when(verify(VERIFIER, false))
        .then_expect_error(DomainError::Forbidden("savings are verified by a savings_verifier"));
    let result = Given::with(()).given(impact_submitted()).when(verify(VERIFIER, true)).inspect_result();
    match result.as_deref() {
        Ok([KaizenEvent::KaizenSavingsVerified { verified_by, totals, verification_version: 1, .. }]) => {
            assert_eq!(*verified_by, VERIFIER);
            assert_eq!(totals.hard.values().copied().collect::<Vec<_>>(), [Decimal::from(1200)], "100 EUR a month is 1200 a year");
            assert!(totals.soft.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn verified_actual_lines_change_only_through_an_adjustment() {
    let mut events = impact_submitted();
    events.push(KaizenEvent::KaizenSavingsVerified {
        verified_by: VERIFIER,
        verified_at: at(),
        totals: SavingsTotals::default(),
        verification_version: 1,
        authors: vec![AUTHOR],
        author_shares: vec![AuthorShare { member_id: AUTHOR, share_pct: 100 }],
    });
    let change = KaizenCommand::SetImpactLine {
        actor: member(AUTHOR),
        line: line("a1", LineKind::Actual, Classification::Hard, 999),
        reason: Some(reason()),
    };
    Given::with(())
        .given(events)
        .when(change)
        .then_expect_error(DomainError::Rule("verified actual lines change only through a savings adjustment"));
}

#[test]
fn a_declined_verification_returns_the_kaizen_for_rework() {
    Given::with(())
        .given(impact_submitted())
        .when(KaizenCommand::DeclineVerification { actor: member(VERIFIER), is_savings_verifier: true, reason: reason() })
        .then_expect_events(vec![KaizenEvent::KaizenSavingsVerificationDeclined { reason: reason() }]);
}

#[test]
fn quantified_savings_are_verified_before_closing_but_qualitative_ideas_close_directly() {
    let close = |actor| KaizenCommand::Close { actor: member(actor) };
    Given::with(())
        .given(implemented())
        .when(close(REVIEWER))
        .then_expect_events(vec![KaizenEvent::KaizenClosed { from: KaizenStatus::Implemented }]);
    let mut quantified = implemented();
    quantified.push(KaizenEvent::KaizenImpactLineSet {
        before: None,
        after: line("a1", LineKind::Actual, Classification::Hard, 100),
        reason: None,
    });
    Given::with(())
        .given(quantified)
        .when(close(REVIEWER))
        .then_expect_error(DomainError::Rule("quantified savings are verified before closing"));
    assert!(forbidden(Given::with(()).given(implemented()).when(close(AUTHOR)).inspect_result()));
}

const CO: MemberId = MemberId(Uuid::from_u128(5));
const THIRD: MemberId = MemberId(Uuid::from_u128(6));

fn submitted() -> Vec<KaizenEvent> {
    vec![drafted(), KaizenEvent::KaizenSubmitted { submitted_at: at() }]
}
fn under_review() -> Vec<KaizenEvent> {
    let mut events = submitted();
    events.push(KaizenEvent::KaizenReviewStarted { reviewer: REVIEWER });
    events
}
fn verified() -> Vec<KaizenEvent> {
    let mut events = impact_submitted();
    let hard = line("a1", LineKind::Actual, Classification::Hard, 100);
    events.push(KaizenEvent::KaizenSavingsVerified {
        verified_by: VERIFIER,
        verified_at: at(),
        totals: SavingsTotals::of([&hard], LineKind::Actual),
        verification_version: 1,
        authors: vec![AUTHOR],
        author_shares: vec![AuthorShare { member_id: AUTHOR, share_pct: 100 }],
    });
    events
}
fn admin(id: MemberId) -> Actor {
    Actor { member_id: id, role: Role::Admin }
}
fn auditor(id: MemberId) -> Actor {
    Actor { member_id: id, role: Role::Auditor }
}
fn share(member_id: MemberId, share_pct: u8) -> AuthorShare {
    AuthorShare { member_id, share_pct }
}
fn title(t: &str) -> KaizenContent {
    KaizenContent { title: Some(Name::parse("title", t).unwrap_or_else(|e| panic!("{e}"))), ..KaizenContent::default() }
}
fn invalid(result: Result<Vec<KaizenEvent>, DomainError>, field: &str) -> bool {
    matches!(result, Err(DomainError::Invalid(e)) if e.field == field)
}
fn rule(result: Result<Vec<KaizenEvent>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Rule(_)))
}

#[test]
fn an_author_edits_a_draft_and_content_changes_after_submission_need_a_reason_and_record_before_after() {
    let edit = |actor, patch| KaizenCommand::EditDraft { actor: member(actor), patch };
    Given::with(()).given(vec![drafted()]).when(edit(AUTHOR, title("Hydraulic clamps"))).then_expect_events(vec![
        KaizenEvent::KaizenDraftEdited { before: title("Quick-change die clamps"), after: title("Hydraulic clamps") },
    ]);
    assert!(forbidden(Given::with(()).given(vec![drafted()]).when(edit(REVIEWER, title("x"))).inspect_result()));
    assert!(invalid(Given::with(()).given(vec![drafted()]).when(edit(AUTHOR, title("Quick-change die clamps"))).inspect_result(), "patch"));
    assert!(rule(Given::with(()).given(submitted()).when(edit(AUTHOR, title("x"))).inspect_result()));

    let change = |actor: Actor| KaizenCommand::ChangeContent { actor, patch: title("Hydraulic clamps"), reason: reason() };
    Given::with(()).given(under_review()).when(change(member(REVIEWER))).then_expect_events(vec![KaizenEvent::KaizenContentChanged {
        before: title("Quick-change die clamps"),
        after: title("Hydraulic clamps"),
        reason: reason(),
    }]);
    assert!(rule(Given::with(()).given(vec![drafted()]).when(change(member(AUTHOR))).inspect_result()), "a draft is edited as a draft");
    assert!(forbidden(Given::with(()).given(submitted()).when(change(member(IMPLEMENTER))).inspect_result()));
    assert!(forbidden(Given::with(()).given(submitted()).when(change(auditor(AUTHOR))).inspect_result()));
    let mut edited = submitted();
    edited.push(KaizenEvent::KaizenContentChanged {
        before: title("Quick-change die clamps"),
        after: title("Hydraulic clamps"),
        reason: reason(),
    });
    let changes = Given::with(()).given(edited).when(change(member(AUTHOR))).inspect_result();
    assert!(invalid(changes, "patch"), "the state kept the changed title");
    let event = KaizenEvent::KaizenContentChanged { before: title("a"), after: title("b"), reason: reason() };
    assert_eq!(event.changes(), vec![Change::new("title", "a", "b")]);
    assert_eq!(event.reason(), Some(&reason()));
}

#[test]
fn shares_split_equally_with_the_remainder_to_the_first_author() {
    assert_eq!(equal_shares(&[AUTHOR]), vec![share(AUTHOR, 100)]);
    assert_eq!(equal_shares(&[AUTHOR, CO, THIRD]), vec![share(AUTHOR, 34), share(CO, 33), share(THIRD, 33)]);
    let six: Vec<MemberId> = (10..16).map(|i| MemberId(Uuid::from_u128(i))).collect();
    let shares = equal_shares(&six);
    assert_eq!(shares.iter().map(|s| s.share_pct).collect::<Vec<_>>(), [20, 16, 16, 16, 16, 16]);
}

#[test]
fn co_authors_are_added_and_removed_with_equal_shares() {
    let add = |actor, member_id, member_active| KaizenCommand::AddCoAuthor { actor: member(actor), member: member_id, member_active };
    Given::with(()).given(submitted()).when(add(AUTHOR, CO, true)).then_expect_events(vec![KaizenEvent::KaizenAuthorAdded {
        member_id: CO,
        before: vec![share(AUTHOR, 100)],
        after: vec![share(AUTHOR, 50), share(CO, 50)],
    }]);
    assert!(invalid(Given::with(()).given(submitted()).when(add(AUTHOR, CO, false)).inspect_result(), "memberId"));
    assert!(rule(Given::with(()).given(submitted()).when(add(AUTHOR, AUTHOR, true)).inspect_result()));
    Given::with(())
        .given(under_review())
        .when(add(AUTHOR, REVIEWER, true))
        .then_expect_error(DomainError::Rule("the reviewer is never an author of the kaizen"));
    assert!(forbidden(Given::with(()).given(submitted()).when(add(IMPLEMENTER, CO, true)).inspect_result()));
    assert!(rule(Given::with(()).given(implemented()).when(add(AUTHOR, CO, true)).inspect_result()), "authors are fixed once implemented");
    assert!(
        Given::with(())
            .given(submitted())
            .when(KaizenCommand::AddCoAuthor { actor: admin(REVIEWER), member: CO, member_active: true })
            .inspect_result()
            .is_ok()
    );

    let mut two = submitted();
    two.push(KaizenEvent::KaizenAuthorAdded {
        member_id: CO,
        before: vec![share(AUTHOR, 100)],
        after: vec![share(AUTHOR, 50), share(CO, 50)],
    });
    let remove = |actor, member_id| KaizenCommand::RemoveCoAuthor { actor: member(actor), member: member_id };
    Given::with(()).given(two.clone()).when(remove(CO, AUTHOR)).then_expect_events(vec![KaizenEvent::KaizenAuthorRemoved {
        member_id: AUTHOR,
        before: vec![share(AUTHOR, 50), share(CO, 50)],
        after: vec![share(CO, 100)],
    }]);
    assert!(invalid(Given::with(()).given(two).when(remove(AUTHOR, THIRD)).inspect_result(), "memberId"));
    Given::with(())
        .given(submitted())
        .when(remove(AUTHOR, AUTHOR))
        .then_expect_error(DomainError::Rule("a kaizen keeps at least one author"));
}

#[test]
fn author_shares_name_every_author_once_and_sum_to_100() {
    let mut two = submitted();
    two.push(KaizenEvent::KaizenAuthorAdded {
        member_id: CO,
        before: vec![share(AUTHOR, 100)],
        after: vec![share(AUTHOR, 50), share(CO, 50)],
    });
    let set = |actor, shares| KaizenCommand::SetAuthorShares { actor: member(actor), shares };
    Given::with(()).given(two.clone()).when(set(CO, vec![share(AUTHOR, 70), share(CO, 30)])).then_expect_events(vec![
        KaizenEvent::KaizenAuthorSharesChanged {
            before: vec![share(AUTHOR, 50), share(CO, 50)],
            after: vec![share(AUTHOR, 70), share(CO, 30)],
        },
    ]);
    for bad in [
        vec![share(AUTHOR, 70), share(CO, 20)],
        vec![share(AUTHOR, 100)],
        vec![share(AUTHOR, 50), share(THIRD, 50)],
        vec![share(AUTHOR, 100), share(CO, 0)],
        vec![share(AUTHOR, 50), share(AUTHOR, 50)],
        vec![share(AUTHOR, 50), share(CO, 50)],
    ] {
        assert!(invalid(Given::with(()).given(two.clone()).when(set(AUTHOR, bad.clone())).inspect_result(), "shares"), "{bad:?}");
    }
    assert!(forbidden(Given::with(()).given(two.clone()).when(set(REVIEWER, vec![share(AUTHOR, 70), share(CO, 30)])).inspect_result()));
    Given::with(()).given(two).when(set(AUTHOR, vec![share(CO, 30), share(AUTHOR, 70)])).then_expect_events(vec![
        KaizenEvent::KaizenAuthorSharesChanged {
            before: vec![share(AUTHOR, 50), share(CO, 50)],
            after: vec![share(AUTHOR, 70), share(CO, 30)],
        },
    ]);
}

#[test]
fn the_reviewer_defers_and_a_reviewer_reactivates() {
    Given::with(())
        .given(under_review())
        .when(KaizenCommand::Defer { actor: member(REVIEWER), reason: reason() })
        .then_expect_events(vec![KaizenEvent::KaizenDeferred { reason: reason() }]);
    assert!(forbidden(
        Given::with(()).given(under_review()).when(KaizenCommand::Defer { actor: member(AUTHOR), reason: reason() }).inspect_result()
    ));
    assert!(rule(
        Given::with(()).given(submitted()).when(KaizenCommand::Defer { actor: member(REVIEWER), reason: reason() }).inspect_result()
    ));
    let mut deferred = under_review();
    deferred.push(KaizenEvent::KaizenDeferred { reason: reason() });
    let reactivate = |actor, may_review| KaizenCommand::Reactivate { actor: member(actor), may_review };
    Given::with(())
        .given(deferred.clone())
        .when(reactivate(REVIEWER, false))
        .then_expect_events(vec![KaizenEvent::KaizenReactivated { reviewer_before: Some(REVIEWER), reviewer: REVIEWER }]);
    Given::with(())
        .given(deferred.clone())
        .when(reactivate(VERIFIER, true))
        .then_expect_events(vec![KaizenEvent::KaizenReactivated { reviewer_before: Some(REVIEWER), reviewer: VERIFIER }]);
    assert!(forbidden(Given::with(()).given(deferred.clone()).when(reactivate(VERIFIER, false)).inspect_result()));
    assert!(forbidden(Given::with(()).given(deferred.clone()).when(reactivate(AUTHOR, true)).inspect_result()));
    assert!(rule(Given::with(()).given(under_review()).when(reactivate(REVIEWER, true)).inspect_result()));
    let approve = KaizenCommand::Approve { actor: member(REVIEWER), implementers: vec![IMPLEMENTER], due_at: None };
    assert!(rule(Given::with(()).given(deferred).when(approve).inspect_result()), "a deferred kaizen is reactivated before a decision");
}

#[test]
fn the_due_date_changes_with_a_reason_while_approved_or_implementing() {
    let mut approved = under_review();
    approved.push(KaizenEvent::KaizenApproved { implementers: vec![IMPLEMENTER], due_at: Some(at()) });
    let later = at() + chrono::Duration::days(7);
    let change = |actor: Actor, due_at| KaizenCommand::ChangeDueDate { actor, due_at, reason: reason() };
    Given::with(())
        .given(approved.clone())
        .when(change(member(REVIEWER), later))
        .then_expect_events(vec![KaizenEvent::KaizenDueDateChanged { before: Some(at()), after: later, reason: reason() }]);
    assert!(Given::with(()).given(approved.clone()).when(change(admin(VERIFIER), later)).inspect_result().is_ok());
    assert!(forbidden(Given::with(()).given(approved.clone()).when(change(member(AUTHOR), later)).inspect_result()));
    assert!(invalid(Given::with(()).given(approved).when(change(member(REVIEWER), at())).inspect_result(), "dueAt"));
    assert!(rule(Given::with(()).given(implemented()).when(change(member(REVIEWER), later)).inspect_result()));
}

#[test]
fn impact_lines_are_removed_with_a_reason_but_verified_actual_lines_only_adjusted() {
    let mut with_target = vec![drafted()];
    let target = line("t1", LineKind::Target, Classification::Soft, 50);
    with_target.push(KaizenEvent::KaizenImpactLineSet { before: None, after: target.clone(), reason: None });
    let remove = |actor, line_id: &str| KaizenCommand::RemoveImpactLine { actor: member(actor), line_id: line_id.into(), reason: reason() };
    Given::with(())
        .given(with_target.clone())
        .when(remove(AUTHOR, "t1"))
        .then_expect_events(vec![KaizenEvent::KaizenImpactLineRemoved { line: target, reason: reason() }]);
    assert!(invalid(Given::with(()).given(with_target.clone()).when(remove(AUTHOR, "nope")).inspect_result(), "lineId"));
    assert!(forbidden(Given::with(()).given(with_target).when(remove(VERIFIER, "t1")).inspect_result()));
    Given::with(())
        .given(verified())
        .when(remove(AUTHOR, "a1"))
        .then_expect_error(DomainError::Rule("verified actual lines change only through a savings adjustment"));
    assert!(rule(Given::with(()).given(impact_submitted()).when(remove(IMPLEMENTER, "a1")).inspect_result()));
}

fn adjust(actor: MemberId, capability: bool, amount: i64) -> KaizenCommand {
    KaizenCommand::AdjustSavings {
        admin_threshold: None,
        actor: member(actor),
        is_savings_verifier: capability,
        line_id: "a1".into(),
        patch: LinePatch { money: eur(amount), ..LinePatch::default() },
        reason: reason(),
        now: at(),
    }
}

#[test]
fn an_independent_verifier_adjusts_verified_savings_as_a_reversing_entry() {
    let result = Given::with(()).given(verified()).when(adjust(VERIFIER, true, 80)).inspect_result();
    match result.as_deref() {
        Ok(
            [
                KaizenEvent::KaizenSavingsAdjusted {
                    line_before,
                    line_after,
                    totals_before,
                    totals_after,
                    delta,
                    verification_version: 2,
                    adjusted_by,
                    ..
                },
            ],
        ) => {
            assert_eq!(line_before.money, eur(100));
            assert_eq!(line_after.money, eur(80));
            assert_eq!(totals_before.hard.values().copied().collect::<Vec<_>>(), [Decimal::from(1200)]);
            assert_eq!(totals_after.hard.values().copied().collect::<Vec<_>>(), [Decimal::from(960)]);
            assert_eq!(delta.hard.values().copied().collect::<Vec<_>>(), [Decimal::from(-240)]);
            assert!(delta.soft.is_empty());
            assert_eq!(*adjusted_by, VERIFIER);
        }
        other => panic!("{other:?}"),
    }
    for involved in [AUTHOR, IMPLEMENTER, REVIEWER] {
        assert!(forbidden(Given::with(()).given(verified()).when(adjust(involved, true, 80)).inspect_result()), "{involved:?}");
    }
    assert!(forbidden(Given::with(()).given(verified()).when(adjust(VERIFIER, false, 80)).inspect_result()));
    assert!(rule(Given::with(()).given(impact_submitted()).when(adjust(VERIFIER, true, 80)).inspect_result()));
    assert!(invalid(Given::with(()).given(verified()).when(adjust(VERIFIER, true, 100)).inspect_result(), "patch"));
    let unknown_line = KaizenCommand::AdjustSavings {
        admin_threshold: None,
        actor: member(VERIFIER),
        is_savings_verifier: true,
        line_id: "zz".into(),
        patch: LinePatch { classification: Some(Classification::Soft), ..LinePatch::default() },
        reason: reason(),
        now: at(),
    };
    assert!(invalid(Given::with(()).given(verified()).when(unknown_line).inspect_result(), "lineId"));
    let mut adjusted = verified();
    let mut after = line("a1", LineKind::Actual, Classification::Hard, 80);
    after.calculation = Some(text("2 h/week less changeover x 50 EUR/h"));
    adjusted.push(KaizenEvent::KaizenSavingsAdjusted {
        line_before: line("a1", LineKind::Actual, Classification::Hard, 100),
        line_after: after.clone(),
        totals_before: SavingsTotals::of([&line("a1", LineKind::Actual, Classification::Hard, 100)], LineKind::Actual),
        totals_after: SavingsTotals::of([&after], LineKind::Actual),
        delta: SavingsTotals::default(),
        verification_version: 2,
        adjusted_by: VERIFIER,
        adjusted_at: at(),
        reason: reason(),
    });
    let again = Given::with(()).given(adjusted).when(adjust(VERIFIER, true, 90)).inspect_result();
    assert!(matches!(again.as_deref(), Ok([KaizenEvent::KaizenSavingsAdjusted { verification_version: 3, .. }])), "{again:?}");
}

#[test]
fn a_closed_kaizen_is_reopened_with_a_reason_to_where_it_was() {
    let mut closed = verified();
    closed.push(KaizenEvent::KaizenClosed { from: KaizenStatus::SavingsVerified });
    let reopen = |actor: Actor| KaizenCommand::Reopen { actor, reason: reason() };
    Given::with(()).given(closed.clone()).when(reopen(member(REVIEWER))).then_expect_events(vec![KaizenEvent::KaizenReopened {
        to: KaizenStatus::SavingsVerified,
        reason: reason(),
        authors: vec![share(AUTHOR, 100)],
        implementers: vec![IMPLEMENTER],
    }]);
    assert!(forbidden(Given::with(()).given(closed.clone()).when(reopen(member(AUTHOR))).inspect_result()));
    assert!(forbidden(Given::with(()).given(closed).when(reopen(auditor(REVIEWER))).inspect_result()));
    assert!(rule(Given::with(()).given(verified()).when(reopen(member(REVIEWER))).inspect_result()));
}

#[test]
fn a_just_do_it_kaizen_is_submitted_already_implemented_by_its_author() {
    let command = |actor| KaizenCommand::SubmitAsImplemented { actor: member(actor), now: at() };
    Given::with(()).given(vec![drafted()]).when(command(AUTHOR)).then_expect_events(vec![
        KaizenEvent::KaizenSubmitted { submitted_at: at() },
        KaizenEvent::KaizenImplemented {
            implemented_at: at(),
            just_do_it: true,
            authors: vec![share(AUTHOR, 100)],
            implementers: vec![AUTHOR],
        },
    ]);
    assert!(forbidden(Given::with(()).given(vec![drafted()]).when(command(REVIEWER)).inspect_result()));
    assert!(rule(Given::with(()).given(submitted()).when(command(AUTHOR)).inspect_result()));
}

#[test]
fn the_implemented_event_carries_authors_with_shares_and_implementers() {
    let mut implementing = under_review();
    implementing.push(KaizenEvent::KaizenAuthorAdded {
        member_id: CO,
        before: vec![share(AUTHOR, 100)],
        after: vec![share(AUTHOR, 50), share(CO, 50)],
    });
    implementing.push(KaizenEvent::KaizenApproved { implementers: vec![IMPLEMENTER], due_at: None });
    implementing.push(KaizenEvent::KaizenImplementationStarted);
    Given::with(()).given(implementing).when(KaizenCommand::MarkImplemented { actor: member(IMPLEMENTER), now: at() }).then_expect_events(
        vec![KaizenEvent::KaizenImplemented {
            implemented_at: at(),
            just_do_it: false,
            authors: vec![share(AUTHOR, 50), share(CO, 50)],
            implementers: vec![IMPLEMENTER],
        }],
    );
}

#[test]
fn events_stored_before_shares_and_links_still_load() {
    let old = serde_json::json!({"KaizenImplemented": {"implemented_at": "2026-11-02T08:00:00Z"}});
    let event: KaizenEvent = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(event, KaizenEvent::KaizenImplemented { just_do_it: false, ref authors, .. } if authors.is_empty()));
    let old = serde_json::json!({"KaizenSavingsVerified": {"verified_by": AUTHOR, "verified_at": "2026-11-02T08:00:00Z",
        "totals": {"hard": {}, "soft": {}}, "verification_version": 1, "authors": [AUTHOR]}});
    assert!(serde_json::from_value::<KaizenEvent>(old).is_ok());
}

#[test]
fn links_name_a_defect_or_an_a3_case_of_the_organisation() {
    let defect = DefectId(Uuid::from_u128(77));
    let link = |actor: Actor, defect_exists| KaizenCommand::LinkToDefect { actor, defect_id: defect, defect_exists };
    Given::with(())
        .given(submitted())
        .when(link(member(AUTHOR), true))
        .then_expect_events(vec![KaizenEvent::KaizenLinkedToDefect { defect_id: defect }]);
    assert!(invalid(Given::with(()).given(submitted()).when(link(member(AUTHOR), false)).inspect_result(), "defectId"));
    assert!(forbidden(Given::with(()).given(submitted()).when(link(member(VERIFIER), true)).inspect_result()));
    assert!(Given::with(()).given(submitted()).when(link(admin(VERIFIER), true)).inspect_result().is_ok());
    let mut linked = submitted();
    linked.push(KaizenEvent::KaizenLinkedToDefect { defect_id: defect });
    assert!(rule(Given::with(()).given(linked).when(link(member(AUTHOR), true)).inspect_result()));

    let a3 = A3Id(Uuid::from_u128(88));
    let link = |a3_exists| KaizenCommand::LinkToA3 { actor: member(AUTHOR), a3_id: a3, a3_exists };
    Given::with(()).given(submitted()).when(link(true)).then_expect_events(vec![KaizenEvent::KaizenLinkedToA3 { before: None, after: a3 }]);
    assert!(invalid(Given::with(()).given(submitted()).when(link(false)).inspect_result(), "a3Id"));
    let mut withdrawn = submitted();
    withdrawn.push(KaizenEvent::KaizenWithdrawn { from: KaizenStatus::Submitted, reason: reason() });
    assert!(rule(Given::with(()).given(withdrawn).when(link(true)).inspect_result()));
}

fn run(kaizen: &mut Kaizen, command: KaizenCommand) -> Result<(), DomainError> {
    let sink = EventSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
    runtime.block_on(kaizen.handle(command, &(), &sink))
}

fn any_author_command() -> impl Strategy<Value = KaizenCommand> {
    let who = prop::sample::select(vec![AUTHOR, CO, THIRD, REVIEWER, MemberId(Uuid::from_u128(20)), MemberId(Uuid::from_u128(21))]);
    (who.clone(), who, 0_u8..3, prop::collection::vec(0_u8..=100, 1..5)).prop_map(|(actor, target, which, pcts)| match which {
        0 => KaizenCommand::AddCoAuthor { actor: member(actor), member: target, member_active: true },
        1 => KaizenCommand::RemoveCoAuthor { actor: member(actor), member: target },
        _ => KaizenCommand::SetAuthorShares {
            actor: member(actor),
            shares: [AUTHOR, CO, THIRD, MemberId(Uuid::from_u128(20))].iter().zip(pcts).map(|(m, p)| share(*m, p)).collect(),
        },
    })
}

proptest! {
    #[test]
    fn author_shares_always_sum_to_100(commands in prop::collection::vec(any_author_command(), 1..40)) {
        let mut kaizen = Kaizen::default();
        for event in under_review() {
            kaizen.apply(event);
        }
        for command in commands {
            let _ = run(&mut kaizen, command);
            prop_assert!(!kaizen.authors().is_empty());
            prop_assert_eq!(kaizen.authors().iter().map(|a| u32::from(a.share_pct)).sum::<u32>(), 100);
            prop_assert!(kaizen.authors().iter().all(|a| a.share_pct >= 1 && a.member_id != REVIEWER));
        }
    }

    #[test]
    fn adjusted_savings_keep_hard_and_soft_apart(steps in prop::collection::vec((0_u8..2, 1_i64..10_000), 1..10)) {
        let mut kaizen = Kaizen::default();
        for event in verified() {
            kaizen.apply(event);
        }
        for (class, amount) in steps {
            let classification = if class == 0 { Classification::Hard } else { Classification::Soft };
            let command = KaizenCommand::AdjustSavings {
                admin_threshold: None,
                actor: member(VERIFIER),
                is_savings_verifier: true,
                line_id: "a1".into(),
                patch: LinePatch { classification: Some(classification), money: eur(amount), ..LinePatch::default() },
                reason: reason(),
                now: at(),
            };
            let _ = run(&mut kaizen, command);
            let totals = kaizen.verified().cloned().unwrap_or_default();
            let sum = |class: Classification| kaizen.lines().iter().filter(|l| l.kind == LineKind::Actual && l.classification == class)
                .filter_map(ImpactLine::annualized).sum::<Decimal>();
            prop_assert_eq!(totals.hard.values().copied().sum::<Decimal>(), sum(Classification::Hard));
            prop_assert_eq!(totals.soft.values().copied().sum::<Decimal>(), sum(Classification::Soft));
        }
    }
}

proptest! {
    #[test]
    fn hard_and_soft_savings_are_never_mixed(lines in prop::collection::vec((0_u8..3, 1_i64..10_000, any::<bool>()), 0..20)) {
        let lines: Vec<ImpactLine> = lines.iter().enumerate().map(|(i, (c, amount, recurring))| {
            let classification = [Classification::Hard, Classification::Soft, Classification::Qualitative][usize::from(*c)];
            let mut l = line(&format!("l{i}"), LineKind::Actual, classification, *amount);
            if classification == Classification::Qualitative { l.money = None; }
            if !recurring { l.recurrence = Recurrence::OneTime { realized_on: day() }; }
            l
        }).collect();
        let totals = SavingsTotals::of(&lines, LineKind::Actual);
        let sum = |class: Classification| lines.iter().filter(|l| l.classification == class).filter_map(ImpactLine::annualized).sum::<Decimal>();
        prop_assert_eq!(totals.hard.values().copied().sum::<Decimal>(), sum(Classification::Hard));
        prop_assert_eq!(totals.soft.values().copied().sum::<Decimal>(), sum(Classification::Soft));
    }
}

#[test]
fn finished_kaizens_keep_their_content_lines_and_an_author_limit_holds() {
    let mut closed = verified();
    closed.push(KaizenEvent::KaizenClosed { from: KaizenStatus::SavingsVerified });
    let change = KaizenCommand::ChangeContent { actor: member(REVIEWER), patch: title("x"), reason: reason() };
    assert!(rule(Given::with(()).given(closed.clone()).when(change).inspect_result()), "a closed kaizen is reopened first");
    let remove = KaizenCommand::RemoveImpactLine { actor: member(AUTHOR), line_id: "a1".into(), reason: reason() };
    Given::with(()).given(closed).when(remove).then_expect_error(DomainError::Rule("the kaizen is finished"));

    let mut crowded = submitted();
    let mut ids = vec![AUTHOR];
    for i in 0..(MAX_AUTHORS as u128 - 1) {
        let before = equal_shares(&ids);
        ids.push(MemberId(Uuid::from_u128(100 + i)));
        crowded.push(KaizenEvent::KaizenAuthorAdded { member_id: ids[ids.len() - 1], before, after: equal_shares(&ids) });
    }
    let add = KaizenCommand::AddCoAuthor { actor: member(AUTHOR), member: CO, member_active: true };
    Given::with(()).given(crowded).when(add).then_expect_error(DomainError::Rule("a kaizen has at most 20 authors"));
}

#[test]
fn an_adjusted_line_still_follows_the_hard_and_soft_rules() {
    let no_evidence = KaizenCommand::AdjustSavings {
        admin_threshold: None,
        actor: member(VERIFIER),
        is_savings_verifier: true,
        line_id: "a1".into(),
        patch: LinePatch { evidence: Some(vec![]), ..LinePatch::default() },
        reason: reason(),
        now: at(),
    };
    assert!(invalid(Given::with(()).given(verified()).when(no_evidence).inspect_result(), "evidence"));
    let to_soft = KaizenCommand::AdjustSavings {
        admin_threshold: None,
        actor: member(VERIFIER),
        is_savings_verifier: true,
        line_id: "a1".into(),
        patch: LinePatch { classification: Some(Classification::Soft), ..LinePatch::default() },
        reason: reason(),
        now: at(),
    };
    let result = Given::with(()).given(verified()).when(to_soft).inspect_result();
    match result.as_deref() {
        Ok([KaizenEvent::KaizenSavingsAdjusted { totals_after, delta, .. }]) => {
            assert!(totals_after.hard.is_empty(), "a reclassified line leaves the hard total");
            assert_eq!(totals_after.soft.values().copied().collect::<Vec<_>>(), [Decimal::from(1200)]);
            assert_eq!(delta.hard.values().copied().collect::<Vec<_>>(), [Decimal::from(-1200)]);
            assert_eq!(delta.soft.values().copied().collect::<Vec<_>>(), [Decimal::from(1200)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn savings_at_the_threshold_are_verified_by_an_owner_or_admin() {
    let at_threshold = |role: Role, threshold: i64, currency: &Currency| KaizenCommand::VerifySavings {
        actor: Actor { member_id: VERIFIER, role },
        is_savings_verifier: true,
        admin_threshold: Some(Money { amount: Decimal::from(threshold), currency: currency.clone() }),
        now: at(),
    };
    let annual = SavingsTotals::of([&line("a1", LineKind::Actual, Classification::Hard, 100)], LineKind::Actual);
    let (currency, annual_hard) = annual.hard.iter().next().map(|(c, a)| (c.clone(), *a)).unwrap_or_default();
    let threshold = annual_hard.to_string().parse::<i64>().unwrap_or(i64::MAX);
    assert_eq!(
        Given::with(()).given(impact_submitted()).when(at_threshold(Role::Member, threshold, &currency)).inspect_result(),
        Err(DomainError::Forbidden("savings at or above the organisation's threshold are verified by an owner or admin"))
    );
    for role in [Role::Admin, Role::Owner] {
        let result = Given::with(()).given(impact_submitted()).when(at_threshold(role, threshold, &currency)).inspect_result();
        assert!(matches!(result.as_deref(), Ok([KaizenEvent::KaizenSavingsVerified { .. }])), "{role:?}: {result:?}");
    }
    let below = Given::with(()).given(impact_submitted()).when(at_threshold(Role::Member, threshold + 1, &currency)).inspect_result();
    assert!(matches!(below.as_deref(), Ok([KaizenEvent::KaizenSavingsVerified { .. }])), "{below:?}");
    let other = Currency::parse("JPY").unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(other, currency);
    let elsewhere = Given::with(()).given(impact_submitted()).when(at_threshold(Role::Member, 1, &other)).inspect_result();
    assert!(
        matches!(elsewhere.as_deref(), Ok([KaizenEvent::KaizenSavingsVerified { .. }])),
        "amounts in other currencies do not count: {elsewhere:?}"
    );
}

#[test]
fn an_admin_transfers_an_open_kaizen_to_another_active_zone() {
    let (from, to) = (ZoneId(Uuid::from_u128(8)), ZoneId(Uuid::from_u128(18)));
    let reason = || Reason { code: ReasonCode::ScopeChange, text: "line merged".into() };
    let transfer = |role: Role, to_zone: ZoneId, to_zone_active: bool| KaizenCommand::TransferZone {
        actor: Actor { member_id: AUTHOR, role },
        to_zone,
        to_zone_active,
        reason: reason(),
    };
    Given::with(()).given(implemented()).when(transfer(Role::Admin, to, true)).then_expect_events(vec![KaizenEvent::KaizenTransferred {
        from,
        to,
        reason: reason(),
    }]);
    assert!(forbidden(Given::with(()).given(vec![drafted()]).when(transfer(Role::Member, to, true)).inspect_result()));
    let inactive = Given::with(()).given(vec![drafted()]).when(transfer(Role::Owner, to, false)).inspect_result();
    assert!(matches!(inactive, Err(DomainError::Invalid(_))), "{inactive:?}");
    Given::with(())
        .given(vec![drafted()])
        .when(transfer(Role::Owner, from, true))
        .then_expect_error(DomainError::Rule("the kaizen is already in this zone"));
    Given::with(())
        .given(vec![
            drafted(),
            KaizenEvent::KaizenSubmitted { submitted_at: at() },
            KaizenEvent::KaizenWithdrawn { from: KaizenStatus::Submitted, reason: reason() },
        ])
        .when(transfer(Role::Owner, to, true))
        .then_expect_error(DomainError::Rule("only an open kaizen is transferred"));
}

#[test]
fn actual_lines_do_not_move_while_the_verifier_reviews_them() {
    let amended = KaizenCommand::SetImpactLine {
        actor: member(IMPLEMENTER),
        line: line("a1", LineKind::Actual, Classification::Hard, 900),
        reason: None,
    };
    Given::with(())
        .given(impact_submitted())
        .when(amended)
        .then_expect_error(DomainError::Rule("submitted actual lines stay until the verification is decided"));
    let added = KaizenCommand::SetImpactLine {
        actor: member(IMPLEMENTER),
        line: line("a2", LineKind::Actual, Classification::Hard, 5),
        reason: None,
    };
    Given::with(())
        .given(impact_submitted())
        .when(added)
        .then_expect_error(DomainError::Rule("submitted actual lines stay until the verification is decided"));
}
