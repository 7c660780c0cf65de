//! The write side: single-event commands through cqrs-es's `CqrsFramework` (load the
//! aggregate, decide, append one event) on a small counter aggregate, at 1, 8 and 32
//! concurrent writers, spread over 1 or 100 organisations. The same framework runs over
//! - Gemba's `TenantEventRepository` (RLS tenant transaction, commit-ordered gapless
//!   `tenant_seq`, hash chain, registry) as the application role, and
//! - postgres-es 0.5's `PostgresEventRepository` (no tenancy, no chain) on the same server.
//!
//! A third baseline is pgbench inserting single rows into a plain table (the floor for
//! one committed insert per transaction), when pgbench is installed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, CqrsFramework, DomainEvent};
use gemba_api::embedded::{Embedded, OWNER_ROLE};
use gemba_commands::store::TenantEventRepository;
use gemba_domain::{DomainError, OrgId};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};
use uuid::Uuid;

use crate::stats::Latencies;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    n: u64,
}

#[derive(Clone, Debug)]
enum CounterCommand {
    Bump,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum CounterEvent {
    Bumped { n: u64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "Bumped".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

impl Aggregate for Counter {
    const TYPE: &'static str = "Counter";
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            CounterCommand::Bump => sink.write(CounterEvent::Bumped { n: self.n + 1 }, self).await,
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CounterEvent::Bumped { n } => self.n = n,
        }
    }
}

/// Events per aggregate before a writer moves to a fresh one (keeps load cost flat).
const EVENTS_PER_AGGREGATE: u64 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Store {
    Gemba,
    PostgresEs,
}

impl Store {
    fn label(self) -> &'static str {
        match self {
            Self::Gemba => "gemba TenantEventRepository",
            Self::PostgresEs => "postgres-es 0.5 PostgresEventRepository",
        }
    }
}

#[derive(Debug)]
struct Measurement {
    errors: usize,
    elapsed: Duration,
    latencies: Latencies,
}

impl Measurement {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// What the write side measured.
#[derive(Debug)]
pub struct WriteResults {
    seconds: u64,
    commands: BTreeMap<(usize, usize, Store), Measurement>,
    /// (clients, inserts/s, average latency ms); empty without pgbench.
    pgbench: Vec<(usize, f64, f64)>,
}

async fn run(store: Store, gemba: &PgPool, baseline: &PgPool, writers: usize, orgs: usize, seconds: u64) -> Measurement {
    let org_ids: Arc<Vec<OrgId>> = Arc::new((0..orgs).map(|_| OrgId(Uuid::now_v7())).collect());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (gemba, baseline, org_ids) = (gemba.clone(), baseline.clone(), org_ids.clone());
        tasks.push(tokio::spawn(async move {
            let run_id = Uuid::now_v7();
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut i: u64 = 0;
            while Instant::now() < deadline {
                // Each aggregate lives in one organisation; a writer's successive
                // aggregates visit the organisations in turn.
                let generation = i / EVENTS_PER_AGGREGATE;
                let org = org_ids[(writer + generation as usize) % org_ids.len()];
                let aggregate = format!("{run_id}-{writer}-{generation}");
                let began = Instant::now();
                let result = match store {
                    Store::Gemba => {
                        let repo = TenantEventRepository::new(gemba.clone(), org);
                        CqrsFramework::<Counter, _>::new(PersistedEventStore::new_event_store(repo), vec![], ())
                            .execute(&aggregate, CounterCommand::Bump)
                            .await
                    }
                    Store::PostgresEs => {
                        let repo = PostgresEventRepository::new(baseline.clone());
                        CqrsFramework::<Counter, _>::new(PersistedEventStore::new_event_store(repo), vec![], ())
                            .execute(&format!("{org}-{aggregate}"), CounterCommand::Bump)
                            .await
                    }
                };
                match result {
                    Ok(()) => latencies.push(began.elapsed()),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed();
    Measurement { errors, elapsed, latencies: Latencies::new(latencies) }
}

fn pgbench(embedded: &Embedded, database: &str, clients: usize, seconds: u64, bin: &Path) -> Option<(f64, f64)> {
    let script = std::env::temp_dir().join(format!("gemba-pgbench-{}.sql", std::process::id()));
    std::fs::write(&script, "insert into pgbench_plain (org_id, payload) values (gen_random_uuid(), '{\"n\": 1}');\n").ok()?;
    let output = Command::new(bin)
        .args(["-n", "-h", "127.0.0.1", "-p", &embedded.credentials.port.to_string(), "-U", "postgres"])
        .args(["-c", &clients.to_string(), "-j", &clients.min(2).to_string(), "-T", &seconds.to_string(), "-r"])
        .arg("-f")
        .arg(&script)
        .arg(database)
        .env("PGPASSWORD", &embedded.credentials.superuser_password)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text.lines().find(|l| l.starts_with("tps"))?.split_whitespace().nth(2)?.parse().ok()?;
    let latency = text.lines().find(|l| l.starts_with("latency average"))?.split_whitespace().nth(3)?.parse().ok()?;
    Some((tps, latency))
}

/// Runs every write-side configuration for `seconds` each, in the databases `bench_gemba`
/// (migrated) and `bench_postgres_es` (postgres-es's schema and the pgbench table).
pub async fn measure(embedded: &Embedded, seconds: u64) -> anyhow::Result<WriteResults> {
    let (gemba_db, baseline_db) = ("bench_gemba".to_owned(), "bench_postgres_es".to_owned());
    let mut superuser = embedded.superuser("postgres").await?;
    for db in [&gemba_db, &baseline_db] {
        sqlx::query(&format!("drop database if exists {db} with (force)")).execute(&mut superuser).await?;
        embedded.create_database(&mut superuser, db).await?;
    }
    superuser.close().await?;
    embedded.migrate(&gemba_db).await?;
    let gemba = embedded.app_pool(&gemba_db, 40).await?;
    let baseline = PgPoolOptions::new().max_connections(40).connect(&embedded.owner_url(&baseline_db)).await?;
    for statement in include_str!("postgres_es.sql").split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(statement).execute(&baseline).await?;
    }
    let mut conn = embedded.superuser(&baseline_db).await?;
    sqlx::query("create table pgbench_plain (id bigserial primary key, org_id uuid not null, payload jsonb not null)")
        .execute(&mut conn)
        .await?;
    sqlx::query(&format!("alter table pgbench_plain owner to {OWNER_ROLE}")).execute(&mut conn).await?;
    conn.close().await?;

    let mut commands = BTreeMap::new();
    for writers in [1, 8, 32] {
        for orgs in [1, 100] {
            for store in [Store::Gemba, Store::PostgresEs] {
                let m = run(store, &gemba, &baseline, writers, orgs, seconds).await;
                eprintln!(
                    "{:<42} writers={writers:<3} orgs={orgs:<4} {:>8.0} cmd/s p50={:.2}ms p99={:.2}ms errors={}",
                    store.label(),
                    m.per_second(),
                    m.latencies.percentile_ms(0.5),
                    m.latencies.percentile_ms(0.99),
                    m.errors
                );
                commands.insert((writers, orgs, store), m);
            }
        }
    }
    let pgbench_bin = gemba_api::embedded::find_binaries().ok().map(|d| d.join("pgbench")).filter(|p| p.is_file());
    let mut pgbench_rows = Vec::new();
    if let Some(bin) = &pgbench_bin {
        for clients in [1, 8, 32] {
            if let Some((tps, latency)) = pgbench(embedded, &baseline_db, clients, seconds, bin) {
                eprintln!("pgbench plain insert clients={clients:<3} {tps:>8.0} tps avg={latency:.2}ms");
                pgbench_rows.push((clients, tps, latency));
            }
        }
    }
    gemba.close().await;
    baseline.close().await;
    Ok(WriteResults { seconds, commands, pgbench: pgbench_rows })
}

/// The write side's settings line and sections of the report.
pub fn settings(report: &mut String, results: &WriteResults) -> std::fmt::Result {
    writeln!(report, "- Write side: {} s per configuration; pools of 40 connections", results.seconds)?;
    writeln!(
        report,
        "- Write workload: single-event commands through cqrs-es 0.5 `CqrsFramework::execute` (load aggregate, decide, append one event) on a counter aggregate; each writer uses its own aggregates, moving to a fresh one every {EVENTS_PER_AGGREGATE} events; with 100 organisations each aggregate lives in one organisation and a writer's successive aggregates visit them in turn"
    )?;
    writeln!(
        report,
        "- Gemba: `TenantEventRepository` as the application role (RLS, tenant transaction, per-organisation head lock for the gapless commit-ordered `tenant_seq`, sha256 hash chain). postgres-es: `PostgresEventRepository` on its own database on the same server (no tenancy, no chain, no global order)"
    )
}

/// The write side's sections of the report.
pub fn report(report: &mut String, results: &WriteResults) -> std::fmt::Result {
    writeln!(report, "## Write side: single-event command throughput and latency\n")?;
    writeln!(report, "| writers | organisations | store | commands/s | p50 ms | p99 ms | errors |")?;
    writeln!(report, "|---:|---:|---|---:|---:|---:|---:|")?;
    for ((writers, orgs, store), m) in &results.commands {
        writeln!(
            report,
            "| {writers} | {orgs} | {} | {:.0} | {:.2} | {:.2} | {} |",
            store.label(),
            m.per_second(),
            m.latencies.percentile_ms(0.5),
            m.latencies.percentile_ms(0.99),
            m.errors
        )?;
    }
    writeln!(report, "\n## Write side floor: plain single-row inserts (pgbench)\n")?;
    if results.pgbench.is_empty() {
        writeln!(report, "pgbench was not found next to the PostgreSQL binaries; this baseline was skipped.")?;
    } else {
        writeln!(report, "| clients | inserts/s | average latency ms |")?;
        writeln!(report, "|---:|---:|---:|")?;
        for (clients, tps, latency) in &results.pgbench {
            writeln!(report, "| {clients} | {tps:.0} | {latency:.2} |")?;
        }
    }
    Ok(())
}

/// How to read the write side's figures.
pub fn reading(report: &mut String) -> std::fmt::Result {
    writeln!(
        report,
        "- With one organisation every Gemba append serialises on that organisation's head row: that is the price of a gapless, commit-ordered `tenant_seq` and an unbroken hash chain. The lock is held until the commit is durable, so one organisation's write rate is bounded by one fsync'd commit at a time (about the single-writer rate), and extra writers in the same organisation only queue (see the p99 at 32 writers). Across 100 organisations appends run in parallel again and group commit helps."
    )?;
    writeln!(
        report,
        "- postgres-es appends only need the aggregate's own primary key, so they scale with writers in one organisation, but give no per-tenant order, no tamper evidence and no isolation."
    )
}
