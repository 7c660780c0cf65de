//! Given/when/then tests of the A3Case aggregate and a property test of its gates.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::test_support::{member, text};
use crate::values::{ReasonCode, Role};

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
    Given::with(()).given(done).when(close()).then_expect_events(vec![A3Event::A3Closed {
        closed_by: COACH,
        target_met: Some(TargetMet::Yes),
        owner: Some(OWNER),
        team: vec![],
    }]);
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

const MATE: MemberId = MemberId(Uuid::from_u128(4));
const NEWBIE: MemberId = MemberId(Uuid::from_u128(5));

fn closed() -> Vec<A3Event> {
    let mut events = acting();
    events.push(A3Event::A3TeamMemberAdded { member_id: MATE });
    events.push(A3Event::A3StandardizationRecorded { documents: vec![], no_change_justification: Some(text("none")) });
    events.push(A3Event::A3YokotenRecorded { note: text("none") });
    events.push(A3Event::A3Closed { closed_by: COACH, target_met: Some(TargetMet::Yes), owner: Some(OWNER), team: vec![MATE] });
    events
}
fn admin(id: MemberId) -> Actor {
    Actor { member_id: id, role: Role::Admin }
}
fn invalid(result: Result<Vec<A3Event>, DomainError>, field: &str) -> bool {
    matches!(result, Err(DomainError::Invalid(e)) if e.field == field)
}
fn forbidden(result: Result<Vec<A3Event>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Forbidden(_)))
}
fn rule(result: Result<Vec<A3Event>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Rule(_)))
}

#[test]
fn sections_are_edited_freely_in_plan_and_with_a_reason_once_the_case_has_left_plan() {
    let edit = |actor, reason| A3Command::EditSection {
        actor: member(actor),
        section: A3Section::Background,
        content: text("press 3 since May"),
        reason,
    };
    Given::with(()).given(planned()).when(edit(OWNER, None)).then_expect_events(vec![A3Event::A3SectionEdited {
        section: A3Section::Background,
        before: None,
        after: text("press 3 since May"),
        reason: None,
    }]);
    assert!(invalid(Given::with(()).given(doing()).when(edit(OWNER, None)).inspect_result(), "reason"));
    let mut back_in_plan = checking();
    back_in_plan.push(A3Event::A3IterationStarted { iteration: 2 });
    assert!(invalid(Given::with(()).given(back_in_plan).when(edit(OWNER, None)).inspect_result(), "reason"), "it has left plan once");
    assert!(Given::with(()).given(doing()).when(edit(OWNER, Some(reason()))).inspect_result().is_ok());
    assert!(forbidden(Given::with(()).given(planned()).when(edit(WORKER, None)).inspect_result()));
    let mut with_mate = planned();
    with_mate.push(A3Event::A3TeamMemberAdded { member_id: MATE });
    assert!(Given::with(()).given(with_mate).when(edit(MATE, None)).inspect_result().is_ok(), "team members contribute");
    let mut written = planned();
    written.push(A3Event::A3SectionEdited { section: A3Section::Background, before: None, after: text("press 3 since May"), reason: None });
    assert!(invalid(Given::with(()).given(written).when(edit(OWNER, None)).inspect_result(), "content"));
    assert!(rule(Given::with(()).given(closed()).when(edit(OWNER, Some(reason()))).inspect_result()), "closed cases are immutable");
}

#[test]
fn a_why_chain_ends_in_an_existing_cause() {
    let chain = |root: &str, whys: Vec<LongText>| A3Command::RecordWhyChain {
        actor: member(OWNER),
        chain_id: "w1".into(),
        problem: text("scrap"),
        whys,
        root_cause_id: root.into(),
    };
    Given::with(()).given(planned()).when(chain("c1", vec![text("loose bolts"), text("no torque standard")])).then_expect_events(vec![
        A3Event::A3WhyChainRecorded {
            chain: WhyChain {
                chain_id: "w1".into(),
                problem: text("scrap"),
                whys: vec![text("loose bolts"), text("no torque standard")],
                root_cause_id: "c1".into(),
                iteration: 1,
            },
        },
    ]);
    assert!(invalid(Given::with(()).given(planned()).when(chain("nope", vec![text("x")])).inspect_result(), "rootCauseId"));
    assert!(invalid(Given::with(()).given(planned()).when(chain("c1", vec![])).inspect_result(), "whys"));
    assert!(invalid(Given::with(()).given(planned()).when(chain("c1", vec![text("x"); 11])).inspect_result(), "whys"));
    let mut recorded = planned();
    recorded.push(A3Event::A3WhyChainRecorded {
        chain: WhyChain { chain_id: "w1".into(), problem: text("p"), whys: vec![text("x")], root_cause_id: "c1".into(), iteration: 1 },
    });
    assert!(invalid(Given::with(()).given(recorded).when(chain("c1", vec![text("x")])).inspect_result(), "chainId"));
    assert!(rule(Given::with(()).given(doing()).when(chain("c1", vec![text("x")])).inspect_result()));
}

#[test]
fn a_countermeasure_changes_with_a_reason_and_records_before_and_after() {
    let later = day() + chrono::Duration::days(14);
    let change = |actor, patch| A3Command::ChangeCountermeasure { actor: member(actor), cm_id: "cm1".into(), patch, reason: reason() };
    let due = CountermeasurePatch { due_on: Some(later), ..CountermeasurePatch::default() };
    Given::with(()).given(doing()).when(change(OWNER, due.clone())).then_expect_events(vec![A3Event::A3CountermeasureChanged {
        cm_id: "cm1".into(),
        before: CountermeasurePatch { due_on: Some(day()), ..CountermeasurePatch::default() },
        after: due.clone(),
        reason: reason(),
    }]);
    assert!(forbidden(Given::with(()).given(doing()).when(change(WORKER, due.clone())).inspect_result()));
    let same = CountermeasurePatch { due_on: Some(day()), ..CountermeasurePatch::default() };
    assert!(invalid(Given::with(()).given(doing()).when(change(OWNER, same)).inspect_result(), "patch"));
    let bad = CountermeasurePatch { addresses: Some(vec!["nope".into()]), ..CountermeasurePatch::default() };
    assert!(invalid(Given::with(()).given(doing()).when(change(OWNER, bad)).inspect_result(), "addresses"));
    assert!(rule(Given::with(()).given(checking()).when(change(OWNER, due)).inspect_result()), "done countermeasures stay as they are");
}

#[test]
fn a_case_on_hold_resumes_where_it_was_and_a_closed_case_reopens_into_check() {
    Given::with(())
        .given(doing())
        .when(A3Command::PutOnHold { actor: member(OWNER), reason: reason() })
        .then_expect_events(vec![A3Event::A3PutOnHold { from: A3Status::Do, reason: reason() }]);
    let mut held = doing();
    held.push(A3Event::A3PutOnHold { from: A3Status::Do, reason: reason() });
    assert!(rule(Given::with(()).given(held.clone()).when(A3Command::AdvanceToCheck { actor: member(OWNER) }).inspect_result()));
    assert!(rule(
        Given::with(()).given(held.clone()).when(A3Command::PutOnHold { actor: member(OWNER), reason: reason() }).inspect_result()
    ));
    assert!(forbidden(Given::with(()).given(held.clone()).when(A3Command::Resume { actor: member(WORKER) }).inspect_result()));
    Given::with(())
        .given(held.clone())
        .when(A3Command::Resume { actor: member(COACH) })
        .then_expect_events(vec![A3Event::A3Resumed { to: A3Status::Do }]);
    assert!(rule(Given::with(()).given(doing()).when(A3Command::Resume { actor: member(OWNER) }).inspect_result()));
    assert!(Given::with(()).given(held).when(A3Command::Cancel { actor: member(OWNER), reason: reason() }).inspect_result().is_ok());

    let reopen = |actor: Actor| A3Command::Reopen { actor, reason: reason() };
    Given::with(()).given(closed()).when(reopen(member(COACH))).then_expect_events(vec![A3Event::A3Reopened { reason: reason() }]);
    assert!(forbidden(Given::with(()).given(closed()).when(reopen(member(OWNER))).inspect_result()));
    assert!(Given::with(()).given(closed()).when(reopen(admin(WORKER))).inspect_result().is_ok());
    assert!(rule(Given::with(()).given(acting()).when(reopen(member(COACH))).inspect_result()));
    let mut reopened = closed();
    reopened.push(A3Event::A3Reopened { reason: reason() });
    let confirm = A3Command::ConfirmEffect {
        actor: member(OWNER),
        actuals: vec![("scrap".into(), Decimal::ONE)],
        target_met: TargetMet::Yes,
        now: now(),
    };
    let mut acted = reopened.clone();
    acted.push(A3Event::A3EffectConfirmed {
        actuals: vec![("scrap".into(), Decimal::ONE)],
        target_met: TargetMet::Yes,
        checked_by: OWNER,
        checked_at: now(),
    });
    acted.push(A3Event::A3PhaseAdvanced { from: A3Status::Check, to: A3Status::Act });
    assert!(Given::with(()).given(reopened).when(confirm).inspect_result().is_ok());
    Given::with(())
        .given(acted)
        .when(A3Command::Close { actor: member(COACH) })
        .then_expect_error(DomainError::Rule("standardisation and the yokoten decision come before closing"));
}

#[test]
fn the_coach_is_never_the_owner_and_team_members_are_neither() {
    let owner = |actor, owner, member_active| A3Command::ChangeOwner { actor: member(actor), owner, member_active, reason: reason() };
    Given::with(()).given(doing()).when(owner(OWNER, NEWBIE, true)).then_expect_events(vec![A3Event::A3OwnerChanged {
        before: OWNER,
        after: NEWBIE,
        reason: reason(),
    }]);
    assert!(invalid(Given::with(()).given(doing()).when(owner(OWNER, COACH, true)).inspect_result(), "ownerId"));
    assert!(invalid(Given::with(()).given(doing()).when(owner(OWNER, NEWBIE, false)).inspect_result(), "ownerId"));
    assert!(forbidden(Given::with(()).given(doing()).when(owner(WORKER, NEWBIE, true)).inspect_result()));
    assert!(rule(Given::with(()).given(closed()).when(owner(COACH, NEWBIE, true)).inspect_result()));

    let coach = |actor: Actor, coach| A3Command::ChangeCoach { actor, coach, member_active: true, reason: reason() };
    Given::with(()).given(doing()).when(coach(member(COACH), NEWBIE)).then_expect_events(vec![A3Event::A3CoachChanged {
        before: COACH,
        after: NEWBIE,
        reason: reason(),
    }]);
    assert!(
        forbidden(Given::with(()).given(doing()).when(coach(member(OWNER), NEWBIE)).inspect_result()),
        "the owner does not pick the approver"
    );
    assert!(invalid(Given::with(()).given(doing()).when(coach(admin(WORKER), OWNER)).inspect_result(), "coachId"));

    let add = |member_id, member_active| A3Command::AddTeamMember { actor: member(OWNER), member: member_id, member_active };
    Given::with(()).given(doing()).when(add(MATE, true)).then_expect_events(vec![A3Event::A3TeamMemberAdded { member_id: MATE }]);
    assert!(invalid(Given::with(()).given(doing()).when(add(COACH, true)).inspect_result(), "memberId"));
    assert!(invalid(Given::with(()).given(doing()).when(add(MATE, false)).inspect_result(), "memberId"));
    let mut with_mate = doing();
    with_mate.push(A3Event::A3TeamMemberAdded { member_id: MATE });
    assert!(invalid(Given::with(()).given(with_mate.clone()).when(add(MATE, true)).inspect_result(), "memberId"));
    assert!(invalid(Given::with(()).given(with_mate.clone()).when(owner(OWNER, MATE, true)).inspect_result(), "ownerId"));
    let remove = |actor, member_id| A3Command::RemoveTeamMember { actor: member(actor), member: member_id };
    Given::with(())
        .given(with_mate.clone())
        .when(remove(COACH, MATE))
        .then_expect_events(vec![A3Event::A3TeamMemberRemoved { member_id: MATE }]);
    assert!(invalid(Given::with(()).given(doing()).when(remove(OWNER, MATE)).inspect_result(), "memberId"));
    assert!(forbidden(Given::with(()).given(with_mate).when(remove(MATE, MATE)).inspect_result()));
}

#[test]
fn a_closed_case_carries_its_verdict_owner_and_team_and_old_events_still_load() {
    let events = closed();
    assert!(
        matches!(events.last(), Some(A3Event::A3Closed { target_met: Some(TargetMet::Yes), owner: Some(OWNER), team, .. }) if team == &vec![MATE])
    );
    let old = serde_json::json!({"A3Closed": {"closed_by": COACH}});
    let event: A3Event = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event, A3Event::A3Closed { closed_by: COACH, target_met: None, owner: None, team: vec![] });
}

fn any_command() -> impl Strategy<Value = A3Command> {
    let who = prop::sample::select(vec![OWNER, COACH, WORKER]);
    let cause = prop::sample::select(vec!["c1".to_owned(), "c2".to_owned()]);
    (who, cause, 0_u8..18, any::<bool>()).prop_map(|(who, cause, which, flag)| {
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
            11 => A3Command::Close { actor },
            12 => A3Command::PutOnHold { actor, reason: reason() },
            13 => A3Command::Resume { actor },
            14 => A3Command::Reopen { actor, reason: reason() },
            15 => A3Command::ChangeCoach { actor, coach: if flag { OWNER } else { WORKER }, member_active: true, reason: reason() },
            16 => A3Command::EditSection { actor, section: A3Section::Lessons, content: text("x"), reason: flag.then(reason) },
            _ => A3Command::AddTeamMember { actor, member: WORKER, member_active: true },
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
    fn a3_gates_are_never_skipped(start in 0_usize..6, commands in prop::collection::vec(any_command(), 1..60)) {
        let mut case = A3Case::default();
        let history = [vec![opened()], planned(), doing(), checking(), acting(), closed()];
        for event in history[start].clone() {
            case.apply(event);
        }
        for command in commands {
            let before = case.clone();
            let _ = run(&mut case, command);
            match (before.status(), case.status()) {
                (from, to) if from == to => {}
                (A3Status::Plan, A3Status::Do) => prop_assert!(before.plan_gate().is_ok(), "plan approved without its gate"),
                (A3Status::Do, A3Status::Check) => prop_assert!(before.countermeasures().iter().filter(|c| c.iteration == before.iteration())
                    .all(|c| matches!(c.status, CountermeasureStatus::Done | CountermeasureStatus::Cancelled))),
                (A3Status::Act, A3Status::Closed) => prop_assert!(before.standardized && before.yokoten),
                (A3Status::Check, A3Status::Act) => prop_assert!(case.effect_confirmed),
                (A3Status::OnHold, to) if to != A3Status::OnHold && to != A3Status::Cancelled => {
                    prop_assert_eq!(Some(to), before.held_from(), "a case resumes where it was held");
                }
                (from, A3Status::OnHold) => prop_assert!(matches!(from, A3Status::Plan | A3Status::Do | A3Status::Check | A3Status::Act)),
                (A3Status::Closed, to) if to != A3Status::Closed => {
                    prop_assert_eq!(to, A3Status::Check, "a closed case reopens into check");
                    prop_assert!(!case.effect_confirmed && !case.standardized && !case.yokoten, "a reopened case passes check and act again");
                }
                (from, to) => prop_assert!(
                    from == to || matches!((from, to), (A3Status::Check, A3Status::Plan) | (_, A3Status::Cancelled)),
                    "unexpected transition {:?} -> {:?}", from, to
                ),
            }
            prop_assert!(case.coach() != case.owner(), "the coach is never the owner");
            prop_assert!(case.team().iter().all(|m| Some(*m) != case.owner() && Some(*m) != case.coach()));
        }
    }
}

#[test]
fn outsiders_and_closed_cases_are_refused_for_the_new_a3_commands() {
    let change = A3Command::ChangeCountermeasure {
        actor: member(OWNER),
        cm_id: "nope".into(),
        patch: CountermeasurePatch { due_on: Some(day()), ..CountermeasurePatch::default() },
        reason: reason(),
    };
    assert!(invalid(Given::with(()).given(doing()).when(change).inspect_result(), "cmId"));
    let chain = A3Command::RecordWhyChain {
        actor: member(WORKER),
        chain_id: "w1".into(),
        problem: text("p"),
        whys: vec![text("x")],
        root_cause_id: "c1".into(),
    };
    assert!(forbidden(Given::with(()).given(planned()).when(chain).inspect_result()));
    assert!(forbidden(
        Given::with(()).given(doing()).when(A3Command::PutOnHold { actor: member(WORKER), reason: reason() }).inspect_result()
    ));
    assert!(rule(Given::with(()).given(closed()).when(A3Command::PutOnHold { actor: member(OWNER), reason: reason() }).inspect_result()));
    let auditor = Actor { member_id: COACH, role: Role::Auditor };
    assert!(forbidden(Given::with(()).given(closed()).when(A3Command::Reopen { actor: auditor, reason: reason() }).inspect_result()));
    let inactive = A3Command::ChangeCoach { actor: member(COACH), coach: NEWBIE, member_active: false, reason: reason() };
    assert!(invalid(Given::with(()).given(doing()).when(inactive).inspect_result(), "coachId"));
    let remove = A3Command::RemoveTeamMember { actor: member(OWNER), member: MATE };
    assert!(rule(Given::with(()).given(closed()).when(remove).inspect_result()), "closed cases are immutable except through reopen");
    let mut held = doing();
    held.push(A3Event::A3PutOnHold { from: A3Status::Do, reason: reason() });
    let edit = A3Command::EditSection { actor: member(OWNER), section: A3Section::Containment, content: text("x"), reason: Some(reason()) };
    assert!(rule(Given::with(()).given(held.clone()).when(edit).inspect_result()), "a case on hold is resumed first");
    let added = Given::with(())
        .given(held)
        .when(A3Command::AddTeamMember { actor: member(OWNER), member: MATE, member_active: true })
        .inspect_result();
    assert!(added.is_ok(), "the team changes while on hold: {added:?}");
}
