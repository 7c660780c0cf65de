//! Tenant isolation through HTTP: another organisation's records are invisible and
//! immutable, whatever the request.

use gemba_tests::{TestApp, error_code};
use serde_json::json;

const ZONE: &str = "query($id: ID!) { zone(id: $id) { id name } }";
const RENAME: &str = "mutation($input: RenameZoneInput!) { renameZone(input: $input) { id name } }";

#[tokio::test]
async fn another_organisation_reads_null_and_cannot_mutate_a_zone() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("ann@a.example", "Org A").await;
    let b = app.sign_up("bob@b.example", "Org B").await;
    let site = app.create_site(&a, "A1").await;
    let zone = app.create_zone(&a, &site, "Z1", "Press 1").await;
    let before = app.event_count(&a.org).await;

    let read = app.gql(Some(&b.token), ZONE, json!({"id": zone})).await;
    assert_eq!(read["data"]["zone"], json!(null), "{read}");
    assert!(read["errors"].is_null(), "{read}");

    let rename = app.gql(Some(&b.token), RENAME, json!({"input": {"zoneId": zone, "name": "Stolen"}})).await;
    assert_eq!(error_code(&rename), Some("NOT_FOUND"), "{rename}");
    let history = app.gql(Some(&b.token), "query($id: ID!) { history(entityId: $id) { seq } }", json!({"id": zone})).await;
    assert_eq!(history["data"]["history"], json!([]), "{history}");

    assert_eq!(app.event_count(&a.org).await, before, "org A's stream must be unchanged");
    let own = app.gql(Some(&a.token), ZONE, json!({"id": zone})).await;
    assert_eq!(own["data"]["zone"]["name"], "Press 1", "{own}");
}

#[tokio::test]
async fn lists_show_only_the_callers_organisation() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("ann@a.example", "Org A").await;
    let b = app.sign_up("bob@b.example", "Org B").await;
    let site_a = app.create_site(&a, "A1").await;
    app.create_zone(&a, &site_a, "ZA", "Zone A").await;
    let site_b = app.create_site(&b, "B1").await;
    app.create_zone(&b, &site_b, "ZB", "Zone B").await;

    let list = "{ sites { edges { node { code } } } zones { edges { node { code } } } members { edges { node { email } } } }";
    let seen_by_b = app.gql(Some(&b.token), list, json!({})).await;
    assert_eq!(seen_by_b["data"]["sites"]["edges"], json!([{"node": {"code": "B1"}}]), "{seen_by_b}");
    assert_eq!(seen_by_b["data"]["zones"]["edges"], json!([{"node": {"code": "ZB"}}]), "{seen_by_b}");
    assert_eq!(seen_by_b["data"]["members"]["edges"], json!([{"node": {"email": "bob@b.example"}}]), "{seen_by_b}");
}

#[tokio::test]
async fn hundreds_of_concurrent_requests_from_two_organisations_never_see_each_other() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("ann@a.example", "Org A").await;
    let b = app.sign_up("bob@b.example", "Org B").await;
    let sites = [(a.clone(), app.create_site(&a, "A1").await, "A"), (b.clone(), app.create_site(&b, "B1").await, "B")];

    let mut tasks = Vec::new();
    for i in 0..200 {
        let (session, site, tag) = sites[i % 2].clone();
        let app = &app;
        tasks.push(async move {
            if i % 4 < 2 {
                let code = format!("{tag}-{i}");
                let zone = app.create_zone(&session, &site, &code, &format!("{tag} zone {i}")).await;
                (tag, vec![zone])
            } else {
                let r = app
                    .gql(Some(&session.token), "{ organization { name } zones(first: 200) { edges { node { code } } } }", json!({}))
                    .await;
                let org = r["data"]["organization"]["name"].as_str().unwrap_or_default().to_owned();
                assert_eq!(org, format!("Org {tag}"), "{r}");
                let codes = r["data"]["zones"]["edges"].as_array().cloned().unwrap_or_default();
                for edge in codes {
                    let code = edge["node"]["code"].as_str().unwrap_or_default().to_owned();
                    assert!(code.starts_with(tag), "org {tag} saw zone {code}");
                }
                (tag, vec![])
            }
        });
    }
    let results = futures::future::join_all(tasks).await;
    let created: usize = results.iter().map(|(_, zones)| zones.len()).sum();
    assert_eq!(created, 100);

    // Afterwards each organisation sees exactly its own 50 zones.
    for (session, _, tag) in &sites {
        let r = app.gql(Some(&session.token), "{ zones(first: 200) { edges { node { code } } } }", json!({})).await;
        let codes = r["data"]["zones"]["edges"].as_array().cloned().unwrap_or_default();
        assert_eq!(codes.len(), 50, "{r}");
        assert!(codes.iter().all(|e| e["node"]["code"].as_str().unwrap_or_default().starts_with(tag)));
    }
}
