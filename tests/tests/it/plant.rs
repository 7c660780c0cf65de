//! Plant structure and membership through HTTP: areas (create, move without cycles, archive
//! only when empty), zones placed in areas with a headcount and an audit plan, members' site
//! scope, home zone, profile and suspension, and the organisation's settings patch.

use gemba_tests::{Session, TestApp, error_code};
use serde_json::{Value, json};
use sqlx::Connection;

async fn call(app: &TestApp, who: &Session, name: &str, input_type: &str, fields: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} }} }}");
    app.gql(Some(&who.token), &query, json!({"input": input})).await
}

async fn history(app: &TestApp, who: &Session, id: &str) -> Vec<Value> {
    let r = app
        .gql(
            Some(&who.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } reason } }",
            json!({"id": id}),
        )
        .await;
    r["data"]["history"].as_array().cloned().unwrap_or_else(|| panic!("{r}"))
}

const AREA: &str = "id siteId kind parentAreaId code name status";

async fn create_area(app: &TestApp, who: &Session, site: &str, code: &str, parent: Option<&str>) -> String {
    let r = call(
        app,
        who,
        "createArea",
        "CreateAreaInput",
        AREA,
        json!({"siteId": site, "kind": "LINE", "parentAreaId": parent, "code": code, "name": format!("Area {code}")}),
    )
    .await;
    r["data"]["createArea"]["id"].as_str().unwrap_or_else(|| panic!("createArea failed: {r}")).to_owned()
}

#[tokio::test]
async fn areas_are_created_moved_without_cycles_and_archived_only_when_empty() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let member = app.join(&owner, "mo@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let other_site = app.create_site(&owner, "S2").await;

    let hall = create_area(&app, &owner, &site, "HALL", None).await;
    let line = create_area(&app, &owner, &site, "L1", Some(&hall)).await;
    let cell = create_area(&app, &owner, &site, "C1", Some(&line)).await;
    let elsewhere = create_area(&app, &owner, &other_site, "X1", None).await;
    let read = app.gql(Some(&member.token), &format!("query($id: ID!) {{ area(id: $id) {{ {AREA} }} }}"), json!({"id": cell})).await;
    assert_eq!(read["data"]["area"]["parentAreaId"], line.as_str(), "{read}");
    assert_eq!(read["data"]["area"]["kind"], "LINE");
    let listed = app.gql(Some(&owner.token), "query($s: ID!) { areas(siteId: $s) { code } }", json!({"s": site})).await;
    assert_eq!(listed["data"]["areas"], json!([{"code": "HALL"}, {"code": "L1"}, {"code": "C1"}]), "{listed}");

    // Refused: a member creates nothing, a duplicate code, a parent of another site.
    let by_member =
        call(&app, &member, "createArea", "CreateAreaInput", AREA, json!({"siteId": site, "kind": "AREA", "code": "M", "name": "M"})).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let duplicate =
        call(&app, &owner, "createArea", "CreateAreaInput", AREA, json!({"siteId": site, "kind": "CELL", "code": "l1", "name": "Again"}))
            .await;
    assert_eq!(error_code(&duplicate), Some("CONFLICT"), "{duplicate}");
    let across = call(
        &app,
        &owner,
        "createArea",
        "CreateAreaInput",
        AREA,
        json!({"siteId": site, "kind": "CELL", "parentAreaId": elsewhere, "code": "Z", "name": "Z"}),
    )
    .await;
    assert_eq!(error_code(&across), Some("CONFLICT"), "{across}");

    // A move under its own descendant is refused and changes nothing.
    let before = app.event_count(&owner.org).await;
    let cycle =
        call(&app, &owner, "moveArea", "MoveAreaInput", AREA, json!({"areaId": hall, "parentAreaId": cell, "reason": "loop"})).await;
    assert_eq!(error_code(&cycle), Some("CONFLICT"), "{cycle}");
    let to_other_site =
        call(&app, &owner, "moveArea", "MoveAreaInput", AREA, json!({"areaId": line, "parentAreaId": elsewhere, "reason": "x"})).await;
    assert_eq!(error_code(&to_other_site), Some("CONFLICT"), "{to_other_site}");
    let no_reason = call(&app, &owner, "moveArea", "MoveAreaInput", AREA, json!({"areaId": cell, "reason": " "})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(app.event_count(&owner.org).await, before);

    // The cell moves to the top of the site, with a reason shown in its history.
    let moved = call(&app, &owner, "moveArea", "MoveAreaInput", AREA, json!({"areaId": cell, "reason": "cell now stands alone"})).await;
    assert_eq!(moved["data"]["moveArea"]["parentAreaId"], Value::Null, "{moved}");
    let steps = history(&app, &owner, &cell).await;
    let last = steps.last().expect("a step");
    assert_eq!(last["eventType"], "AreaMoved");
    assert_eq!(last["actor"]["id"], owner.member.as_str());
    assert_eq!(last["changes"], json!([{"path": "parentAreaId", "before": line, "after": null}]));
    assert_eq!(last["reason"], "cell now stands alone");

    // An area with an active zone is not archived; once the zone moves out, it is.
    let zone = call(
        &app,
        &owner,
        "createZone",
        "CreateZoneInput",
        "id areaId",
        json!({"siteId": site, "areaId": line, "code": "Z1", "name": "Press"}),
    )
    .await;
    let zone = zone["data"]["createZone"]["id"].as_str().unwrap_or_else(|| panic!("{zone}")).to_owned();
    let before = app.event_count(&owner.org).await;
    let refused = call(&app, &owner, "archiveArea", "ArchiveAreaInput", AREA, json!({"areaId": line, "reason": "closed"})).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    let with_child = call(&app, &owner, "archiveArea", "ArchiveAreaInput", AREA, json!({"areaId": hall, "reason": "closed"})).await;
    assert_eq!(error_code(&with_child), Some("CONFLICT"), "the hall still holds the line: {with_child}");
    assert_eq!(app.event_count(&owner.org).await, before);
    let out = call(&app, &owner, "moveZone", "MoveZoneInput", "areaId", json!({"zoneId": zone, "reason": "line closed"})).await;
    assert_eq!(out["data"]["moveZone"]["areaId"], Value::Null, "{out}");
    let archived = call(&app, &owner, "archiveArea", "ArchiveAreaInput", AREA, json!({"areaId": line, "reason": "closed"})).await;
    assert_eq!(archived["data"]["archiveArea"]["status"], "ARCHIVED", "{archived}");
    let into_archived =
        call(&app, &owner, "moveZone", "MoveZoneInput", "areaId", json!({"zoneId": zone, "areaId": line, "reason": "back"})).await;
    assert_eq!(error_code(&into_archived), Some("VALIDATION"), "{into_archived}");
}

#[tokio::test]
async fn zones_move_between_areas_of_their_site_and_keep_a_headcount_and_an_audit_plan() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let member = app.join(&owner, "mo@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let other_site = app.create_site(&owner, "S2").await;
    let a1 = create_area(&app, &owner, &site, "A1", None).await;
    let a2 = create_area(&app, &owner, &site, "A2", None).await;
    let far = create_area(&app, &owner, &other_site, "F1", None).await;
    const Z: &str = "id areaId headcount auditPlan { templateId cadence auditTypes nextDueAt }";

    let wrong_site =
        call(&app, &owner, "createZone", "CreateZoneInput", Z, json!({"siteId": site, "areaId": far, "code": "Z0", "name": "No"})).await;
    assert_eq!(error_code(&wrong_site), Some("CONFLICT"), "{wrong_site}");
    let created =
        call(&app, &owner, "createZone", "CreateZoneInput", Z, json!({"siteId": site, "areaId": a1, "code": "Z1", "name": "Press"})).await;
    let zone = created["data"]["createZone"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert_eq!(created["data"]["createZone"]["areaId"], a1.as_str());

    // Move: within the site only.
    let before = app.event_count(&owner.org).await;
    let across = call(&app, &owner, "moveZone", "MoveZoneInput", Z, json!({"zoneId": zone, "areaId": far, "reason": "x"})).await;
    assert_eq!(error_code(&across), Some("CONFLICT"), "{across}");
    let by_member = call(&app, &member, "moveZone", "MoveZoneInput", Z, json!({"zoneId": zone, "areaId": a2, "reason": "x"})).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    assert_eq!(app.event_count(&owner.org).await, before);
    let moved = call(&app, &owner, "moveZone", "MoveZoneInput", Z, json!({"zoneId": zone, "areaId": a2, "reason": "re-layout"})).await;
    assert_eq!(moved["data"]["moveZone"]["areaId"], a2.as_str(), "{moved}");

    // Headcount: set, refused when negative, cleared.
    let set =
        call(&app, &owner, "setZoneHeadcount", "SetZoneHeadcountInput", Z, json!({"zoneId": zone, "headcount": 14, "reason": "new shift"}))
            .await;
    assert_eq!(set["data"]["setZoneHeadcount"]["headcount"], 14, "{set}");
    let before = app.event_count(&owner.org).await;
    let negative =
        call(&app, &owner, "setZoneHeadcount", "SetZoneHeadcountInput", Z, json!({"zoneId": zone, "headcount": -1, "reason": "x"})).await;
    assert_eq!(error_code(&negative), Some("VALIDATION"), "{negative}");
    let no_reason =
        call(&app, &owner, "setZoneHeadcount", "SetZoneHeadcountInput", Z, json!({"zoneId": zone, "headcount": 3, "reason": ""})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(app.event_count(&owner.org).await, before);
    let cleared = call(
        &app,
        &owner,
        "setZoneHeadcount",
        "SetZoneHeadcountInput",
        Z,
        json!({"zoneId": zone, "headcount": null, "reason": "use the roster"}),
    )
    .await;
    assert_eq!(cleared["data"]["setZoneHeadcount"]["headcount"], Value::Null, "{cleared}");

    // Audit plan: needs a published template.
    let draft =
        call(&app, &owner, "createTemplateDraft", "CreateTemplateDraftInput", "id", json!({"name": "5S", "scaleMin": 0, "scaleMax": 4}))
            .await;
    let template = draft["data"]["createTemplateDraft"]["id"].as_str().unwrap_or_else(|| panic!("{draft}")).to_owned();
    let plan = json!({"zoneId": zone, "templateId": template, "cadence": "WEEKLY", "auditTypes": ["SELF_AUDIT", "SUPERVISOR"], "nextDueAt": "2026-12-01T08:00:00Z"});
    let before = app.event_count(&owner.org).await;
    let unpublished = call(&app, &owner, "setZoneAuditPlan", "SetZoneAuditPlanInput", Z, plan.clone()).await;
    assert_eq!(error_code(&unpublished), Some("VALIDATION"), "{unpublished}");
    assert_eq!(app.event_count(&owner.org).await, before);
    for (i, section) in ["SORT", "SET_IN_ORDER", "SHINE", "STANDARDIZE", "SUSTAIN"].iter().enumerate() {
        let item = json!({"templateId": template, "itemId": format!("S{i}"), "section": section, "text": "Check", "weight": "1"});
        let added = call(&app, &owner, "addTemplateItem", "AddTemplateItemInput", "id", item).await;
        assert!(added["errors"].is_null(), "{added}");
    }
    let bands = json!({"templateId": template, "bands": [{"label": "Good", "minPct": "60"}, {"label": "Poor", "minPct": "0"}]});
    call(&app, &owner, "setTemplateBands", "SetTemplateBandsInput", "id", bands).await;
    let published = call(&app, &owner, "publishTemplate", "TemplateInput", "status", json!({"templateId": template})).await;
    assert_eq!(published["data"]["publishTemplate"]["status"], "PUBLISHED", "{published}");
    let planned = call(&app, &owner, "setZoneAuditPlan", "SetZoneAuditPlanInput", Z, plan.clone()).await;
    assert_eq!(
        planned["data"]["setZoneAuditPlan"]["auditPlan"],
        json!({"templateId": template, "cadence": "WEEKLY", "auditTypes": ["SELF_AUDIT", "SUPERVISOR"], "nextDueAt": "2026-12-01T08:00:00+00:00"}),
        "{planned}"
    );
    let mut monthly = plan.clone();
    monthly["cadence"] = json!("MONTHLY");
    monthly["reason"] = json!("fewer audits after stabilising");
    call(&app, &owner, "setZoneAuditPlan", "SetZoneAuditPlanInput", Z, monthly).await;

    let steps = history(&app, &owner, &zone).await;
    let types: Vec<&str> = steps.iter().map(|s| s["eventType"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        types,
        ["ZoneCreated", "ZoneMoved", "ZoneHeadcountChanged", "ZoneHeadcountChanged", "ZoneAuditPlanChanged", "ZoneAuditPlanChanged"]
    );
    assert_eq!(steps[1]["changes"], json!([{"path": "areaId", "before": a1, "after": a2}]));
    assert_eq!(steps[1]["reason"], "re-layout");
    assert_eq!(steps[2]["changes"], json!([{"path": "headcount", "before": null, "after": 14}]));
    assert_eq!(steps[3]["changes"], json!([{"path": "headcount", "before": 14, "after": null}]));
    assert_eq!(steps[3]["reason"], "use the roster");
    assert_eq!(steps[5]["changes"], json!([{"path": "auditPlan.cadence", "before": "weekly", "after": "monthly"}]));
    assert_eq!(steps[5]["reason"], "fewer audits after stabilising");
}

#[tokio::test]
async fn areas_are_under_row_level_security_for_the_app_role() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("ann@a.example", "Org A").await;
    let b = app.sign_up("bob@b.example", "Org B").await;
    let site = app.create_site(&a, "S1").await;
    let area = create_area(&app, &a, &site, "A1", None).await;

    let read = app.gql(Some(&b.token), "query($id: ID!) { area(id: $id) { id } }", json!({"id": area})).await;
    assert_eq!(read["data"]["area"], Value::Null, "{read}");
    let rename = call(&app, &b, "renameArea", "RenameAreaInput", "id", json!({"areaId": area, "name": "Stolen"})).await;
    assert_eq!(error_code(&rename), Some("NOT_FOUND"), "{rename}");

    let mut conn = sqlx::PgConnection::connect(&app.app_url()).await.expect("app connection");
    let (enabled, forced): (bool, bool) =
        sqlx::query_as("select relrowsecurity, relforcerowsecurity from pg_class where relname = 'areas'")
            .fetch_one(&mut conn)
            .await
            .expect("areas");
    assert!(enabled && forced, "areas must have row-level security enabled and forced");
    let unscoped: i64 = sqlx::query_scalar("select count(*) from areas").fetch_one(&mut conn).await.expect("count");
    assert_eq!(unscoped, 0, "without a tenant the app role sees no area");
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("select set_config('app.org_id', $1, true)").bind(&b.org).execute(&mut *tx).await.expect("tenant");
    let seen_by_b: i64 = sqlx::query_scalar("select count(*) from areas").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(seen_by_b, 0, "org B sees none of org A's areas");
    let forged = sqlx::query("insert into areas (org_id, area_id, site_id, kind, code, name, status) values ($1::uuid, gen_random_uuid(), $2::uuid, 'area', 'X', 'X', 'ACTIVE')")
        .bind(&a.org)
        .bind(&site)
        .execute(&mut *tx)
        .await;
    assert!(forged.is_err(), "org B cannot write a row of org A");
    tx.rollback().await.expect("rollback");
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("select set_config('app.org_id', $1, true)").bind(&a.org).execute(&mut *tx).await.expect("tenant");
    let seen_by_a: i64 = sqlx::query_scalar("select count(*) from areas").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(seen_by_a, 1);
    tx.rollback().await.expect("rollback");
}

const MEMBER: &str = "id status displayName employeeNumber shift homeZoneId siteScope { allSites siteIds }";

#[tokio::test]
async fn a_members_site_scope_home_zone_and_profile() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let mo = app.join(&owner, "mo@a.example", "MEMBER").await;
    let peer = app.join(&owner, "pe@a.example", "MEMBER").await;
    let s1 = app.create_site(&owner, "S1").await;
    let s2 = app.create_site(&owner, "S2").await;
    let z1 = app.create_zone(&owner, &s1, "Z1", "Press").await;
    let z2 = app.create_zone(&owner, &s2, "Z2", "Paint").await;
    let assign = |member: &str| json!({"zoneId": z2, "memberId": member});
    call(&app, &owner, "assignZoneOwner", "AssignZoneOwnerInput", "id", assign(&mo.member)).await;

    // Refused, nothing changed: a zone outside the new scope, an unknown site, a member acting.
    let before = app.event_count(&owner.org).await;
    let scope = json!({"memberId": mo.member, "siteIds": [s1], "reason": "works in S1 only"});
    let owns_outside = call(&app, &owner, "changeMemberSiteScope", "ChangeMemberSiteScopeInput", MEMBER, scope.clone()).await;
    assert_eq!(error_code(&owns_outside), Some("CONFLICT"), "{owns_outside}");
    let unknown = json!({"memberId": mo.member, "siteIds": [z1], "reason": "x"});
    let unknown = call(&app, &owner, "changeMemberSiteScope", "ChangeMemberSiteScopeInput", MEMBER, unknown).await;
    assert_eq!(error_code(&unknown), Some("VALIDATION"), "{unknown}");
    let by_member = call(&app, &peer, "changeMemberSiteScope", "ChangeMemberSiteScopeInput", MEMBER, scope.clone()).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    assert_eq!(app.event_count(&owner.org).await, before);

    call(&app, &owner, "assignZoneOwner", "AssignZoneOwnerInput", "id", assign(&peer.member)).await;
    let scoped = call(&app, &owner, "changeMemberSiteScope", "ChangeMemberSiteScopeInput", MEMBER, scope).await;
    assert_eq!(scoped["data"]["changeMemberSiteScope"]["siteScope"], json!({"allSites": false, "siteIds": [s1]}), "{scoped}");
    let steps = history(&app, &owner, &mo.member).await;
    let last = steps.last().expect("a step");
    assert_eq!(last["eventType"], "MemberSiteScopeChanged");
    assert_eq!(last["changes"], json!([{"path": "siteScope", "before": "all", "after": {"sites": [s1]}}]));
    assert_eq!(last["reason"], "works in S1 only");
    let outside = call(&app, &owner, "assignZoneOwner", "AssignZoneOwnerInput", "id", assign(&mo.member)).await;
    assert_eq!(error_code(&outside), Some("CONFLICT"), "a zone owner works in the zone's site: {outside}");

    // Home zone: inside the scope, set by the member themself; a peer cannot set it.
    let home = |zone: &str| json!({"memberId": mo.member, "zoneId": zone});
    let outside = call(&app, &mo, "setHomeZone", "SetHomeZoneInput", MEMBER, home(&z2)).await;
    assert_eq!(error_code(&outside), Some("CONFLICT"), "{outside}");
    let by_peer = call(&app, &peer, "setHomeZone", "SetHomeZoneInput", MEMBER, home(&z1)).await;
    assert_eq!(error_code(&by_peer), Some("FORBIDDEN"), "{by_peer}");
    let homed = call(&app, &mo, "setHomeZone", "SetHomeZoneInput", MEMBER, home(&z1)).await;
    assert_eq!(homed["data"]["setHomeZone"]["homeZoneId"], z1.as_str(), "{homed}");

    // Profile: the member patches it; the employee number is personal data.
    let bad = json!({"memberId": mo.member, "displayName": "   "});
    let bad = call(&app, &mo, "updateMemberProfile", "UpdateMemberProfileInput", MEMBER, bad).await;
    assert_eq!(error_code(&bad), Some("VALIDATION"), "{bad}");
    let by_peer =
        call(&app, &peer, "updateMemberProfile", "UpdateMemberProfileInput", MEMBER, json!({"memberId": mo.member, "shift": "Night"}))
            .await;
    assert_eq!(error_code(&by_peer), Some("FORBIDDEN"), "{by_peer}");
    let patch = json!({"memberId": mo.member, "displayName": "Mo Stone", "employeeNumber": "E-042", "shift": "Night"});
    let updated = call(&app, &mo, "updateMemberProfile", "UpdateMemberProfileInput", MEMBER, patch).await;
    let m = &updated["data"]["updateMemberProfile"];
    assert_eq!(
        (m["displayName"].as_str(), m["employeeNumber"].as_str(), m["shift"].as_str()),
        (Some("Mo Stone"), Some("E-042"), Some("Night")),
        "{updated}"
    );
    let seen_by_peer =
        app.gql(Some(&peer.token), "query($id: ID!) { member(id: $id) { displayName employeeNumber } }", json!({"id": mo.member})).await;
    assert_eq!(seen_by_peer["data"]["member"], json!({"displayName": "Mo Stone", "employeeNumber": null}), "{seen_by_peer}");
    let steps = history(&app, &owner, &mo.member).await;
    let last = steps.last().expect("a step");
    assert_eq!(last["eventType"], "MemberProfileChanged");
    assert_eq!(last["actor"]["id"], mo.member.as_str());
    assert_eq!(
        last["changes"],
        json!([{"path": "displayName", "before": "mo@a.example", "after": "Mo Stone"},
               {"path": "employeeNumber", "before": null, "after": "E-042"},
               {"path": "shift", "before": null, "after": "Night"}])
    );
}

const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) { token } }";

#[tokio::test]
async fn a_suspended_member_is_signed_out_and_cannot_sign_in_until_reactivated() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let admin = app.join(&owner, "ad@a.example", "ADMIN").await;
    let co_owner = app.join(&owner, "co@a.example", "OWNER").await;
    let mo = app.join(&owner, "mo@a.example", "MEMBER").await;
    let status = |who: &Session| json!({"memberId": who.member, "reason": "investigation"});

    let before = app.event_count(&owner.org).await;
    let by_member = call(&app, &mo, "suspendMember", "MemberStatusInput", MEMBER, status(&admin)).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let herself = call(&app, &admin, "suspendMember", "MemberStatusInput", MEMBER, status(&admin)).await;
    assert_eq!(error_code(&herself), Some("FORBIDDEN"), "{herself}");
    let an_owner = call(&app, &admin, "suspendMember", "MemberStatusInput", MEMBER, status(&co_owner)).await;
    assert_eq!(error_code(&an_owner), Some("FORBIDDEN"), "only an owner suspends an owner: {an_owner}");
    let no_reason = call(&app, &admin, "suspendMember", "MemberStatusInput", MEMBER, json!({"memberId": mo.member, "reason": ""})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(app.event_count(&owner.org).await, before);
    let me = app.gql(Some(&mo.token), "{ me { status } }", json!({})).await;
    assert_eq!(me["data"]["me"]["status"], "ACTIVE", "{me}");

    let suspended = call(&app, &admin, "suspendMember", "MemberStatusInput", MEMBER, status(&mo)).await;
    assert_eq!(suspended["data"]["suspendMember"]["status"], "SUSPENDED", "{suspended}");
    let me = app.gql(Some(&mo.token), "{ me { status } }", json!({})).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "the suspended member's session ended: {me}");
    let log_in = json!({"input": {"email": "mo@a.example", "password": "another good password", "organizationId": owner.org}});
    let refused = app.gql(None, LOG_IN, log_in.clone()).await;
    assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"), "{refused}");
    let again = call(&app, &admin, "suspendMember", "MemberStatusInput", MEMBER, status(&mo)).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");

    let steps = history(&app, &owner, &mo.member).await;
    let last = steps.last().expect("a step");
    assert_eq!(last["eventType"], "MemberSuspended");
    assert_eq!(last["actor"]["id"], admin.member.as_str());
    assert_eq!(last["changes"], json!([{"path": "status", "before": "ACTIVE", "after": "SUSPENDED"}]));
    assert_eq!(last["reason"], "investigation");

    let reactivated =
        call(&app, &admin, "reactivateMember", "MemberStatusInput", MEMBER, json!({"memberId": mo.member, "reason": "cleared"})).await;
    assert_eq!(reactivated["data"]["reactivateMember"]["status"], "ACTIVE", "{reactivated}");
    let signed_in = app.gql(None, LOG_IN, log_in).await;
    let token = signed_in["data"]["logIn"]["token"].as_str().unwrap_or_else(|| panic!("{signed_in}")).to_owned();
    let me = app.gql(Some(&token), "{ me { status } }", json!({})).await;
    assert_eq!(me["data"]["me"]["status"], "ACTIVE", "{me}");

    // Owners suspend owners while another active owner remains.
    let co = call(&app, &owner, "suspendMember", "MemberStatusInput", MEMBER, status(&co_owner)).await;
    assert_eq!(co["data"]["suspendMember"]["status"], "SUSPENDED", "{co}");
}

#[tokio::test]
async fn a_sites_timezone_changes_with_a_reason() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let mo = app.join(&owner, "mo@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let change = |timezone: &str, reason: &str| json!({"siteId": site, "timezone": timezone, "reason": reason});

    let before = app.event_count(&owner.org).await;
    let unknown = call(&app, &owner, "changeSiteTimezone", "ChangeSiteTimezoneInput", "timezone", change("Mars/Olympus", "x")).await;
    assert_eq!(error_code(&unknown), Some("VALIDATION"), "{unknown}");
    let no_reason = call(&app, &owner, "changeSiteTimezone", "ChangeSiteTimezoneInput", "timezone", change("Europe/Lisbon", "")).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    let by_member = call(&app, &mo, "changeSiteTimezone", "ChangeSiteTimezoneInput", "timezone", change("Europe/Lisbon", "x")).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let same = call(&app, &owner, "changeSiteTimezone", "ChangeSiteTimezoneInput", "timezone", change("Europe/Berlin", "x")).await;
    assert_eq!(error_code(&same), Some("CONFLICT"), "{same}");
    assert_eq!(app.event_count(&owner.org).await, before);

    let changed =
        call(&app, &owner, "changeSiteTimezone", "ChangeSiteTimezoneInput", "timezone", change("Europe/Lisbon", "plant relocated")).await;
    assert_eq!(changed["data"]["changeSiteTimezone"]["timezone"], "Europe/Lisbon", "{changed}");
    let steps = history(&app, &owner, &site).await;
    let last = steps.last().expect("a step");
    assert_eq!(last["eventType"], "SiteTimezoneChanged");
    assert_eq!(last["changes"], json!([{"path": "timezone", "before": "Europe/Berlin", "after": "Europe/Lisbon"}]));
    assert_eq!(last["reason"], "plant relocated");
}

const SETTINGS: &str = "settings { defaultCurrency fiscalYearStartMonth defaultTimezone fiveSCountedAuditTypes fiveSLookbackDays \
                        kaizenVerifierThresholdAmount redTagHoldDays aAckMinutes reasonCodes defectSlaHoursA }";

#[tokio::test]
async fn organisation_settings_are_patched_and_kpi_settings_need_a_reason() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let admin = app.join(&owner, "ad@a.example", "ADMIN").await;
    let mo = app.join(&owner, "mo@a.example", "MEMBER").await;
    let patch = |input: Value| {
        let (app, token) = (&app, admin.token.clone());
        async move {
            let query = format!(
                "mutation($input: ChangeOrganizationSettingsInput!) {{ changeOrganizationSettings(input: $input) {{ {SETTINGS} }} }}"
            );
            app.gql(Some(&token), &query, json!({"input": input})).await
        }
    };
    let initial = app.gql(Some(&owner.token), &format!("{{ organization {{ {SETTINGS} }} }}"), json!({})).await;
    let initial = initial["data"]["organization"]["settings"].clone();
    assert_eq!(initial["defaultCurrency"], "EUR", "{initial}");
    assert_eq!(initial["reasonCodes"].as_array().map(Vec::len), Some(6));

    // Refused, nothing changed: no reason for KPI settings, a bad month, a member acting.
    let before = app.event_count(&owner.org).await;
    let no_reason = patch(json!({"fiveSLookbackDays": 30, "aAckMinutes": 15})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(no_reason["errors"][0]["extensions"]["field"], "reason", "{no_reason}");
    let bad_month = patch(json!({"fiscalYearStartMonth": 13})).await;
    assert_eq!(error_code(&bad_month), Some("VALIDATION"), "{bad_month}");
    let bad_currency = patch(json!({"defaultCurrency": "EURO"})).await;
    assert_eq!(error_code(&bad_currency), Some("VALIDATION"), "{bad_currency}");
    let by_member = app
        .gql(
            Some(&mo.token),
            "mutation($input: ChangeOrganizationSettingsInput!) { changeOrganizationSettings(input: $input) { id } }",
            json!({"input": {"redTagHoldDays": 10}}),
        )
        .await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    assert_eq!(app.event_count(&owner.org).await, before);
    let unchanged = app.gql(Some(&owner.token), &format!("{{ organization {{ {SETTINGS} }} }}"), json!({})).await;
    assert_eq!(unchanged["data"]["organization"]["settings"], initial);

    // General settings need no reason.
    let general = patch(json!({"defaultCurrency": "usd", "fiscalYearStartMonth": 4, "defaultTimezone": "America/Chicago",
                               "redTagHoldDays": 14, "reasonCodes": ["DATA_ENTRY_ERROR", "OTHER"]}))
    .await;
    let s = &general["data"]["changeOrganizationSettings"]["settings"];
    assert_eq!((s["defaultCurrency"].as_str(), s["fiscalYearStartMonth"].as_i64()), (Some("USD"), Some(4)), "{general}");
    assert_eq!(s["reasonCodes"], json!(["DATA_ENTRY_ERROR", "OTHER"]));
    // KPI settings with a reason.
    let kpi = patch(json!({"fiveSLookbackDays": 30, "fiveSCountedAuditTypes": ["SUPERVISOR", "MANAGEMENT"], "aAckMinutes": 15,
                           "kaizenVerifierThresholdAmount": "5000", "reason": "new lean programme"}))
    .await;
    let s = &kpi["data"]["changeOrganizationSettings"]["settings"];
    assert_eq!(s["fiveSLookbackDays"], 30, "{kpi}");
    assert_eq!(s["fiveSCountedAuditTypes"], json!(["SUPERVISOR", "MANAGEMENT"]));
    assert_eq!((s["aAckMinutes"].as_i64(), s["kaizenVerifierThresholdAmount"].as_str()), (Some(15), Some("5000")));
    assert_eq!(s["defectSlaHoursA"], initial["defectSlaHoursA"], "untouched settings stay");

    let steps = history(&app, &owner, &owner.org).await;
    let last = steps.last().expect("a step");
    assert_eq!(last["eventType"], "OrganizationSettingsChanged");
    assert_eq!(last["actor"]["id"], admin.member.as_str());
    assert_eq!(last["reason"], "new lean programme");
    let changes = last["changes"].as_array().cloned().unwrap_or_default();
    let paths: Vec<&str> = changes.iter().map(|c| c["path"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        paths,
        [
            "settings.a_ack_minutes",
            "settings.five_s.counted_audit_types",
            "settings.five_s.lookback_days",
            "settings.kaizen.verifier_threshold_amount"
        ]
    );
    assert_eq!(changes[0]["before"], 60);
    assert_eq!(changes[0]["after"], 15);
    let general_step = &steps[steps.len() - 2];
    assert_eq!(general_step["reason"], Value::Null);
    assert!(
        general_step["changes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["path"] == "settings.default_currency" && c["before"] == "EUR" && c["after"] == "USD")),
        "{general_step}"
    );
}

/// Runs one statement as the application role in `org` and commits; the commit's error, if any.
async fn commit_as_app(app: &TestApp, org: &str, sql: &str, binds: [&str; 2]) -> Result<(), String> {
    let mut conn = sqlx::PgConnection::connect(&app.app_url()).await.expect("app connection");
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("select set_config('app.org_id', $1, true)").bind(org).execute(&mut *tx).await.expect("tenant");
    sqlx::query(sql).bind(binds[0]).bind(binds[1]).execute(&mut *tx).await.expect("the statement itself passes");
    tx.commit().await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_database_refuses_area_cycles_and_zone_owners_outside_their_site_scope_at_commit() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let mo = app.join(&owner, "mo@a.example", "MEMBER").await;
    let s1 = app.create_site(&owner, "S1").await;
    let s2 = app.create_site(&owner, "S2").await;
    let a = create_area(&app, &owner, &s1, "A", None).await;
    let b = create_area(&app, &owner, &s1, "B", Some(&a)).await;
    let z2 = app.create_zone(&owner, &s2, "Z2", "Paint").await;
    call(&app, &owner, "assignZoneOwner", "AssignZoneOwnerInput", "id", json!({"zoneId": z2, "memberId": mo.member})).await;

    let cycle = commit_as_app(&app, &owner.org, "update areas set parent_area_id = $1::uuid where area_id = $2::uuid", [&b, &a]).await;
    assert!(cycle.is_err_and(|e| e.contains("areas_form_a_tree") || e.contains("own ancestor")), "a cycle is refused at commit");
    let scope =
        commit_as_app(&app, &owner.org, "update members set site_scope = array[$1::uuid] where member_id = $2::uuid", [&s1, &mo.member])
            .await;
    assert!(scope.is_err_and(|e| e.contains("outside their site scope")), "an owned zone outside the scope is refused at commit");
    let parent = app.gql(Some(&owner.token), "query($id: ID!) { area(id: $id) { parentAreaId } }", json!({"id": a})).await;
    assert_eq!(parent["data"]["area"]["parentAreaId"], Value::Null, "{parent}");
}

#[tokio::test]
async fn an_invitation_limits_the_new_member_to_some_sites() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@scope.example", "Scoped").await;
    let s1 = app.create_site(&owner, "S1").await;
    const INVITE: &str =
        "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { member { id siteScope { allSites siteIds } } } }";
    let events = app.event_count(&owner.org).await;
    let unknown = app
        .gql(
            Some(&owner.token),
            INVITE,
            json!({"input": {"email": "x@scope.example", "role": "MEMBER", "siteIds": [uuid::Uuid::now_v7().to_string()]}}),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("VALIDATION"), "{unknown}");
    let none = app.gql(Some(&owner.token), INVITE, json!({"input": {"email": "y@scope.example", "role": "MEMBER", "siteIds": []}})).await;
    assert_eq!(error_code(&none), Some("VALIDATION"), "{none}");
    assert_eq!(app.event_count(&owner.org).await, events, "refused invitations record nothing");

    let invited =
        app.gql(Some(&owner.token), INVITE, json!({"input": {"email": "z@scope.example", "role": "MEMBER", "siteIds": [s1]}})).await;
    let member = &invited["data"]["inviteMember"]["member"];
    assert_eq!(member["siteScope"], json!({"allSites": false, "siteIds": [s1]}), "{invited}");
    let everywhere = app.gql(Some(&owner.token), INVITE, json!({"input": {"email": "w@scope.example", "role": "MEMBER"}})).await;
    assert_eq!(everywhere["data"]["inviteMember"]["member"]["siteScope"]["allSites"], true, "{everywhere}");
}

#[tokio::test]
async fn a_zone_with_open_work_is_archived_only_by_transferring_its_defects_and_kaizens() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@arch.example", "Archiving").await;
    let site = app.create_site(&owner, "S1").await;
    let other_site = app.create_site(&owner, "S2").await;
    let old = app.create_zone(&owner, &site, "OLD", "Old line").await;
    let new = app.create_zone(&owner, &site, "NEW", "New line").await;
    let elsewhere = app.create_zone(&owner, &other_site, "FAR", "Other plant").await;
    let raise = json!({"zoneId": old, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": "Dent", "description": "on the hood"});
    let defect =
        call(&app, &owner, "raiseDefect", "RaiseDefectInput", "id", raise).await["data"]["raiseDefect"]["id"].as_str().unwrap().to_owned();
    let draft = json!({"zoneId": old, "title": "Shadow board", "category": "QUALITY", "problem": "tools missing", "proposal": "board"});
    let kaizen =
        call(&app, &owner, "draftKaizen", "DraftKaizenInput", "id", draft).await["data"]["draftKaizen"]["id"].as_str().unwrap().to_owned();

    let archive = |extra: Value| {
        let mut input = json!({"zoneId": old, "reason": "line merged"});
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        input
    };
    let events = app.event_count(&owner.org).await;
    let refused = call(&app, &owner, "archiveZone", "ArchiveZoneInput", "status", archive(json!({}))).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "open work keeps the zone: {refused}");
    let far = call(&app, &owner, "archiveZone", "ArchiveZoneInput", "status", archive(json!({"transferToZoneId": elsewhere}))).await;
    assert_eq!(error_code(&far), Some("VALIDATION"), "never to another site: {far}");
    assert_eq!(app.event_count(&owner.org).await, events, "refused archives change nothing");

    let archived = call(&app, &owner, "archiveZone", "ArchiveZoneInput", "status", archive(json!({"transferToZoneId": new}))).await;
    assert_eq!(archived["data"]["archiveZone"]["status"], "ARCHIVED", "{archived}");
    let moved = app
        .gql(
            Some(&owner.token),
            "query($d: ID!, $k: ID!) { defect(id: $d) { zoneId } kaizen(id: $k) { zoneId } history(entityId: $d) { eventType reason changes { path before after } } }",
            json!({"d": defect, "k": kaizen}),
        )
        .await;
    assert_eq!(moved["data"]["defect"]["zoneId"], new.as_str(), "{moved}");
    assert_eq!(moved["data"]["kaizen"]["zoneId"], new.as_str(), "{moved}");
    let transfer = moved["data"]["history"].as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!(transfer["eventType"], "DefectTransferred");
    assert_eq!(transfer["reason"], "line merged");
    assert_eq!(transfer["changes"][0], json!({"path": "zoneId", "before": old, "after": new}));
}

#[tokio::test]
async fn a_member_acts_and_is_assigned_only_within_their_site_scope() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@sites.example", "Two plants").await;
    let home = app.create_site(&owner, "HOME").await;
    let away = app.create_site(&owner, "AWAY").await;
    let home_zone = app.create_zone(&owner, &home, "H-1", "Home line").await;
    let away_zone = app.create_zone(&owner, &away, "A-1", "Away line").await;
    let local = app.join(&owner, "local@sites.example", "MEMBER").await;
    let scoped = call(
        &app,
        &owner,
        "changeMemberSiteScope",
        "ChangeMemberSiteScopeInput",
        "id",
        json!({"memberId": local.member, "siteIds": [home], "reason": "works at HOME only"}),
    )
    .await;
    assert!(scoped["errors"].is_null(), "{scoped}");

    let raise = |zone: &str| json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": "Scratch", "description": "seen"});
    let events = app.event_count(&owner.org).await;
    let away_raise = call(&app, &local, "raiseDefect", "RaiseDefectInput", "id", raise(&away_zone)).await;
    assert_eq!(error_code(&away_raise), Some("FORBIDDEN"), "{away_raise}");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing recorded");
    let home_raise = call(&app, &local, "raiseDefect", "RaiseDefectInput", "id", raise(&home_zone)).await;
    assert!(home_raise["errors"].is_null(), "{home_raise}");

    let away_defect = call(&app, &owner, "raiseDefect", "RaiseDefectInput", "id", raise(&away_zone)).await["data"]["raiseDefect"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assigned =
        call(&app, &owner, "assignDefect", "AssignDefectInput", "id", json!({"defectId": away_defect, "assigneeId": local.member})).await;
    assert_eq!(error_code(&assigned), Some("VALIDATION"), "an assignee works in the defect's site: {assigned}");
}
