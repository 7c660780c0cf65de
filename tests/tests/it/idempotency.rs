//! A retried command (same Idempotency-Key) is a no-op that returns the original result.

use gemba_tests::TestApp;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_retried_create_returns_the_original_zone_and_writes_nothing_new() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let key = Uuid::new_v4();
    let create = "mutation($input: CreateZoneInput!) { createZone(input: $input) { id code } }";
    let input = json!({"input": {"siteId": site, "code": "Z1", "name": "Press"}});

    let first = app.gql_with(Some(&owner.token), create, input.clone(), Some(key)).await;
    let events = app.event_count(&owner.org).await;
    let retried = app.gql_with(Some(&owner.token), create, input.clone(), Some(key)).await;
    assert_eq!(first, retried, "same result");
    assert!(first["data"]["createZone"]["id"].is_string(), "{first}");
    assert_eq!(app.event_count(&owner.org).await, events, "no new event");

    // Concurrent retries of one new command also execute it once.
    let key = Uuid::new_v4();
    let rename = "mutation($input: RenameZoneInput!) { renameZone(input: $input) { name } }";
    let zone = first["data"]["createZone"]["id"].as_str().expect("zone").to_owned();
    let input = json!({"input": {"zoneId": zone, "name": "Press line"}});
    let tries = (0..6).map(|_| app.gql_with(Some(&owner.token), rename, input.clone(), Some(key)));
    let results = futures::future::join_all(tries).await;
    assert!(results.iter().all(|r| r["data"]["renameZone"]["name"] == "Press line"), "{results:?}");
    assert_eq!(app.event_count(&owner.org).await, events + 1);

    // The same key with a different input is a different command, not a silent no-op.
    let changed = app.gql_with(Some(&owner.token), rename, json!({"input": {"zoneId": zone, "name": "Press hall"}}), Some(key)).await;
    assert_eq!(changed["data"]["renameZone"]["name"], "Press hall", "{changed}");
    assert_eq!(app.event_count(&owner.org).await, events + 2);

    // A different key is a different command.
    let other = app
        .gql_with(Some(&owner.token), create, json!({"input": {"siteId": site, "code": "Z2", "name": "Weld"}}), Some(Uuid::new_v4()))
        .await;
    assert_ne!(other["data"]["createZone"]["id"], first["data"]["createZone"]["id"]);
}
