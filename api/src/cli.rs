//! The `gemba` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use gemba_commands::chain::{Verdict, verify};
use gemba_commands::service::{Gemba, SystemClock};
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::OrgId;
use sqlx::postgres::PgPoolOptions;

use crate::app::{AppConfig, router, serve};
use crate::database::{Database, DatabaseConfig, app_key, migrate, signing_key};
use crate::embedded::{DATABASE, Embedded};
use crate::rebuilds::{self, Overall};
use gemba_projections::engine::Projection;
use gemba_projections::rebuild::Rebuilder;

/// Gemba: the event-sourced backend of a lean-manufacturing operations platform.
#[derive(Debug, Parser)]
#[command(name = "gemba", version)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// How every subcommand finds the database.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL of the application role. Without it, an embedded PostgreSQL is
    /// started from the installed binaries in the data folder.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL URL of the owner role, used to apply migrations (serve, migrate).
    #[arg(long, env = "GEMBA_MIGRATION_DATABASE_URL", global = true, hide_env_values = true)]
    pub migration_database_url: Option<String>,
    /// Folder of the embedded PostgreSQL and the generated application key.
    #[arg(long, env = "GEMBA_DATA_DIR", default_value = ".gemba", global = true)]
    pub data_dir: PathBuf,
    /// Application key (32 bytes, base64) wrapping the organisation keys. Default: the
    /// key in `<data-dir>/app.key`, generated on first use.
    #[arg(long, env = "GEMBA_APP_KEY", global = true, hide_env_values = true)]
    pub app_key: Option<String>,
    /// The deployment's Ed25519 signing key (32-byte seed, base64) for chain checkpoints and
    /// export manifests. Default: the key in `<data-dir>/signing.key`, generated on first use.
    #[arg(long, env = "GEMBA_SIGNING_KEY", global = true, hide_env_values = true)]
    pub signing_key: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve GraphQL over HTTP.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GEMBA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Sign-in and sign-up attempts allowed per client per minute.
        #[arg(long, env = "GEMBA_AUTH_ATTEMPTS_PER_MINUTE", default_value_t = 20)]
        auth_attempts_per_minute: u32,
        /// Folder of the evidence files (content-addressed). Default: `<data-dir>/evidence`.
        #[arg(long, env = "GEMBA_EVIDENCE_DIR")]
        evidence_dir: Option<PathBuf>,
        /// Largest evidence file accepted, in bytes.
        #[arg(long, env = "GEMBA_EVIDENCE_MAX_BYTES", default_value_t = gemba_commands::evidence::DEFAULT_MAX_BYTES)]
        evidence_max_bytes: usize,
        /// How long an evidence download link stays valid, in seconds.
        #[arg(long, env = "GEMBA_EVIDENCE_LINK_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u32).range(1..=86_400))]
        evidence_link_ttl_secs: u32,
        /// Seconds between two sweeps (escalations, missed audits, expired red-tag holds);
        /// 0 turns the sweeper off in this process.
        #[arg(long, env = "GEMBA_SWEEP_INTERVAL_SECS", default_value_t = 60)]
        sweep_interval_secs: u64,
        /// Seconds between the projector's polls of every organisation (it is also woken at
        /// once by each commit).
        #[arg(long, env = "GEMBA_PROJECTOR_POLL_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        projector_poll_secs: u64,
        /// Bearer token operators send to read `GET /metrics`; without it the endpoint is off.
        #[arg(long, env = "GEMBA_OPERATOR_TOKEN", hide_env_values = true)]
        operator_token: Option<String>,
        /// Seconds between two rounds of signed chain checkpoints (each organisation whose
        /// chain moved gets one); 0 turns them off in this process (exports still take one).
        #[arg(long, env = "GEMBA_CHECKPOINT_INTERVAL_SECS", default_value_t = 3600)]
        checkpoint_interval_secs: u64,
    },
    /// Apply the database migrations.
    Migrate,
    /// Recompute every link of an organisation's hash chain in the database (`--org`), or
    /// verify an export file offline, without any database (`--export`).
    Verify {
        /// The organisation (verifies in the database).
        #[arg(long, required_unless_present = "export", conflicts_with = "export")]
        org: Option<uuid::Uuid>,
        /// An export file (CSV or NDJSON) to verify offline.
        #[arg(long)]
        export: Option<PathBuf>,
        /// Its manifest. Default: `<export>.manifest.json`.
        #[arg(long, requires = "export")]
        manifest: Option<PathBuf>,
        /// The deployment's public key (`gemba keys public`), base64 in a file. Without it the
        /// manifest is checked against the key it names, which proves integrity, not origin.
        #[arg(long, requires = "export")]
        public_key: Option<PathBuf>,
    },
    /// Export an organisation's audit trail (one row per event, with what an auditor needs
    /// to verify it offline) to a file and a signed `<file>.manifest.json`; with `--person`
    /// or `--workspace`, a person's data or the organisation's read models instead.
    Export(ExportArgs),
    /// The deployment's signing key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Retention of the audit log: disposal of the events past an organisation's retention.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Manage the embedded PostgreSQL.
    #[command(subcommand)]
    Db(DbCommand),
    /// Run or inspect the projector.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Cancelled workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCli),
}

/// Workspace commands.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCli {
    /// Purge a cancelled workspace whose 30-day grace period has ended (the sweeper of
    /// `gemba serve` does it too): its read models, registry, sign-in data and evidence files
    /// are deleted and every person key is shredded; the events stay and still verify.
    /// Refused (exit 1) before the grace period ends.
    Purge {
        /// The organisation.
        #[arg(long)]
        org: uuid::Uuid,
        /// Folder of the evidence files. Default: `<data-dir>/evidence`.
        #[arg(long, env = "GEMBA_EVIDENCE_DIR")]
        evidence_dir: Option<PathBuf>,
    },
}

/// What `gemba export` exports.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The organisation.
    #[arg(long)]
    pub org: uuid::Uuid,
    /// `csv` or `ndjson`.
    #[arg(long, default_value = "ndjson")]
    pub format: String,
    /// The file to write (its manifest goes to `<file>.manifest.json`).
    #[arg(long)]
    pub out: PathBuf,
    /// Events recorded at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Events recorded before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Only the events of this entity (its id).
    #[arg(long)]
    pub entity: Option<String>,
    /// Only the events this member caused (their id).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only these event types (repeat the option, or separate by commas).
    #[arg(long = "event-type", value_delimiter = ',')]
    pub event_types: Vec<String>,
    /// Instead of the audit trail: this person's data (portability), `--format json|ndjson|csv`,
    /// no manifest.
    #[arg(long, conflicts_with_all = ["workspace", "from", "to", "entity", "actor", "event_types"])]
    pub person: Option<uuid::Uuid>,
    /// Instead of the audit trail: the organisation's read models, `--format json|ndjson`
    /// (or `csv` with `--table`), no manifest.
    #[arg(long, conflicts_with_all = ["from", "to", "entity", "actor", "event_types"])]
    pub workspace: bool,
    /// With `--workspace`: only this table.
    #[arg(long, requires = "workspace")]
    pub table: Option<String>,
}

/// Retention commands.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Dispose of the organisation's events older than its retention (default 7 years),
    /// after snapshotting every aggregate they touch; records `RecordsDisposed` and a signed
    /// anchor. Refused under a legal hold (exit code 3). `--dry-run` changes nothing.
    Dispose {
        /// The organisation.
        #[arg(long)]
        org: uuid::Uuid,
        /// Report what would be disposed of; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Why (recorded on the `RecordsDisposed` event).
        #[arg(long, default_value = "retention period expired")]
        reason: String,
    },
}

/// Signing-key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the public key (base64) to give to auditors; its id goes to stderr.
    Public,
}

/// Projector commands.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Run a projector worker (no HTTP) until interrupted. Several workers, in this or other
    /// processes, share the organisations: each batch locks its checkpoint.
    Run {
        /// Events per batch (one transaction each).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        batch_size: i64,
        /// Milliseconds to pause after each event, so a long catch-up leaves room to live traffic.
        #[arg(long, default_value_t = 0)]
        throttle_ms: u64,
        /// Seconds between polls of every organisation (commits also wake the worker at once).
        #[arg(long, env = "GEMBA_PROJECTOR_POLL_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        poll_secs: u64,
    },
    /// Where every projection of an organisation stands: checkpoint, head, lag, last error;
    /// and its rebuilds.
    Status {
        /// The organisation.
        #[arg(long)]
        org: uuid::Uuid,
    },
    /// Rebuild a projection (or `all`) from the first event into shadow tables while the live
    /// one keeps serving, then swap it in, per organisation. Interrupted (or killed), it
    /// resumes where it stood when run again.
    Rebuild {
        /// `defect_register`, `zone_5s_scores`, `kaizen_register`, `a3_register` or `all`.
        projection: String,
        /// Only this organisation (default: every organisation).
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// Events per batch (one transaction each).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        batch_size: i64,
        /// Milliseconds to pause per event applied (after each batch), so a rebuild leaves
        /// room to live traffic.
        #[arg(long, default_value_t = 0)]
        throttle_ms: u64,
        /// Organisations rebuilt at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: u16,
    },
    /// Cancel a rebuild: its shadow rows go, the live rows were never touched.
    Cancel {
        /// `defect_register`, `zone_5s_scores`, `kaizen_register`, `a3_register` or `all`.
        projection: String,
        /// Only this organisation (default: every organisation).
        #[arg(long)]
        org: Option<uuid::Uuid>,
    },
}

/// Embedded database helpers.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Stop the embedded PostgreSQL of the data folder, if it runs.
    Stop,
}

impl DbArgs {
    pub(crate) fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            database_url: self.database_url.clone(),
            migration_url: self.migration_database_url.clone(),
            data_dir: self.data_dir.clone(),
            max_connections: 32,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Sweeps every `interval` until the task is aborted; failures are logged, never fatal.
async fn sweep_forever(gemba: Gemba, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match gemba.sweep(gemba.now()).await {
            Ok(report) if report.escalated + report.missed + report.expired + report.scheduled + report.purged + report.failed > 0 => {
                tracing::info!(?report, "swept");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "the sweep failed; retrying at the next interval"),
        }
    }
}

/// The projection names the rebuild commands accept.
fn projection_names() -> String {
    let names: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
    format!("one of {} or all", names.join(", "))
}

/// The progress bar's message: rate, time left, current organisations, last error.
fn progress_message(overall: &Overall) -> String {
    let mut message = String::new();
    if let Some(rate) = overall.rate {
        message.push_str(&format!("{rate:.0} events/s"));
    }
    if let Some(eta) = overall.eta() {
        message.push_str(&format!(", {}s left", eta.as_secs()));
    }
    if let Some(org) = overall.current.first() {
        message.push_str(&format!(", organisation {org}"));
        if overall.current.len() > 1 {
            message.push_str(&format!(" and {} more", overall.current.len() - 1));
        }
    }
    if let Some(error) = &overall.last_error {
        message.push_str(&format!(", last error: {error}"));
    }
    message
}

/// Takes signed chain checkpoints every `interval` until the task is aborted; failures are
/// logged, never fatal.
async fn checkpoint_forever(pool: sqlx::PgPool, signer: gemba_commands::signing::Signer, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match gemba_commands::checkpoint::take_all(&pool, &signer).await {
            Ok(0) => {}
            Ok(taken) => tracing::info!(taken, "chain checkpoints signed"),
            Err(error) => tracing::warn!(%error, "taking chain checkpoints failed; retrying at the next interval"),
        }
    }
}

/// `gemba retention dispose`: as an operator at the command line (channel `cli`), with the
/// system clock.
async fn dispose(db: &DbArgs, org: uuid::Uuid, dry_run: bool, reason: &str) -> anyhow::Result<ExitCode> {
    let reason = gemba_domain::Reason::parse(gemba_domain::ReasonCode::Other, reason).map_err(|e| anyhow::anyhow!("--reason {e}"))?;
    let keyring = app_key(db.app_key.as_deref(), &db.data_dir).map_err(anyhow::Error::msg)?;
    let signer = signing_key(db.signing_key.as_deref(), &db.data_dir).map_err(anyhow::Error::msg)?;
    let database = Database::open(&db.config()).await?;
    let result = async {
        let evidence = gemba_commands::evidence::EvidenceConfig::local(&db.data_dir.join("evidence"))?;
        let gemba = Gemba::new(database.pool.clone(), keyring, Arc::new(SystemClock), evidence)?;
        let ctx = gemba_commands::envelope::CommandContext::new(OrgId(org), None, gemba_commands::envelope::Channel::Cli);
        let projections: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
        gemba.dispose_expired(&ctx, gemba.now(), reason, dry_run, &projections, &signer).await
    }
    .await;
    database.close().await;
    let report = match result {
        Ok(report) => report,
        Err(gemba_commands::CommandError::LegalHold) => {
            eprintln!("refused: a legal hold is in place; nothing was disposed of");
            return Ok(ExitCode::from(3));
        }
        Err(error) => {
            eprintln!("refused: {error}; nothing was disposed of");
            return Ok(ExitCode::from(1));
        }
    };
    let cutoff = report.cutoff.to_rfc3339();
    match (report.up_to_seq, report.dry_run) {
        (None, _) => println!("nothing to dispose of: no event recorded before {cutoff} (retention {} years)", report.retention_years),
        (Some(up_to), true) => println!(
            "dry run: would dispose of {} events up to tenant_seq {up_to} (recorded before {cutoff}), snapshotting {} aggregates",
            report.count, report.aggregates
        ),
        (Some(up_to), false) => println!(
            "disposed of {} events up to tenant_seq {up_to} (recorded before {cutoff}); {} aggregates snapshotted; anchor {}; recorded at tenant_seq {}",
            report.count,
            report.aggregates,
            report.anchor_hash.as_deref().unwrap_or("-"),
            report.position.map_or(0, |p| p.last_seq)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the command line; the exit code says how it went.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            auth_attempts_per_minute,
            evidence_dir,
            evidence_max_bytes,
            evidence_link_ttl_secs,
            sweep_interval_secs,
            projector_poll_secs,
            operator_token,
            checkpoint_interval_secs,
        } => {
            let keyring = app_key(cli.db.app_key.as_deref(), &cli.db.data_dir).map_err(anyhow::Error::msg)?;
            let signer = signing_key(cli.db.signing_key.as_deref(), &cli.db.data_dir).map_err(anyhow::Error::msg)?;
            let database = Database::open(&cli.db.config()).await?;
            let where_ = match &database.embedded {
                Some(e) => {
                    format!("embedded PostgreSQL in {} (127.0.0.1:{})", cli.db.data_dir.join("postgres").display(), e.credentials.port)
                }
                None => "DATABASE_URL".to_owned(),
            };
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let address = listener.local_addr()?;
            let mut config = AppConfig::new(&evidence_dir.unwrap_or_else(|| cli.db.data_dir.join("evidence")))?;
            config.auth_attempts_per_minute = auth_attempts_per_minute;
            config.evidence.max_bytes = evidence_max_bytes;
            config.evidence.link_ttl = chrono::Duration::seconds(i64::from(evidence_link_ttl_secs));
            config.operator_token = operator_token;
            config.signer = signer.clone();
            let app = router(database.pool.clone(), keyring.clone(), Arc::new(SystemClock), &config)?;
            let backfill = Gemba::new(database.pool.clone(), keyring.clone(), Arc::new(SystemClock), config.evidence.clone())?;
            match backfill.backfill_registry().await {
                Ok(0) => {}
                Ok(rows) => tracing::info!(rows, "registry tables filled from earlier events"),
                Err(error) => tracing::warn!(%error, "the registry could not be filled from earlier events"),
            }
            let sweeper = (sweep_interval_secs > 0)
                .then(|| Gemba::new(database.pool.clone(), keyring, Arc::new(SystemClock), config.evidence.clone()))
                .transpose()?
                .map(|gemba| tokio::spawn(sweep_forever(gemba, std::time::Duration::from_secs(sweep_interval_secs))));
            let checkpoints = (checkpoint_interval_secs > 0).then(|| {
                tokio::spawn(checkpoint_forever(database.pool.clone(), signer, std::time::Duration::from_secs(checkpoint_interval_secs)))
            });
            println!("Gemba is serving GraphQL at http://{address}/graphql (GraphiQL: http://{address}/graphiql), database: {where_}");
            let projector =
                crate::app::spawn_projector(database.pool.clone(), std::time::Duration::from_secs(projector_poll_secs), &config);
            let served = serve(listener, app, shutdown_signal()).await;
            if let Some(sweeper) = sweeper {
                sweeper.abort();
            }
            if let Some(checkpoints) = checkpoints {
                checkpoints.abort();
            }
            projector.abort();
            database.close().await;
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            match cli.db.migration_database_url.as_ref().or(cli.db.database_url.as_ref()) {
                Some(url) => {
                    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
                    migrate(&pool).await?;
                    pool.close().await;
                }
                None => {
                    let embedded = Embedded::start(&cli.db.data_dir.join("postgres")).await?;
                    embedded.migrate(DATABASE).await?;
                    embedded.stop()?;
                }
            }
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { export: Some(export), manifest, public_key, .. } => {
            crate::export_cli::verify_export(&export, manifest.as_deref(), public_key.as_deref())
        }
        Command::Export(args) => crate::export_cli::export(&cli.db, args).await,
        Command::Retention(RetentionCommand::Dispose { org, dry_run, reason }) => dispose(&cli.db, org, dry_run, &reason).await,
        Command::Keys(KeysCommand::Public) => {
            let signer = signing_key(cli.db.signing_key.as_deref(), &cli.db.data_dir).map_err(anyhow::Error::msg)?;
            let key = signer.public_key();
            eprintln!("key id {}", key.id());
            println!("{}", key.to_base64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { org: Some(org), .. } => {
            let database = Database::open(&cli.db.config()).await?;
            let verdict = {
                let mut tx = begin_tenant(&database.pool, OrgId(org)).await?;
                let verdict = verify(&mut tx, OrgId(org)).await?;
                tx.commit().await?;
                verdict
            };
            database.close().await;
            match verdict {
                Verdict::Intact { events } => {
                    println!("chain intact: {events} events checked");
                    Ok(ExitCode::SUCCESS)
                }
                Verdict::Broken { tenant_seq, problem } => {
                    println!("chain broken at tenant_seq {tenant_seq}: {problem}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Projections(ProjectionsCommand::Run { batch_size, throttle_ms, poll_secs }) => {
            let database = Database::open(&cli.db.config()).await?;
            let projector = gemba_projections::engine::Projector::new(database.pool.clone())
                .with_batch_size(batch_size)
                .with_throttle(std::time::Duration::from_millis(throttle_ms));
            println!("projector running (batches of {batch_size} events)");
            let rebuilder = Rebuilder::new(database.pool.clone()).with_batch_size(batch_size);
            let pool = database.pool.clone();
            let worker = tokio::spawn(async move {
                tokio::join!(projector.run(std::time::Duration::from_secs(poll_secs)), rebuilds::rebuild_outdated(rebuilder, pool));
            });
            shutdown_signal().await;
            worker.abort();
            database.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Projections(ProjectionsCommand::Status { org }) => {
            let database = Database::open(&cli.db.config()).await?;
            let statuses = gemba_projections::engine::Projector::new(database.pool.clone()).status(org).await;
            let mut healthy = true;
            println!("{:<16} {:>7} {:>10} {:>10} {:>8}  last error", "projection", "version", "checkpoint", "head", "lag");
            for s in statuses? {
                healthy &= s.last_error.is_none();
                println!(
                    "{:<16} {:>7} {:>10} {:>10} {:>8}  {}",
                    s.projection,
                    s.version,
                    s.checkpoint,
                    s.head,
                    s.lag(),
                    s.last_error.as_deref().unwrap_or("-")
                );
            }
            let rebuilds = Rebuilder::new(database.pool.clone()).status(org).await;
            database.close().await;
            let rebuilds = rebuilds?;
            if !rebuilds.is_empty() {
                println!(
                    "\n{:<16} {:>7} {:<9} {:>10} {:>10} {:>10}  last error",
                    "rebuild", "version", "state", "done", "total", "events/s"
                );
                for r in rebuilds {
                    println!(
                        "{:<16} {:>7} {:<9} {:>10} {:>10} {:>10}  {}",
                        r.projection.name(),
                        r.version,
                        r.state.as_str(),
                        r.done,
                        r.total,
                        r.rate.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}")),
                        r.last_error.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Projections(ProjectionsCommand::Rebuild { projection, org, batch_size, throttle_ms, parallel }) => {
            let Some(projections) = rebuilds::projections_named(&projection) else {
                eprintln!("unknown projection `{projection}`: {}", projection_names());
                return Ok(ExitCode::from(2));
            };
            let database = Database::open(&cli.db.config()).await?;
            let orgs = match org {
                Some(org) => vec![org],
                None => rebuilds::organisations(&database.pool).await?,
            };
            let rebuilder = Rebuilder::new(database.pool.clone())
                .with_batch_size(batch_size)
                .with_throttle(std::time::Duration::from_millis(throttle_ms));
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let shown = bar.clone();
            let run = rebuilds::run(&rebuilder, &orgs, &projections, usize::from(parallel), move |overall| {
                shown.set_length(u64::try_from(overall.total).unwrap_or(0));
                shown.set_position(u64::try_from(overall.done).unwrap_or(0));
                shown.set_message(progress_message(overall));
            });
            let report = tokio::select! {
                report = run => report,
                () = shutdown_signal() => {
                    bar.abandon();
                    database.close().await;
                    println!("interrupted; run the same command again to resume, or `gemba projections cancel {projection}`");
                    return Ok(ExitCode::from(130));
                }
            };
            bar.finish_and_clear();
            database.close().await;
            let seconds = started.elapsed().as_secs_f64();
            let overall = &report.overall;
            println!(
                "rebuilt and swapped in {} of {} rebuilds ({} organisations): {} events in {seconds:.1} s",
                overall.swapped,
                orgs.len() * projections.len(),
                orgs.len(),
                overall.done
            );
            if report.busy > 0 {
                println!("{} rebuilds are being run by another process", report.busy);
            }
            if overall.cancelled > 0 {
                println!("{} rebuilds were cancelled", overall.cancelled);
            }
            for (org, projection, error) in &report.errors {
                eprintln!("{} of organisation {org} stopped: {error}", projection.name());
            }
            Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Projections(ProjectionsCommand::Cancel { projection, org }) => {
            let Some(projections) = rebuilds::projections_named(&projection) else {
                eprintln!("unknown projection `{projection}`: {}", projection_names());
                return Ok(ExitCode::from(2));
            };
            let database = Database::open(&cli.db.config()).await?;
            let orgs = match org {
                Some(org) => vec![org],
                None => rebuilds::organisations(&database.pool).await?,
            };
            let rebuilder = Rebuilder::new(database.pool.clone());
            let mut cancelled = 0;
            for org in &orgs {
                for projection in &projections {
                    cancelled += usize::from(rebuilder.cancel(*org, *projection).await?);
                }
            }
            database.close().await;
            println!("{cancelled} rebuilds cancelled");
            Ok(ExitCode::SUCCESS)
        }
        Command::Workspace(WorkspaceCli::Purge { org, evidence_dir }) => {
            let keyring = app_key(cli.db.app_key.as_deref(), &cli.db.data_dir).map_err(anyhow::Error::msg)?;
            let evidence =
                gemba_commands::evidence::EvidenceConfig::local(&evidence_dir.unwrap_or_else(|| cli.db.data_dir.join("evidence")))?;
            let database = Database::open(&cli.db.config()).await?;
            let outcome = async {
                let gemba = Gemba::new(database.pool.clone(), keyring, Arc::new(SystemClock), evidence)?;
                gemba.purge_workspace(OrgId(org), gemba.now()).await
            }
            .await;
            database.close().await;
            match outcome {
                Ok(purged) => {
                    println!(
                        "workspace {org} purged: {} person keys shredded, {} evidence files deleted; the events stay",
                        purged.person_keys_shredded, purged.evidence_files_deleted
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(gemba_commands::CommandError::Domain(refused)) => {
                    eprintln!("purge refused: {refused}");
                    Ok(ExitCode::from(1))
                }
                Err(error) => Err(error.into()),
            }
        }
        Command::Verify { org: None, export: None, .. } => Err(anyhow::anyhow!("give --org (in the database) or --export (offline)")),
        Command::Db(DbCommand::Stop) => {
            let embedded = Embedded::start(&cli.db.data_dir.join("postgres")).await?;
            embedded.stop_any()?;
            println!("embedded PostgreSQL stopped");
            Ok(ExitCode::SUCCESS)
        }
    }
}
