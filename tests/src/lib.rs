#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Test harness: one private PostgreSQL per test binary (started from the installed
//! binaries, as an unprivileged user when run as root), a fresh database per test, and
//! the real HTTP server on an ephemeral port.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Duration, Utc};
use gemba_api::app::{AppConfig, router, serve};
use gemba_api::embedded::{DATABASE, Embedded};
use gemba_commands::crypto::Keyring;
use gemba_commands::service::Clock;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

struct Cluster {
    embedded: Embedded,
    _dir: tempfile::TempDir,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        // Started on its own runtime: tests each have theirs, the cluster outlives them.
        std::thread::spawn(|| {
            let dir = tempfile::Builder::new().prefix("gemba-test-pg").tempdir().expect("temporary folder");
            remove_when_gone(dir.path());
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let embedded =
                runtime.block_on(Embedded::start(dir.path())).unwrap_or_else(|e| panic!("starting PostgreSQL for the tests: {e}"));
            Cluster { embedded, _dir: dir }
        })
        .join()
        .expect("PostgreSQL start-up thread")
    })
}

/// Statics are never dropped, so the cluster's folder would outlive the test process: a
/// small watcher removes it once the process is gone and the server (stopped by the
/// embedded watchdog) has let go of its files.
fn remove_when_gone(dir: &std::path::Path) {
    let script = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; \
         for _ in $(seq 1 30); do [ -e '{dir}/pg/postmaster.pid' ] || break; sleep 1; done; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display(),
    );
    use std::os::unix::process::CommandExt as _;
    let spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = spawned {
        eprintln!("cannot watch {} for removal: {e}", dir.display());
    }
}

/// A clock tests can move forward.
#[derive(Debug, Default)]
pub struct TestClock {
    offset: Mutex<Duration>,
}

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut offset) = self.offset.lock() {
            *offset += by;
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset.lock().map(|o| *o).unwrap_or_default()
    }
}

/// A signed-in member.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub org: String,
    pub member: String,
}

/// A running server on a fresh database.
pub struct TestApp {
    pub url: String,
    pub database: String,
    pub pool: PgPool,
    pub clock: Arc<TestClock>,
    pub client: reqwest::Client,
    pub app_key: String,
    /// The deployment's signing key (base64 seed) this app signs checkpoints and exports with.
    pub signing_key: String,
    /// The folder of this app's evidence files.
    pub evidence_dir: tempfile::TempDir,
    projector: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.projector.abort();
    }
}

/// The `gemba` binary built by `cargo test --workspace` (next to the test binaries).
pub fn gemba_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .map(|dir| dir.join("gemba"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("the gemba binary was not built next to {}: run `cargo test --workspace`", exe.display()))
}

impl TestApp {
    /// Starts the server on a new, migrated database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await.expect("test app")
    }

    /// Starts the server with the test configuration changed by `configure` (by default:
    /// sign-in limits out of the way, evidence files in a private temporary folder).
    pub async fn spawn_with(configure: impl FnOnce(&mut AppConfig)) -> anyhow::Result<Self> {
        let evidence_dir = tempfile::tempdir()?;
        let mut config = AppConfig::new(evidence_dir.path())?;
        config.auth_attempts_per_minute = 10_000;
        let signing_key = gemba_commands::signing::Signer::generate_base64();
        config.signer = gemba_commands::signing::Signer::from_base64(&signing_key).map_err(|e| anyhow!("{e}"))?;
        configure(&mut config);
        let cluster = cluster();
        let database = format!("t_{}", Uuid::new_v4().simple());
        let mut superuser = cluster.embedded.superuser(DATABASE).await?;
        cluster.embedded.create_database(&mut superuser, &database).await?;
        superuser.close().await?;
        cluster.embedded.migrate(&database).await?;
        let pool = cluster.embedded.app_pool(&database, 16).await?;
        gemba_api::database::check_app_role(&pool).await?;
        let app_key = Keyring::generate_base64();
        let clock = Arc::new(TestClock::default());
        let app = router(pool.clone(), Keyring::from_base64(&app_key).map_err(|e| anyhow!("{e}"))?, clock.clone(), &config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        let projector = gemba_api::app::spawn_projector(pool.clone(), std::time::Duration::from_secs(1), &config);
        Ok(Self {
            url,
            database,
            pool,
            clock,
            client: reqwest::Client::new(),
            app_key,
            signing_key,
            evidence_dir,
            projector,
            shutdown: Some(shutdown),
        })
    }

    /// Stops this app's in-process projector worker (read-your-writes still catches up on
    /// mutations), so a test can drive projection itself.
    pub fn stop_projector(&self) {
        self.projector.abort();
    }

    /// `DATABASE_URL` of this test's database for the application role.
    pub fn app_url(&self) -> String {
        cluster().embedded.app_url(&self.database)
    }

    /// URL of this test's database for the owner role (migrations, fault injection).
    pub fn owner_url(&self) -> String {
        cluster().embedded.owner_url(&self.database)
    }

    /// URL of this test's database for the superuser.
    pub fn superuser_url(&self) -> String {
        cluster().embedded.superuser_url(&self.database)
    }

    /// A superuser connection to this test's database.
    pub async fn superuser(&self) -> PgConnection {
        cluster().embedded.superuser(&self.database).await.expect("superuser connection")
    }

    /// A connection as the owner role.
    pub async fn owner(&self) -> PgConnection {
        PgConnection::connect(&self.owner_url()).await.expect("owner connection")
    }

    /// Posts a GraphQL request; returns the JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.gql_with(token, query, variables, None).await
    }

    /// Posts a GraphQL request with an optional `Idempotency-Key`.
    pub async fn gql_with(&self, token: Option<&str>, query: &str, variables: Value, key: Option<Uuid>) -> Value {
        let mut request = self.client.post(format!("{}/graphql", self.url)).json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key.to_string());
        }
        let response = request.send().await.expect("HTTP request");
        response.json().await.expect("JSON response")
    }

    /// Uploads a small PNG made unique by `label` as `who`; returns its sha256.
    pub async fn upload_photo(&self, who: &Session, label: &str) -> String {
        let bytes = [b"\x89PNG\r\n\x1a\n".as_slice(), label.as_bytes()].concat();
        let response = self
            .client
            .post(format!("{}/evidence", self.url))
            .bearer_auth(&who.token)
            .header("Content-Type", "image/png")
            .body(bytes)
            .send()
            .await
            .expect("evidence upload");
        let body: Value = response.json().await.expect("JSON answer");
        body["sha256"].as_str().unwrap_or_else(|| panic!("upload failed: {body}")).to_owned()
    }

    /// Signs up a new organisation; returns its Owner's session.
    pub async fn sign_up(&self, email: &str, organization: &str) -> Session {
        let response = self
            .gql(
                None,
                "mutation($input: SignUpInput!) { signUp(input: $input) { token organization { id } member { id } } }",
                json!({"input": {"email": email, "password": "correct horse battery", "displayName": email.split('@').next().unwrap_or(email), "organizationName": organization}}),
            )
            .await;
        session(&response, "signUp").unwrap_or_else(|e| panic!("sign-up failed: {e}: {response}"))
    }

    /// Signs `email` in again to `who`'s organisation (a fresh session, e.g. after the
    /// clock moved past the old one's expiry); panics when the sign-in is refused.
    pub async fn log_in(&self, who: &Session, email: &str, password: &str) -> Session {
        let r = self
            .gql(
                None,
                "mutation($input: LogInInput!) { logIn(input: $input) { token } }",
                json!({"input": {"email": email, "password": password, "organizationId": who.org}}),
            )
            .await;
        let token = r["data"]["logIn"]["token"].as_str().unwrap_or_else(|| panic!("sign-in failed: {r}")).to_owned();
        Session { token, ..who.clone() }
    }

    /// Invites `email` in `role` and accepts the invitation; returns the new member's session.
    pub async fn join(&self, inviter: &Session, email: &str, role: &str) -> Session {
        let invited = self
            .gql(
                Some(&inviter.token),
                "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }",
                json!({"input": {"email": email, "role": role}}),
            )
            .await;
        let token = invited["data"]["inviteMember"]["token"].as_str().unwrap_or_else(|| panic!("invite failed: {invited}")).to_owned();
        let accepted = self
            .gql(
                None,
                "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { token organization { id } member { id } } }",
                json!({"input": {"token": token, "password": "another good password", "displayName": email}}),
            )
            .await;
        session(&accepted, "acceptInvitation").unwrap_or_else(|e| panic!("accept failed: {e}: {accepted}"))
    }

    /// Creates a site and returns its id.
    pub async fn create_site(&self, session: &Session, code: &str) -> String {
        let r = self
            .gql(
                Some(&session.token),
                "mutation($input: CreateSiteInput!) { createSite(input: $input) { id } }",
                json!({"input": {"code": code, "name": format!("Site {code}"), "timezone": "Europe/Berlin"}}),
            )
            .await;
        r["data"]["createSite"]["id"].as_str().unwrap_or_else(|| panic!("createSite failed: {r}")).to_owned()
    }

    /// Creates a zone and returns its id.
    pub async fn create_zone(&self, session: &Session, site: &str, code: &str, name: &str) -> String {
        let r = self
            .gql(
                Some(&session.token),
                "mutation($input: CreateZoneInput!) { createZone(input: $input) { id } }",
                json!({"input": {"siteId": site, "code": code, "name": name}}),
            )
            .await;
        r["data"]["createZone"]["id"].as_str().unwrap_or_else(|| panic!("createZone failed: {r}")).to_owned()
    }

    /// Number of events of an organisation, counted as the superuser (sees everything).
    pub async fn event_count(&self, org: &str) -> i64 {
        let mut conn = self.superuser().await;
        sqlx::query_scalar("select count(*) from events where org_id = $1::uuid")
            .bind(org)
            .fetch_one(&mut conn)
            .await
            .expect("count events")
    }

    /// Number of events in the whole database.
    pub async fn total_events(&self) -> i64 {
        let mut conn = self.superuser().await;
        sqlx::query_scalar("select count(*) from events").fetch_one(&mut conn).await.expect("count events")
    }
}

fn session(response: &Value, field: &str) -> anyhow::Result<Session> {
    let payload = &response["data"][field];
    let text = |v: &Value| v.as_str().map(str::to_owned).context("missing field");
    Ok(Session { token: text(&payload["token"])?, org: text(&payload["organization"]["id"])?, member: text(&payload["member"]["id"])? })
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

impl TestApp {
    /// The write side over this test's database and clock, for what the server runs on its
    /// own (the system's sweeps) rather than through GraphQL.
    pub fn gemba(&self) -> gemba_commands::service::Gemba {
        let keyring = Keyring::from_base64(&self.app_key).expect("the test's application key");
        let evidence = gemba_commands::evidence::EvidenceConfig::local(self.evidence_dir.path()).expect("the test's evidence folder");
        gemba_commands::service::Gemba::new(self.pool.clone(), keyring, self.clock.clone(), evidence).expect("the write side")
    }
}
