//! The database layer, exercised with the application's own role: append-only events,
//! row-level security that fails closed, no collisions between organisations.

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use gemba_commands::store::{StoreError, TenantEventRepository, append};
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::OrgId;
use gemba_domain::zone::Zone;
use gemba_tests::TestApp;
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

fn event(aggregate_id: &str, sequence: usize, name: &str) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence,
        aggregate_type: "Zone".into(),
        event_type: "ZoneRenamed".into(),
        event_version: "1".into(),
        payload: json!({"ZoneRenamed": {"before": "a", "after": name, "reason": null}}),
        metadata: json!({"actor": {"member_id": null, "role": null, "display_name": null}, "changes": []}),
    }
}

async fn append_one(app: &TestApp, org: OrgId, e: SerializedEvent) -> Result<(), StoreError> {
    let mut tx = begin_tenant(&app.pool, org).await.map_err(StoreError::from)?;
    append(&mut tx, org, &[e]).await?;
    tx.commit().await.map_err(StoreError::from)
}

#[tokio::test]
async fn the_application_role_can_neither_update_delete_nor_truncate_events() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let org = OrgId(Uuid::parse_str(&owner.org).expect("org id"));
    for statement in ["update events set payload = '{}'", "delete from events", "truncate events"] {
        let mut tx = begin_tenant(&app.pool, org).await.expect("tx");
        let result = sqlx::query(statement).execute(&mut *tx).await;
        let code = result.err().and_then(|e| e.as_database_error().and_then(|d| d.code().map(|c| c.into_owned())));
        assert_eq!(code.as_deref(), Some("42501"), "{statement} must be refused (insufficient_privilege)");
    }
    assert_eq!(app.event_count(&owner.org).await, 3, "sign-up wrote 3 events; none was changed");
}

#[tokio::test]
async fn even_the_owner_role_cannot_change_events_while_the_triggers_stand() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let mut conn = app.owner().await;
    for statement in ["update events set payload = '{}'", "delete from events", "truncate events"] {
        let mut tx = conn.begin().await.expect("tx");
        sqlx::query("select set_config('app.org_id', $1, true)").bind(&owner.org).execute(&mut *tx).await.expect("tenant");
        let error = sqlx::query(statement).execute(&mut *tx).await.expect_err(statement);
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    assert_eq!(app.event_count(&owner.org).await, 3, "sign-up wrote 3 events; none was changed");
}

#[tokio::test]
async fn without_a_tenant_the_application_role_sees_nothing_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let mut conn = app.pool.acquire().await.expect("connection");
    for table in ["events", "members", "credentials", "sessions", "organizations", "org_keys", "person_keys", "org_heads"] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(&mut *conn).await.expect("count");
        assert_eq!(n, 0, "{table} must be empty without a tenant");
    }
    let insert = sqlx::query("insert into organizations (org_id, name, created_at) values ($1::uuid, 'x', now())")
        .bind(&owner.org)
        .execute(&mut *conn)
        .await
        .expect_err("insert without tenant");
    assert_eq!(insert.as_database_error().and_then(|d| d.code()).as_deref(), Some("42501"), "{insert}");

    // A tenant set in one transaction does not leak into the next use of the connection.
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("select set_config('app.org_id', $1, true)").bind(&owner.org).execute(&mut *tx).await.expect("tenant");
    let inside: i64 = sqlx::query_scalar("select count(*) from events").fetch_one(&mut *tx).await.expect("count");
    tx.commit().await.expect("commit");
    let after: i64 = sqlx::query_scalar("select count(*) from events").fetch_one(&mut *conn).await.expect("count");
    assert_eq!((inside, after), (3, 0));
}

#[tokio::test]
async fn one_organisation_cannot_write_into_another_even_when_naming_it() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("ann@a.example", "Org A").await;
    let b = app.sign_up("bob@b.example", "Org B").await;
    let mut tx = begin_tenant(&app.pool, OrgId(Uuid::parse_str(&b.org).expect("id"))).await.expect("tx");
    let error =
        sqlx::query("update members set role = 'AUDITOR' where org_id = $1::uuid").bind(&a.org).execute(&mut *tx).await.expect("update");
    assert_eq!(error.rows_affected(), 0, "org B's transaction cannot even see org A's rows");
    let insert =
        sqlx::query("insert into sites (org_id, site_id, code, name, timezone) values ($1::uuid, gen_random_uuid(), 'X', 'X', 'UTC')")
            .bind(&a.org)
            .execute(&mut *tx)
            .await;
    assert!(insert.is_err(), "row-level security refuses rows of another organisation");
}

#[tokio::test]
async fn the_same_aggregate_id_in_two_organisations_does_not_collide() {
    let app = TestApp::spawn().await;
    let (a, b) = (OrgId(Uuid::now_v7()), OrgId(Uuid::now_v7()));
    let shared = Uuid::now_v7().to_string();
    append_one(&app, a, event(&shared, 1, "in A")).await.expect("append in A");
    append_one(&app, b, event(&shared, 1, "in B")).await.expect("append in B");
    append_one(&app, a, event(&shared, 2, "again in A")).await.expect("second append in A");

    let in_a = TenantEventRepository::new(app.pool.clone(), a).get_events::<Zone>(&shared).await.expect("load A");
    let in_b = TenantEventRepository::new(app.pool.clone(), b).get_events::<Zone>(&shared).await.expect("load B");
    assert_eq!(in_a.iter().map(|e| e.payload["ZoneRenamed"]["after"].clone()).collect::<Vec<_>>(), [json!("in A"), json!("again in A")]);
    assert_eq!(in_b.iter().map(|e| e.payload["ZoneRenamed"]["after"].clone()).collect::<Vec<_>>(), [json!("in B")]);
}

#[tokio::test]
async fn two_appends_at_the_same_version_yield_exactly_one_winner_and_a_typed_conflict() {
    let app = TestApp::spawn().await;
    let org = OrgId(Uuid::now_v7());
    let id = Uuid::now_v7().to_string();
    append_one(&app, org, event(&id, 1, "first")).await.expect("first");
    let (x, y) = tokio::join!(append_one(&app, org, event(&id, 2, "x")), append_one(&app, org, event(&id, 2, "y")));
    let outcomes = [x, y];
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(outcomes.iter().any(|r| matches!(r, Err(StoreError::Conflict))), "{outcomes:?}");

    let mut db = app.superuser().await;
    let seqs: Vec<i64> = sqlx::query_scalar("select tenant_seq from events where org_id = $1 order by tenant_seq")
        .bind(org.uuid())
        .fetch_all(&mut db)
        .await
        .expect("seqs");
    assert_eq!(seqs, [1, 2], "the loser left no gap");
}

#[tokio::test]
async fn a_failure_while_streaming_events_is_an_error_not_an_end_of_stream() {
    let app = TestApp::spawn().await;
    let org = OrgId(Uuid::now_v7());
    let id = Uuid::now_v7().to_string();
    append_one(&app, org, event(&id, 1, "ok")).await.expect("append");
    // Corrupt a second event behind the store's back (superuser, triggers off).
    let mut db = app.superuser().await;
    sqlx::query("alter table events disable trigger user").execute(&mut db).await.expect("disable triggers");
    sqlx::query(
        "insert into events select org_id, aggregate_type, aggregate_id, 2, 2, event_type, event_version, payload, '[]'::jsonb, recorded_at, hash, hash
           from events where org_id = $1",
    )
    .bind(org.uuid())
    .execute(&mut db)
    .await
    .expect("corrupt insert");
    let repo = TenantEventRepository::new(app.pool.clone(), org);
    let mut stream = repo.stream_events::<Zone>(&id).await.expect("stream");
    let first = stream.next::<Zone>(&[]).await;
    assert!(matches!(first, Some(Ok(_))), "first event loads");
    let second = stream.next::<Zone>(&[]).await;
    assert!(matches!(second, Some(Err(_))), "the corrupt event is reported as an error");
}
