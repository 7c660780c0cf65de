//! The real `gemba` binary: the embedded default, and the refusal of unsafe roles.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use gemba_tests::{TestApp, gemba_bin};
use serde_json::{Value, json};

/// Runs `gemba serve` against `database_url`; returns whether it failed and its stderr.
fn serve_refusal(database_url: &str) -> (bool, String) {
    let output = Command::new(gemba_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env_remove("GEMBA_MIGRATION_DATABASE_URL")
        .env("GEMBA_DATA_DIR", std::env::temp_dir().join("gemba-refusal"))
        .output()
        .expect("run gemba serve");
    (!output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn serve_refuses_a_role_that_can_bypass_row_level_security() {
    let app = TestApp::spawn().await;
    for (url, why) in [(app.superuser_url(), "superuser"), (app.owner_url(), "owns")] {
        let (refused, stderr) = serve_refusal(&url);
        assert!(refused, "must refuse to start: {stderr}");
        assert!(stderr.contains("refusing to start") && stderr.contains(why), "{stderr}");
    }
}

#[tokio::test]
async fn serve_refuses_a_schema_where_a_tenant_table_lacks_forced_row_level_security() {
    let app = TestApp::spawn().await;
    let mut owner = app.owner().await;
    sqlx::query("alter table sites no force row level security").execute(&mut owner).await.expect("weaken");
    let (refused, stderr) = serve_refusal(&app.app_url());
    assert!(refused, "{stderr}");
    assert!(stderr.contains("`sites` does not have row-level security enabled and forced"), "{stderr}");
}

#[tokio::test]
async fn serve_runs_on_the_embedded_default_and_keeps_its_data_between_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let mut child = Command::new(gemba_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("GEMBA_MIGRATION_DATABASE_URL")
        .env_remove("GEMBA_APP_KEY")
        .env("GEMBA_DATA_DIR", &data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gemba serve");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().next().and_then(Result::ok).unwrap_or_default())
        .await
        .expect("read");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/graphql"))
        .unwrap_or_else(|| panic!("serve did not say where it listens: {line}"))
        .to_owned();
    assert!(line.contains("embedded PostgreSQL"), "{line}");

    let client = reqwest::Client::new();
    let signed: Value = client
        .post(&url)
        .json(&json!({"query": "mutation { signUp(input: {email: \"ann@a.example\", password: \"correct horse battery\", displayName: \"Ann\", organizationName: \"Embedded\"}) { organization { id } } }"}))
        .send()
        .await
        .expect("sign up")
        .json()
        .await
        .expect("json");
    let org = signed["data"]["signUp"]["organization"]["id"].as_str().unwrap_or_else(|| panic!("{signed}")).to_owned();

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("send SIGTERM");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(status.success(), "graceful shutdown: {status}");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A later run finds the same data: verify starts the embedded server again.
    let output = Command::new(gemba_bin())
        .args(["verify", "--org", &org])
        .env_remove("DATABASE_URL")
        .env_remove("GEMBA_APP_KEY")
        .env("GEMBA_DATA_DIR", &data_dir)
        .output()
        .expect("run gemba verify");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("chain intact: 3 events checked"), "{text}");
}
