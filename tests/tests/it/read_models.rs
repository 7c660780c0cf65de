//! Read models and KPIs against hand-computed fixtures, and the projector's guarantees when
//! its process is killed, when several workers share a database, and under many writers:
//! every read model equals a rebuild from the first event.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gemba_projections::engine::{Projection, Projector};
use gemba_tests::{Session, TestApp, gemba_bin};
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) async fn ok(app: &TestApp, who: &Session, name: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ id }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    assert!(r["errors"].is_null(), "{name}: {r}");
    r["data"][name].clone()
}

pub(crate) fn raise(zone: &str, title: &str, priority: &str, tag_class: &str) -> Value {
    json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": tag_class, "priority": priority, "title": title, "description": "seen"})
}

async fn close(app: &TestApp, fixer: &Session, verifier: &Session, defect: &str) {
    ok(app, fixer, "resolveDefect", "ResolveDefectInput", json!({"defectId": defect, "countermeasure": "fixed"})).await;
    ok(app, verifier, "verifyDefect", "VerifyDefectInput", json!({"defectId": defect})).await;
}

#[tokio::test]
async fn the_roll_up_matches_hand_computed_defect_and_participation_figures() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@kpi.example", "KPI").await;
    let fixer = app.join(&owner, "fixer@kpi.example", "MEMBER").await;
    let third = app.join(&owner, "third@kpi.example", "MEMBER").await;
    let auditor = app.join(&owner, "auditor@kpi.example", "AUDITOR").await;
    let elsewhere = app.join(&owner, "else@kpi.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let other_zone = app.create_zone(&owner, &site, "Z-2", "Paint").await;
    for (who, home) in [(&owner, &zone), (&fixer, &zone), (&third, &zone), (&auditor, &zone), (&elsewhere, &other_zone)] {
        ok(&app, &owner, "setHomeZone", "SetHomeZoneInput", json!({"memberId": who.member, "zoneId": home})).await;
    }

    // Five B defects (7-day SLA) raised and assigned now, closed after 1, 2, 3, 4 and 10 days;
    // the last one's due date was moved to day 30 first: late against the original, on time
    // against the current.
    let mut defects = Vec::new();
    for n in 1..=5 {
        let id = ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, &format!("Leak {n}"), "B", "OPERATOR")).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
        defects.push(id);
    }
    let moved = (app.gemba().now() + chrono::Duration::days(30)).to_rfc3339();
    ok(
        &app,
        &owner,
        "changeDefectDueDate",
        "ChangeDefectDueDateInput",
        json!({"defectId": defects[4], "dueAt": moved, "reason": "parts on order"}),
    )
    .await;
    let before_closing = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut day = 0;
    for (defect, closed_on) in defects.iter().zip([1, 2, 3, 4, 10]) {
        app.clock.advance(chrono::Duration::days(closed_on - day));
        day = closed_on;
        close(&app, &fixer, &owner, defect).await;
    }
    // Still open: one C maintenance tag raised today.
    ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, "Worn belt", "C", "MAINTENANCE")).await;
    // One kaizen first submitted in the period, authored by the fixer: 1 of the 3 active
    // members of the zone took part (the Auditor and the member of another zone do not count).
    let kaizen = ok(
        &app,
        &fixer,
        "draftKaizen",
        "DraftKaizenInput",
        json!({"zoneId": zone, "title": "Drip tray", "category": "QUALITY", "problem": "oil", "proposal": "tray"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&app, &fixer, "submitKaizenAsImplemented", "KaizenInput", json!({"kaizenId": kaizen})).await;

    let query = "query($scope: ScopeInput) { scopeKpis(scope: $scope, window: ROLLING_30) {
        openDefects openByPriority { key count } openByTagClass { key count } openByAgeBucket { key count }
        overdueDefects overdueVsOriginal raisedInPeriod closedInPeriod mttcDays { mean median p90 }
        onTimeClosureRate onTimeVsCurrentDue fmRatio ideasSubmitted activeMembers participatingMembers participationRate
        implementationRate30d activeZones coverage avg5sScore } }";
    for scope in [json!(null), json!({"siteId": site}), json!({"zoneId": zone})] {
        let r = app.gql(Some(&owner.token), query, json!({"scope": scope})).await;
        let k = &r["data"]["scopeKpis"];
        assert!(r["errors"].is_null(), "{r}");
        assert_eq!(k["closedInPeriod"], 5, "{scope}: {r}");
        assert_eq!(k["raisedInPeriod"], 6);
        // Days to close 1, 2, 3, 4, 10: mean 4, median 3, P90 = 4 + 0.6 × (10 − 4) = 7.6.
        assert_eq!(k["mttcDays"], json!({"mean": 4.0, "median": 3.0, "p90": 7.6}), "{r}");
        assert_eq!(k["onTimeClosureRate"], 0.8, "against the original due date");
        assert_eq!(k["onTimeVsCurrentDue"], 1.0);
        assert_eq!(k["fmRatio"], 5.0, "5 operator tags for 1 maintenance tag");
        assert_eq!(k["openDefects"], 1);
        assert_eq!(k["openByPriority"], json!([{"key": "C", "count": 1}]));
        assert_eq!(k["openByTagClass"], json!([{"key": "maintenance", "count": 1}]));
        assert_eq!(k["openByAgeBucket"], json!([{"key": "0-7", "count": 1}]));
        assert_eq!((k["overdueDefects"].as_i64(), k["overdueVsOriginal"].as_i64()), (Some(0), Some(0)));
        assert_eq!(k["ideasSubmitted"], 1);
        assert_eq!(k["implementationRate30d"], 1.0);
        assert!(k["avg5sScore"].is_null(), "no zone is rated: null, not 0");
    }
    let zone_scope = app.gql(Some(&owner.token), query, json!({"scope": {"zoneId": zone}})).await;
    let k = &zone_scope["data"]["scopeKpis"];
    assert_eq!((k["activeMembers"].as_i64(), k["participatingMembers"].as_i64()), (Some(3), Some(1)), "{zone_scope}");
    assert_eq!((k["activeZones"].as_i64(), k["coverage"].as_str()), (Some(1), Some("0")));
    let site_scope = app.gql(Some(&owner.token), query, json!({"scope": {"siteId": site}})).await;
    assert_eq!(site_scope["data"]["scopeKpis"]["activeMembers"], 4, "the member of the other zone counts on the site");
    assert_eq!(site_scope["data"]["scopeKpis"]["participationRate"], 0.25);
    let other = app.gql(Some(&owner.token), query, json!({"scope": {"zoneId": other_zone}})).await;
    assert_eq!(other["data"]["scopeKpis"]["closedInPeriod"], 0, "{other}");
    assert!(other["data"]["scopeKpis"]["mttcDays"]["median"].is_null());

    // The history of a defect as it stood before it was closed.
    let history = "query($id: ID!, $asOf: DateTime) { history(entityId: $id, asOf: $asOf) { eventType } }";
    let types = |r: &Value| r["data"]["history"].as_array().unwrap().iter().map(|e| e["eventType"].clone()).collect::<Vec<_>>();
    let then = app.gql(Some(&owner.token), history, json!({"id": defects[0], "asOf": before_closing})).await;
    assert_eq!(types(&then), [json!("DefectRaised"), json!("DefectTypeSuggested"), json!("DefectAssigned")], "{then}");
    let now = app.gql(Some(&owner.token), history, json!({"id": defects[0], "asOf": null})).await;
    assert_eq!(types(&now).len(), 5, "{now}");

    // Another organisation cannot roll up this one's zone.
    let stranger = app.sign_up("owner@elsewhere.example", "Elsewhere").await;
    let refused = app.gql(Some(&stranger.token), query, json!({"scope": {"zoneId": zone}})).await;
    assert_eq!(gemba_tests::error_code(&refused), Some("NOT_FOUND"), "{refused}");
}

/// Rows of every read model of `org` in a stable order.
pub(crate) async fn snapshot(app: &TestApp, org: Uuid) -> Value {
    Projector::new(app.pool.clone()).snapshot(org).await.unwrap()
}

async fn reset(app: &TestApp, org: Uuid) {
    for projection in Projection::ALL {
        Projector::new(app.pool.clone()).reset(org, projection).await.unwrap();
    }
}

/// The least checkpoint over every projection, and the organisation's head.
pub(crate) async fn progress(app: &TestApp, org: Uuid) -> (i64, i64) {
    let status = Projector::new(app.pool.clone()).status(org).await.unwrap();
    let least = status.iter().map(|s| s.checkpoint).min().unwrap_or(0);
    assert!(status.iter().all(|s| s.last_error.is_none()), "{status:?}");
    (least, status.first().map_or(0, |s| s.head))
}

fn worker(app: &TestApp, args: &[&str]) -> Child {
    Command::new(gemba_bin())
        .args(["projections", "run", "--poll-secs", "1"])
        .args(args)
        .env("DATABASE_URL", app.app_url())
        .env("GEMBA_DATA_DIR", app.evidence_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting a projector process")
}

pub(crate) async fn wait_until(app: &TestApp, org: Uuid, done: impl Fn(i64, i64) -> bool) -> (i64, i64) {
    for _ in 0..600 {
        let (checkpoint, head) = progress(app, org).await;
        if done(checkpoint, head) {
            return (checkpoint, head);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the projections did not get there: {:?}", progress(app, org).await);
}

/// A plant with a history touching every read model: defects through their lifecycle, a
/// kaizen through verified savings, an A3 case; returns its organisation.
pub(crate) async fn history(app: &TestApp, defects: usize) -> (Session, Uuid) {
    let owner = app.sign_up("owner@replay.example", "Replay").await;
    let fixer = app.join(&owner, "fixer@replay.example", "MEMBER").await;
    let coach = app.join(&owner, "coach@replay.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    for n in 0..defects {
        let id = ok(app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, &format!("Leak {n}"), "B", "OPERATOR")).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
        if n % 2 == 0 {
            close(app, &fixer, &owner, &id).await;
        }
    }
    let kaizen = ok(
        app,
        &fixer,
        "draftKaizen",
        "DraftKaizenInput",
        json!({"zoneId": zone, "title": "Drip tray", "category": "QUALITY", "problem": "oil", "proposal": "tray"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(app, &fixer, "submitKaizenAsImplemented", "KaizenInput", json!({"kaizenId": kaizen})).await;
    let soft = json!({"kaizenId": kaizen, "lineId": "s1", "kind": "ACTUAL", "classification": "SOFT", "amount": "40", "currency": "EUR",
                      "period": "MONTH", "realizedOn": "2026-06-01", "calculation": "less cleaning"});
    ok(app, &fixer, "setKaizenImpactLine", "SetKaizenImpactLineInput", soft).await;
    ok(app, &fixer, "submitKaizenImpact", "KaizenInput", json!({"kaizenId": kaizen})).await;
    ok(
        app,
        &owner,
        "grantCapability",
        "CapabilityInput",
        json!({"memberId": coach.member, "capability": "SAVINGS_VERIFIER", "reason": "finance"}),
    )
    .await;
    ok(app, &coach, "verifyKaizenSavings", "KaizenInput", json!({"kaizenId": kaizen})).await;
    ok(app, &owner, "openA3", "OpenA3Input", json!({"theme": "Oil leaks on the press", "ownerId": fixer.member, "coachId": coach.member}))
        .await;
    let org = owner.org.parse().unwrap();
    (owner, org)
}

#[tokio::test]
async fn a_projector_process_killed_mid_batch_resumes_and_its_read_models_equal_a_fresh_rebuild() {
    let app = TestApp::spawn().await;
    let (_, org) = history(&app, 30).await;
    app.stop_projector();
    let live = snapshot(&app, org).await;
    assert_eq!(live["kaizen_impact_ledger"].as_array().map(Vec::len), Some(12), "{live}");
    assert_eq!(live["a3_register"].as_array().map(Vec::len), Some(1));

    reset(&app, org).await;
    // Batches of 40 events with 20 ms after each: a batch holds its transaction open for
    // most of a second, so the kill lands inside one.
    let mut first = worker(&app, &["--batch-size", "40", "--throttle-ms", "20"]);
    let (checkpoint, head) = wait_until(&app, org, |checkpoint, _| checkpoint >= 40).await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(checkpoint < head, "killed before the end: {checkpoint} of {head}");
    let after_kill = progress(&app, org).await.0;
    assert_eq!(after_kill % 40, 0, "only whole batches were committed: {after_kill}");

    let mut second = worker(&app, &["--batch-size", "40"]);
    wait_until(&app, org, |checkpoint, head| checkpoint == head).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(snapshot(&app, org).await, live, "resumed from its checkpoint: nothing counted twice or skipped");
}

#[tokio::test]
async fn two_projector_processes_on_one_database_build_what_one_builds() {
    let app = TestApp::spawn().await;
    let (_, org) = history(&app, 20).await;
    app.stop_projector();
    let live = snapshot(&app, org).await;
    reset(&app, org).await;
    assert_ne!(snapshot(&app, org).await, live);
    let mut workers = [worker(&app, &["--batch-size", "3"]), worker(&app, &["--batch-size", "5"])];
    wait_until(&app, org, |checkpoint, head| checkpoint == head).await;
    for w in &mut workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    assert_eq!(snapshot(&app, org).await, live);
}

#[tokio::test]
async fn many_writers_across_organisations_while_the_projector_runs_leave_every_read_model_equal_to_a_rebuild() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut orgs = Vec::new();
    let mut writers = Vec::new();
    for o in 0..3 {
        let owner = app.sign_up(&format!("owner@w{o}.example"), &format!("Writers {o}")).await;
        let fixer = app.join(&owner, &format!("fixer@w{o}.example"), "MEMBER").await;
        let site = app.create_site(&owner, "S1").await;
        let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
        orgs.push(owner.org.parse::<Uuid>().unwrap());
        for w in 0..3 {
            let (app, owner, fixer, zone) = (app.clone(), owner.clone(), fixer.clone(), zone.clone());
            writers.push(tokio::spawn(async move {
                for n in 0..5 {
                    let title = format!("Leak {w}-{n}");
                    let id = ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, &title, "B", "OPERATOR")).await["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    ok(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
                    close(&app, &fixer, &owner, &id).await;
                }
            }));
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let projector = Projector::new(app.pool.clone());
    for &org in &orgs {
        let head = progress(&app, org).await.1;
        assert!(projector.wait_for(org, head, Duration::from_secs(10)).await.unwrap());
        let live = snapshot(&app, org).await;
        assert_eq!(live["defect_register"].as_array().map(Vec::len), Some(15), "no event skipped");
        reset(&app, org).await;
        assert!(projector.wait_for(org, head, Duration::from_secs(10)).await.unwrap());
        assert_eq!(snapshot(&app, org).await, live, "a rebuild from scratch gives the same read models");
    }
}

mod statements {
    //! Counts the SQL statements sqlx runs on the current thread (a `#[tokio::test]` runs the
    //! test, its server and their database calls on one thread).

    use std::cell::Cell;

    use tracing_subscriber::layer::SubscriberExt as _;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    struct Counter;

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counter {
        fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            if event.metadata().target() == "sqlx::query" {
                COUNT.with(|c| c.set(c.get() + 1));
            }
        }
    }

    /// Installs the counter (once per test binary).
    pub fn install() {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Counter));
        });
    }

    /// Statements run on this thread so far.
    pub fn count() -> usize {
        COUNT.with(Cell::get)
    }
}

const DASHBOARD: &str = "{
    scopeKpis(window: MONTH) { openDefects openByPriority { key count } mttcDays { median p90 } participationRate avg5sScore
                               verifiedHardSavingsYtd { currency amount } a3OpenByPhase { key count } }
    zoneLeaderboard(window: MONTH) { byPointsPerHead { rank pointsPerHead zone { code name } } fiveSImprovement { delta zone { name } } }
    leaderboard(window: MONTH) { top { rank points } }
    defectRegister(first: 50) { edges { node { title status zone { code name } } } }
    kaizenRegister(first: 50) { edges { node { title zone { name } } } }
}";

/// The statements one dashboard request costs.
async fn dashboard_statements(app: &TestApp, who: &Session) -> (usize, Value) {
    let before = statements::count();
    let r = app.gql(Some(&who.token), DASHBOARD, json!({})).await;
    assert!(r["errors"].is_null(), "{r}");
    (statements::count() - before, r)
}

#[tokio::test]
async fn a_dashboard_page_costs_the_same_few_statements_whatever_the_data() {
    statements::install();
    let app = TestApp::spawn().await;
    app.stop_projector();
    let owner = app.sign_up("owner@dash.example", "Dashboard").await;
    let fixer = app.join(&owner, "fixer@dash.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-0", "Press").await;
    ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, "Leak", "B", "OPERATOR")).await;
    let (small, r) = dashboard_statements(&app, &owner).await;
    assert_eq!(r["data"]["defectRegister"]["edges"][0]["node"]["zone"]["code"], "Z-0", "{r}");

    // Eight zones, forty defects and kaizens spread over them: the page shows them all.
    let mut zones = vec![zone];
    for z in 1..8 {
        zones.push(app.create_zone(&owner, &site, &format!("Z-{z}"), &format!("Cell {z}")).await);
    }
    for n in 0..40 {
        let zone = &zones[n % zones.len()];
        ok(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(zone, &format!("Leak {n}"), "A", "MAINTENANCE")).await;
        if n % 4 == 0 {
            ok(
                &app,
                &fixer,
                "draftKaizen",
                "DraftKaizenInput",
                json!({"zoneId": zone, "title": format!("Idea {n}"), "category": "COST", "problem": "p", "proposal": "q"}),
            )
            .await;
        }
    }
    let (large, r) = dashboard_statements(&app, &owner).await;
    assert_eq!(r["data"]["defectRegister"]["edges"].as_array().map(Vec::len), Some(41));
    assert_eq!(r["data"]["zoneLeaderboard"]["byPointsPerHead"].as_array().map(Vec::len), Some(8));
    assert!(r["data"]["defectRegister"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["zone"]["name"].is_string()), "{r}");
    // The zones of every row are loaded together, not one by one (that would add three
    // statements per row, over 120 here): at most one loader batch per list (its transaction,
    // its settings, its query) separates the two pages, depending on when each list resolves.
    assert!(large <= small + 12, "the page grew with its rows: {small} statements, then {large}");
    // The counter sees the statements, and they are few.
    assert!((8..=60).contains(&large), "a dashboard page costs a bounded number of statements: {small}, then {large}");
}
