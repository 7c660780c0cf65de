//! Schema evolution: an event stored in an older shape (`event_version`) reads through its
//! upcaster on every read path: aggregate load, projections and their rebuild, exports.

use gemba_projections::engine::{Projection, Projector};
use gemba_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_version_1_escalation_loads_through_its_upcaster_in_aggregates_projections_rebuilds_and_exports() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@up.example", "Upcast").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let raised = app
        .gql(
            Some(&owner.token),
            "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "abnormalityType": "UNSAFE_PLACE", "tagClass": "SAFETY", "priority": "A",
                              "title": "Guard missing", "description": "on press 3"}}),
        )
        .await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().unwrap().to_owned();
    let (org, defect): (uuid::Uuid, uuid::Uuid) = (owner.org.parse().unwrap(), id.parse().unwrap());
    let gemba = app.gemba();
    let now = chrono::Utc::now();
    assert!(
        gemba
            .escalate_defect(gemba_domain::OrgId(org), gemba_domain::DefectId(defect), 60, now + chrono::Duration::minutes(61))
            .await
            .unwrap()
            .is_some()
    );

    // The escalation as an older release wrote it: version 1, `level` only.
    let mut db = app.superuser().await;
    sqlx::query("alter table events disable trigger events_append_only").execute(&mut db).await.unwrap();
    let rewritten = sqlx::query(
        "update events set event_version = '1',
                payload = jsonb_build_object('DefectEscalated', (payload -> 'DefectEscalated') - 'from_level' - 'to_level'
                          || jsonb_build_object('level', payload #> '{DefectEscalated,to_level}'))
          where org_id = $1 and event_type = 'DefectEscalated'",
    )
    .bind(org)
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query("alter table events enable trigger events_append_only").execute(&mut db).await.unwrap();
    assert_eq!(rewritten.rows_affected(), 1);
    // That release's chain covered the bytes it stored: link them again.
    rechain(&mut db, org).await;
    let stored: serde_json::Value = sqlx::query_scalar("select payload from events where org_id = $1 and event_type = 'DefectEscalated'")
        .bind(org)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(stored["DefectEscalated"]["level"], 1, "{stored}");

    // Projections, rebuilt from the first event, read it.
    let projector = Projector::new(app.pool.clone());
    projector.reset(org, Projection::DefectRegister).await.unwrap();
    projector.catch_up(org).await.unwrap();
    let status = projector.status(org).await.unwrap();
    assert!(status.iter().all(|s| s.last_error.is_none() && s.lag() == 0), "{status:?}");
    let register = app.gql(Some(&owner.token), "{ defectRegister { edges { node { escalationLevel } } } }", json!({})).await;
    assert_eq!(register["data"]["defectRegister"]["edges"][0]["node"]["escalationLevel"], 1, "{register}");

    // The aggregate loads it, and decides the next level from it.
    let read = app.gql(Some(&owner.token), "query($id: ID!) { defect(id: $id) { escalationLevel } }", json!({"id": id})).await;
    assert_eq!(read["data"]["defect"]["escalationLevel"], 1, "{read}");
    assert!(
        gemba
            .escalate_defect(gemba_domain::OrgId(org), gemba_domain::DefectId(defect), 60, now + chrono::Duration::minutes(121))
            .await
            .unwrap()
            .is_some()
    );
    let newest: (String, serde_json::Value) = sqlx::query_as(
        "select event_version, payload from events where org_id = $1 and event_type = 'DefectEscalated' order by tenant_seq desc limit 1",
    )
    .bind(org)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(newest.0, "2");
    assert_eq!((newest.1["DefectEscalated"]["from_level"].as_u64(), newest.1["DefectEscalated"]["to_level"].as_u64()), (Some(1), Some(2)));

    // Exports show the current shape while their chain covers the stored bytes: the row
    // verifies offline.
    let dir = tempfile::tempdir().unwrap();
    let export = super::export::http_export(&app, &owner, "format=ndjson").await.expect("the owner exports");
    let rows = super::export::ndjson_rows(&export.body);
    let escalations: Vec<&serde_json::Value> = rows.iter().filter(|r| r["event_type"] == "DefectEscalated").collect();
    assert_eq!(escalations.len(), 2, "{rows:?}");
    let first = &escalations[0]["payload"]["DefectEscalated"];
    assert_eq!((first["from_level"].clone(), first["to_level"].clone()), (serde_json::Value::Null, json!(1)), "{first}");
    let (code, out) = super::export::verify_offline(dir.path(), &export.body, &export.manifest, None);
    assert_eq!(code, 0, "{out}");
}

/// Recomputes `org`'s hash chain over the stored events (as the database owner).
async fn rechain(db: &mut sqlx::PgConnection, org: uuid::Uuid) {
    let rows: Vec<gemba_commands::chain::ChainedEvent> =
        sqlx::query_as(&format!("select {} from events where org_id = $1 order by tenant_seq", gemba_commands::chain::CHAINED_COLUMNS))
            .bind(org)
            .fetch_all(&mut *db)
            .await
            .unwrap();
    sqlx::query("alter table events disable trigger events_append_only").execute(&mut *db).await.unwrap();
    let mut prev = gemba_commands::chain::GENESIS.to_vec();
    for row in &rows {
        let hash = row.link(gemba_domain::OrgId(org)).hash(&prev).to_vec();
        sqlx::query("update events set prev_hash = $3, hash = $4 where org_id = $1 and tenant_seq = $2")
            .bind(org)
            .bind(row.tenant_seq)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *db)
            .await
            .unwrap();
        prev = hash;
    }
    sqlx::query("alter table events enable trigger events_append_only").execute(&mut *db).await.unwrap();
    sqlx::query("update org_heads set last_hash = $2 where org_id = $1").bind(org).bind(&prev).execute(&mut *db).await.unwrap();
}
