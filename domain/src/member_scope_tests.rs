//! Given/when/then tests of a member's site scope, home zone, profile and suspension.

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::values::ReasonCode;

type Given = TestFramework<Member>;
const ME: MemberId = MemberId(Uuid::from_u128(1));
const OTHER: MemberId = MemberId(Uuid::from_u128(2));
const S1: SiteId = SiteId(Uuid::from_u128(11));
const S2: SiteId = SiteId(Uuid::from_u128(12));
const ZONE: ZoneId = ZoneId(Uuid::from_u128(21));

fn sealed(text: &str) -> Sealed {
    Sealed { key: OTHER, ct: text.to_owned() }
}
fn joined(role: Role) -> MemberEvent {
    MemberEvent::MemberJoined {
        member_id: OTHER,
        account_id: AccountId(Uuid::nil()),
        email: sealed("e"),
        display_name: sealed("n"),
        role,
        invited: true,
    }
}
fn reason() -> Reason {
    Reason { code: ReasonCode::Other, text: "plant reorganised".into() }
}
fn actor(role: Role) -> Actor {
    Actor { member_id: ME, role }
}
fn only(sites: &[SiteId]) -> SiteScope {
    SiteScope::Sites(sites.iter().copied().collect())
}
fn scope(role: Role, scope: SiteScope, sites_exist: bool, owned_zones_outside: u32) -> MemberCommand {
    MemberCommand::ChangeSiteScope { actor: actor(role), scope, reason: reason(), sites_exist, owned_zones_outside }
}
fn suspend(actor: Actor, active_owners: u32, owned_zones: u32) -> MemberCommand {
    MemberCommand::Suspend { actor, reason: reason(), active_owners, owned_zones }
}
fn suspended() -> MemberEvent {
    MemberEvent::MemberSuspended { reason: reason() }
}
fn forbidden(result: Result<Vec<MemberEvent>, DomainError>) -> bool {
    matches!(result, Err(DomainError::Forbidden(_)))
}
fn invalid(result: Result<Vec<MemberEvent>, DomainError>, field: &str) -> bool {
    matches!(result, Err(DomainError::Invalid(e)) if e.field == field)
}

#[test]
fn an_admin_limits_a_member_to_some_sites_with_a_reason() {
    let changed = MemberEvent::MemberSiteScopeChanged { before: SiteScope::All, after: only(&[S1]), reason: reason() };
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(scope(Role::Admin, only(&[S1]), true, 0))
        .then_expect_events(vec![changed.clone()]);
    assert_eq!(changed.changes()[0].path, "siteScope");
    Given::with(())
        .given(vec![joined(Role::Member), changed])
        .when(scope(Role::Owner, SiteScope::All, true, 0))
        .then_expect_events(vec![MemberEvent::MemberSiteScopeChanged { before: only(&[S1]), after: SiteScope::All, reason: reason() }]);
}

#[test]
fn a_site_scope_names_existing_sites_and_keeps_the_members_zones() {
    assert!(invalid(
        Given::with(()).given(vec![joined(Role::Member)]).when(scope(Role::Admin, only(&[]), true, 0)).inspect_result(),
        "siteIds"
    ));
    assert!(invalid(
        Given::with(()).given(vec![joined(Role::Member)]).when(scope(Role::Admin, only(&[S1]), false, 0)).inspect_result(),
        "siteIds"
    ));
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(scope(Role::Admin, only(&[S2]), true, 1))
        .then_expect_error(DomainError::Rule("the member owns zones outside this site scope: reassign them first"));
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(scope(Role::Admin, SiteScope::All, true, 0))
        .then_expect_error(DomainError::Rule("the member already has this site scope"));
    assert!(forbidden(Given::with(()).given(vec![joined(Role::Member)]).when(scope(Role::Member, only(&[S1]), true, 0)).inspect_result()));
    Given::with(()).given_no_previous_events().when(scope(Role::Admin, only(&[S1]), true, 0)).then_expect_error(DomainError::NotFound);
}

#[test]
fn the_member_or_an_admin_sets_a_home_zone_inside_the_site_scope() {
    let set = |who: Actor, zone_site| MemberCommand::SetHomeZone { actor: who, zone: ZONE, zone_site };
    let homed = MemberEvent::MemberHomeZoneChanged { before: None, after: ZONE };
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(set(Actor { member_id: OTHER, role: Role::Member }, Some(S1)))
        .then_expect_events(vec![homed.clone()]);
    Given::with(()).given(vec![joined(Role::Member)]).when(set(actor(Role::Admin), Some(S1))).then_expect_events(vec![homed.clone()]);
    assert!(forbidden(Given::with(()).given(vec![joined(Role::Member)]).when(set(actor(Role::Member), Some(S1))).inspect_result()));
    assert!(invalid(Given::with(()).given(vec![joined(Role::Member)]).when(set(actor(Role::Admin), None)).inspect_result(), "zoneId"));
    let limited = MemberEvent::MemberSiteScopeChanged { before: SiteScope::All, after: only(&[S1]), reason: reason() };
    Given::with(())
        .given(vec![joined(Role::Member), limited])
        .when(set(actor(Role::Admin), Some(S2)))
        .then_expect_error(DomainError::Rule("the zone is outside the member's site scope"));
    Given::with(())
        .given(vec![joined(Role::Member), homed])
        .when(set(actor(Role::Admin), Some(S1)))
        .then_expect_error(DomainError::Rule("this is already the member's home zone"));
}

#[test]
fn a_profile_patch_lists_only_the_fields_that_change() {
    let shift = Name::parse("shift", "Night").unwrap_or_else(|e| panic!("{e}"));
    let by_self = Actor { member_id: OTHER, role: Role::Member };
    let patch = ProfilePatch { display_name: Some(sealed("n2")), employee_number: None, shift: Some(shift.clone()) };
    let changed = MemberEvent::MemberProfileChanged {
        display_name: Some(Edit { before: Some(sealed("n")), after: sealed("n2") }),
        employee_number: None,
        shift: Some(Edit { before: None, after: shift.clone() }),
    };
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(MemberCommand::UpdateProfile { actor: by_self, patch })
        .then_expect_events(vec![changed.clone()]);
    let paths: Vec<String> = changed.changes().into_iter().map(|c| c.path).collect();
    assert_eq!(paths, ["displayName", "shift"]);
    let same_shift = ProfilePatch { shift: Some(shift), ..ProfilePatch::default() };
    Given::with(())
        .given(vec![joined(Role::Member), changed])
        .when(MemberCommand::UpdateProfile { actor: actor(Role::Admin), patch: same_shift })
        .then_expect_error(DomainError::Rule("the profile is unchanged"));
    assert!(invalid(
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(MemberCommand::UpdateProfile { actor: by_self, patch: ProfilePatch::default() })
            .inspect_result(),
        "input"
    ));
    let patch = ProfilePatch { employee_number: Some(sealed("E1")), ..ProfilePatch::default() };
    for role in [Role::Member, Role::Auditor] {
        let result = Given::with(())
            .given(vec![joined(Role::Member)])
            .when(MemberCommand::UpdateProfile { actor: actor(role), patch: patch.clone() })
            .inspect_result();
        assert!(forbidden(result), "{role:?}");
    }
}

#[test]
fn an_admin_suspends_and_reactivates_a_member() {
    Given::with(()).given(vec![joined(Role::Member)]).when(suspend(actor(Role::Admin), 1, 0)).then_expect_events(vec![suspended()]);
    assert_eq!(suspended().changes()[0].after, serde_json::json!("SUSPENDED"));
    Given::with(())
        .given(vec![joined(Role::Member), suspended()])
        .when(MemberCommand::Reactivate { actor: actor(Role::Admin), reason: reason() })
        .then_expect_events(vec![MemberEvent::MemberReactivated { reason: reason() }]);
}

#[test]
fn suspension_rules() {
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(suspend(Actor { member_id: OTHER, role: Role::Admin }, 1, 0))
        .then_expect_error(DomainError::Forbidden("nobody suspends themselves"));
    Given::with(())
        .given(vec![joined(Role::Owner)])
        .when(suspend(actor(Role::Owner), 1, 0))
        .then_expect_error(DomainError::Rule(LAST_OWNER));
    assert!(forbidden(Given::with(()).given(vec![joined(Role::Owner)]).when(suspend(actor(Role::Admin), 2, 0)).inspect_result()));
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(suspend(actor(Role::Admin), 1, 2))
        .then_expect_error(DomainError::Rule("reassign the zones this member owns before suspending them"));
    Given::with(())
        .given(vec![joined(Role::Member), suspended()])
        .when(suspend(actor(Role::Admin), 1, 0))
        .then_expect_error(DomainError::Rule("the member is already suspended"));
    Given::with(())
        .given(vec![joined(Role::Member)])
        .when(MemberCommand::Reactivate { actor: actor(Role::Admin), reason: reason() })
        .then_expect_error(DomainError::Rule("the member is not suspended"));
    let reactivate_owner = MemberCommand::Reactivate { actor: actor(Role::Admin), reason: reason() };
    assert!(forbidden(Given::with(()).given(vec![joined(Role::Owner), suspended()]).when(reactivate_owner).inspect_result()));
    for role in [Role::Member, Role::Auditor] {
        assert!(forbidden(Given::with(()).given(vec![joined(Role::Member)]).when(suspend(actor(role), 1, 0)).inspect_result()), "{role:?}");
    }
}

#[test]
fn a_suspended_member_takes_no_new_role_but_can_be_removed() {
    Given::with(())
        .given(vec![joined(Role::Member), suspended()])
        .when(MemberCommand::ChangeRole { actor: actor(Role::Admin), role: Role::Admin, reason: reason(), active_owners: 1 })
        .then_expect_error(DomainError::Rule("the member is suspended"));
    Given::with(())
        .given(vec![joined(Role::Member), suspended()])
        .when(MemberCommand::Remove { actor: actor(Role::Admin), reason: reason(), active_owners: 1, owned_zones: 0 })
        .then_expect_events(vec![MemberEvent::MemberRemoved { role: Role::Member, previous: MemberStatus::Suspended, reason: reason() }]);
}
