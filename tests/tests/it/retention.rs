//! Retention: events past the organisation's retention are disposed of only by an explicit,
//! audited operation (GraphQL for Owners, `gemba retention dispose` for operators), never
//! under a legal hold; aggregates keep loading from their snapshots; the retained chain
//! verifies from its signed anchor, in the database and offline.

use std::process::Command;

use chrono::{DateTime, Months, Utc};
use gemba_domain::OrgId;
use gemba_projections::engine::{Projection, ProjectionError, Projector};
use gemba_projections::rebuild::Rebuilder;
use gemba_tests::{Session, TestApp, error_code, gemba_bin};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::export::{http_export, ndjson_rows, public_key, verify_offline};

const DISPOSE: &str = "mutation($input: DisposeExpiredRecordsInput!) { disposeExpiredRecords(input: $input) {
    dryRun retentionYears cutoff upToSeq count aggregates anchorHash recordedAtSeq anchor { tenantSeq hash signature } } }";

/// Disposes at seven years after `cutoff` (the app's clock is set there first, so time
/// passing during the test does not move the cutoff).
async fn dispose(app: &TestApp, who: &Session, cutoff: DateTime<Utc>, dry_run: bool) -> Value {
    set_clock_for_cutoff(app, cutoff);
    app.gql(Some(&who.token), DISPOSE, json!({"input": {"dryRun": dry_run, "reason": "retention period expired"}})).await
}

/// Disposal waits for the projections to have applied what it removes: retry while they
/// catch up (the in-process projector is woken by every commit).
async fn dispose_when_projected(app: &TestApp, who: &Session, cutoff: DateTime<Utc>, dry_run: bool) -> Value {
    for _ in 0..50 {
        let r = dispose(app, who, cutoff, dry_run).await;
        let behind = r["errors"][0]["message"].as_str().is_some_and(|m| m.contains("projections have not yet applied"));
        if !behind {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the projections never caught up");
}

async fn ok(app: &TestApp, who: &Session, mutation: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ __typename }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    assert!(r["errors"].is_null(), "{mutation}: {r}");
    r
}

async fn rename_zone(app: &TestApp, who: &Session, zone: &str, name: &str) {
    ok(app, who, "renameZone", "RenameZoneInput", json!({"zoneId": zone, "name": name})).await;
}

async fn legal_hold(app: &TestApp, who: &Session, place: bool) -> Value {
    let field = if place { "placeLegalHold" } else { "releaseLegalHold" };
    app.gql(
        Some(&who.token),
        &format!("mutation {{ {field}(input: {{reason: \"litigation\"}}) {{ settings {{ legalHold }} }} }}"),
        json!({}),
    )
    .await
}

async fn set_retention(app: &TestApp, who: &Session, years: i64) -> Value {
    app.gql(
        Some(&who.token),
        "mutation($input: SetRetentionPolicyInput!) { setRetentionPolicy(input: $input) { settings { retentionYears } } }",
        json!({"input": {"years": years, "reason": "customer contract"}}),
    )
    .await
}

/// Moves the app's clock so that "now minus 7 years" is `cutoff`.
fn set_clock_for_cutoff(app: &TestApp, cutoff: DateTime<Utc>) {
    let target = cutoff.checked_add_months(Months::new(7 * 12)).expect("in range");
    app.clock.advance(target - app.gemba().now());
}

/// (first, last, count) of the organisation's events, and how many were recorded before `at`.
async fn stream(app: &TestApp, org: &str, at: DateTime<Utc>) -> (i64, i64, i64, i64) {
    let mut conn = app.superuser().await;
    sqlx::query_as(
        "select coalesce(min(tenant_seq), 0), coalesce(max(tenant_seq), 0), count(*), count(*) filter (where recorded_at < $2)
           from events where org_id = $1::uuid",
    )
    .bind(org)
    .bind(at)
    .fetch_one(&mut conn)
    .await
    .expect("stream")
}

fn verify_in_database(app: &TestApp, org: &str) -> (i32, String) {
    crate::verify::verify(app, org)
}

async fn pause() {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

#[tokio::test]
async fn expired_events_are_disposed_of_explicitly_and_the_rest_stays_loadable_and_verifiable() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@a.example", "Org A").await;
    let admin = app.join(&owner, "admin@a.example", "ADMIN").await;
    let fixer = app.join(&owner, "fixer@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "A1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    rename_zone(&app, &owner, &zone, "Press line").await;
    let raise = json!({"zoneId": zone, "abnormalityType": "CONTAMINATION_SOURCE", "tagClass": "MAINTENANCE", "priority": "B", "title": "Oil under press", "description": "drip tray full"});
    let raised = app
        .gql(Some(&owner.token), "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }", json!({"input": raise}))
        .await;
    let defect = raised["data"]["raiseDefect"]["id"].as_str().unwrap_or_else(|| panic!("{raised}")).to_owned();
    // Another organisation, with a longer retention: raising it keeps what would expire.
    let other = app.sign_up("owner@b.example", "Org B").await;
    app.create_site(&other, "B1").await;
    let set = set_retention(&app, &other, 10).await;
    assert_eq!(set["data"]["setRetentionPolicy"]["settings"]["retentionYears"], 10, "{set}");
    assert_eq!(error_code(&set_retention(&app, &other, 5).await), Some("VALIDATION"), "never below the legal floor of 7 years");

    pause().await;
    let cutoff = Utc::now();
    pause().await;
    rename_zone(&app, &owner, &zone, "Press line 2").await;
    let (_, _, before_total, before_old) = stream(&app, &owner.org, cutoff).await;
    assert!(before_old > 5 && before_total > before_old, "{before_old} of {before_total}");
    let other_before = app.event_count(&other.org).await + 1; // and the sign-in below
    // From here on it is seven years after `cutoff`: every event of Org A before it is past
    // its retention.
    set_clock_for_cutoff(&app, cutoff);
    let owner = app.log_in(&owner, "owner@a.example", "correct horse battery").await;
    let admin = app.log_in(&admin, "admin@a.example", "another good password").await;
    let other = app.log_in(&other, "owner@b.example", "correct horse battery").await;
    // A legal hold blocks the disposal (typed error); nothing changes.
    assert_eq!(legal_hold(&app, &owner, true).await["data"]["placeLegalHold"]["settings"]["legalHold"], true);
    let held = dispose(&app, &owner, cutoff, false).await;
    assert_eq!(error_code(&held), Some("LEGAL_HOLD"), "{held}");
    assert_eq!(error_code(&dispose(&app, &owner, cutoff, true).await), Some("LEGAL_HOLD"), "even a dry run");
    assert_eq!(stream(&app, &owner.org, cutoff).await.3, before_old, "nothing was disposed of under the hold");
    assert_eq!(legal_hold(&app, &owner, false).await["data"]["releaseLegalHold"]["settings"]["legalHold"], false);
    // Owners only.
    assert_eq!(error_code(&dispose(&app, &admin, cutoff, false).await), Some("FORBIDDEN"));

    // Org B keeps 10 years: nothing of it is past its retention.
    let kept = dispose_when_projected(&app, &other, cutoff, false).await;
    assert_eq!(kept["data"]["disposeExpiredRecords"]["count"], 0, "{kept}");
    assert!(kept["data"]["disposeExpiredRecords"]["upToSeq"].is_null(), "{kept}");
    assert_eq!(kept["data"]["disposeExpiredRecords"]["retentionYears"], 10, "{kept}");
    assert_eq!(app.event_count(&other.org).await, other_before, "raising the retention kept every event");

    // A dry run reports and changes nothing.
    let dry = dispose_when_projected(&app, &owner, cutoff, true).await;
    let dry = &dry["data"]["disposeExpiredRecords"];
    assert_eq!((dry["dryRun"].as_bool(), dry["count"].as_i64()), (Some(true), Some(before_old)), "{dry}");
    assert_eq!(dry["upToSeq"].as_i64(), Some(before_old), "the disposed prefix is every event before the cutoff");
    assert!(dry["anchorHash"].is_null() && dry["recordedAtSeq"].is_null(), "{dry}");
    assert_eq!(stream(&app, &owner.org, cutoff).await.3, before_old);

    // The disposal.
    let done = dispose_when_projected(&app, &owner, cutoff, false).await;
    let done = done["data"]["disposeExpiredRecords"].clone();
    assert_eq!(done["count"].as_i64(), Some(before_old), "{done}");
    let up_to = done["upToSeq"].as_i64().unwrap_or_else(|| panic!("{done}"));
    let anchor = done["anchorHash"].as_str().unwrap_or_else(|| panic!("{done}")).to_owned();
    assert_eq!(done["anchor"]["tenantSeq"].as_i64(), Some(up_to), "the anchor is signed as a checkpoint at the last disposed event");
    assert_eq!(done["anchor"]["hash"].as_str(), Some(anchor.as_str()));
    assert!(done["aggregates"].as_i64().unwrap_or(0) >= 6, "organisation, members, site, zone, defect: {done}");
    let (first, last, total, old) = stream(&app, &owner.org, cutoff).await;
    assert_eq!(old, 0, "every event older than the retention is gone");
    assert_eq!(first, up_to + 1, "the retained chain starts right after the anchor");
    assert_eq!(total, before_total - before_old + 5, "newer events kept; two sign-ins, hold, release and RecordsDisposed added");
    assert_eq!(last, done["recordedAtSeq"].as_i64().unwrap_or(0), "RecordsDisposed is the last event");
    assert_eq!(app.event_count(&other.org).await, other_before, "another organisation is untouched");

    // Audited: who, why, what.
    let trail = app
        .gql(
            Some(&admin.token),
            "query { auditTrail(filter: {eventTypes: [\"RecordsDisposed\"]}) { edges { node { tenantSeq actor { id role } reason channel changes { path after } } } } }",
            json!({}),
        )
        .await;
    let entries = trail["data"]["auditTrail"]["edges"].as_array().unwrap_or_else(|| panic!("{trail}"));
    assert_eq!(entries.len(), 1, "{trail}");
    let entry = &entries[0]["node"];
    assert_eq!((entry["actor"]["id"].as_str(), entry["actor"]["role"].as_str()), (Some(owner.member.as_str()), Some("OWNER")));
    assert_eq!(entry["reason"], "retention period expired");
    let change = |path: &str| entry["changes"].as_array().into_iter().flatten().find(|c| c["path"] == path).map(|c| c["after"].clone());
    assert_eq!(change("upToSeq"), Some(json!(up_to)), "{entry}");
    assert_eq!(change("anchorHash"), Some(json!(anchor)), "{entry}");
    let listed = app.gql(Some(&admin.token), "query { recordsDisposals { upToSeq anchorHash events } }", json!({})).await;
    assert_eq!(listed["data"]["recordsDisposals"], json!([{"upToSeq": up_to, "anchorHash": anchor, "events": before_old}]), "{listed}");

    // Aggregates whose early events were disposed of still load and accept commands.
    let zone_read = app.gql(Some(&owner.token), "query($id: ID!) { zone(id: $id) { name } }", json!({"id": zone})).await;
    assert_eq!(zone_read["data"]["zone"]["name"], "Press line 2", "{zone_read}");
    rename_zone(&app, &owner, &zone, "Press line 3").await;
    let zone_read = app.gql(Some(&owner.token), "query($id: ID!) { zone(id: $id) { name } }", json!({"id": zone})).await;
    assert_eq!(zone_read["data"]["zone"]["name"], "Press line 3", "{zone_read}");
    let again = app
        .gql(
            Some(&owner.token),
            "mutation($input: RenameZoneInput!) { renameZone(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "name": "Press line 3"}}),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "the snapshot kept the zone's state (same name refused): {again}");
    // The defect's events were all disposed of: its snapshot is its state.
    ok(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": defect, "assigneeId": fixer.member})).await;
    let read = app.gql(Some(&owner.token), "query($id: ID!) { defect(id: $id) { title status assigneeId } }", json!({"id": defect})).await;
    assert_eq!(read["data"]["defect"]["title"], "Oil under press", "{read}");
    assert_eq!(read["data"]["defect"]["assigneeId"].as_str(), Some(fixer.member.as_str()), "{read}");
    // The organisation too (created in the disposed prefix): retention raised, lowered below 7 refused.
    assert_eq!(set_retention(&app, &owner, 8).await["data"]["setRetentionPolicy"]["settings"]["retentionYears"], 8);
    assert_eq!(error_code(&set_retention(&app, &owner, 6).await), Some("VALIDATION"));
    let nothing = dispose_when_projected(&app, &owner, cutoff, false).await;
    assert_eq!(nothing["data"]["disposeExpiredRecords"]["count"], 0, "nothing more is past 8 years: {nothing}");

    // The retained chain verifies in the database from its anchor...
    let (code, output) = verify_in_database(&app, &owner.org);
    assert_eq!(code, 0, "{output}");
    // ...and offline: an export of the remaining events starts at the anchor.
    let exported = http_export(&app, &owner, "format=ndjson").await.unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    assert_eq!(exported.manifest["anchor"]["tenant_seq"].as_i64(), Some(up_to), "{}", exported.manifest);
    assert_eq!(exported.manifest["anchor"]["hash"].as_str(), Some(anchor.as_str()));
    let rows = ndjson_rows(&exported.body);
    assert_eq!(rows[0]["tenant_seq"].as_i64(), Some(up_to + 1));
    assert_eq!(rows[0]["prev_hash"].as_str(), Some(anchor.as_str()), "the first retained event links to the anchor");
    let dir = tempfile::tempdir().expect("temporary folder");
    let (code, output) = verify_offline(dir.path(), &exported.body, &exported.manifest, Some(&public_key(&app)));
    assert_eq!(code, 0, "{output}");
    // Without the first retained row the export no longer starts at the anchor.
    let body = String::from_utf8(exported.body.clone()).expect("utf-8");
    let cut: String = body.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let (code, output) = verify_offline(dir.path(), cut.as_bytes(), &exported.manifest, Some(&public_key(&app)));
    assert_ne!(code, 0, "{output}");

    // Rebuilding a read model from the first event is refused; the live rows stay.
    let org = Uuid::parse_str(&owner.org).expect("org id");
    let refused = Rebuilder::new(app.pool.clone()).start(org, Projection::DefectRegister).await;
    assert!(matches!(refused, Err(ProjectionError::Disposed { disposed_up_to }) if disposed_up_to == up_to), "{refused:?}");
    let reset = Projector::new(app.pool.clone()).reset(org, Projection::DefectRegister).await;
    assert!(matches!(reset, Err(ProjectionError::Disposed { .. })), "{reset:?}");
    let read = app.gql(Some(&owner.token), "query($id: ID!) { defect(id: $id) { title } }", json!({"id": defect})).await;
    assert_eq!(read["data"]["defect"]["title"], "Oil under press", "{read}");
}

#[tokio::test]
async fn the_app_role_deletes_events_only_through_the_disposal_function_and_never_silently() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@a.example", "Org A").await;
    let other = app.sign_up("owner@b.example", "Org B").await;
    let org = OrgId(Uuid::parse_str(&owner.org).expect("org id"));
    let code = |e: sqlx::Error| e.as_database_error().and_then(|d| d.code().map(|c| c.into_owned()));
    // The application role still has no UPDATE, DELETE or TRUNCATE on events.
    for statement in ["update events set payload = '{}'", "delete from events", "truncate events"] {
        let mut tx = gemba_commands::tenancy::begin_tenant(&app.pool, org).await.expect("tx");
        let refused = sqlx::query(statement).execute(&mut *tx).await.expect_err(statement);
        assert_eq!(code(refused).as_deref(), Some("42501"), "{statement}");
    }
    // Not even the schema owner deletes an event outside the disposal function, although a
    // disposal that covers it is recorded in the same transaction.
    {
        let mut conn = app.owner().await;
        let mut tx = sqlx::Connection::begin(&mut conn).await.expect("tx");
        sqlx::query("select set_config('app.org_id', $1, true)").bind(&owner.org).execute(&mut *tx).await.expect("tenant");
        sqlx::query(
            "insert into retention_disposals (org_id, up_to_seq, anchor_hash, events, aggregates, cutoff)
             select org_id, tenant_seq, hash, 1, 1, now() from events where org_id = $1::uuid and tenant_seq = 1",
        )
        .bind(&owner.org)
        .execute(&mut *tx)
        .await
        .expect("a disposal row");
        let refused = sqlx::query("delete from events where tenant_seq = 1").execute(&mut *tx).await.expect_err("delete");
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    // The function refuses another tenant, a prefix without its snapshots, and events within
    // their retention (with the right snapshot: only the cutoff can refuse that one).
    let snapshot: Value = {
        let mut conn = app.superuser().await;
        sqlx::query_scalar("select jsonb_build_object('aggregate_type', aggregate_type, 'aggregate_id', aggregate_id, 'sequence', sequence, 'state', '{}'::jsonb) from events where org_id = $1::uuid and tenant_seq = 1")
            .bind(&owner.org)
            .fetch_one(&mut conn)
            .await
            .expect("first event")
    };
    let call = "select disposed from gemba_dispose_events($1::uuid, $2, $3, $4)";
    let attempts = [
        (other.org.clone(), 1_i64, Utc::now() + chrono::Duration::days(1), json!([]), "42501"),
        (owner.org.clone(), 1, Utc::now() + chrono::Duration::days(1), json!([]), "23514"),
        (owner.org.clone(), 1, Utc::now() - chrono::Duration::days(1), json!([snapshot]), "23514"),
    ];
    for (target, up_to, cutoff, snapshots, expected) in attempts {
        let mut tx = gemba_commands::tenancy::begin_tenant(&app.pool, org).await.expect("tx");
        let result = sqlx::query(call).bind(&target).bind(up_to).bind(cutoff).bind(snapshots).execute(&mut *tx).await;
        assert_eq!(result.err().and_then(code).as_deref(), Some(expected), "{target} {up_to} {cutoff}");
    }
    // With its snapshot but without a RecordsDisposed event, the disposal cannot commit.
    let mut tx = gemba_commands::tenancy::begin_tenant(&app.pool, org).await.expect("tx");
    let disposed: i64 = sqlx::query_scalar(call)
        .bind(&owner.org)
        .bind(1_i64)
        .bind(Utc::now() + chrono::Duration::days(1))
        .bind(json!([snapshot]))
        .fetch_one(&mut *tx)
        .await
        .expect("a whole prefix with its snapshot is accepted");
    assert_eq!(disposed, 1);
    let commit = tx.commit().await.expect_err("a disposal without RecordsDisposed must not commit");
    assert_eq!(code(commit).as_deref(), Some("23514"));
    assert_eq!(app.event_count(&owner.org).await, 3, "nothing was disposed of");
}

#[tokio::test]
async fn the_cli_disposes_as_an_operator_and_refuses_under_a_legal_hold() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@a.example", "Org A").await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let cli = |args: &[&str]| {
        let output = Command::new(gemba_bin())
            .args(args)
            .env("DATABASE_URL", app.app_url())
            .env_remove("GEMBA_MIGRATION_DATABASE_URL")
            .env("GEMBA_APP_KEY", &app.app_key)
            .env("GEMBA_SIGNING_KEY", &app.signing_key)
            .env("GEMBA_DATA_DIR", dir.path().join("data"))
            .output()
            .expect("run gemba");
        (
            output.status.code().unwrap_or(-1),
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        )
    };
    let before = app.event_count(&owner.org).await;
    let (code, output) = cli(&["retention", "dispose", "--org", &owner.org, "--dry-run"]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("nothing to dispose of"), "events of today are within 7 years: {output}");
    legal_hold(&app, &owner, true).await;
    let (code, output) = cli(&["retention", "dispose", "--org", &owner.org]);
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("legal hold"), "{output}");
    assert_eq!(app.event_count(&owner.org).await, before + 1, "only the hold was recorded");
}

#[tokio::test]
async fn a_second_disposal_continues_from_the_first_anchor() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@a.example", "Org A").await;
    let site = app.create_site(&owner, "A1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    pause().await;
    let first_cutoff = Utc::now();
    pause().await;
    rename_zone(&app, &owner, &zone, "Press line").await;
    pause().await;
    let second_cutoff = Utc::now();
    pause().await;
    rename_zone(&app, &owner, &zone, "Press line 2").await;
    set_clock_for_cutoff(&app, first_cutoff);
    let owner = app.log_in(&owner, "owner@a.example", "correct horse battery").await;
    let first = dispose_when_projected(&app, &owner, first_cutoff, false).await;
    let first = first["data"]["disposeExpiredRecords"].clone();
    let first_up_to = first["upToSeq"].as_i64().unwrap_or_else(|| panic!("{first}"));
    // The zone's rename, the first RecordsDisposed and the sign-in are now past the retention too.
    let second = dispose_when_projected(&app, &owner, second_cutoff, false).await;
    let second = second["data"]["disposeExpiredRecords"].clone();
    let second_up_to = second["upToSeq"].as_i64().unwrap_or_else(|| panic!("{second}"));
    assert_eq!(second["count"].as_i64(), Some(second_up_to - first_up_to), "only what the first left: {second}");
    let (first_kept, _, _, old) = stream(&app, &owner.org, second_cutoff).await;
    assert_eq!((first_kept, old), (second_up_to + 1, 0));
    // The zone loads from its newer snapshot and goes on.
    let again = app
        .gql(
            Some(&owner.token),
            "mutation($input: RenameZoneInput!) { renameZone(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "name": "Press line 2"}}),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "the snapshot holds the latest name: {again}");
    rename_zone(&app, &owner, &zone, "Press line 3").await;
    let listed = app.gql(Some(&owner.token), "query { recordsDisposals { upToSeq } }", json!({})).await;
    assert_eq!(listed["data"]["recordsDisposals"], json!([{"upToSeq": second_up_to}, {"upToSeq": first_up_to}]), "{listed}");
    let (code, output) = verify_in_database(&app, &owner.org);
    assert_eq!(code, 0, "{output}");
    let exported = http_export(&app, &owner, "format=csv").await.unwrap_or_else(|(s, e)| panic!("{s}: {e}"));
    assert_eq!(exported.manifest["anchor"]["tenant_seq"].as_i64(), Some(second_up_to), "{}", exported.manifest);
    let dir = tempfile::tempdir().expect("temporary folder");
    let (code, output) = verify_offline(dir.path(), &exported.body, &exported.manifest, Some(&public_key(&app)));
    assert_eq!(code, 0, "{output}");
}

/// Every stream of the domain is disposed of like the others: soft deletions (`Deletion`) and
/// workspace cancellations (`Workspace`) in the prefix are snapshotted, and the records stay
/// deletable and recoverable. A purged workspace's events are kept for their retention
/// period, then disposed of by an operator like any other organisation's.
#[tokio::test]
async fn deletions_and_cancellations_are_disposed_of_and_a_purged_workspace_expires_too() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@life.example", "Lifecycle").await;
    let site = app.create_site(&owner, "L1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let spare = app.create_zone(&owner, &site, "Z-2", "Spare").await;
    for (mutation, input) in [
        ("deleteRecord", json!({"kind": "ZONE", "id": spare, "reason": "line dismantled"})),
        ("recoverRecord", json!({"id": spare, "reason": "line rebuilt"})),
        ("cancelWorkspace", json!({"reason": "the plant closes"})),
        ("restoreWorkspace", json!({"reason": "the plant stays open"})),
    ] {
        let r = lifecycle(&app, &owner, mutation, input).await;
        assert!(r["errors"].is_null(), "{mutation}: {r}");
    }
    // Another organisation, cancelled and purged below.
    let closed = app.sign_up("owner@closed.example", "Closed plant").await;
    let closed_site = app.create_site(&closed, "C1").await;
    app.create_zone(&closed, &closed_site, "Z-1", "Weld").await;

    pause().await;
    let cutoff = Utc::now();
    pause().await;
    rename_zone(&app, &owner, &zone, "Press line").await;
    set_clock_for_cutoff(&app, cutoff);
    let owner = app.log_in(&owner, "owner@life.example", "correct horse battery").await;
    // A rebuild running that has not applied the events refuses the disposal (its shadow
    // tables would miss them and be swapped in incomplete); cancelled, it no longer does.
    let org_id = Uuid::parse_str(&owner.org).expect("org id");
    let rebuilder = Rebuilder::new(app.pool.clone());
    rebuilder.start(org_id, Projection::DefectRegister).await.expect("a rebuild starts");
    let refused = dispose(&app, &owner, cutoff, false).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("defect_register (rebuilding)"), "{refused}");
    assert!(rebuilder.cancel(org_id, Projection::DefectRegister).await.expect("cancel"));
    let done = dispose_when_projected(&app, &owner, cutoff, false).await;
    assert!(done["errors"].is_null(), "{done}");
    assert!(done["data"]["disposeExpiredRecords"]["count"].as_i64().unwrap_or(0) > 4, "{done}");
    let snapshotted: Vec<String> = {
        let mut conn = app.superuser().await;
        sqlx::query_scalar("select distinct aggregate_type from aggregate_snapshots where org_id = $1::uuid order by 1")
            .bind(&owner.org)
            .fetch_all(&mut conn)
            .await
            .expect("snapshots")
    };
    assert!(snapshotted.iter().any(|t| t == "Deletion") && snapshotted.iter().any(|t| t == "Workspace"), "{snapshotted:?}");
    // A command that loaded the zone just before the disposal (no snapshot yet) and appends
    // after it would land at a sequence the disposal freed: refused as the conflict it is.
    {
        let org = OrgId(Uuid::parse_str(&owner.org).expect("org id"));
        let mut tx = gemba_commands::tenancy::begin_tenant(&app.pool, org).await.expect("tx");
        let stale = cqrs_es::persist::SerializedEvent {
            aggregate_id: spare.clone(),
            sequence: 1,
            aggregate_type: "Zone".into(),
            event_type: "ZoneRenamed".into(),
            event_version: "1.0".into(),
            payload: json!({"ZoneRenamed": {"before": "Spare", "after": "Spare 2"}}),
            metadata: json!({}),
        };
        let refused = gemba_commands::store::append(&mut tx, org, &[stale]).await;
        assert!(matches!(refused, Err(gemba_commands::store::StoreError::Conflict)), "{refused:?}");
    }
    // The zone whose every event was disposed of is deleted and recovered again.
    let again = lifecycle(&app, &owner, "deleteRecord", json!({"kind": "ZONE", "id": spare, "reason": "dismantled for good"})).await;
    assert!(again["errors"].is_null(), "{again}");
    let back = lifecycle(&app, &owner, "recoverRecord", json!({"id": spare, "reason": "not yet"})).await;
    assert!(back["errors"].is_null(), "{back}");
    let not_deleted = lifecycle(&app, &owner, "recoverRecord", json!({"id": spare, "reason": "twice"})).await;
    assert_eq!(error_code(&not_deleted), Some("CONFLICT"), "{not_deleted}");
    let (code, output) = verify_in_database(&app, &owner.org);
    assert_eq!(code, 0, "{output}");

    // The other organisation is cancelled, purged after its grace period, and its events
    // (kept, shredded) are disposed of once expired, by an operator.
    let closed = app.log_in(&closed, "owner@closed.example", "correct horse battery").await;
    let cancel = app
        .gql(
            Some(&closed.token),
            "mutation($input: WorkspaceReasonInput!) { cancelWorkspace(input: $input) { status } }",
            json!({"input": {"reason": "the plant closes"}}),
        )
        .await;
    assert_eq!(cancel["data"]["cancelWorkspace"]["status"], "CANCELLED", "{cancel}");
    app.clock.advance(chrono::Duration::days(31));
    let swept = app.gemba().sweep(app.gemba().now()).await.expect("sweep");
    assert_eq!(swept.purged, 1, "{swept:?}");
    let org = OrgId(Uuid::parse_str(&closed.org).expect("org id"));
    let operator = gemba_commands::envelope::CommandContext::new(org, None, gemba_commands::envelope::Channel::Cli);
    let signer = gemba_commands::signing::Signer::from_base64(&app.signing_key).expect("signing key");
    let projections: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
    let reason = gemba_domain::Reason::parse(gemba_domain::ReasonCode::Other, "retention period expired").expect("reason");
    let mut report = None;
    for _ in 0..50 {
        let gemba = app.gemba();
        match gemba.dispose_expired(&operator, gemba.now(), reason.clone(), false, &projections, &signer).await {
            Err(gemba_commands::error::CommandError::ProjectionsBehind(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            other => {
                report = Some(other.expect("a purged workspace's expired events are disposed of"));
                break;
            }
        }
    }
    let report = report.expect("the projections never caught up");
    let events_left = app.event_count(&closed.org).await;
    assert!(report.count > 5, "{report:?}");
    assert_eq!(events_left, 1, "only RecordsDisposed is left");
    let (code, output) = verify_in_database(&app, &closed.org);
    assert_eq!(code, 0, "{output}");
}

/// A deletion, recovery, cancellation or restore by `who`.
async fn lifecycle(app: &TestApp, who: &Session, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "deleteRecord" => "DeleteRecordInput",
        "recoverRecord" => "RecoverRecordInput",
        _ => "WorkspaceReasonInput",
    };
    let query = format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ __typename }} }}");
    app.gql(Some(&who.token), &query, json!({"input": input})).await
}
