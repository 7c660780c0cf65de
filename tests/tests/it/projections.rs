//! The projector engine: read-your-writes, exactly-once application under concurrent
//! workers, and a stopped projection that is visible and never skips its event.

use gemba_projections::engine::{Projection, Projector};
use gemba_tests::{Session, TestApp};
use serde_json::{Value, json};

async fn mutate(app: &TestApp, who: &Session, name: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ id status }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    assert!(r["errors"].is_null(), "{name}: {r}");
    r
}

async fn register(app: &TestApp, who: &Session) -> Vec<Value> {
    let r = app
        .gql(
            Some(&who.token),
            "{ defectRegister(first: 100) { edges { node { defectId status priority assigneeId reopenCount originalDueAt } } } }",
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["defectRegister"]["edges"].as_array().cloned().unwrap_or_default().into_iter().map(|e| e["node"].clone()).collect()
}

fn raise(zone: &str, title: &str) -> Value {
    json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "B", "title": title, "description": "seen"})
}

#[tokio::test]
async fn a_mutation_answers_once_the_register_shows_its_change() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@ryw.example", "RYW").await;
    let fixer = app.join(&owner, "fixer@ryw.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;

    let raised = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, "Loose guard")).await;
    assert_eq!(raised["extensions"]["readYourWrites"]["reached"], true, "{raised}");
    let id = raised["data"]["raiseDefect"]["id"].as_str().unwrap().to_owned();
    let rows = register(&app, &owner).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["defectId"].as_str(), rows[0]["status"].as_str()), (Some(id.as_str()), Some("OPEN")));

    mutate(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
    let rows = register(&app, &owner).await;
    assert_eq!((rows[0]["status"].as_str(), rows[0]["assigneeId"].as_str()), (Some("ASSIGNED"), Some(fixer.member.as_str())));
    assert!(rows[0]["originalDueAt"].is_string());

    let filtered =
        app.gql(Some(&owner.token), "{ defectRegister(filter: {statuses: [CLOSED]}) { edges { node { defectId } } } }", json!({})).await;
    assert_eq!(filtered["data"]["defectRegister"]["edges"], json!([]), "{filtered}");
    let count = |filter: Value| {
        let app = &app;
        let token = owner.token.clone();
        async move {
            let r = app
                .gql(
                    Some(&token),
                    "query($f: DefectRegisterFilter) { defectRegister(filter: $f) { edges { node { defectId } } } }",
                    json!({"f": filter}),
                )
                .await;
            r["data"]["defectRegister"]["edges"].as_array().map(Vec::len).unwrap_or_else(|| panic!("{r}"))
        }
    };
    assert_eq!(count(json!({"siteId": site, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR"})).await, 1);
    assert_eq!(count(json!({"tagClass": "MAINTENANCE"})).await, 0);
    assert_eq!(count(json!({"raisedFrom": "2000-01-01T00:00:00Z", "raisedTo": "2100-01-01T00:00:00Z"})).await, 1);
    assert_eq!(count(json!({"raisedFrom": "2100-01-01T00:00:00Z"})).await, 0);
    let other_site = app.create_site(&owner, "S2").await;
    assert_eq!(count(json!({"siteId": other_site})).await, 0);

    let status = app.gql(Some(&owner.token), "{ projectionStatus { projection checkpoint head lag lastError } }", json!({})).await;
    let defect_register = &status["data"]["projectionStatus"][0];
    assert_eq!(defect_register["projection"], "defect_register", "{status}");
    assert_eq!(defect_register["lag"], 0, "{status}");
    assert_eq!(defect_register["checkpoint"], defect_register["head"]);
    assert!(defect_register["lastError"].is_null());

    // Another organisation's register is empty: read models are under RLS too.
    let other = app.sign_up("owner@other.example", "Other").await;
    assert!(register(&app, &other).await.is_empty());
}

#[tokio::test]
async fn concurrent_workers_apply_every_event_exactly_once() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@cc.example", "Concurrent").await;
    let fixer = app.join(&owner, "fixer@cc.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let org: uuid::Uuid = owner.org.parse().unwrap();

    // Two more workers with batches of one event race the server's own worker and the
    // read-your-writes catch-up.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let projector = Projector::new(app.pool.clone()).with_batch_size(1);
            tokio::spawn(async move {
                loop {
                    let _ = projector.catch_up(org).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut ids = Vec::new();
    for n in 0..6 {
        let id =
            mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", raise(&zone, &format!("Leak {n}"))).await["data"]["raiseDefect"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
        mutate(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
        mutate(&app, &fixer, "resolveDefect", "ResolveDefectInput", json!({"defectId": id, "countermeasure": "sealed"})).await;
        mutate(&app, &owner, "verifyDefect", "VerifyDefectInput", json!({"defectId": id})).await;
        mutate(&app, &owner, "reopenDefect", "DefectReasonInput", json!({"defectId": id, "reason": "dripping again"})).await;
        ids.push(id);
    }
    let projector = Projector::new(app.pool.clone());
    assert!(projector.wait_for(org, app.event_count(&owner.org).await, std::time::Duration::from_secs(10)).await.unwrap());
    for worker in workers {
        worker.abort();
    }
    let rows = register(&app, &owner).await;
    assert_eq!(rows.len(), ids.len());
    for row in &rows {
        assert_eq!((row["status"].as_str(), row["reopenCount"].as_i64()), (Some("ASSIGNED"), Some(1)), "applied once: {row}");
    }
    let status = projector.status(org).await.unwrap();
    assert!(status.iter().all(|s| s.lag() == 0 && s.last_error.is_none()), "{status:?}");
}

#[tokio::test]
async fn a_projection_stopped_by_an_unreadable_event_says_so_and_never_skips_it() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("owner@stop.example", "Stopped").await;
    let b = app.sign_up("owner@fine.example", "Fine").await;
    let site = app.create_site(&a, "S1").await;
    let zone = app.create_zone(&a, &site, "Z-1", "Press").await;
    mutate(&app, &a, "raiseDefect", "RaiseDefectInput", raise(&zone, "Before the fault")).await;

    // Fault injection as the superuser: an event whose payload is not a defect event.
    let mut conn = app.superuser().await;
    let head: i64 = sqlx::query_scalar("update org_heads set last_seq = last_seq + 1 where org_id = $1::uuid returning last_seq")
        .bind(&a.org)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "insert into events (org_id, aggregate_type, aggregate_id, sequence, tenant_seq, event_type, event_version, payload, metadata,
                             recorded_at, prev_hash, hash)
         values ($1::uuid, 'Defect', $2, 1, $3, 'DefectRaised', '1', '{\"Nonsense\": {}}', '{}', now(),
                 decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))",
    )
    .bind(&a.org)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(head)
    .execute(&mut conn)
    .await
    .unwrap();

    let org: uuid::Uuid = a.org.parse().unwrap();
    let projector = Projector::new(app.pool.clone());
    assert!(projector.catch_up(org).await.is_err(), "the unreadable event stops the projection");
    let status = projector.status(org).await.unwrap();
    let register = status.iter().find(|s| s.projection == Projection::DefectRegister.name()).unwrap();
    assert_eq!(register.failed_seq, Some(head));
    assert_eq!(register.checkpoint, head - 1, "never skipped");
    assert!(register.last_error.as_deref().is_some_and(|e| e.contains("does not read")), "{register:?}");
    let seen = app.gql(Some(&a.token), "{ projectionStatus { lag failedSeq lastError } }", json!({})).await;
    assert_eq!(seen["data"]["projectionStatus"][0]["lag"], 1, "{seen}");
    assert_eq!(seen["data"]["projectionStatus"][0]["failedSeq"], head);

    // Other organisations keep being projected.
    let b_org: uuid::Uuid = b.org.parse().unwrap();
    assert!(projector.catch_up(b_org).await.is_ok());
    assert!(projector.status(b_org).await.unwrap().iter().all(|s| s.lag() == 0));
}
