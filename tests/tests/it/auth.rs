//! Sign-up, sign-in, invitations and roles through HTTP.

use chrono::Duration;
use gemba_tests::{TestApp, error_code};
use serde_json::json;

const CHANGE_ROLE: &str = "mutation($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { id role } }";
const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) { token member { id role } } }";

#[tokio::test]
async fn sign_up_makes_the_founder_owner_of_a_new_organisation() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up("Ann@Plant.Example", "Acme").await;
    let me = app.gql(Some(&ann.token), "{ me { id displayName email role status } organization { id name } }", json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "OWNER", "{me}");
    assert_eq!(me["data"]["me"]["email"], "ann@plant.example", "{me}");
    assert_eq!(me["data"]["me"]["status"], "ACTIVE", "{me}");
    assert_eq!(me["data"]["organization"]["id"], ann.org.as_str(), "{me}");
}

#[tokio::test]
async fn requests_without_a_valid_session_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let r = app.gql(None, "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&r), Some("UNAUTHENTICATED"), "{r}");
    let r = app.gql(Some("gs_not_a_token"), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&r), Some("UNAUTHENTICATED"), "{r}");
}

#[tokio::test]
async fn log_in_needs_the_right_password_and_organisation_and_log_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up("ann@a.example", "Org A").await;
    let other = app.sign_up("zed@b.example", "Org B").await;

    let wrong =
        app.gql(None, LOG_IN, json!({"input": {"email": "ann@a.example", "password": "wrong password!", "organizationId": ann.org}})).await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"), "{wrong}");
    let elsewhere = app
        .gql(None, LOG_IN, json!({"input": {"email": "ann@a.example", "password": "correct horse battery", "organizationId": other.org}}))
        .await;
    assert_eq!(error_code(&elsewhere), Some("UNAUTHENTICATED"), "{elsewhere}");

    let ok = app
        .gql(None, LOG_IN, json!({"input": {"email": "ANN@a.example", "password": "correct horse battery", "organizationId": ann.org}}))
        .await;
    let token = ok["data"]["logIn"]["token"].as_str().expect("token").to_owned();
    assert_eq!(ok["data"]["logIn"]["member"]["id"], ann.member.as_str());

    let out = app.gql(Some(&token), "mutation { logOut }", json!({})).await;
    assert_eq!(out["data"]["logOut"], true, "{out}");
    let after = app.gql(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after}");

    // Sign-ins, refused sign-ins and sign-outs are in the organisation's audit log.
    let mut db = app.superuser().await;
    let audited: Vec<(String, Option<String>)> = sqlx::query_as(
        "select event_type, payload->event_type->>'member_id' from events
          where org_id = $1::uuid and aggregate_type = 'Access' order by tenant_seq",
    )
    .bind(&ann.org)
    .fetch_all(&mut db)
    .await
    .expect("access events");
    let ann_id = Some(ann.member.clone());
    assert_eq!(
        audited,
        [
            ("MemberSignedIn".to_owned(), ann_id.clone()),
            ("SignInRefused".to_owned(), ann_id.clone()),
            ("MemberSignedIn".to_owned(), ann_id.clone()),
            ("MemberSignedOut".to_owned(), ann_id),
        ]
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let app = TestApp::spawn_with(|config| config.auth_attempts_per_minute = 3).await.expect("app");
    let ann = app.sign_up("ann@a.example", "Org A").await;
    let attempt = json!({"input": {"email": "ann@a.example", "password": "wrong password!", "organizationId": ann.org}});
    for _ in 0..3 {
        let r = app.gql(None, LOG_IN, attempt.clone()).await;
        assert_eq!(error_code(&r), Some("UNAUTHENTICATED"), "{r}");
    }
    let limited = app.gql(None, LOG_IN, attempt).await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
}

#[tokio::test]
async fn an_invitation_is_single_use() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let invited = app
        .gql(
            Some(&owner.token),
            "mutation { inviteMember(input: {email: \"bob@a.example\", role: MEMBER}) { token invitation { email role expiresAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(invited["data"]["inviteMember"]["invitation"]["role"], "MEMBER", "{invited}");
    let token = invited["data"]["inviteMember"]["token"].as_str().expect("token");
    let accept = "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { member { role displayName } } }";
    let input = json!({"input": {"token": token, "password": "bobs good password", "displayName": "Bob"}});
    let first = app.gql(None, accept, input.clone()).await;
    assert_eq!(first["data"]["acceptInvitation"]["member"]["role"], "MEMBER", "{first}");
    let events = app.event_count(&owner.org).await;
    let second = app.gql(None, accept, input).await;
    assert_eq!(error_code(&second), Some("CONFLICT"), "{second}");
    assert_eq!(app.event_count(&owner.org).await, events);
}

#[tokio::test]
async fn an_invitation_expires_after_seven_days() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let invited =
        app.gql(Some(&owner.token), "mutation { inviteMember(input: {email: \"bob@a.example\", role: ADMIN}) { token } }", json!({})).await;
    let token = invited["data"]["inviteMember"]["token"].as_str().expect("token");
    app.clock.advance(Duration::days(7) + Duration::minutes(1));
    let accept = app
        .gql(
            None,
            "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { token } }",
            json!({"input": {"token": token, "password": "bobs good password", "displayName": "Bob"}}),
        )
        .await;
    assert_eq!(error_code(&accept), Some("CONFLICT"), "{accept}");
    assert!(accept["errors"][0]["message"].as_str().unwrap_or_default().contains("expired"), "{accept}");
}

#[tokio::test]
async fn an_auditor_reads_but_every_mutation_is_forbidden() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z1", "Press 1").await;
    let auditor = app.join(&owner, "audrey@a.example", "AUDITOR").await;
    let events = app.event_count(&owner.org).await;

    let mutations = [
        ("mutation($z: ID!) { renameZone(input: {zoneId: $z, name: \"X\"}) { id } }", json!({"z": zone})),
        ("mutation($s: ID!) { createZone(input: {siteId: $s, code: \"Z9\", name: \"X\"}) { id } }", json!({"s": site})),
        ("mutation { createSite(input: {code: \"S9\", name: \"X\", timezone: \"UTC\"}) { id } }", json!({})),
        ("mutation { inviteMember(input: {email: \"x@a.example\", role: MEMBER}) { token } }", json!({})),
        ("mutation($z: ID!) { archiveZone(input: {zoneId: $z, reason: \"x\"}) { id } }", json!({"z": zone})),
        ("mutation { renameOrganization(input: {name: \"X\"}) { id } }", json!({})),
    ];
    for (query, variables) in mutations {
        let r = app.gql(Some(&auditor.token), query, variables).await;
        assert_eq!(error_code(&r), Some("FORBIDDEN"), "{query}: {r}");
    }
    assert_eq!(app.event_count(&owner.org).await, events, "nothing may change");

    let read = app
        .gql(Some(&auditor.token), "query($z: ID!) { zone(id: $z) { name } history(entityId: $z) { eventType } }", json!({"z": zone}))
        .await;
    assert_eq!(read["data"]["zone"]["name"], "Press 1", "{read}");
    assert_eq!(read["data"]["history"][0]["eventType"], "ZoneCreated", "{read}");
}

#[tokio::test]
async fn members_cannot_read_the_audit_log() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let member = app.join(&owner, "bob@a.example", "MEMBER").await;
    let r = app.gql(Some(&member.token), "query($id: ID!) { history(entityId: $id) { seq } }", json!({"id": owner.org})).await;
    assert_eq!(error_code(&r), Some("FORBIDDEN"), "{r}");
}

#[tokio::test]
async fn role_changes_need_the_right_actor_and_are_recorded_with_their_reason() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let admin = app.join(&owner, "adam@a.example", "ADMIN").await;
    let member = app.join(&owner, "bob@a.example", "MEMBER").await;

    let own = app.gql(Some(&admin.token), CHANGE_ROLE, json!({"input": {"memberId": admin.member, "role": "OWNER", "reason": "me"}})).await;
    assert_eq!(error_code(&own), Some("FORBIDDEN"), "{own}");
    let grant =
        app.gql(Some(&admin.token), CHANGE_ROLE, json!({"input": {"memberId": member.member, "role": "OWNER", "reason": "x"}})).await;
    assert_eq!(error_code(&grant), Some("FORBIDDEN"), "{grant}");
    let revoke =
        app.gql(Some(&admin.token), CHANGE_ROLE, json!({"input": {"memberId": owner.member, "role": "MEMBER", "reason": "x"}})).await;
    assert_eq!(error_code(&revoke), Some("FORBIDDEN"), "{revoke}");
    let no_reason =
        app.gql(Some(&admin.token), CHANGE_ROLE, json!({"input": {"memberId": member.member, "role": "AUDITOR", "reason": " "}})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");

    let ok = app
        .gql(
            Some(&admin.token),
            CHANGE_ROLE,
            json!({"input": {"memberId": member.member, "role": "AUDITOR", "reason": "moved to quality", "reasonCode": "SCOPE_CHANGE"}}),
        )
        .await;
    assert_eq!(ok["data"]["changeMemberRole"]["role"], "AUDITOR", "{ok}");

    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id displayName role } changes { path before after } reason reasonCode } }",
            json!({"id": member.member}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let types: Vec<&str> = entries.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(types, ["MemberInvited", "MemberJoined", "MemberRoleChanged"], "{history}");
    let change = &entries[2];
    assert_eq!(change["actor"], json!({"id": admin.member, "displayName": "adam@a.example", "role": "ADMIN"}));
    assert_eq!(change["changes"], json!([{"path": "role", "before": "MEMBER", "after": "AUDITOR"}]));
    assert_eq!(change["reason"], "moved to quality");
    assert_eq!(change["reasonCode"], "scope_change");
    // Personal data in the log is stored sealed and opened for authorised readers.
    assert_eq!(entries[0]["changes"][0], json!({"path": "email", "before": null, "after": "bob@a.example"}));
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed_even_by_racing_owners() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let ann = app.sign_up(&format!("ann{round}@a.example"), "Org A").await;
        let bea = app.join(&ann, &format!("bea{round}@a.example"), "OWNER").await;
        let demote = |actor: &gemba_tests::Session, target: &gemba_tests::Session| {
            let app = &app;
            let (token, target) = (actor.token.clone(), target.member.clone());
            async move { app.gql(Some(&token), CHANGE_ROLE, json!({"input": {"memberId": target, "role": "ADMIN", "reason": "race"}})).await }
        };
        let (one, two) = tokio::join!(demote(&ann, &bea), demote(&bea, &ann));
        let won = [&one, &two].iter().filter(|r| r["data"]["changeMemberRole"]["role"] == "ADMIN").count();
        assert_eq!(won, 1, "exactly one demotion wins: {one} {two}");
        let owners = app.gql(Some(&ann.token), "{ members { edges { node { role status } } } }", json!({})).await;
        let n = owners["data"]["members"]["edges"].as_array().expect("members").iter().filter(|e| e["node"]["role"] == "OWNER").count();
        assert_eq!(n, 1, "{owners}");
    }
}

#[tokio::test]
async fn a_zone_owner_cannot_be_removed_until_the_zone_is_reassigned() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let leader = app.join(&owner, "lea@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z1", "Press").await;
    let assign = "mutation($input: AssignZoneOwnerInput!) { assignZoneOwner(input: $input) { owner { id displayName } } }";
    let assigned = app.gql(Some(&owner.token), assign, json!({"input": {"zoneId": zone, "memberId": leader.member}})).await;
    assert_eq!(assigned["data"]["assignZoneOwner"]["owner"]["id"], leader.member.as_str(), "{assigned}");

    let remove = "mutation($input: RemoveMemberInput!) { removeMember(input: $input) { status } }";
    let refused = app.gql(Some(&owner.token), remove, json!({"input": {"memberId": leader.member, "reason": "left"}})).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");

    let archive = "mutation($input: ArchiveZoneInput!) { archiveZone(input: $input) { status } }";
    let archived = app.gql(Some(&owner.token), archive, json!({"input": {"zoneId": zone, "reason": "line closed"}})).await;
    assert_eq!(archived["data"]["archiveZone"]["status"], "ARCHIVED", "{archived}");
    let removed = app.gql(Some(&owner.token), remove, json!({"input": {"memberId": leader.member, "reason": "left"}})).await;
    assert_eq!(removed["data"]["removeMember"]["status"], "REMOVED", "{removed}");

    // A removed member cannot become a zone owner.
    let restore = "mutation($input: RestoreZoneInput!) { restoreZone(input: $input) { status } }";
    let restored = app.gql(Some(&owner.token), restore, json!({"input": {"zoneId": zone, "reason": "line reopened"}})).await;
    assert_eq!(error_code(&restored), Some("CONFLICT"), "a restored zone may not be owned by a removed member: {restored}");
    let other = app.create_zone(&owner, &site, "Z2", "Weld").await;
    let reassigned = app.gql(Some(&owner.token), assign, json!({"input": {"zoneId": other, "memberId": leader.member}})).await;
    assert_eq!(error_code(&reassigned), Some("VALIDATION"), "{reassigned}");
}

#[tokio::test]
async fn removing_a_member_signs_them_out_and_the_last_owner_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let admin = app.join(&owner, "adam@a.example", "ADMIN").await;
    let member = app.join(&owner, "bob@a.example", "MEMBER").await;
    let remove = "mutation($input: RemoveMemberInput!) { removeMember(input: $input) { id status } }";

    let owner_by_admin = app.gql(Some(&admin.token), remove, json!({"input": {"memberId": owner.member, "reason": "coup"}})).await;
    assert_eq!(error_code(&owner_by_admin), Some("FORBIDDEN"), "{owner_by_admin}");
    let self_removal = app.gql(Some(&owner.token), remove, json!({"input": {"memberId": owner.member, "reason": "leaving"}})).await;
    assert_eq!(error_code(&self_removal), Some("FORBIDDEN"), "{self_removal}");

    let removed = app.gql(Some(&admin.token), remove, json!({"input": {"memberId": member.member, "reason": "left the company"}})).await;
    assert_eq!(removed["data"]["removeMember"]["status"], "REMOVED", "{removed}");
    let after = app.gql(Some(&member.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after}");
}

#[tokio::test]
async fn capabilities_are_granted_and_revoked_by_admins_with_a_reason() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let admin = app.join(&owner, "adam@a.example", "ADMIN").await;
    let member = app.join(&owner, "bob@a.example", "MEMBER").await;
    let grant = "mutation($input: CapabilityInput!) { grantCapability(input: $input) { capabilities } }";
    let revoke = "mutation($input: CapabilityInput!) { revokeCapability(input: $input) { capabilities } }";
    let input = |who: &str| json!({"input": {"memberId": who, "capability": "DEFECT_VERIFIER", "reason": "trained on TPM"}});

    let by_member = app.gql(Some(&member.token), grant, input(&admin.member)).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let to_self = app.gql(Some(&admin.token), grant, input(&admin.member)).await;
    assert_eq!(error_code(&to_self), Some("FORBIDDEN"), "{to_self}");

    let granted = app.gql(Some(&admin.token), grant, input(&member.member)).await;
    assert_eq!(granted["data"]["grantCapability"]["capabilities"], json!(["DEFECT_VERIFIER"]), "{granted}");
    let again = app.gql(Some(&admin.token), grant, input(&member.member)).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    let revoked = app.gql(Some(&owner.token), revoke, input(&member.member)).await;
    assert_eq!(revoked["data"]["revokeCapability"]["capabilities"], json!([]), "{revoked}");

    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType changes { path before after } reason } }",
            json!({"id": member.member}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let last_two: Vec<_> = entries.iter().rev().take(2).rev().collect();
    assert_eq!(last_two[0]["eventType"], "MemberCapabilityGranted");
    assert_eq!(last_two[0]["changes"], json!([{"path": "capabilities.defect_verifier", "before": false, "after": true}]));
    assert_eq!(last_two[0]["reason"], "trained on TPM");
    assert_eq!(last_two[1]["eventType"], "MemberCapabilityRevoked");
}
