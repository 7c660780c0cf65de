//! Audit-trail exports: streamed over HTTP or written by `gemba export`, verified offline by
//! `gemba verify --export` (which never touches a database), tampering named by row.

use std::path::{Path, PathBuf};
use std::process::Command;

use gemba_tests::{Session, TestApp, gemba_bin};
use serde_json::{Value, json};

pub(crate) struct Exported {
    pub(crate) body: Vec<u8>,
    pub(crate) manifest: Value,
}

pub(crate) async fn http_export(app: &TestApp, who: &Session, query: &str) -> Result<Exported, (u16, Value)> {
    let response =
        app.client.get(format!("{}/export/events?{query}", app.url)).bearer_auth(&who.token).send().await.expect("export request");
    let status = response.status().as_u16();
    if status != 200 {
        return Err((status, response.json().await.unwrap_or(Value::Null)));
    }
    let id = response.headers().get("gemba-export-id").and_then(|v| v.to_str().ok()).expect("export id header").to_owned();
    let body = response.bytes().await.expect("export body").to_vec();
    let manifest = app
        .client
        .get(format!("{}/export/events/{id}/manifest", app.url))
        .bearer_auth(&who.token)
        .send()
        .await
        .expect("manifest request")
        .json::<Value>()
        .await
        .expect("manifest JSON");
    Ok(Exported { body, manifest })
}

/// Runs `gemba verify --export` with no usable database: returns (exit code, stdout).
pub(crate) fn verify_offline(dir: &Path, body: &[u8], manifest: &Value, public_key: Option<&str>) -> (i32, String) {
    let file = dir.join("export.dat");
    std::fs::write(&file, body).unwrap();
    let manifest_file = dir.join("manifest.json");
    std::fs::write(&manifest_file, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
    let data_dir = dir.join("no-data");
    let mut command = Command::new(gemba_bin());
    command
        .args(["verify", "--export"])
        .arg(&file)
        .arg("--manifest")
        .arg(&manifest_file)
        .env("DATABASE_URL", "postgres://nobody:nothing@127.0.0.1:1/none")
        .env("GEMBA_DATA_DIR", &data_dir);
    if let Some(key) = public_key {
        let key_file = dir.join("public.key");
        std::fs::write(&key_file, key).unwrap();
        command.arg("--public-key").arg(&key_file);
    }
    let output = command.output().expect("run gemba verify");
    assert!(!data_dir.exists(), "offline verification must not create a data folder (no embedded PostgreSQL)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), stdout)
}

/// The deployment's public key, as `gemba keys public` prints it.
pub(crate) fn public_key(app: &TestApp) -> String {
    let output = Command::new(gemba_bin())
        .args(["keys", "public"])
        .env("GEMBA_SIGNING_KEY", &app.signing_key)
        .env("GEMBA_DATA_DIR", std::env::temp_dir().join("gemba-keys-unused"))
        .output()
        .expect("run gemba keys public");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

async fn raise(app: &TestApp, who: &Session, zone: &str, title: &str) -> String {
    let r = app
        .gql(
            Some(&who.token),
            "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "B", "title": title, "description": "seen"}}),
        )
        .await;
    r["data"]["raiseDefect"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
}

/// An organisation with a few events, one defect titled with a formula and a due-date change
/// whose reason starts with `=`.
async fn organisation(app: &TestApp, name: &str) -> (Session, Session, Session, String) {
    let owner = app.sign_up(&format!("owner@{name}.example"), name).await;
    let member = app.join(&owner, &format!("member@{name}.example"), "MEMBER").await;
    let auditor = app.join(&owner, &format!("auditor@{name}.example"), "AUDITOR").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let defect = raise(app, &owner, &zone, "=HYPERLINK(\"http://evil.example\",\"click\")").await;
    let assigned = app
        .gql(
            Some(&owner.token),
            "mutation($input: AssignDefectInput!) { assignDefect(input: $input) { dueAt } }",
            json!({"input": {"defectId": defect, "assigneeId": member.member}}),
        )
        .await;
    assert!(assigned["errors"].is_null(), "{assigned}");
    let moved = app
        .gql(
            Some(&owner.token),
            "mutation($input: ChangeDefectDueDateInput!) { changeDefectDueDate(input: $input) { dueAt } }",
            json!({"input": {"defectId": defect, "dueAt": "2030-01-01T00:00:00Z", "reason": "=1+2 parts on order"}}),
        )
        .await;
    assert!(moved["errors"].is_null(), "{moved}");
    (owner, member, auditor, defect)
}

fn lines(body: &[u8]) -> Vec<Vec<u8>> {
    body.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

pub(crate) fn ndjson_rows(body: &[u8]) -> Vec<Value> {
    lines(body).iter().map(|l| serde_json::from_slice(l).expect("an NDJSON row")).collect()
}

#[tokio::test]
async fn an_export_verifies_offline_and_each_kind_of_tampering_is_named() {
    let app = TestApp::spawn().await;
    let (owner, _member, auditor, _) = organisation(&app, "alpha").await;
    let (other_owner, _, _, _) = organisation(&app, "beta").await;
    let key = public_key(&app);
    let dir = tempfile::tempdir().unwrap();

    let export = http_export(&app, &auditor, "format=ndjson").await.expect("an auditor exports");
    let rows = ndjson_rows(&export.body);
    assert!(rows.len() >= 8, "{} rows", rows.len());
    assert_eq!(export.manifest["rows"], json!(rows.len()));
    let (code, out) = verify_offline(dir.path(), &export.body, &export.manifest, Some(&key));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("export verified"), "{out}");
    // Rows are the organisation's only, consecutive from its first event.
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["org_id"], json!(owner.org));
        assert_eq!(row["tenant_seq"], json!(i + 1));
    }

    let original = lines(&export.body);
    let seq_of = |i: usize| rows[i]["tenant_seq"].as_i64().unwrap();
    let named = |out: &str, seq: i64| out.contains(&format!("(tenant_seq {seq})"));

    // One byte flipped inside an interior row's hashed content.
    let mut flipped = original.clone();
    let text = String::from_utf8(flipped[4].clone()).unwrap();
    let at = text.find("\"link\":").unwrap() + 40;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    flipped[4] = bytes;
    let (code, out) = verify_offline(dir.path(), &flipped.concat(), &export.manifest, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(named(&out, seq_of(4)) && out.contains("line 5"), "{out}");

    // A row removed.
    let mut removed = original.clone();
    removed.remove(3);
    let (code, out) = verify_offline(dir.path(), &removed.concat(), &export.manifest, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(named(&out, seq_of(4)), "{out}");

    // Two rows swapped.
    let mut swapped = original.clone();
    swapped.swap(2, 3);
    let (code, out) = verify_offline(dir.path(), &swapped.concat(), &export.manifest, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(named(&out, seq_of(3)), "{out}");

    // A row of another organisation's export swapped in.
    let foreign = http_export(&app, &other_owner, "format=ndjson").await.expect("the other organisation exports");
    let foreign_rows = ndjson_rows(&foreign.body);
    assert!(foreign_rows.iter().all(|r| r["org_id"] == json!(other_owner.org)), "exports never cross organisations");
    let mut mixed = original.clone();
    mixed[2] = lines(&foreign.body)[2].clone();
    let (code, out) = verify_offline(dir.path(), &mixed.concat(), &export.manifest, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(named(&out, seq_of(2)) && out.contains("organisation"), "{out}");

    // A tampered manifest (fewer rows claimed), or one checked against another key.
    let mut forged = export.manifest.clone();
    forged["rows"] = json!(rows.len() - 1);
    let (code, out) = verify_offline(dir.path(), &export.body, &forged, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("manifest") && out.contains("signature"), "{out}");
    let stranger = gemba_commands::signing::Signer::from_base64(&gemba_commands::signing::Signer::generate_base64()).unwrap();
    let (code, out) = verify_offline(dir.path(), &export.body, &export.manifest, Some(&stranger.public_key().to_base64()));
    assert_eq!(code, 1, "{out}");
}

#[tokio::test]
async fn only_owners_admins_and_auditors_export_and_every_export_is_on_record() {
    let app = TestApp::spawn().await;
    let (owner, member, _auditor, _) = organisation(&app, "gamma").await;
    let admin = app.join(&owner, "admin@gamma.example", "ADMIN").await;

    let before = app.event_count(&owner.org).await;
    let (status, body) = http_export(&app, &member, "format=csv").await.err().expect("a member is refused");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (status, _) = http_export(&app, &admin, "format=xml").await.err().expect("a bad format is refused");
    assert_eq!(status, 400);
    assert_eq!(app.event_count(&owner.org).await, before, "refused exports write nothing");

    let export = http_export(&app, &admin, "format=ndjson").await.expect("an admin exports");
    let last = export.manifest["last_tenant_seq"].as_i64().unwrap();
    assert_eq!(last, before, "the export covers the stream as it stood");
    let trail = app
        .gql(
            Some(&owner.token),
            "query { auditTrail(filter: {eventTypes: [\"ExportRequested\", \"ExportGenerated\"]}) {
                edges { node { tenantSeq entityType entityId eventType actor { id role } changes { path after } } } } }",
            json!({}),
        )
        .await;
    let nodes: Vec<Value> = trail["data"]["auditTrail"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(nodes.len(), 2, "{trail}");
    assert_eq!(nodes[0]["eventType"], "ExportRequested");
    assert_eq!(nodes[1]["eventType"], "ExportGenerated");
    assert_eq!(nodes[0]["actor"]["id"], json!(admin.member));
    assert_eq!(nodes[0]["entityId"], export.manifest["export_id"]);
    assert!(nodes[0]["tenantSeq"].as_i64().unwrap() > last, "the export is recorded after the rows it covers");
    let sha = nodes[1]["changes"].as_array().unwrap().iter().find(|c| c["path"] == "sha256").unwrap()["after"].clone();
    assert_eq!(sha, export.manifest["file_sha256"]);

    // The export took a signed checkpoint at the chain head, listed for auditors.
    let checkpoints = app
        .gql(Some(&owner.token), "query { chainCheckpoints(first: 5) { edges { node { tenantSeq hash keyId signature } } } }", json!({}))
        .await;
    let first = &checkpoints["data"]["chainCheckpoints"]["edges"][0]["node"];
    assert_eq!(first["tenantSeq"], json!(last), "{checkpoints}");
    assert_eq!(first["hash"], export.manifest["chain_head"]["hash"]);
    assert_eq!(export.manifest["checkpoint"]["tenant_seq"], json!(last));
    let refused = app.gql(Some(&member.token), "query { chainCheckpoints { edges { node { tenantSeq } } } }", json!({})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn csv_exports_neutralise_formulas_and_still_verify() {
    let app = TestApp::spawn().await;
    let (owner, _, _, defect) = organisation(&app, "delta").await;
    let export = http_export(&app, &owner, "format=csv").await.expect("an owner exports CSV");
    let text = String::from_utf8(export.body.clone()).unwrap();
    // The reason cell begins with a formula character: it is written as text.
    assert!(text.contains(",'=1+2 parts on order,"), "{text}");
    assert!(!text.contains(",=1+2"), "{text}");
    // No cell of the file begins with a formula character (quoted or not).
    for trigger in ['=', '+', '@', '-'] {
        assert!(!text.contains(&format!(",{trigger}")) && !text.contains(&format!(",\"{trigger}")), "a cell starts with {trigger}");
        assert!(text.lines().all(|l| !l.starts_with(trigger)), "a first cell starts with {trigger}");
    }
    // The formula title travels inside JSON cells, intact.
    assert!(text.contains("=HYPERLINK(\\\"\"http://evil.example\\\"\""), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = verify_offline(dir.path(), &export.body, &export.manifest, Some(&public_key(&app)));
    assert_eq!(code, 0, "{out}");
    // Without the deployment's key the manifest's own key is used, and the auditor is told so.
    let (code, out) = verify_offline(dir.path(), &export.body, &export.manifest, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning") && out.contains("--public-key"), "{out}");

    // An entity-filtered export: rows are not consecutive, each is checked on its own.
    let filtered = http_export(&app, &owner, &format!("format=csv&entity={defect}")).await.expect("a filtered export");
    assert_eq!(filtered.manifest["filtered"], json!(true));
    assert_eq!(filtered.manifest["rows"], json!(3), "raised, assigned, due date changed");
    let (code, out) = verify_offline(dir.path(), &filtered.body, &filtered.manifest, Some(&public_key(&app)));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("filtered"), "{out}");
}

#[tokio::test]
async fn the_cli_exports_through_the_database_and_verify_keeps_checking_the_chain_in_it() {
    let app = TestApp::spawn().await;
    let (owner, _, _, _) = organisation(&app, "epsilon").await;
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("trail.csv");
    let cli = |args: &[&str]| {
        Command::new(gemba_bin())
            .args(args)
            .env("DATABASE_URL", app.app_url())
            .env_remove("GEMBA_MIGRATION_DATABASE_URL")
            .env("GEMBA_APP_KEY", &app.app_key)
            .env("GEMBA_SIGNING_KEY", &app.signing_key)
            .env("GEMBA_DATA_DIR", dir.path().join("data"))
            .output()
            .expect("run gemba")
    };
    let exported = cli(&["export", "--org", &owner.org, "--format", "csv", "--out", out.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.path().join("trail.csv.manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["generated_by"]["channel"], "cli");
    let body = std::fs::read(&out).unwrap();
    let (code, stdout) = verify_offline(dir.path(), &body, &manifest, Some(&public_key(&app)));
    assert_eq!(code, 0, "{stdout}");
    // The operator's export is on record too, and the chain (with it) still verifies.
    let trail = app
        .gql(
            Some(&owner.token),
            "query { auditTrail(filter: {eventTypes: [\"ExportGenerated\"]}) { edges { node { eventType } } } }",
            json!({}),
        )
        .await;
    assert_eq!(trail["data"]["auditTrail"]["edges"].as_array().unwrap().len(), 1, "{trail}");
    let verified = cli(&["verify", "--org", &owner.org]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
}

#[tokio::test]
async fn the_server_signs_checkpoints_of_chains_that_moved() {
    let app = TestApp::spawn().await;
    let (owner, _, auditor, _) = organisation(&app, "zeta").await;
    let signer = gemba_commands::signing::Signer::from_base64(&app.signing_key).unwrap();
    assert!(gemba_commands::checkpoint::take_all(&app.pool, &signer).await.unwrap() >= 1);
    assert_eq!(gemba_commands::checkpoint::take_all(&app.pool, &signer).await.unwrap(), 0, "nothing moved since");
    let head = app.event_count(&owner.org).await;
    let listed =
        app.gql(Some(&auditor.token), "query { chainCheckpoints(first: 1) { edges { node { orgId tenantSeq keyId } } } }", json!({})).await;
    let node = &listed["data"]["chainCheckpoints"]["edges"][0]["node"];
    assert_eq!(node["tenantSeq"], json!(head), "{listed}");
    assert_eq!(node["orgId"], json!(owner.org));
    assert_eq!(node["keyId"], json!(signer.key_id()));
}
