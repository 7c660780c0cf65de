//! `gemba verify --org`: the real binary recomputes every link of the hash chain.

use std::process::Command;

use gemba_tests::{Session, TestApp, gemba_bin};
use serde_json::json;
use sqlx::{Connection, PgConnection};

async fn busy_org(app: &TestApp, email: &str) -> Session {
    let owner = app.sign_up(email, "Org").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z1", "Zone").await;
    for i in 0..4 {
        app.gql(
            Some(&owner.token),
            "mutation($input: RenameZoneInput!) { renameZone(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "name": format!("Zone {i}")}}),
        )
        .await;
    }
    owner
}

pub(crate) fn verify(app: &TestApp, org: &str) -> (i32, String) {
    let output = Command::new(gemba_bin())
        .args(["verify", "--org", org])
        .env("DATABASE_URL", app.app_url())
        .env_remove("GEMBA_MIGRATION_DATABASE_URL")
        .output()
        .expect("run gemba verify");
    (output.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

/// Tampering as the owner role, triggers disabled, inside the organisation's tenant.
async fn tamper(app: &TestApp, org: &str, statement: &str) {
    let mut conn: PgConnection = app.owner().await;
    sqlx::query("alter table events disable trigger events_append_only").execute(&mut conn).await.expect("disable trigger");
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("select set_config('app.org_id', $1, true)").bind(org).execute(&mut *tx).await.expect("tenant");
    let changed = sqlx::query(statement).execute(&mut *tx).await.expect("tamper").rows_affected();
    assert_eq!(changed, 1, "{statement}");
    tx.commit().await.expect("commit");
    sqlx::query("alter table events enable trigger events_append_only").execute(&mut conn).await.expect("enable trigger");
}

#[tokio::test]
async fn verify_passes_on_an_untouched_chain() {
    let app = TestApp::spawn().await;
    let owner = busy_org(&app, "ann@a.example").await;
    let (code, output) = verify(&app, &owner.org);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("chain intact: 9 events checked"), "{output}");
}

#[tokio::test]
async fn verify_names_an_edited_interior_event() {
    let app = TestApp::spawn().await;
    let owner = busy_org(&app, "ann@a.example").await;
    let other = busy_org(&app, "bob@b.example").await;
    tamper(&app, &owner.org, "update events set payload = jsonb_set(payload, '{ZoneRenamed,after}', '\"Forged\"') where tenant_seq = 6")
        .await;
    let (code, output) = verify(&app, &owner.org);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("tenant_seq 6"), "{output}");
    let (code, output) = verify(&app, &other.org);
    assert_eq!(code, 0, "another organisation's chain is unaffected: {output}");
}

#[tokio::test]
async fn verify_names_a_deleted_interior_event() {
    let app = TestApp::spawn().await;
    let owner = busy_org(&app, "ann@a.example").await;
    tamper(&app, &owner.org, "delete from events where tenant_seq = 5").await;
    let (code, output) = verify(&app, &owner.org);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("tenant_seq 5"), "{output}");
}

#[tokio::test]
async fn verify_detects_a_cut_tail() {
    let app = TestApp::spawn().await;
    let owner = busy_org(&app, "ann@a.example").await;
    // Removing the last event leaves a consistent prefix, but the head remembers more.
    tamper(&app, &owner.org, "delete from events where tenant_seq = 9").await;
    let (code, output) = verify(&app, &owner.org);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("tenant_seq 9"), "{output}");
}
