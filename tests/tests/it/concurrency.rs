//! Concurrent commands on one aggregate: one winner per version, nothing lost, and
//! `tenant_seq` stays gapless.

use gemba_tests::{TestApp, error_code};
use serde_json::json;

#[tokio::test]
async fn concurrent_renames_of_one_zone_lose_no_event_and_keep_tenant_seq_gapless() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z1", "Zone").await;

    let renames = (0..24).map(|i| {
        let (app, token, zone) = (&app, owner.token.clone(), zone.clone());
        async move {
            app.gql(
                Some(&token),
                "mutation($input: RenameZoneInput!) { renameZone(input: $input) { name } }",
                json!({"input": {"zoneId": zone, "name": format!("Name {i}")}}),
            )
            .await
        }
    });
    let results = futures::future::join_all(renames).await;
    let won = results.iter().filter(|r| r["data"]["renameZone"]["name"].is_string()).count();
    let conflicts = results.iter().filter(|r| error_code(r) == Some("CONFLICT")).count();
    assert_eq!(won + conflicts, 24, "every request either wins or gets CONFLICT: {results:?}");
    assert!(won >= 1);

    let mut db = app.superuser().await;
    let sequences: Vec<i64> = sqlx::query_scalar("select sequence from events where aggregate_id = $1 order by sequence")
        .bind(&zone)
        .fetch_all(&mut db)
        .await
        .expect("sequences");
    assert_eq!(sequences, (1..=i64::try_from(won).expect("count") + 1).collect::<Vec<_>>(), "one event per winner, one per version");
    let tenant_seqs: Vec<i64> = sqlx::query_scalar("select tenant_seq from events where org_id = $1::uuid order by tenant_seq")
        .bind(&owner.org)
        .fetch_all(&mut db)
        .await
        .expect("tenant seqs");
    assert_eq!(tenant_seqs, (1..=i64::try_from(tenant_seqs.len()).expect("count")).collect::<Vec<_>>(), "tenant_seq is gapless");
    let head: i64 = sqlx::query_scalar("select last_seq from org_heads where org_id = $1::uuid")
        .bind(&owner.org)
        .fetch_one(&mut db)
        .await
        .expect("head");
    assert_eq!(head, i64::try_from(tenant_seqs.len()).expect("count"));

    // The final name is the last winner's.
    let last: String =
        sqlx::query_scalar("select payload->'ZoneRenamed'->>'after' from events where aggregate_id = $1 order by sequence desc limit 1")
            .bind(&zone)
            .fetch_one(&mut db)
            .await
            .expect("last rename");
    let read = app.gql(Some(&owner.token), "query($id: ID!) { zone(id: $id) { name } }", json!({"id": zone})).await;
    assert_eq!(read["data"]["zone"]["name"], last.as_str());
}

#[tokio::test]
async fn zone_codes_are_unique_per_site_even_under_concurrency() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let other_site = app.create_site(&owner, "S2").await;
    let creates = (0..8).map(|_| {
        let (app, token, site) = (&app, owner.token.clone(), site.clone());
        async move {
            app.gql(
                Some(&token),
                "mutation($input: CreateZoneInput!) { createZone(input: $input) { id } }",
                json!({"input": {"siteId": site, "code": "P-01", "name": "Press"}}),
            )
            .await
        }
    });
    let results = futures::future::join_all(creates).await;
    assert_eq!(results.iter().filter(|r| r["data"]["createZone"]["id"].is_string()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r["errors"].is_array()).all(|r| error_code(r) == Some("CONFLICT")), "{results:?}");
    // The same code in another site is fine.
    app.create_zone(&owner, &other_site, "P-01", "Press").await;
}
