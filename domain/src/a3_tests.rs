//! Given/when/then tests of the A3Case aggregate and a property test of its gates.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::test_support::{member, text};
use crate::values::ReasonCode;

type Given = TestFramework<A3Case>;
const OWNER: MemberId = MemberId(Uuid::from_u128(1));
const COACH: MemberId = MemberId(Uuid::from_u128(2));
const WORKER: MemberId = MemberId(Uuid::from_u128(3));

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
}
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).single().unwrap_or_default()
}
fn reason() -> Reason {
    Reason { code: ReasonCode::ScopeChange, text: "superseded".into() }
}
fn opened() -> A3Event {
    A3Event::A3Opened { a3_id: A3Id(Uuid::from_u128(9)), theme: text("Scrap on press 3 doubled"), owner: OWNER, coach: COACH }
}
fn cm(status: CountermeasureStatus) -> Countermeasure {
    Countermeasure {
        cm_id: "cm1".into(),
        description: text("torque standard"),
        addresses: vec!["c1".into()],
        owner: WORKER,
        due_on: day(),
        status,
        iteration: 1,
    }
}
fn planned() -> Vec<A3Event> {
    vec![
        opened(),
        A3Event::A3BaselineRecorded {
            metric_id: "scrap".into(),
            name: Name::parse("n", "Scrap rate").unwrap_or_else(|e| panic!("{e}")),
            unit: "%".into(),
            before: None,
            after: Decimal::from(4),
        },
        A3Event::A3TargetSet { metric_id: "scrap".into(), before: None, after: (Decimal::from(2), day()) },
        A3Event::A3CauseAdded {
            cause: Cause {
                cause_id: "c1".into(),
                category: CauseCategory::Method,
                text: text("no torque standard"),
                status: CauseStatus::Hypothesis,
                iteration: 1,
            },
        },
        A3Event::A3CauseStatusChanged { cause_id: "c1".into(), before: CauseStatus::Hypothesis, after: CauseStatus::Verified },
        A3Event::A3CountermeasureAdded { countermeasure: cm(CountermeasureStatus::Planned) },
    ]
}
fn doing() -> Vec<A3Event> {
    let mut events = planned();
    events.push(A3Event::A3PlanApproved { approved_by: COACH });
    events
}
fn checking() -> Vec<A3Event> {
    let mut events = doing();
    events.push(A3Event::A3CountermeasureStatusChanged {
        cm_id: "cm1".into(),
        before: CountermeasureStatus::Planned,
        after: CountermeasureStatus::Done,
        reason: None,
    });
    events.push(A3Event::A3PhaseAdvanced { from: A3Status::Do, to: A3Status::Check });
    events
}
fn acting() -> Vec<A3Event> {
    let mut events = checking();
    events.push(A3Event::A3EffectConfirmed {
        actuals: vec![("scrap".into(), Decimal::from(2))],
        target_met: TargetMet::Yes,
        checked_by: OWNER,
        checked_at: now(),
    });
    events.push(A3Event::A3PhaseAdvanced { from: A3Status::Check, to: A3Status::Act });
    events
}

#[test]
fn the_coach_is_not_the_owner() {
    let open = A3Command::Open { actor: member(OWNER), a3_id: A3Id(Uuid::from_u128(9)), theme: text("t"), owner: OWNER, coach: OWNER };
    assert!(
        matches!(Given::with(()).given_no_previous_events().when(open).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "coachId")
    );
}

#[test]
fn the_plan_gate_needs_baseline_target_verified_cause_and_countermeasures() {
    let approve = || A3Command::ApprovePlan { actor: member(COACH) };
    let gates = [
        (1, "the plan needs a current condition with a baseline metric"),
        (2, "the plan needs a target metric with a value and a date"),
        (4, "the plan needs a verified root cause"),
        (5, "the plan needs at least one countermeasure"),
    ];
    for (events, message) in gates {
        Given::with(()).given(planned().into_iter().take(events).collect()).when(approve()).then_expect_error(DomainError::Rule(message));
    }
    Given::with(())
        .given(planned())
        .when(A3Command::ApprovePlan { actor: member(OWNER) })
        .then_expect_error(DomainError::Forbidden("the coach approves the plan"));
    Given::with(()).given(planned()).when(approve()).then_expect_events(vec![A3Event::A3PlanApproved { approved_by: COACH }]);
}

#[test]
fn countermeasures_address_causes_of_the_case_and_cancelling_needs_a_reason() {
    let add = A3Command::AddCountermeasure {
        actor: member(OWNER),
        cm_id: "cm2".into(),
        description: text("x"),
        addresses: vec!["nope".into()],
        owner: WORKER,
        due_on: day(),
    };
    assert!(matches!(Given::with(()).given(planned()).when(add).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "addresses"));
    let cancel = A3Command::SetCountermeasureStatus {
        actor: member(WORKER),
        cm_id: "cm1".into(),
        status: CountermeasureStatus::Cancelled,
        reason: None,
    };
    assert!(matches!(Given::with(()).given(doing()).when(cancel).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "reason"));
}

#[test]
fn the_check_waits_for_every_countermeasure() {
    Given::with(())
        .given(doing())
        .when(A3Command::AdvanceToCheck { actor: member(OWNER) })
        .then_expect_error(DomainError::Rule("every countermeasure is done or cancelled before the check"));
    let done =
        A3Command::SetCountermeasureStatus { actor: member(WORKER), cm_id: "cm1".into(), status: CountermeasureStatus::Done, reason: None };
    Given::with(()).given(doing()).when(done).then_expect_events(vec![A3Event::A3CountermeasureStatusChanged {
        cm_id: "cm1".into(),
        before: CountermeasureStatus::Planned,
        after: CountermeasureStatus::Done,
        reason: None,
    }]);
}

#[test]
fn an_effect_not_achieved_starts_a_new_iteration_back_in_plan() {
    let confirm = |target_met| A3Command::ConfirmEffect {
        actor: member(OWNER),
        actuals: vec![("scrap".into(), Decimal::from(3))],
        target_met,
        now: now(),
    };
    let result = Given::with(()).given(checking()).when(confirm(TargetMet::No)).inspect_result().unwrap_or_default();
    assert!(matches!(result.as_slice(), [A3Event::A3EffectConfirmed { .. }, A3Event::A3IterationStarted { iteration: 2 }]), "{result:?}");
    let missing = A3Command::ConfirmEffect { actor: member(OWNER), actuals: vec![], target_met: TargetMet::Yes, now: now() };
    assert!(
        matches!(Given::with(()).given(checking()).when(missing).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "actuals")
    );
    let result = Given::with(()).given(checking()).when(confirm(TargetMet::Partial)).inspect_result().unwrap_or_default();
    assert!(matches!(result.as_slice(), [A3Event::A3EffectConfirmed { .. }, A3Event::A3PhaseAdvanced { to: A3Status::Act, .. }]));
}

#[test]
fn closing_needs_standardisation_and_the_yokoten_decision() {
    let close = || A3Command::Close { actor: member(COACH) };
    Given::with(())
        .given(acting())
        .when(close())
        .then_expect_error(DomainError::Rule("standardisation and the yokoten decision come before closing"));
    let empty = A3Command::RecordStandardization { actor: member(OWNER), documents: vec![], no_change_justification: None };
    assert!(matches!(Given::with(()).given(acting()).when(empty).inspect_result(), Err(DomainError::Invalid(_))));
    let mut done = acting();
    done.push(A3Event::A3StandardizationRecorded {
        documents: vec![Name::parse("d", "WI-17 rev C").unwrap_or_else(|e| panic!("{e}"))],
        no_change_justification: None,
    });
    done.push(A3Event::A3YokotenRecorded { note: text("presses 1 and 2 next") });
    Given::with(()).given(done).when(close()).then_expect_events(vec![A3Event::A3Closed { closed_by: COACH }]);
}

#[test]
fn outsiders_do_not_edit_and_cancelling_needs_a_reason() {
    let outsider = A3Command::AddCause { actor: member(WORKER), cause_id: "c9".into(), category: CauseCategory::Man, text: text("x") };
    assert!(matches!(Given::with(()).given(planned()).when(outsider).inspect_result(), Err(DomainError::Forbidden(_))));
    Given::with(())
        .given(doing())
        .when(A3Command::Cancel { actor: member(OWNER), reason: reason() })
        .then_expect_events(vec![A3Event::A3Cancelled { from: A3Status::Do, reason: reason() }]);
}

fn any_command() -> impl Strategy<Value = A3Command> {
    let who = prop::sample::select(vec![OWNER, COACH, WORKER]);
    let cause = prop::sample::select(vec!["c1".to_owned(), "c2".to_owned()]);
    (who, cause, 0_u8..12, any::<bool>()).prop_map(|(who, cause, which, flag)| {
        let actor = member(who);
        match which {
            0 => A3Command::RecordBaseline {
                actor,
                metric_id: "m".into(),
                name: Name::parse("n", "m").unwrap_or_else(|e| panic!("{e}")),
                unit: "%".into(),
                value: Decimal::from(5),
            },
            1 => A3Command::SetTarget { actor, metric_id: "m".into(), value: Decimal::from(2), by: day() },
            2 => A3Command::AddCause { actor, cause_id: cause, category: CauseCategory::Machine, text: text("x") },
            3 => A3Command::ChangeCauseStatus {
                actor,
                cause_id: cause,
                status: if flag { CauseStatus::Verified } else { CauseStatus::Refuted },
            },
            4 => A3Command::AddCountermeasure {
                actor,
                cm_id: format!("cm-{cause}-{flag}"),
                description: text("x"),
                addresses: vec![cause],
                owner: WORKER,
                due_on: day(),
            },
            5 => A3Command::SetCountermeasureStatus {
                actor,
                cm_id: format!("cm-{cause}-{flag}"),
                status: if flag { CountermeasureStatus::Done } else { CountermeasureStatus::Cancelled },
                reason: Some(reason()),
            },
            6 => A3Command::ApprovePlan { actor },
            7 => A3Command::AdvanceToCheck { actor },
            8 => A3Command::ConfirmEffect {
                actor,
                actuals: vec![("m".into(), Decimal::ONE)],
                target_met: if flag { TargetMet::Yes } else { TargetMet::No },
                now: now(),
            },
            9 => A3Command::RecordStandardization { actor, documents: vec![], no_change_justification: Some(text("none needed")) },
            10 => A3Command::RecordYokoten { actor, note: text("none") },
            _ => A3Command::Close { actor },
        }
    })
}

fn run(case: &mut A3Case, command: A3Command) -> Result<(), DomainError> {
    let sink = EventSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
    runtime.block_on(case.handle(command, &(), &sink))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a3_gates_are_never_skipped(commands in prop::collection::vec(any_command(), 1..60)) {
        let mut case = A3Case::default();
        case.apply(opened());
        for command in commands {
            let before = case.clone();
            let _ = run(&mut case, command);
            match (before.status(), case.status()) {
                (A3Status::Plan, A3Status::Do) => prop_assert!(before.plan_gate().is_ok(), "plan approved without its gate"),
                (A3Status::Do, A3Status::Check) => prop_assert!(before.countermeasures().iter().filter(|c| c.iteration == before.iteration())
                    .all(|c| matches!(c.status, CountermeasureStatus::Done | CountermeasureStatus::Cancelled))),
                (A3Status::Act, A3Status::Closed) => prop_assert!(before.standardized && before.yokoten),
                (from, to) => prop_assert!(
                    from == to || matches!((from, to), (A3Status::Check, A3Status::Act) | (A3Status::Check, A3Status::Plan) | (_, A3Status::Cancelled)),
                    "unexpected transition {:?} -> {:?}", from, to
                ),
            }
        }
    }
}
