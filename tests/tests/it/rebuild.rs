//! Zero-downtime rebuilds (issue 6): built into shadow tables while the live rows serve,
//! swapped in per organisation; resumable after a kill; cancellable; triggered by a new
//! projection version; driven by the CLI and the operator API.
//!
//! The "old version" of a read model is simulated by marking its live rows (titles prefixed
//! `v0 `, checkpoint version 0), as the database owner: a rebuild by the current code
//! replaces them, and readers must see either every row old or every row new.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use gemba_projections::engine::Projector;
use gemba_tests::{Session, TestApp, gemba_bin};
use serde_json::{Value, json};
use uuid::Uuid;

use super::read_models::{history, ok, raise, snapshot};

fn gemba(app: &TestApp, args: &[&str]) -> Command {
    let mut command = Command::new(gemba_bin());
    command
        .args(args)
        .env("DATABASE_URL", app.app_url())
        .env("GEMBA_DATA_DIR", app.evidence_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub(crate) fn run(app: &TestApp, args: &[&str]) -> Output {
    gemba(app, args).output().expect("running gemba")
}

fn spawn(app: &TestApp, args: &[&str]) -> Child {
    gemba(app, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("starting gemba")
}

pub(crate) fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Marks `org`'s live defect register as built by an older version.
async fn mark_old(app: &TestApp, org: Uuid) {
    let mut su = app.superuser().await;
    sqlx::query("update defect_register set title = 'v0 ' || title where org_id = $1").bind(org).execute(&mut su).await.unwrap();
    sqlx::query("update projection_checkpoints set version = 0 where org_id = $1 and projection = 'defect_register'")
        .bind(org)
        .execute(&mut su)
        .await
        .unwrap();
}

async fn old_titles(app: &TestApp, org: Uuid) -> i64 {
    let mut su = app.superuser().await;
    sqlx::query_scalar("select count(*) from defect_register where org_id = $1 and title like 'v0 %'")
        .bind(org)
        .fetch_one(&mut su)
        .await
        .unwrap()
}

/// `(state, last_seq, run_start_seq)` of `org`'s defect register rebuild.
async fn rebuild_row(app: &TestApp, org: Uuid) -> Option<(String, i64, i64)> {
    let mut su = app.superuser().await;
    sqlx::query_as("select state, last_seq, run_start_seq from projection_rebuilds where org_id = $1 and projection = 'defect_register'")
        .bind(org)
        .fetch_optional(&mut su)
        .await
        .unwrap()
}

async fn shadow_rows(app: &TestApp) -> i64 {
    let mut su = app.superuser().await;
    sqlx::query_scalar("select count(*) from rebuild.defect_register").fetch_one(&mut su).await.unwrap()
}

async fn version(app: &TestApp, org: Uuid) -> i32 {
    let mut su = app.superuser().await;
    sqlx::query_scalar("select version from projection_checkpoints where org_id = $1 and projection = 'defect_register'")
        .bind(org)
        .fetch_one(&mut su)
        .await
        .unwrap()
}

/// A second organisation with a few defects, its register marked old too (so a rebuild that
/// strayed into it would show).
async fn bystander(app: &TestApp) -> Uuid {
    let owner = app.sign_up("owner@bystander.example", "Bystander").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    for n in 0..3 {
        ok(app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, &format!("Other {n}"), "C", "OPERATOR")).await;
    }
    let org = owner.org.parse().unwrap();
    let projector = Projector::new(app.pool.clone());
    projector.catch_up(org).await.unwrap();
    mark_old(app, org).await;
    org
}

const REGISTER: &str = "query { defectRegister(first: 100) { edges { node { title } } pageInfo { hasNextPage } } }";

/// The register as a reader sees it: whether there is more, its rows and how many titles are old.
async fn read(app: &TestApp, who: &Session) -> (bool, usize, usize) {
    let body = app.gql(Some(&who.token), REGISTER, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let register = &body["data"]["defectRegister"];
    let titles: Vec<&str> = register["edges"].as_array().unwrap().iter().map(|e| e["node"]["title"].as_str().unwrap()).collect();
    let old = titles.iter().filter(|t| t.starts_with("v0 ")).count();
    (register["pageInfo"]["hasNextPage"].as_bool().unwrap(), titles.len(), old)
}

#[tokio::test]
async fn readers_see_the_old_rows_or_the_new_ones_never_a_mixture_and_other_organisations_are_untouched() {
    let app = TestApp::spawn().await;
    let (owner, org) = history(&app, 24).await;
    let other = bystander(&app).await;
    let projector = Projector::new(app.pool.clone());
    projector.catch_up(org).await.unwrap();
    let rebuilt = snapshot(&app, org).await;
    let other_before = snapshot(&app, other).await;
    mark_old(&app, org).await;
    assert_eq!(old_titles(&app, org).await, 24);

    // A reader loops over the register while the rebuild runs (slowly: batches of 2 events,
    // 10 ms per event).
    let reader = {
        let app = std::sync::Arc::new(app);
        let (a, owner) = (app.clone(), owner.clone());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = stop.clone();
        let task = tokio::spawn(async move {
            let (mut reads, mut old_reads, mut new_reads) = (0, 0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let (total, rows, old) = read(&a, &owner).await;
                assert_eq!((total, rows), (false, 24), "never an empty or half-built register");
                assert!(old == 0 || old == 24, "a mixture of old and new rows: {old} of 24 old");
                if old == 24 {
                    assert_eq!(new_reads, 0, "the old rows came back after the swap");
                    old_reads += 1;
                } else {
                    new_reads += 1;
                }
                reads += 1;
            }
            (reads, old_reads, new_reads)
        });
        (app, stop, task)
    };
    let (app, stop, task) = reader;
    let output = tokio::task::spawn_blocking({
        let (url, dir) = (app.app_url(), app.evidence_dir.path().to_owned());
        move || {
            Command::new(gemba_bin())
                .args(["projections", "rebuild", "defect_register", "--org", &org.to_string(), "--batch-size", "2", "--throttle-ms", "10"])
                .env("DATABASE_URL", url)
                .env("GEMBA_DATA_DIR", dir)
                .stdin(Stdio::null())
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("rebuilt and swapped in 1 of 1 rebuilds"), "{}", text(&output));
    // A few reads after the swap, then stop the reader.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, old_reads, new_reads) = task.await.unwrap();
    assert!(old_reads > 3, "the old rows served while the rebuild ran ({old_reads} of {reads} reads)");
    assert!(new_reads > 0, "the new rows serve after the swap ({new_reads} of {reads} reads)");

    assert_eq!(old_titles(&app, org).await, 0);
    assert_eq!(version(&app, org).await, 1, "the live checkpoint carries the new version");
    assert_eq!(snapshot(&app, org).await, rebuilt, "the swapped-in rows are what the events give");
    assert_eq!(shadow_rows(&app).await, 0, "the shadow rows are gone after the swap");
    assert_eq!(rebuild_row(&app, org).await.map(|r| r.0), Some("SWAPPED".to_owned()));
    assert_eq!(snapshot(&app, other).await, other_before, "another organisation's read models are untouched");
    assert_eq!(old_titles(&app, other).await, 3);
    assert_eq!(version(&app, other).await, 0);

    // Every organisation at once, two in parallel.
    let all = run(&app, &["projections", "rebuild", "a3_register", "--parallel", "2"]);
    assert!(all.status.success(), "{}", text(&all));
    assert!(text(&all).contains("rebuilt and swapped in 2 of 2 rebuilds (2 organisations)"), "{}", text(&all));
    assert_eq!(old_titles(&app, other).await, 3, "only the projection named was rebuilt");

    // Live projection goes on from the swapped position.
    let zone: Uuid =
        sqlx::query_scalar("select zone_id from zones where org_id = $1").bind(org).fetch_one(&mut app.superuser().await).await.unwrap();
    let zone = zone.to_string();
    ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, "After the swap", "B", "OPERATOR")).await;
    assert_eq!(read(&app, &owner).await.1, 25);
}

#[tokio::test]
async fn a_killed_rebuild_resumes_from_its_checkpoint_and_equals_a_rebuild_from_scratch() {
    let app = TestApp::spawn().await;
    let (_, org) = history(&app, 30).await;
    let projector = Projector::new(app.pool.clone());
    projector.catch_up(org).await.unwrap();
    let scratch = snapshot(&app, org).await;
    mark_old(&app, org).await;

    let org_arg = org.to_string();
    let mut first = spawn(&app, &["projections", "rebuild", "all", "--org", &org_arg, "--batch-size", "3", "--throttle-ms", "40"]);
    let mut killed_at = 0;
    for _ in 0..400 {
        if let Some((_, last_seq, _)) = rebuild_row(&app, org).await
            && last_seq >= 12
        {
            killed_at = last_seq;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(killed_at >= 12, "the rebuild made progress before the kill");
    let (state, stood_at, _) = rebuild_row(&app, org).await.unwrap();
    assert_eq!(state, "RUNNING", "killed midway, it stands to be resumed");
    assert_eq!(stood_at % 3, 0, "only whole batches were committed: {stood_at}");
    assert_eq!(old_titles(&app, org).await, 30, "nothing was swapped in: the old rows still serve");
    assert!(shadow_rows(&app).await > 0);

    let status = run(&app, &["projections", "status", "--org", &org_arg]);
    assert!(text(&status).contains("RUNNING"), "{}", text(&status));

    let second = run(&app, &["projections", "rebuild", "all", "--org", &org_arg, "--batch-size", "3"]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("rebuilt and swapped in 4 of 4 rebuilds"), "{}", text(&second));
    let (state, _, resumed_from) = rebuild_row(&app, org).await.unwrap();
    assert_eq!(state, "SWAPPED");
    assert_eq!(resumed_from, stood_at, "the second run resumed where the first stood, not from zero");
    assert_eq!(snapshot(&app, org).await, scratch, "the result equals a rebuild from scratch: nothing twice, nothing skipped");
}

#[tokio::test]
async fn a_cancelled_rebuild_leaves_the_live_rows_and_drops_its_shadow() {
    let app = TestApp::spawn().await;
    let (_, org) = history(&app, 20).await;
    Projector::new(app.pool.clone()).catch_up(org).await.unwrap();
    mark_old(&app, org).await;
    let org_arg = org.to_string();
    let mut running =
        spawn(&app, &["projections", "rebuild", "defect_register", "--org", &org_arg, "--batch-size", "2", "--throttle-ms", "50"]);
    for _ in 0..400 {
        if rebuild_row(&app, org).await.is_some_and(|r| r.1 >= 4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let cancel = run(&app, &["projections", "cancel", "defect_register", "--org", &org_arg]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    assert!(text(&cancel).contains("1 rebuilds cancelled"), "{}", text(&cancel));
    // The running process stops at its next batch.
    let mut exited = false;
    for _ in 0..200 {
        if running.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if !exited {
        running.kill().unwrap();
    }
    assert!(exited, "the rebuild stopped once cancelled");
    assert_eq!(rebuild_row(&app, org).await.map(|r| r.0), Some("CANCELLED".to_owned()));
    assert_eq!(shadow_rows(&app).await, 0);
    assert_eq!(old_titles(&app, org).await, 20, "the live rows were never touched");
    assert_eq!(version(&app, org).await, 0);
    let again = run(&app, &["projections", "cancel", "defect_register", "--org", &org_arg]);
    assert!(text(&again).contains("0 rebuilds cancelled"), "{}", text(&again));
    let unknown = run(&app, &["projections", "rebuild", "defect_registry", "--org", &org_arg]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
}

#[tokio::test]
async fn a_new_projection_version_is_rebuilt_by_the_worker_behind_the_live_rows() {
    let app = TestApp::spawn().await;
    let (_, org) = history(&app, 6).await;
    Projector::new(app.pool.clone()).catch_up(org).await.unwrap();
    app.stop_projector();
    mark_old(&app, org).await;
    // A worker of this (newer) code starts: it finds version 0 below the declared 1.
    let mut worker = spawn(&app, &["projections", "run", "--poll-secs", "1"]);
    let mut swapped = false;
    for _ in 0..400 {
        if rebuild_row(&app, org).await.is_some_and(|r| r.0 == "SWAPPED") {
            swapped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert!(swapped, "the worker rebuilt the outdated projection");
    assert_eq!(version(&app, org).await, 1);
    assert_eq!(old_titles(&app, org).await, 0);
}

async fn operator(app: &TestApp, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/operator/graphql", app.url)).json(&json!({"query": query}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn operators_rebuild_and_follow_progress_through_their_own_api() {
    let app = TestApp::spawn_with(|c| c.operator_token = Some("operator-secret".into())).await.expect("test app");
    let (owner, org) = history(&app, 8).await;
    Projector::new(app.pool.clone()).catch_up(org).await.unwrap();
    mark_old(&app, org).await;

    let start = format!(
        "mutation {{ rebuildProjections(projection: DEFECT_REGISTER, organizationId: \"{org}\") {{ total rebuilds {{ state }} }} }}"
    );
    assert_eq!(operator(&app, None, &start).await.0, 401);
    assert_eq!(operator(&app, Some("operator-secreT"), &start).await.0, 401);
    assert_eq!(operator(&app, Some(&owner.token), &start).await.0, 401, "a tenant session is not an operator");
    assert_eq!(old_titles(&app, org).await, 8, "a refused request changed nothing");
    let (status, body) = operator(&app, Some("operator-secret"), &start).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["rebuildProjections"]["total"].as_i64().unwrap() > 0, "{body}");

    let follow = format!(
        "{{ rebuilds(organizationId: \"{org}\") {{ done total swapped running lastError rebuilds {{ projection state version }} }} }}"
    );
    let mut last = Value::Null;
    for _ in 0..400 {
        last = operator(&app, Some("operator-secret"), &follow).await.1;
        if last["data"]["rebuilds"]["swapped"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(last["data"]["rebuilds"]["swapped"], 1, "{last}");
    assert_eq!(last["data"]["rebuilds"]["done"], last["data"]["rebuilds"]["total"], "{last}");
    assert_eq!(old_titles(&app, org).await, 0);
    let projections = operator(
        &app,
        Some("operator-secret"),
        &format!("{{ projections(organizationId: \"{org}\") {{ projections {{ projection version lag }} }} }}"),
    )
    .await
    .1;
    let defects = projections["data"]["projections"][0]["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["projection"] == "defect_register")
        .cloned();
    assert_eq!(defects.map(|d| d["version"].clone()), Some(json!(1)), "{projections}");

    let missing =
        operator(&app, Some("operator-secret"), &format!("mutation {{ cancelRebuilds(organizationId: \"{}\") }}", Uuid::now_v7())).await.1;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND", "{missing}");
}

#[tokio::test]
async fn every_shadow_table_has_the_live_tables_columns_and_indexes() {
    let app = TestApp::spawn().await;
    let mut su = app.superuser().await;
    for projection in gemba_projections::engine::Projection::ALL {
        for table in projection.tables() {
            let shape = |schema: &'static str| {
                format!(
                    "select coalesce(string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ', ' order by ordinal_position), '')
                       from information_schema.columns where table_schema = '{schema}' and table_name = '{table}'"
                )
            };
            let live: String = sqlx::query_scalar(&shape("public")).fetch_one(&mut su).await.unwrap();
            let shadow: String = sqlx::query_scalar(&shape("rebuild")).fetch_one(&mut su).await.unwrap();
            assert!(!live.is_empty(), "{table}");
            assert_eq!(shadow, live, "rebuild.{table} has the columns of {table}: a migration changing one changes both");
            let indexes =
                |schema: &'static str| format!("select count(*) from pg_indexes where schemaname = '{schema}' and tablename = '{table}'");
            let live: i64 = sqlx::query_scalar(&indexes("public")).fetch_one(&mut su).await.unwrap();
            let shadow: i64 = sqlx::query_scalar(&indexes("rebuild")).fetch_one(&mut su).await.unwrap();
            assert_eq!(shadow, live, "rebuild.{table} has the indexes of {table}");
        }
    }
}
