//! Given/when/then tests of the Kaizen aggregate and a property test of its totals.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::test_support::{member, text};
use crate::values::ReasonCode;

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
        KaizenEvent::KaizenImplemented { implemented_at: at() },
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
    KaizenCommand::VerifySavings { actor: member(actor), is_savings_verifier: capability, now: at() }
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
