//! Evidence files: upload over HTTP, content addressing, limits, and signed,
//! organisation-scoped download links that expire.

use gemba_tests::{Session, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn png(extra: &[u8]) -> Vec<u8> {
    [b"\x89PNG\r\n\x1a\n".as_slice(), b"\0\0\0\rIHDR fake image body ", extra].concat()
}

async fn upload(app: &TestApp, token: Option<&str>, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = app.client.post(format!("{}/evidence", app.url)).header("Content-Type", content_type).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("upload");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(format!("{}{path}", app.url)).send().await.expect("download")
}

fn files_stored(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { usize::from(e.path().is_file()) }).sum()
            })
            .unwrap_or(0)
    }
    walk(app.evidence_dir.path())
}

async fn evidence_file(app: &TestApp, session: &Session, sha: &str) -> Value {
    let r = app
        .gql(
            Some(&session.token),
            "query($s: String!) { evidenceFile(sha256: $s) { sha256 mediaType sizeBytes uploadedById download { url expiresAt } } }",
            json!({"s": sha}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["evidenceFile"].clone()
}

#[tokio::test]
async fn a_photo_is_stored_once_under_its_sha256_and_downloaded_through_a_signed_link() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@a.test", "Plant A").await;
    let member = app.join(&owner, "member@a.test", "MEMBER").await;
    let bytes = png(b"one");
    let sha = hex::encode(Sha256::digest(&bytes));

    let before = app.event_count(&owner.org).await;
    let (status, body) = upload(&app, Some(&member.token), "image/png", bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sha256"], sha);
    assert_eq!(body["mediaType"], "image/png");
    assert_eq!(body["sizeBytes"], bytes.len());
    assert_eq!(app.event_count(&owner.org).await, before + 1);

    // The same bytes again: the same file, nothing new recorded or stored.
    let (status, again) = upload(&app, Some(&owner.token), "image/png", bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["sha256"], sha);
    assert_eq!(app.event_count(&owner.org).await, before + 1);
    assert_eq!(files_stored(&app), 1);

    let file = evidence_file(&app, &owner, &sha).await;
    assert_eq!(file["uploadedById"], member.member);
    assert_eq!(file["sizeBytes"], bytes.len());
    let response = get(&app, file["download"]["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The upload is in the audit log of the file.
    let history =
        app.gql(Some(&owner.token), "query($id: ID!) { history(entityId: $id) { eventType actor { id } } }", json!({"id": sha})).await;
    assert_eq!(history["data"]["history"][0]["eventType"], "EvidenceUploaded", "{history}");
    assert_eq!(history["data"]["history"][0]["actor"]["id"], member.member, "{history}");
}

#[tokio::test]
async fn uploads_are_refused_with_a_typed_error_and_leave_nothing_behind() {
    let app = TestApp::spawn_with(|config| config.evidence.max_bytes = 1024).await.expect("app");
    let owner = app.sign_up("owner@b.test", "Plant B").await;
    let auditor = app.join(&owner, "auditor@b.test", "AUDITOR").await;
    let before = app.event_count(&owner.org).await;

    let (status, body) = upload(&app, None, "image/png", png(b"")).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")));
    let (status, body) = upload(&app, Some(&auditor.token), "image/png", png(b"")).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("FORBIDDEN")));
    let (status, body) = upload(&app, Some(&owner.token), "text/html", b"<script>alert(1)</script>".to_vec()).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION")));
    // Declared as a photo, but it is not one.
    let (status, body) = upload(&app, Some(&owner.token), "image/jpeg", png(b"")).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION")));
    let (status, body) = upload(&app, Some(&owner.token), "image/png", Vec::new()).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION")));
    let (status, body) = upload(&app, Some(&owner.token), "image/png", png(&[0; 2048])).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("VALIDATION")));

    assert_eq!(app.event_count(&owner.org).await, before);
    assert_eq!(files_stored(&app), 0);
}

#[tokio::test]
async fn download_links_are_signed_for_one_organisation_and_file_and_expire() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("owner@c.test", "Plant C").await;
    let b = app.sign_up("owner@d.test", "Plant D").await;
    let secret = png(b"org A's photo");
    let sha = hex::encode(Sha256::digest(&secret));
    let (status, body) = upload(&app, Some(&a.token), "image/png", secret.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["downloadUrl"].as_str().unwrap().to_owned();
    assert_eq!(get(&app, &url).await.status(), StatusCode::OK);

    // Another organisation does not see the file, and A's link cannot be moved to B.
    assert!(evidence_file(&app, &b, &sha).await.is_null());
    let moved = url.replace(&a.org, &b.org);
    assert_eq!(get(&app, &moved).await.status(), StatusCode::FORBIDDEN);
    // A tampered signature, a stretched expiry or another file are refused.
    let tampered = format!("{}0", &url[..url.len() - 1]);
    let tampered = if tampered == url { format!("{}1", &url[..url.len() - 1]) } else { tampered };
    assert_eq!(get(&app, &tampered).await.status(), StatusCode::FORBIDDEN);
    let stretched = url.replace("expires=", "expires=9");
    assert_eq!(get(&app, &stretched).await.status(), StatusCode::FORBIDDEN);
    let other = url.replace(&sha, &"0".repeat(64));
    assert_eq!(get(&app, &other).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(get(&app, &format!("/evidence/{}/{sha}", a.org)).await.status(), StatusCode::FORBIDDEN);

    // B uploading the same bytes gets its own record; A's link still names only A.
    let (status, _) = upload(&app, Some(&b.token), "image/png", secret).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(evidence_file(&app, &b, &sha).await["sha256"], sha);

    // Links expire.
    app.clock.advance(chrono::Duration::minutes(16));
    let expired = get(&app, &url).await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn an_idempotency_key_reused_for_other_bytes_is_another_upload() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@key.example", "Keys").await;
    let key = uuid::Uuid::new_v4().to_string();
    let mut shas = Vec::new();
    for label in [b"first".as_slice(), b"second".as_slice()] {
        let response = app
            .client
            .post(format!("{}/evidence", app.url))
            .bearer_auth(&owner.token)
            .header("Content-Type", "image/png")
            .header("Idempotency-Key", &key)
            .body(png(label))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON");
        shas.push(body["sha256"].as_str().unwrap_or_default().to_owned());
    }
    assert_ne!(shas[0], shas[1]);
    for sha in &shas {
        assert_eq!(evidence_file(&app, &owner, sha).await["sha256"], sha.as_str());
    }
}
