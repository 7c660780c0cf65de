//! Soft deletion with a recovery window (zones, defects, kaizens, A3 cases, members) and
//! workspace cancellation: hidden from every view at once, recorded with who/when/why,
//! recoverable within the window and refused after it; a cancelled workspace is locked,
//! restorable within its grace period, then purged while its events still verify.

use std::process::Command;

use gemba_tests::{Session, TestApp, error_code, gemba_bin};
use serde_json::{Value, json};

use crate::read_models::{ok, raise};

async fn delete(app: &TestApp, who: &Session, kind: &str, id: &str, reason: &str) -> Value {
    app.gql(
        Some(&who.token),
        "mutation($input: DeleteRecordInput!) { deleteRecord(input: $input) { id kind deletedAt recoverableUntil } }",
        json!({"input": {"kind": kind, "id": id, "reason": reason}}),
    )
    .await
}

async fn recover(app: &TestApp, who: &Session, id: &str) -> Value {
    app.gql(
        Some(&who.token),
        "mutation($input: RecoverRecordInput!) { recoverRecord(input: $input) { id } }",
        json!({"input": {"id": id, "reason": "deleted by mistake"}}),
    )
    .await
}

/// Ids listed by a register connection.
async fn register(app: &TestApp, who: &Session, field: &str, id_field: &str) -> Vec<String> {
    let r = app.gql(Some(&who.token), &format!("query {{ {field}(first: 100) {{ nodes {{ {id_field} }} }} }}"), json!({})).await;
    assert!(r["errors"].is_null(), "{field}: {r}");
    r["data"][field]["nodes"].as_array().unwrap().iter().map(|n| n[id_field].as_str().unwrap().to_owned()).collect()
}

async fn lookup(app: &TestApp, who: &Session, field: &str, id: &str) -> Value {
    let r = app.gql(Some(&who.token), &format!("query($id: ID!) {{ {field}(id: $id) {{ id }} }}"), json!({"id": id})).await;
    assert!(r["errors"].is_null(), "{field}: {r}");
    r["data"][field].clone()
}

async fn kpis(app: &TestApp, who: &Session) -> Value {
    let r = app
        .gql(
            Some(&who.token),
            "query { scopeKpis(window: ROLLING_30) { closedInPeriod raisedInPeriod ideasSubmitted activeZones } }",
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["scopeKpis"].clone()
}

async fn leaders(app: &TestApp, who: &Session) -> Vec<String> {
    let r = app.gql(Some(&who.token), "query { leaderboard(window: MONTH) { top { memberId points } } }", json!({})).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["leaderboard"]["top"].as_array().unwrap().iter().map(|e| e["memberId"].as_str().unwrap().to_owned()).collect()
}

async fn zone_leaders(app: &TestApp, who: &Session) -> Vec<String> {
    let r = app.gql(Some(&who.token), "query { zoneLeaderboard(window: ROLLING_30) { byPointsPerHead { zoneId } } }", json!({})).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["zoneLeaderboard"]["byPointsPerHead"].as_array().unwrap().iter().map(|e| e["zoneId"].as_str().unwrap().to_owned()).collect()
}

async fn members(app: &TestApp, who: &Session) -> Vec<String> {
    register(app, who, "members", "id").await
}

async fn zones(app: &TestApp, who: &Session) -> Vec<String> {
    register(app, who, "zones", "id").await
}

/// Moves the clock 31 days on (past a recovery window or grace period), signing `who` in
/// again on the way, since sessions last 30 days.
async fn later(app: &TestApp, who: &Session, email: &str, password: &str) -> Session {
    app.clock.advance(chrono::Duration::days(29));
    let session = app.log_in(who, email, password).await;
    app.clock.advance(chrono::Duration::days(2));
    session
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

#[tokio::test]
async fn a_deleted_record_leaves_every_view_at_once_refuses_commands_and_comes_back_when_recovered() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@del.example", "Deletions").await;
    let fixer = app.join(&owner, "fixer@del.example", "MEMBER").await;
    let coach = app.join(&owner, "coach@del.example", "MEMBER").await;
    let site = app.create_site(&owner, "D1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    ok(&app, &owner, "setHomeZone", "SetHomeZoneInput", json!({"memberId": fixer.member, "zoneId": zone})).await;

    // A closed defect (points for the fixer), a draft kaizen and an A3 case.
    let defect = id(&ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, "Leak", "B", "OPERATOR")).await);
    ok(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": defect, "assigneeId": fixer.member})).await;
    ok(&app, &fixer, "resolveDefect", "ResolveDefectInput", json!({"defectId": defect, "countermeasure": "fixed"})).await;
    ok(&app, &owner, "verifyDefect", "VerifyDefectInput", json!({"defectId": defect})).await;
    let kaizen = id(&ok(
        &app,
        &fixer,
        "draftKaizen",
        "DraftKaizenInput",
        json!({"zoneId": zone, "title": "Drip tray", "category": "QUALITY", "problem": "oil", "proposal": "tray"}),
    )
    .await);
    ok(&app, &fixer, "submitKaizenAsImplemented", "KaizenInput", json!({"kaizenId": kaizen})).await;
    let a3 =
        id(&ok(&app, &owner, "openA3", "OpenA3Input", json!({"theme": "Scrap doubled", "ownerId": owner.member, "coachId": coach.member}))
            .await);

    assert!(register(&app, &owner, "defectRegister", "defectId").await.contains(&defect));
    assert!(register(&app, &owner, "kaizenRegister", "kaizenId").await.contains(&kaizen));
    assert!(register(&app, &owner, "a3Register", "a3Id").await.contains(&a3));
    assert!(leaders(&app, &owner).await.contains(&fixer.member));
    let before = kpis(&app, &owner).await;
    assert_eq!((before["closedInPeriod"].as_i64(), before["ideasSubmitted"].as_i64()), (Some(1), Some(1)), "{before}");

    // Only Owners and Admins delete, always with a reason; a zone with open work, an Owner
    // and oneself are refused.
    assert_eq!(error_code(&delete(&app, &fixer, "DEFECT", &defect, "duplicate").await), Some("FORBIDDEN"));
    assert_eq!(error_code(&delete(&app, &owner, "DEFECT", &defect, "").await), Some("VALIDATION"));
    let open_work = delete(&app, &owner, "ZONE", &zone, "line dismantled").await;
    assert_eq!(error_code(&open_work), Some("CONFLICT"), "the kaizen is open: {open_work}");
    assert_eq!(error_code(&delete(&app, &owner, "MEMBER", &owner.member, "leaving").await), Some("CONFLICT"));
    assert_eq!(error_code(&delete(&app, &owner, "KAIZEN", &defect, "wrong kind").await), Some("NOT_FOUND"));

    let events_before = app.event_count(&owner.org).await;
    for (kind, target) in [("DEFECT", &defect), ("KAIZEN", &kaizen), ("A3_CASE", &a3), ("MEMBER", &fixer.member)] {
        let r = delete(&app, &owner, kind, target, "entered in error").await;
        assert!(r["errors"].is_null(), "{kind}: {r}");
        assert_eq!(r["data"]["deleteRecord"]["kind"], kind);
    }
    assert_eq!(app.event_count(&owner.org).await, events_before + 4, "one event per deletion, nothing else rewritten");

    // Gone from every view at once (the mutations' answers waited for the read models).
    assert!(!register(&app, &owner, "defectRegister", "defectId").await.contains(&defect));
    assert!(!register(&app, &owner, "kaizenRegister", "kaizenId").await.contains(&kaizen));
    assert!(!register(&app, &owner, "a3Register", "a3Id").await.contains(&a3));
    assert!(lookup(&app, &owner, "defect", &defect).await.is_null());
    assert!(lookup(&app, &owner, "kaizen", &kaizen).await.is_null());
    assert!(lookup(&app, &owner, "a3Case", &a3).await.is_null());
    assert!(lookup(&app, &owner, "member", &fixer.member).await.is_null());
    assert!(!members(&app, &owner).await.contains(&fixer.member));
    assert!(!leaders(&app, &owner).await.contains(&fixer.member));
    let hidden = kpis(&app, &owner).await;
    assert_eq!((hidden["closedInPeriod"].as_i64(), hidden["ideasSubmitted"].as_i64()), (Some(0), Some(0)), "{hidden}");
    // The deleted member is signed out and cannot sign in.
    assert_eq!(error_code(&app.gql(Some(&fixer.token), "query { me { id } }", json!({})).await), Some("UNAUTHENTICATED"));
    let log_in = "mutation($input: LogInInput!) { logIn(input: $input) { token } }";
    let credentials = json!({"input": {"email": "fixer@del.example", "password": "another good password", "organizationId": owner.org}});
    assert_eq!(error_code(&app.gql(None, log_in, credentials.clone()).await), Some("UNAUTHENTICATED"));

    // Every other command on a deleted record is refused with a typed error.
    let reopen = app
        .gql(
            Some(&owner.token),
            "mutation($input: DefectReasonInput!) { reopenDefect(input: $input) { id } }",
            json!({"input": {"defectId": defect, "reason": "leaks again"}}),
        )
        .await;
    assert_eq!(error_code(&reopen), Some("DELETED"), "{reopen}");
    let close = app
        .gql(
            Some(&owner.token),
            "mutation($input: KaizenInput!) { closeKaizen(input: $input) { id } }",
            json!({"input": {"kaizenId": kaizen}}),
        )
        .await;
    assert_eq!(error_code(&close), Some("DELETED"), "{close}");
    assert_eq!(error_code(&delete(&app, &owner, "DEFECT", &defect, "again").await), Some("DELETED"));
    let assign = app
        .gql(
            Some(&owner.token),
            "mutation($input: SetHomeZoneInput!) { setHomeZone(input: $input) { id } }",
            json!({"input": {"memberId": fixer.member, "zoneId": zone}}),
        )
        .await;
    assert_eq!(error_code(&assign), Some("DELETED"), "{assign}");

    // The audit trail keeps the deletion: who, when, why.
    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType recordedAt reason actor { id } changes { path before after } } }",
            json!({"id": defect}),
        )
        .await;
    let entries = history["data"]["history"].as_array().unwrap_or_else(|| panic!("{history}"));
    let deletion = entries.iter().find(|e| e["eventType"] == "DefectDeleted").unwrap_or_else(|| panic!("{history}"));
    assert_eq!(deletion["reason"], "entered in error");
    assert_eq!(deletion["actor"]["id"], owner.member.as_str());
    assert!(deletion["changes"].as_array().unwrap().iter().any(|c| c["path"] == "deleted" && c["after"] == true), "{deletion}");
    let listed = app.gql(Some(&owner.token), "query { deletedRecords { id kind } }", json!({})).await;
    assert_eq!(listed["data"]["deletedRecords"].as_array().map(Vec::len), Some(4), "{listed}");
    assert_eq!(error_code(&app.gql(Some(&coach.token), "query { deletedRecords { id } }", json!({})).await), Some("FORBIDDEN"));

    // Recovered within the window: back everywhere, exactly as before.
    for target in [&defect, &kaizen, &a3, &fixer.member] {
        let r = recover(&app, &owner, target).await;
        assert!(r["errors"].is_null(), "{r}");
    }
    assert!(register(&app, &owner, "defectRegister", "defectId").await.contains(&defect));
    assert!(register(&app, &owner, "kaizenRegister", "kaizenId").await.contains(&kaizen));
    assert!(register(&app, &owner, "a3Register", "a3Id").await.contains(&a3));
    assert_eq!(lookup(&app, &owner, "defect", &defect).await["id"], defect.as_str());
    assert!(members(&app, &owner).await.contains(&fixer.member));
    assert!(leaders(&app, &owner).await.contains(&fixer.member));
    assert_eq!(kpis(&app, &owner).await, before);
    let again = app.gql(None, log_in, credentials).await;
    assert!(again["errors"].is_null(), "a recovered member signs in again: {again}");
    let history = app.gql(Some(&owner.token), "query($id: ID!) { history(entityId: $id) { eventType } }", json!({"id": kaizen})).await;
    let types: Vec<&str> = history["data"]["history"].as_array().unwrap().iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert!(types.ends_with(&["KaizenDeleted", "KaizenRecovered"]), "{types:?}");
    assert_eq!(error_code(&recover(&app, &owner, &defect).await), Some("CONFLICT"), "not deleted any more");
    assert_eq!(error_code(&recover(&app, &owner, &site).await), Some("NOT_FOUND"), "never deleted");

    // After the window (injected clock), the recovery is refused and the record stays hidden.
    assert!(delete(&app, &owner, "DEFECT", &defect, "duplicate after all").await["errors"].is_null());
    let owner = later(&app, &owner, "owner@del.example", "correct horse battery").await;
    let late = recover(&app, &owner, &defect).await;
    assert_eq!(error_code(&late), Some("RECOVERY_WINDOW_CLOSED"), "{late}");
    assert!(lookup(&app, &owner, "defect", &defect).await.is_null());
    assert!(!register(&app, &owner, "defectRegister", "defectId").await.contains(&defect));

    // Erasure is a right a deletion does not block: a deleted member is erased all the same
    // (the answer is null, as every lookup of them is) and stays deleted.
    assert!(delete(&app, &owner, "MEMBER", &fixer.member, "left the company").await["errors"].is_null());
    assert_eq!(person_keys(&app, &owner.org, &fixer.member).await, 1);
    assert_eq!(rows(&app, "credentials", &owner.org).await, 3);
    let erased = app
        .gql(
            Some(&owner.token),
            "mutation($input: ErasePersonalDataInput!) { erasePersonalData(input: $input) { id } }",
            json!({"input": {"memberId": fixer.member, "reason": "erasure request 2026-11"}}),
        )
        .await;
    assert!(erased["errors"].is_null(), "{erased}");
    assert!(erased["data"]["erasePersonalData"].is_null(), "{erased}");
    assert_eq!(person_keys(&app, &owner.org, &fixer.member).await, 0, "the key is shredded");
    assert_eq!(rows(&app, "credentials", &owner.org).await, 2, "the member's sign-in copy of the e-mail is gone");
    assert!(lookup(&app, &owner, "member", &fixer.member).await.is_null());
}

#[tokio::test]
async fn a_deleted_zone_hides_its_closed_work_and_takes_no_new_work_until_recovered() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@zones.example", "Zones").await;
    let member = app.join(&owner, "member@zones.example", "MEMBER").await;
    let site = app.create_site(&owner, "Z1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Paint").await;
    let kept = app.create_zone(&owner, &site, "Z-2", "Weld").await;
    let defect = id(&ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, "Drip", "C", "OPERATOR")).await);
    let cancel = json!({"defectId": defect, "cancelReason": "NOT_A_DEFECT", "text": "normal condensation"});
    ok(&app, &owner, "cancelDefect", "CancelDefectInput", cancel).await;
    assert!(zone_leaders(&app, &owner).await.contains(&zone));
    assert_eq!(kpis(&app, &owner).await["activeZones"], 2);

    let r = delete(&app, &owner, "ZONE", &zone, "line dismantled").await;
    assert!(r["errors"].is_null(), "no open work left: {r}");
    assert_eq!(zones(&app, &owner).await, vec![kept.clone()]);
    assert!(lookup(&app, &owner, "zone", &zone).await.is_null());
    assert!(!zone_leaders(&app, &owner).await.contains(&zone));
    assert!(register(&app, &owner, "defectRegister", "defectId").await.is_empty(), "its defects are hidden with it");
    assert!(lookup(&app, &owner, "defect", &defect).await.is_null());
    let k = kpis(&app, &owner).await;
    assert_eq!((k["activeZones"].as_i64(), k["raisedInPeriod"].as_i64()), (Some(1), Some(0)), "{k}");
    let new_work = app
        .gql(
            Some(&member.token),
            "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }",
            json!({"input": raise(&zone, "Another", "C", "OPERATOR")}),
        )
        .await;
    assert_eq!(error_code(&new_work), Some("VALIDATION"), "a deleted zone is not an active zone: {new_work}");
    let rename = app
        .gql(
            Some(&owner.token),
            "mutation($input: RenameZoneInput!) { renameZone(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "name": "Paint 2"}}),
        )
        .await;
    assert_eq!(error_code(&rename), Some("DELETED"), "{rename}");

    assert!(recover(&app, &owner, &zone).await["errors"].is_null());
    assert_eq!(zones(&app, &owner).await.len(), 2);
    assert!(register(&app, &owner, "defectRegister", "defectId").await.contains(&defect));
    assert!(zone_leaders(&app, &owner).await.contains(&zone));
}

fn cli(app: &TestApp, data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(gemba_bin())
        .args(args)
        .env("DATABASE_URL", app.app_url())
        .env_remove("GEMBA_MIGRATION_DATABASE_URL")
        .env("GEMBA_APP_KEY", &app.app_key)
        .env("GEMBA_SIGNING_KEY", &app.signing_key)
        .env("GEMBA_DATA_DIR", data)
        .env("GEMBA_EVIDENCE_DIR", app.evidence_dir.path())
        .output()
        .expect("run gemba")
}

/// The keys held for `person` of `org` (one until erased), counted as the superuser.
async fn person_keys(app: &TestApp, org: &str, person: &str) -> i64 {
    let mut conn = app.superuser().await;
    sqlx::query_scalar("select count(*) from person_keys where org_id = $1::uuid and person_id = $2::uuid")
        .bind(org)
        .bind(person)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Rows of `table` per organisation, counted as the superuser.
async fn rows(app: &TestApp, table: &str, org: &str) -> i64 {
    let mut conn = app.superuser().await;
    sqlx::query_scalar(&format!("select count(*) from {table} where org_id = $1::uuid")).bind(org).fetch_one(&mut conn).await.unwrap()
}

const WORKSPACE: &str = "query { workspace { status purgeAfter } }";

async fn workspace_mutation(app: &TestApp, who: &Session, name: &str) -> Value {
    app.gql(
        Some(&who.token),
        &format!("mutation($input: WorkspaceReasonInput!) {{ {name}(input: $input) {{ status purgeAfter }} }}"),
        json!({"input": {"reason": "the plant closes"}}),
    )
    .await
}

#[tokio::test]
async fn a_cancelled_workspace_is_locked_restorable_in_its_grace_period_then_purged_with_its_events_kept() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@cancel.example", "Closing plant").await;
    let admin = app.join(&owner, "admin@cancel.example", "ADMIN").await;
    let member = app.join(&owner, "member@cancel.example", "MEMBER").await;
    let site = app.create_site(&owner, "C1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    ok(&app, &member, "raiseDefect", "RaiseDefectInput", raise(&zone, "Leak", "B", "OPERATOR")).await;
    let photo = app.upload_photo(&member, "cancelled plant").await;
    // Another organisation, untouched by all of this.
    let other = app.sign_up("owner@other.example", "Other plant").await;
    let other_site = app.create_site(&other, "O1").await;
    let other_zone = app.create_zone(&other, &other_site, "Z-1", "Press").await;
    ok(&app, &other, "raiseDefect", "RaiseDefectInput", raise(&other_zone, "Leak", "B", "OPERATOR")).await;
    let other_photo = app.upload_photo(&other, "other plant").await;

    // Only an Owner cancels.
    assert_eq!(error_code(&workspace_mutation(&app, &admin, "cancelWorkspace").await), Some("FORBIDDEN"));
    let cancelled = workspace_mutation(&app, &owner, "cancelWorkspace").await;
    assert_eq!(cancelled["data"]["cancelWorkspace"]["status"], "CANCELLED", "{cancelled}");
    assert!(cancelled["data"]["cancelWorkspace"]["purgeAfter"].is_string());

    // Locked: only Owners read; nothing changes.
    assert_eq!(error_code(&app.gql(Some(&member.token), "query { me { id } }", json!({})).await), Some("WORKSPACE_CANCELLED"));
    assert_eq!(error_code(&app.gql(Some(&admin.token), WORKSPACE, json!({})).await), Some("WORKSPACE_CANCELLED"));
    assert_eq!(register(&app, &owner, "defectRegister", "defectId").await.len(), 1, "the Owner still reads");
    let refused = app
        .gql(
            Some(&owner.token),
            "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }",
            json!({"input": raise(&zone, "Another", "C", "OPERATOR")}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("WORKSPACE_CANCELLED"), "{refused}");
    assert_eq!(error_code(&delete(&app, &owner, "ZONE", &zone, "tidy up").await), Some("WORKSPACE_CANCELLED"));

    // Restored within the grace period: everything as it was.
    let restored = workspace_mutation(&app, &owner, "restoreWorkspace").await;
    assert_eq!(restored["data"]["restoreWorkspace"]["status"], "ACTIVE", "{restored}");
    ok(&app, &member, "raiseDefect", "RaiseDefectInput", raise(&zone, "Second leak", "C", "OPERATOR")).await;
    assert_eq!(register(&app, &member, "defectRegister", "defectId").await.len(), 2);

    // Cancelled again: a purge before the end of the grace period is refused.
    assert!(workspace_mutation(&app, &owner, "cancelWorkspace").await["errors"].is_null());
    let data = tempfile::tempdir().unwrap();
    let early = cli(&app, data.path(), &["workspace", "purge", "--org", &owner.org]);
    assert_eq!(early.status.code(), Some(1), "{}", String::from_utf8_lossy(&early.stderr));
    assert!(String::from_utf8_lossy(&early.stderr).contains("grace period"), "{}", String::from_utf8_lossy(&early.stderr));
    assert!(rows(&app, "defect_register", &owner.org).await > 0);

    // After the grace period (injected clock) a restore is refused and the sweeper purges.
    let owner = later(&app, &owner, "owner@cancel.example", "correct horse battery").await;
    assert_eq!(error_code(&workspace_mutation(&app, &owner, "restoreWorkspace").await), Some("RECOVERY_WINDOW_CLOSED"));
    let events_before = app.event_count(&owner.org).await;
    let report = app.gemba().sweep(app.gemba().now()).await.unwrap();
    assert_eq!(report.purged, 1, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(app.event_count(&owner.org).await, events_before + 1, "the purge is one event; no event is removed");

    for table in [
        "defect_register",
        "zone_5s_scores",
        "kaizen_register",
        "a3_register",
        "members",
        "zones",
        "sites",
        "defects",
        "credentials",
        "sessions",
        "person_keys",
        "evidence_files",
    ] {
        assert_eq!(rows(&app, table, &owner.org).await, 0, "{table} of the purged organisation");
    }
    for table in ["defect_register", "members", "zones", "person_keys", "evidence_files"] {
        assert!(rows(&app, table, &other.org).await > 0, "{table} of the other organisation");
    }
    assert!(!app.evidence_dir.path().join(format!("orgs/{}/{photo}", owner.org)).exists(), "evidence files deleted");
    assert!(app.evidence_dir.path().join(format!("orgs/{}/{other_photo}", other.org)).exists(), "the other's files stay");
    // Nobody signs in any more; the other organisation works on.
    assert_eq!(error_code(&app.gql(Some(&owner.token), "query { me { id } }", json!({})).await), Some("UNAUTHENTICATED"));
    let other = app.log_in(&other, "owner@other.example", "correct horse battery").await;
    assert_eq!(register(&app, &other, "defectRegister", "defectId").await.len(), 1);

    // The events stay: the chain verifies, the purge is on record, personal data is shredded.
    let verified = cli(&app, data.path(), &["verify", "--org", &owner.org]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    let out = data.path().join("trail.ndjson");
    let exported = cli(&app, data.path(), &["export", "--org", &owner.org, "--format", "ndjson", "--out", out.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let trail = std::fs::read_to_string(&out).unwrap();
    let exported: Vec<Value> = trail.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(exported.iter().any(|r| r["event_type"] == "WorkspacePurged"));
    let named: Vec<&Value> = exported.iter().filter(|r| r["actor_id"].is_string()).collect();
    assert!(!named.is_empty());
    let names: std::collections::BTreeSet<String> = named.iter().map(|r| r["actor_name"].to_string()).collect();
    assert!(named.iter().all(|r| r["actor_name"] == "[erased]" || r["actor_name"].is_null()), "every person's name is shredded: {names:?}");
    assert!(named.iter().any(|r| r["actor_name"] == "[erased]"), "{names:?}");
    for secret in ["owner@cancel.example", "member@cancel.example", "admin@cancel.example"] {
        assert!(!trail.contains(secret), "{secret} appears in the export");
    }
    let again = cli(&app, data.path(), &["workspace", "purge", "--org", &owner.org]);
    assert!(again.status.success(), "a repeated purge only tidies up: {}", String::from_utf8_lossy(&again.stderr));
    // A purged organisation's read models are never built again from its events.
    let rebuild = cli(&app, data.path(), &["projections", "rebuild", "all", "--org", &owner.org]);
    let said = format!("{}{}", String::from_utf8_lossy(&rebuild.stdout), String::from_utf8_lossy(&rebuild.stderr));
    assert!(!rebuild.status.success(), "{said}");
    assert!(said.contains("workspace was purged"), "the refusal names its reason: {said}");
    assert_eq!(rows(&app, "defect_register", &owner.org).await, 0);
    let other_verified = cli(&app, data.path(), &["verify", "--org", &other.org]);
    assert!(other_verified.status.success());
}
