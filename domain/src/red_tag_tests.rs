//! Given/when/then tests of red-tagged items, and a property test of their invariants.

use chrono::TimeZone;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::test_support::{member, text};
use crate::values::ReasonCode;

type Given = TestFramework<RedTagItem>;

const TAGGER: MemberId = MemberId(Uuid::from_u128(1));
const LEAD: MemberId = MemberId(Uuid::from_u128(2));
const ITEM: RedTagId = RedTagId(Uuid::from_u128(10));
const ZONE: ZoneId = ZoneId(Uuid::from_u128(20));
const OTHER_ZONE: ZoneId = ZoneId(Uuid::from_u128(21));

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).single().unwrap_or_default() + Duration::days(n)
}
fn name(t: &str) -> Name {
    Name::parse("name", t).unwrap_or_else(|e| panic!("{e}"))
}
fn reason() -> Reason {
    Reason { code: ReasonCode::Other, text: "buyer found".into() }
}
fn new_item(qty: u32) -> NewRedTag {
    NewRedTag {
        red_tag_id: ITEM,
        zone_id: ZONE,
        description: text("spare pallet jack"),
        qty,
        location: name("Aisle 3"),
        reason: RedTagReason::NotNeeded,
    }
}
fn tag(qty: u32, zone_active: bool) -> RedTagCommand {
    RedTagCommand::Tag { actor: member(TAGGER), zone_active, item: new_item(qty), hold_days: 30, now: day(0) }
}
fn tagged() -> RedTagEvent {
    RedTagEvent::RedTagItemTagged {
        red_tag_id: ITEM,
        zone_id: ZONE,
        description: text("spare pallet jack"),
        qty: 2,
        location: name("Aisle 3"),
        reason: RedTagReason::NotNeeded,
        tagged_by: TAGGER,
        tagged_at: day(0),
        hold_until: day(30),
    }
}
fn expired() -> RedTagEvent {
    RedTagEvent::RedTagItemHoldExpired { hold_until: day(30) }
}
fn dispose(actor: Actor, leads: bool, disposition: Disposition) -> RedTagCommand {
    RedTagCommand::Disposition { actor, actor_leads_zone: leads, disposition, target_zone_active: true, now: day(10) }
}
fn invalid(result: Result<Vec<RedTagEvent>, DomainError>, field: &str) -> bool {
    matches!(result, Err(DomainError::Invalid(e)) if e.field == field)
}
fn forbidden(result: Result<Vec<RedTagEvent>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Forbidden(_)))
}

#[test]
fn an_item_is_tagged_in_an_active_zone_and_held_for_the_hold_days() {
    Given::with(()).given_no_previous_events().when(tag(2, true)).then_expect_events(vec![tagged()]);
    assert!(invalid(Given::with(()).given_no_previous_events().when(tag(2, false)).inspect_result(), "zoneId"));
    assert!(invalid(Given::with(()).given_no_previous_events().when(tag(0, true)).inspect_result(), "qty"));
    Given::with(()).given(vec![tagged()]).when(tag(2, true)).then_expect_error(DomainError::Rule("the item is already tagged"));
    let by_auditor = RedTagCommand::Tag {
        actor: Actor { member_id: TAGGER, role: Role::Auditor },
        zone_active: true,
        item: new_item(1),
        hold_days: 30,
        now: day(0),
    };
    assert!(forbidden(Given::with(()).given_no_previous_events().when(by_auditor).inspect_result()));
}

#[test]
fn the_zone_lead_extends_a_hold_forward_with_a_reason() {
    let extend = |actor, leads, until| RedTagCommand::ExtendHold { actor, actor_leads_zone: leads, until, reason: reason(), now: day(31) };
    Given::with(()).given(vec![tagged()]).when(extend(member(LEAD), true, day(45))).then_expect_events(vec![
        RedTagEvent::RedTagItemHoldExtended { from: RedTagStatus::Held, before: day(30), after: day(45), reason: reason() },
    ]);
    let events =
        Given::with(()).given(vec![tagged(), expired()]).when(extend(member(LEAD), true, day(45))).inspect_result().unwrap_or_default();
    let paths: Vec<String> = events.iter().flat_map(Audited::changes).map(|c| c.path).collect();
    assert_eq!(paths, ["holdUntil", "status"], "an extension after expiry holds the item again");
    assert!(invalid(Given::with(()).given(vec![tagged()]).when(extend(member(LEAD), true, day(20))).inspect_result(), "until"));
    assert!(forbidden(Given::with(()).given(vec![tagged()]).when(extend(member(TAGGER), false, day(45))).inspect_result()));
    let admin = Actor { member_id: TAGGER, role: Role::Admin };
    assert!(Given::with(()).given(vec![tagged()]).when(extend(admin, false, day(45))).inspect_result().is_ok());
}

#[test]
fn the_disposition_is_decided_once_by_the_zone_lead_or_an_admin() {
    let scrapped = dispose(member(LEAD), true, Disposition::Scrapped);
    Given::with(()).given(vec![tagged()]).when(scrapped.clone()).then_expect_events(vec![RedTagEvent::RedTagItemDispositioned {
        from: RedTagStatus::Held,
        disposition: Disposition::Scrapped,
        decided_by: LEAD,
        decided_at: day(10),
    }]);
    let decided = RedTagEvent::RedTagItemDispositioned {
        from: RedTagStatus::Held,
        disposition: Disposition::Scrapped,
        decided_by: LEAD,
        decided_at: day(10),
    };
    Given::with(())
        .given(vec![tagged(), decided])
        .when(scrapped)
        .then_expect_error(DomainError::Rule("the item's disposition is already decided"));
    assert!(forbidden(Given::with(()).given(vec![tagged()]).when(dispose(member(TAGGER), false, Disposition::Sold)).inspect_result()));
    let owner = Actor { member_id: TAGGER, role: Role::Owner };
    let back = Disposition::ReturnedToUse { location: name("Line 2") };
    assert!(Given::with(()).given(vec![tagged(), expired()]).when(dispose(owner, false, back)).inspect_result().is_ok());
    let auditor = Actor { member_id: LEAD, role: Role::Auditor };
    assert!(forbidden(Given::with(()).given(vec![tagged()]).when(dispose(auditor, true, Disposition::Donated)).inspect_result()));
    Given::with(())
        .given_no_previous_events()
        .when(dispose(member(LEAD), true, Disposition::Recycled))
        .then_expect_error(DomainError::NotFound);
}

#[test]
fn a_relocation_names_another_active_zone() {
    let relocate = |zone_id, active| RedTagCommand::Disposition {
        actor: member(LEAD),
        actor_leads_zone: true,
        disposition: Disposition::Relocated { zone_id },
        target_zone_active: active,
        now: day(10),
    };
    assert!(Given::with(()).given(vec![tagged()]).when(relocate(OTHER_ZONE, true)).inspect_result().is_ok());
    assert!(invalid(Given::with(()).given(vec![tagged()]).when(relocate(OTHER_ZONE, false)).inspect_result(), "zoneId"));
    assert!(invalid(Given::with(()).given(vec![tagged()]).when(relocate(ZONE, true)).inspect_result(), "zoneId"));
}

#[test]
fn only_the_system_expires_a_hold_once_it_has_ended() {
    let expire = |n| RedTagCommand::ExpireHold { now: day(n) };
    Given::with(()).given(vec![tagged()]).when(expire(30)).then_expect_events(vec![expired()]);
    Given::with(()).given(vec![tagged()]).when(expire(29)).then_expect_error(DomainError::Rule("the hold has not ended yet"));
    Given::with(())
        .given(vec![tagged(), expired()])
        .when(expire(31))
        .then_expect_error(DomainError::Rule("only a held item's hold expires"));
    Given::with(()).given_no_previous_events().when(expire(31)).then_expect_error(DomainError::NotFound);
}

#[test]
fn every_red_tag_event_states_its_changes() {
    for event in [
        tagged(),
        expired(),
        RedTagEvent::RedTagItemHoldExtended { from: RedTagStatus::Held, before: day(30), after: day(40), reason: reason() },
        RedTagEvent::RedTagItemDispositioned {
            from: RedTagStatus::Held,
            disposition: Disposition::Sold,
            decided_by: LEAD,
            decided_at: day(3),
        },
    ] {
        assert!(!event.changes().is_empty(), "{event:?}");
    }
}

fn any_command() -> impl Strategy<Value = RedTagCommand> {
    let actor =
        (prop::sample::select(vec![TAGGER, LEAD]), prop::sample::select(vec![Role::Owner, Role::Admin, Role::Member, Role::Auditor]))
            .prop_map(|(member_id, role)| Actor { member_id, role });
    (actor, 0_u8..4, 0_i64..60, any::<bool>(), 0_u32..3).prop_map(|(actor, which, n, flag, qty)| match which {
        0 => RedTagCommand::Tag { actor, zone_active: flag, item: new_item(qty), hold_days: 30, now: day(n) },
        1 => RedTagCommand::ExtendHold { actor, actor_leads_zone: flag, until: day(n + 5), reason: reason(), now: day(n) },
        2 => RedTagCommand::Disposition {
            actor,
            actor_leads_zone: flag,
            disposition: if flag { Disposition::Relocated { zone_id: OTHER_ZONE } } else { Disposition::Scrapped },
            target_zone_active: qty > 0,
            now: day(n),
        },
        _ => RedTagCommand::ExpireHold { now: day(n) },
    })
}

fn run(item: &mut RedTagItem, command: RedTagCommand) -> Result<Vec<RedTagEvent>, DomainError> {
    let sink = EventSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
    runtime.block_on(async {
        item.handle(command, &(), &sink).await?;
        Ok(sink.collect().await)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_red_tag_commands_keep_the_invariants(commands in prop::collection::vec(any_command(), 1..30)) {
        let mut item = RedTagItem::default();
        for command in commands {
            let before = item.state().clone();
            let auditor = match &command {
                RedTagCommand::Tag { actor, .. } | RedTagCommand::ExtendHold { actor, .. } | RedTagCommand::Disposition { actor, .. } => {
                    actor.role == Role::Auditor
                }
                RedTagCommand::ExpireHold { .. } => false,
            };
            let result = run(&mut item, command);
            if auditor {
                prop_assert!(result.is_err(), "an auditor changed a red tag");
            }
            if result.is_err() {
                prop_assert_eq!(&before, item.state(), "a refused command changed the item");
            }
            // Once decided, the disposition never changes.
            if before.status == RedTagStatus::Dispositioned {
                prop_assert_eq!(&before, item.state());
            }
            // The hold only moves forward; tagged items have a positive quantity.
            if let (Some(b), Some(a)) = (before.hold_until, item.state().hold_until) {
                prop_assert!(a >= b);
            }
            if item.state().status != RedTagStatus::None {
                prop_assert!(item.state().qty > 0);
            }
        }
    }
}
