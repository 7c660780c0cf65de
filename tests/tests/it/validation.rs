//! Bad input of any kind gets VALIDATION and changes nothing.

use gemba_tests::{TestApp, error_code};
use serde_json::{Value, json};

#[tokio::test]
async fn malformed_ids_empty_names_huge_strings_and_unknown_enums_are_validation_errors() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z1", "Press").await;
    let huge = "x".repeat(1024 * 1024);
    let events = app.total_events().await;

    let cases: Vec<(&str, Value)> = vec![
        ("query($id: ID!) { zone(id: $id) { id } }", json!({"id": "not-a-uuid"})),
        ("mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }", json!({"i": {"siteId": "42", "code": "Z2", "name": "x"}})),
        ("mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }", json!({"i": {"siteId": site, "code": "Z2", "name": "   "}})),
        ("mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }", json!({"i": {"siteId": site, "code": "Z2", "name": huge}})),
        (
            "mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }",
            json!({"i": {"siteId": site, "code": "has space", "name": "x"}}),
        ),
        ("mutation($i: RenameZoneInput!) { renameZone(input: $i) { id } }", json!({"i": {"zoneId": zone, "name": huge}})),
        ("mutation($i: RenameZoneInput!) { renameZone(input: $i) { id } }", json!({"i": {"zoneId": zone, "name": "ok", "reason": huge}})),
        (
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { id } }",
            json!({"i": {"code": "S2", "name": "x", "timezone": "Mars/Olympus Mons"}}),
        ),
        ("mutation($i: CreateSiteInput!) { createSite(input: $i) { id } }", json!({"i": {"code": "", "name": "x", "timezone": "UTC"}})),
        (
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { id } }",
            json!({"i": {"code": "S3", "name": "x", "timezone": "Mars/Olympus"}}),
        ),
        (
            "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }",
            json!({"i": {"email": "not-an-email", "role": "MEMBER"}}),
        ),
        (
            "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }",
            json!({"i": {"email": "x@a.example", "role": "EMPEROR"}}),
        ),
        ("mutation { inviteMember(input: {email: \"x@a.example\", role: EMPEROR}) { token } }", json!({})),
        ("mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }", json!({"i": {"siteId": site, "code": 7, "name": "x"}})),
        ("mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }", json!({"i": {"siteId": site}})),
        ("{ zones(first: 0) { edges { cursor } } }", json!({})),
        ("{ zones(after: \"garbage\") { edges { cursor } } }", json!({})),
        ("{ zone(id: ) }", json!({})),
        ("{ nosuchfield }", json!({})),
    ];
    for (query, variables) in cases {
        let r = app.gql(Some(&owner.token), query, variables).await;
        assert_eq!(error_code(&r), Some("VALIDATION"), "{query}: {}", r.to_string().chars().take(400).collect::<String>());
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.len() < 2000, "the error does not echo the input back");
    }
    assert_eq!(app.total_events().await, events, "bad input changed nothing");
    let unchanged = app.gql(Some(&owner.token), "query($id: ID!) { zone(id: $id) { name } }", json!({"id": zone})).await;
    assert_eq!(unchanged["data"]["zone"]["name"], "Press");
}

#[tokio::test]
async fn non_json_requests_and_mutations_over_get_are_refused() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.url);
    let form = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query={__typename}")
        .send()
        .await
        .expect("post");
    assert_eq!(form.status().as_u16(), 415);
    let get = app.client.get(format!("{url}?query=mutation%20%7BlogOut%7D")).send().await.expect("get");
    assert_eq!(get.status().as_u16(), 405);
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    let r = app.client.get(format!("{}/healthz", app.url)).send().await.expect("healthz");
    assert_eq!(r.headers().get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"));
    assert_eq!(r.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    assert!(r.headers().get("strict-transport-security").is_some());
    let ready = app.client.get(format!("{}/readyz", app.url)).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test]
async fn queries_whose_cost_multiplies_through_nested_lists_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let wide = "{ zones(first: 200) { edges { node { site { zones(first: 200) { edges { node { owner { id } } } } } } } } }";
    let r = app.gql(Some(&owner.token), wide, json!({})).await;
    assert_eq!(error_code(&r), Some("VALIDATION"), "{r}");
    let normal = app
        .gql(Some(&owner.token), "{ zones(first: 50) { edges { node { name site { name } owner { displayName } } } } }", json!({}))
        .await;
    assert!(normal["errors"].is_null(), "{normal}");
}

#[tokio::test]
async fn overly_deep_queries_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let deep = "{ sites { edges { node { zones { edges { node { site { zones { edges { node { site { zones { edges { node { id } } } } } } } } } } } } } } }";
    let r = app.gql(Some(&owner.token), deep, json!({})).await;
    assert_eq!(error_code(&r), Some("VALIDATION"), "{r}");
}
