//! Given/when/then tests of the Area aggregate.

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::ids::MemberId;
use crate::values::{ReasonCode, Role};

type Given = TestFramework<Area>;

const SITE: SiteId = SiteId(Uuid::from_u128(10));
const OTHER_SITE: SiteId = SiteId(Uuid::from_u128(11));
const AREA: AreaId = AreaId(Uuid::from_u128(20));
const PARENT: AreaId = AreaId(Uuid::from_u128(21));
const CHILD: AreaId = AreaId(Uuid::from_u128(22));

fn actor(role: Role) -> Actor {
    Actor { member_id: MemberId(Uuid::from_u128(1)), role }
}
fn name(text: &str) -> Name {
    Name::parse("name", text).unwrap_or_else(|e| panic!("{e}"))
}
fn code() -> Code {
    Code::parse("code", "L1").unwrap_or_else(|e| panic!("{e}"))
}
fn reason() -> Reason {
    Reason { code: ReasonCode::ScopeChange, text: "re-layout".into() }
}
fn parent(id: AreaId, site: Option<SiteId>, ancestry: Vec<AreaId>) -> Option<(AreaId, ParentFacts)> {
    Some((id, ParentFacts { site, ancestry }))
}
fn create(role: Role, site_exists: bool, parent: Option<(AreaId, ParentFacts)>) -> AreaCommand {
    AreaCommand::Create {
        actor: actor(role),
        area_id: AREA,
        site_id: SITE,
        site_exists,
        kind: AreaKind::Line,
        parent,
        code: code(),
        name: name("Line 1"),
    }
}
fn created(parent: Option<AreaId>) -> AreaEvent {
    AreaEvent::AreaCreated { area_id: AREA, site_id: SITE, kind: AreaKind::Line, parent, code: code(), name: name("Line 1") }
}
fn archived() -> AreaEvent {
    AreaEvent::AreaArchived { reason: reason() }
}
fn move_to(to: Option<(AreaId, ParentFacts)>) -> AreaCommand {
    AreaCommand::Move { actor: actor(Role::Admin), to, reason: reason() }
}
fn archive(active_zones: u32, active_children: u32) -> AreaCommand {
    AreaCommand::Archive { actor: actor(Role::Owner), reason: reason(), active_zones, active_children }
}

#[test]
fn an_admin_creates_an_area_under_a_parent_of_the_same_site() {
    Given::with(())
        .given_no_previous_events()
        .when(create(Role::Admin, true, parent(PARENT, Some(SITE), vec![PARENT])))
        .then_expect_events(vec![created(Some(PARENT))]);
    Given::with(()).given_no_previous_events().when(create(Role::Owner, true, None)).then_expect_events(vec![created(None)]);
}

#[test]
fn members_and_auditors_create_no_areas() {
    for role in [Role::Member, Role::Auditor] {
        let result = Given::with(()).given_no_previous_events().when(create(role, true, None)).inspect_result();
        assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
    }
}

#[test]
fn an_area_needs_an_existing_site_and_an_active_parent_of_that_site() {
    let result = Given::with(()).given_no_previous_events().when(create(Role::Admin, false, None)).inspect_result();
    assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "siteId"));
    let result = Given::with(()).given_no_previous_events().when(create(Role::Admin, true, parent(PARENT, None, vec![]))).inspect_result();
    assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "parentAreaId"));
    Given::with(())
        .given_no_previous_events()
        .when(create(Role::Admin, true, parent(PARENT, Some(OTHER_SITE), vec![PARENT])))
        .then_expect_error(DomainError::Rule("the parent area belongs to another site"));
}

#[test]
fn an_area_is_created_once() {
    Given::with(())
        .given(vec![created(None)])
        .when(create(Role::Admin, true, None))
        .then_expect_error(DomainError::Rule("the area already exists"));
}

#[test]
fn renaming_records_before_and_after() {
    Given::with(())
        .given(vec![created(None)])
        .when(AreaCommand::Rename { actor: actor(Role::Admin), name: name("Line 2"), reason: None })
        .then_expect_events(vec![AreaEvent::AreaRenamed { before: name("Line 1"), after: name("Line 2"), reason: None }]);
    Given::with(())
        .given(vec![created(None)])
        .when(AreaCommand::Rename { actor: actor(Role::Admin), name: name("Line 1"), reason: None })
        .then_expect_error(DomainError::Rule("the area already has this name"));
    Given::with(())
        .given_no_previous_events()
        .when(AreaCommand::Rename { actor: actor(Role::Admin), name: name("X"), reason: None })
        .then_expect_error(DomainError::NotFound);
    let by_member = AreaCommand::Rename { actor: actor(Role::Member), name: name("X"), reason: None };
    assert!(matches!(Given::with(()).given(vec![created(None)]).when(by_member).inspect_result(), Err(DomainError::Forbidden(_))));
}

#[test]
fn an_area_moves_within_its_site_with_a_reason() {
    Given::with(())
        .given(vec![created(None)])
        .when(move_to(parent(PARENT, Some(SITE), vec![PARENT])))
        .then_expect_events(vec![AreaEvent::AreaMoved { from: None, to: Some(PARENT), reason: reason() }]);
    Given::with(()).given(vec![created(Some(PARENT))]).when(move_to(None)).then_expect_events(vec![AreaEvent::AreaMoved {
        from: Some(PARENT),
        to: None,
        reason: reason(),
    }]);
}

#[test]
fn a_move_never_leaves_the_site_nor_makes_a_cycle() {
    Given::with(())
        .given(vec![created(None)])
        .when(move_to(parent(PARENT, Some(OTHER_SITE), vec![PARENT])))
        .then_expect_error(DomainError::Rule("the parent area belongs to another site"));
    let cycle = "an area cannot be moved under itself or one of its descendants";
    Given::with(())
        .given(vec![created(None)])
        .when(move_to(parent(AREA, Some(SITE), vec![AREA])))
        .then_expect_error(DomainError::Rule(cycle));
    Given::with(())
        .given(vec![created(None)])
        .when(move_to(parent(CHILD, Some(SITE), vec![CHILD, AREA])))
        .then_expect_error(DomainError::Rule(cycle));
    Given::with(())
        .given(vec![created(Some(PARENT))])
        .when(move_to(parent(PARENT, Some(SITE), vec![PARENT])))
        .then_expect_error(DomainError::Rule("the area is already there"));
    let result = Given::with(()).given(vec![created(None)]).when(move_to(parent(PARENT, None, vec![]))).inspect_result();
    assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "parentAreaId"));
}

#[test]
fn an_empty_area_is_archived_and_then_refuses_changes() {
    Given::with(()).given(vec![created(None)]).when(archive(0, 0)).then_expect_events(vec![archived()]);
    Given::with(()).given(vec![created(None), archived()]).when(archive(0, 0)).then_expect_error(DomainError::Rule("the area is archived"));
    Given::with(()).given(vec![created(None), archived()]).when(move_to(None)).then_expect_error(DomainError::Rule("the area is archived"));
}

#[test]
fn an_area_with_active_zones_or_children_is_not_archived() {
    Given::with(())
        .given(vec![created(None)])
        .when(archive(1, 0))
        .then_expect_error(DomainError::Rule("move or archive the area's active zones first"));
    Given::with(())
        .given(vec![created(None)])
        .when(archive(0, 2))
        .then_expect_error(DomainError::Rule("move or archive the area's active child areas first"));
    let by_auditor = AreaCommand::Archive { actor: actor(Role::Auditor), reason: reason(), active_zones: 0, active_children: 0 };
    assert!(matches!(Given::with(()).given(vec![created(None)]).when(by_auditor).inspect_result(), Err(DomainError::Forbidden(_))));
}

#[test]
fn every_event_states_its_changes() {
    let events = [
        created(None),
        archived(),
        AreaEvent::AreaRenamed { before: name("a"), after: name("b"), reason: None },
        AreaEvent::AreaMoved { from: None, to: Some(PARENT), reason: reason() },
    ];
    for event in events {
        assert!(!event.changes().is_empty(), "{event:?}");
    }
}
