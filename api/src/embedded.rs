//! The embedded PostgreSQL: a private server from the machine's installed PostgreSQL
//! binaries, in a local data folder kept between runs.
//!
//! - Binaries: `GEMBA_PG_BIN`, else `pg_config --bindir`, else the newest
//!   `/usr/lib/postgresql/*/bin`, else `PATH`.
//! - PostgreSQL refuses to run as root: when we are root, the server runs as the
//!   `postgres` user (or `nobody`), owning only its own folder.
//! - It listens on 127.0.0.1 on a port chosen at first start, with scram-sha-256
//!   passwords generated then and kept in `<data-dir>/credentials.json` (mode 0600).
//! - Provisioning creates the roles of docs/adr/0002: `gemba_owner` (owns the schema, runs
//!   migrations), `gemba_app` (the service; owns nothing, cannot bypass RLS) and
//!   `gemba_projector`, and the database `gemba`.
//! - A watchdog stops the server when the process that started it is gone.

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// The application role (owns nothing, cannot bypass row-level security).
pub const APP_ROLE: &str = "gemba_app";
/// The role that owns the schema and runs migrations.
pub const OWNER_ROLE: &str = "gemba_owner";
/// The projector role.
pub const PROJECTOR_ROLE: &str = "gemba_projector";
/// The database of the embedded default.
pub const DATABASE: &str = "gemba";

/// Why the embedded server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The server binaries are not installed.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found. Install them \
         (Debian/Ubuntu: `apt-get install -y postgresql`), set GEMBA_PG_BIN to their folder, \
         or set DATABASE_URL to use an existing server"
    )]
    NoBinaries,
    /// A file-system step failed.
    #[error("{step}: {source}")]
    Io {
        step: String,
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL tool failed.
    #[error("{tool} failed: {output}")]
    Tool { tool: String, output: String },
    /// Connecting or provisioning failed.
    #[error("provisioning the embedded server: {0}")]
    Database(#[from] sqlx::Error),
    /// The credentials file is unreadable.
    #[error("{0}")]
    Credentials(String),
}

fn io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let step = step.into();
    move |source| EmbeddedError::Io { step, source }
}

/// Passwords and port of an embedded cluster, generated at its first start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credentials {
    pub port: u16,
    pub superuser_password: String,
    pub owner_password: String,
    pub app_password: String,
    pub projector_password: String,
}

fn secret() -> String {
    let mut bytes = [0_u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(listener.local_addr().map_err(io("finding a free port"))?.port())
}

/// Finds the folder holding `initdb`, `pg_ctl` and `postgres`.
pub fn find_binaries() -> Result<PathBuf, EmbeddedError> {
    let complete = |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = std::env::var_os("GEMBA_PG_BIN").map(PathBuf::from) {
        return if complete(&dir) { Ok(dir) } else { Err(EmbeddedError::NoBinaries) };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && complete(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| complete(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Ok(dir);
    }
    std::env::var_os("PATH").iter().flat_map(std::env::split_paths).find(|dir| complete(dir)).ok_or(EmbeddedError::NoBinaries)
}

/// The unprivileged user to run PostgreSQL as, when we are root: `postgres`, else `nobody`.
fn run_as() -> Result<Option<(u32, u32)>, EmbeddedError> {
    let euid = std::fs::metadata("/proc/self").map_err(io("reading /proc/self"))?.uid();
    if euid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(io("reading /etc/passwd"))?;
    let user = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name) && fields.len() > 3).then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))?
        })
    };
    Ok(Some(user("postgres").or_else(|| user("nobody")).ok_or_else(|| EmbeddedError::Tool {
        tool: "user lookup".into(),
        output: "running as root, but neither a `postgres` nor a `nobody` user exists to run PostgreSQL".into(),
    })?))
}

/// An embedded PostgreSQL cluster in `<data-dir>/pg`.
#[derive(Debug)]
pub struct Embedded {
    root: PathBuf,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    /// Its credentials.
    pub credentials: Credentials,
    started_here: bool,
}

impl Embedded {
    fn pg_dir(&self) -> PathBuf {
        self.root.join("pg")
    }

    fn command(&self, tool: &str) -> Command {
        let mut command = Command::new(self.bin.join(tool));
        command.current_dir(&self.root).env_remove("PGDATA").stdin(Stdio::null());
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<std::process::Output, EmbeddedError> {
        let output = self.command(tool).args(args).output().map_err(io(format!("running {tool}")))?;
        if !output.status.success() {
            return Err(EmbeddedError::Tool {
                tool: tool.to_owned(),
                output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
            });
        }
        Ok(output)
    }

    fn hand_over(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io(format!("handing {} to the server user", path.display())))?;
        }
        Ok(())
    }

    /// Starts (initialising on first use) the cluster in `root`, or attaches to it if it
    /// is already running. Provisions roles and the `gemba` database.
    pub async fn start(root: &Path) -> Result<Self, EmbeddedError> {
        std::fs::create_dir_all(root).map_err(io(format!("creating {}", root.display())))?;
        let root = root.canonicalize().map_err(io(format!("resolving {}", root.display())))?;
        // Traversable by the server user, not listable.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).map_err(io("setting data folder permissions"))?;
        let credentials_file = root.join("credentials.json");
        let credentials = match std::fs::read(&credentials_file) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| EmbeddedError::Credentials(format!("{}: {e}", credentials_file.display())))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Credentials {
                port: free_port()?,
                superuser_password: secret(),
                owner_password: secret(),
                app_password: secret(),
                projector_password: secret(),
            },
            Err(e) => return Err(io("reading credentials")(e)),
        };
        let mut server = Self { root: root.clone(), bin: find_binaries()?, user: run_as()?, credentials, started_here: false };
        let pg = server.pg_dir();
        if !pg.join("PG_VERSION").exists() {
            server.init(&credentials_file)?;
        }
        if !server.is_running() {
            server
                .run("pg_ctl", &["start", "-w", "-t", "60", "-D", &pg.to_string_lossy(), "-l", &pg.join("server.log").to_string_lossy()])?;
            server.started_here = true;
            server.watchdog()?;
        }
        server.provision().await?;
        Ok(server)
    }

    fn init(&self, credentials_file: &Path) -> Result<(), EmbeddedError> {
        let pg = self.pg_dir();
        std::fs::create_dir_all(&pg).map_err(io("creating the cluster folder"))?;
        std::fs::set_permissions(&pg, std::fs::Permissions::from_mode(0o700)).map_err(io("setting cluster folder permissions"))?;
        self.hand_over(&pg)?;
        let pwfile = self.root.join("initdb.pw");
        std::fs::write(&pwfile, &self.credentials.superuser_password).map_err(io("writing the initdb password file"))?;
        self.hand_over(&pwfile)?;
        let result = self.run(
            "initdb",
            &[
                "-D",
                &pg.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let _ = std::fs::remove_file(&pwfile);
        result?;
        let settings = format!(
            "\n# gemba embedded\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 200\nfsync = on\n",
            self.credentials.port
        );
        let conf = pg.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(io("reading postgresql.conf"))?;
        text.push_str(&settings);
        std::fs::write(&conf, text).map_err(io("writing postgresql.conf"))?;
        let json = serde_json::to_vec_pretty(&self.credentials).map_err(|e| EmbeddedError::Credentials(e.to_string()))?;
        std::fs::write(credentials_file, json).map_err(io("writing credentials"))?;
        std::fs::set_permissions(credentials_file, std::fs::Permissions::from_mode(0o600)).map_err(io("protecting credentials"))?;
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .args(["status", "-D", &self.pg_dir().to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server when this process is gone (even if it is killed), unless the server
    /// was stopped meanwhile and another process started a new one in the same folder.
    fn watchdog(&self) -> Result<(), EmbeddedError> {
        let pid_file = self.pg_dir().join("postmaster.pid");
        let postmaster = std::fs::read_to_string(&pid_file).map_err(io("reading postmaster.pid"))?;
        let postmaster = postmaster.lines().next().unwrap_or_default().trim().to_owned();
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; \
             if [ \"$(head -n 1 '{pid_file}' 2>/dev/null)\" = '{postmaster}' ]; then '{pg_ctl}' stop -D '{dir}' -m fast >/dev/null 2>&1; fi",
            pid = std::process::id(),
            pid_file = pid_file.display(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            dir = self.pg_dir().display(),
        );
        let mut command = Command::new("sh");
        command.arg("-c").arg(script).current_dir(&self.root).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command.process_group(0).spawn().map_err(io("starting the watchdog"))?;
        Ok(())
    }

    /// Stops the server if this process started it.
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        if self.started_here {
            self.run("pg_ctl", &["stop", "-D", &self.pg_dir().to_string_lossy(), "-m", "fast", "-w"])?;
        }
        Ok(())
    }

    /// Stops the server whoever started it.
    pub fn stop_any(&self) -> Result<(), EmbeddedError> {
        if self.is_running() {
            self.run("pg_ctl", &["stop", "-D", &self.pg_dir().to_string_lossy(), "-m", "fast", "-w"])?;
        }
        Ok(())
    }

    fn options(&self, user: &str, password: &str, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.credentials.port)
            .username(user)
            .password(password)
            .database(database)
            // Statements are traced at TRACE only (`RUST_LOG=sqlx::query=trace` shows them).
            .log_statements(log::LevelFilter::Trace)
    }

    /// Connection URL of `database` for the application role.
    pub fn app_url(&self, database: &str) -> String {
        format!("postgres://{APP_ROLE}:{}@127.0.0.1:{}/{database}", self.credentials.app_password, self.credentials.port)
    }

    /// Connection URL of `database` for the owner role (migrations).
    pub fn owner_url(&self, database: &str) -> String {
        format!("postgres://{OWNER_ROLE}:{}@127.0.0.1:{}/{database}", self.credentials.owner_password, self.credentials.port)
    }

    /// Connection URL of `database` for the superuser (tests of the start-up refusal only).
    pub fn superuser_url(&self, database: &str) -> String {
        format!("postgres://postgres:{}@127.0.0.1:{}/{database}", self.credentials.superuser_password, self.credentials.port)
    }

    /// A superuser connection (provisioning and tests' fault injection only).
    pub async fn superuser(&self, database: &str) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect_with(&self.options("postgres", &self.credentials.superuser_password, database)).await
    }

    async fn provision(&self) -> Result<(), EmbeddedError> {
        let mut conn = self.superuser("postgres").await?;
        let c = &self.credentials;
        for (role, password, extra) in [
            (OWNER_ROLE, &c.owner_password, "createrole"),
            (APP_ROLE, &c.app_password, "nobypassrls"),
            (PROJECTOR_ROLE, &c.projector_password, "nobypassrls"),
        ] {
            let exists: bool =
                sqlx::query_scalar("select exists(select 1 from pg_roles where rolname = $1)").bind(role).fetch_one(&mut conn).await?;
            let verb = if exists { "alter" } else { "create" };
            // Role names are constants; the password is generated base64url text.
            sqlx::query(&format!("{verb} role {role} login nosuperuser {extra} password '{password}'")).execute(&mut conn).await?;
        }
        self.create_database(&mut conn, DATABASE).await?;
        conn.close().await?;
        Ok(())
    }

    /// Creates `database` owned by the owner role, if missing.
    pub async fn create_database(&self, superuser: &mut PgConnection, database: &str) -> Result<(), sqlx::Error> {
        let exists: bool = sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(database)
            .fetch_one(&mut *superuser)
            .await?;
        if !exists {
            sqlx::query(&format!("create database \"{database}\" owner {OWNER_ROLE}")).execute(&mut *superuser).await?;
        }
        Ok(())
    }

    /// Migrates `database` as the owner role.
    pub async fn migrate(&self, database: &str) -> Result<(), crate::database::DatabaseError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options(OWNER_ROLE, &self.credentials.owner_password, database))
            .await?;
        crate::database::migrate(&pool).await?;
        pool.close().await;
        Ok(())
    }

    /// A pool of the application role on `database`.
    pub async fn app_pool(&self, database: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(self.options(APP_ROLE, &self.credentials.app_password, database))
            .await
    }
}
