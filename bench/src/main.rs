//! `cargo run --release -p gemba-bench`: measures Gemba side by side with its baselines, in
//! one run on one PostgreSQL started by the benchmark, and writes `docs/benchmarks.md`.
//!
//! - [`write_side`]: single-event commands on Gemba's event store vs postgres-es 0.5, and
//!   pgbench's plain inserts (the floor).
//! - [`dataset`]: one organisation with `--events` real domain events (default 1,000,000)
//!   over 18 months, generated in bulk.
//! - [`read_side`]: the rebuild rate of the projections over it (vs a plain scan of the
//!   events) and the latency of the dashboard's reads (vs a full count of the register).
//! - [`replay`]: the rebuild of the same read models by cqrs-es's `QueryReplay` over
//!   postgres-es, on the same events, beside Gemba's.
//! - [`lag`]: projection lag under sustained writes through the `Gemba` service.
//! - [`export`]: `gemba export` (CSV, NDJSON) and `gemba verify --export` over the data set:
//!   rows per second and peak memory of the real binary (build it first:
//!   `cargo build --release -p gemba-api`).

mod dataset;
mod export;
mod lag;
mod read_side;
mod replay;
mod stats;
mod write_side;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use gemba_api::embedded::Embedded;
use sqlx::postgres::PgPoolOptions;

/// Benchmark options.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds per measured write-side configuration.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Events in the read side's data set.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Runs per read (at most; see --read-budget).
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Seconds each read may take in all before fewer runs are taken (at least 10 runs).
    #[arg(long, default_value_t = 30)]
    read_budget: u64,
    /// Events per projector batch in the rebuild.
    #[arg(long, default_value_t = 500)]
    batch_size: i64,
    /// Seconds of sustained writes per rate in the lag measurement.
    #[arg(long, default_value_t = 15)]
    lag_seconds: u64,
    /// Where to write the report.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// Folder for the benchmark's own PostgreSQL (default: a temporary folder).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure only the read side (data set, rebuild, reads) and keep its database
    /// `bench_read` in `--data-dir` for inspection, e.g. with `EXPLAIN ANALYZE`.
    #[arg(long, requires = "data_dir")]
    reads_only: bool,
    /// Measure only the projection lag (a few seconds per rate; for investigating it).
    #[arg(long, conflicts_with = "reads_only")]
    lag_only: bool,
    /// Skip the rebuild by cqrs-es's `QueryReplay` (one commit per event: at 1,000,000
    /// events it takes far longer than Gemba's rebuild).
    #[arg(long)]
    no_replay: bool,
    /// Seconds each cqrs-es replay may run before it is stopped and its rate taken over
    /// the events it applied.
    #[arg(long, default_value_t = 240)]
    replay_seconds: u64,
    /// The `gemba` binary measured by the export benchmark (default: next to this one).
    #[arg(long)]
    gemba_bin: Option<PathBuf>,
}

/// The lag is measured at these numbers of writers.
const LAG_WRITERS: [usize; 2] = [1, 8];

/// The 1-minute load average (other work on the machine skews every figure).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|t| t.split_whitespace().next().map(str::to_owned)).unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0)))
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory} RAM")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile_dir()?;
    let root = args.data_dir.clone().unwrap_or_else(|| temp.clone());
    let embedded = Embedded::start(&root.join("postgres")).await.context("starting PostgreSQL")?;
    let outcome = run(&args, &embedded, &root).await;
    embedded.stop()?;
    let _ = std::fs::remove_dir_all(&temp);
    let report = outcome?;
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, report)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// Measures everything and returns the report.
async fn run(args: &Args, embedded: &Embedded, root: &std::path::Path) -> anyhow::Result<String> {
    let load_at_start = load();
    if args.reads_only {
        return reads_only(args, embedded).await;
    }
    if args.lag_only {
        let lags = lag::measure(embedded, root, &LAG_WRITERS, args.lag_seconds).await.context("the projection lag")?;
        let mut report = String::new();
        writeln!(report, "# Projection lag only\n")?;
        writeln!(
            report,
            "Generated by `cargo run --release -p gemba-bench -- --lag-only`; load average {load_at_start} at the start and {} at the end.\n",
            load()
        )?;
        lag::report(&mut report, &lags, args.lag_seconds)?;
        writeln!(report)?;
        lag::reading(&mut report, &lags)?;
        return Ok(report);
    }
    // Found before anything is measured, so a missing binary fails at once.
    let gemba = export::gemba_bin(args.gemba_bin.as_deref())?;
    let writes = write_side::measure(embedded, args.seconds).await.context("the write side")?;

    let mut superuser = embedded.superuser("postgres").await?;
    let version: String = sqlx::query_scalar("show server_version").fetch_one(&mut superuser).await?;
    let mut settings = Vec::new();
    for name in ["shared_buffers", "work_mem", "effective_cache_size", "max_wal_size"] {
        let value: String = sqlx::query_scalar(&format!("show {name}")).fetch_one(&mut superuser).await?;
        settings.push(format!("{name} {value}"));
    }
    let ReadSide { data, rebuild, reads, replay } = read_side(args, embedded).await?;
    let database = READ_DATABASE;
    let exports = export::measure(embedded, database, &data, &gemba, &root.join("export")).await.context("the export")?;
    // The read side's database is no longer needed: the lag runs on a quiet server (forced:
    // autovacuum may still be working through the bulk load).
    if let Err(error) = sqlx::query(&format!("drop database if exists {database} with (force)")).execute(&mut superuser).await {
        eprintln!("could not drop {database}: {error}");
    }
    let lags = lag::measure(embedded, root, &LAG_WRITERS, args.lag_seconds).await.context("the projection lag")?;
    let _ = sqlx::query("drop database if exists bench_lag with (force)").execute(&mut superuser).await;

    let mut report = String::new();
    writeln!(report, "# Benchmarks\n")?;
    writeln!(report, "Generated by `cargo run --release -p gemba-bench` (writes this file). Do not edit by hand.\n")?;
    writeln!(report, "## Machine and settings\n")?;
    writeln!(report, "- Machine: {}; 1-minute load average {load_at_start} at the start and {} at the end of the run", machine(), load())?;
    writeln!(
        report,
        "- PostgreSQL {version}, started by the benchmark from the installed binaries (default settings: {}; fsync on, synchronous_commit on), on the same machine as the benchmark; release build",
        settings.join(", ")
    )?;
    write_side::settings(&mut report, &writes)?;
    writeln!(
        report,
        "- Read side: a data set of {} events in one organisation (below); rebuild in batches of {}; up to {} runs per read; {} s of writes per rate for the lag",
        data.events, args.batch_size, args.runs, args.lag_seconds
    )?;
    writeln!(report)?;
    write_side::report(&mut report, &writes)?;
    writeln!(report)?;
    read_side::report(&mut report, &data, &rebuild, &reads)?;
    writeln!(report)?;
    if let Some(replay) = &replay {
        replay::report(&mut report, replay, args.batch_size)?;
        writeln!(report)?;
    }
    lag::report(&mut report, &lags, args.lag_seconds)?;
    writeln!(report)?;
    export::report(&mut report, &exports)?;
    writeln!(report, "\n## Reading the numbers\n")?;
    write_side::reading(&mut report)?;
    read_side::reading(&mut report, &rebuild, &reads)?;
    if let Some(replay) = &replay {
        replay::reading(&mut report, replay)?;
    }
    lag::reading(&mut report, &lags)?;
    export::reading(&mut report, &exports)?;
    Ok(report)
}

/// The read side's database (kept by `--reads-only`).
const READ_DATABASE: &str = "bench_read";

/// What the read side measured.
struct ReadSide {
    data: dataset::DataSet,
    rebuild: read_side::Rebuild,
    reads: read_side::Reads,
    replay: Option<replay::Replay>,
}

/// A fresh read-side database with the data set, then the rebuilds, the reads and the
/// cqrs-es replay over it.
async fn read_side(args: &Args, embedded: &Embedded) -> anyhow::Result<ReadSide> {
    let mut superuser = embedded.superuser("postgres").await?;
    sqlx::query(&format!("drop database if exists {READ_DATABASE} with (force)")).execute(&mut superuser).await?;
    embedded.create_database(&mut superuser, READ_DATABASE).await?;
    embedded.migrate(READ_DATABASE).await?;
    let owner = PgPoolOptions::new().max_connections(4).connect(&embedded.owner_url(READ_DATABASE)).await?;
    let app = embedded.app_pool(READ_DATABASE, 4).await?;
    let data = dataset::generate(&owner, args.events).await.context("generating the data set")?;
    eprintln!("data set: {} events in {:.1} s", data.events, data.elapsed.as_secs_f64());
    let rebuild = read_side::rebuild(&app, &owner, &data, args.batch_size).await.context("the rebuild")?;
    let reads = read_side::latencies(&app, &data, args.runs, Duration::from_secs(args.read_budget)).await.context("the read latencies")?;
    let replay = if args.no_replay {
        None
    } else {
        Some(replay::measure(&owner, &data, &rebuild, Duration::from_secs(args.replay_seconds)).await.context("the cqrs-es replay")?)
    };
    app.close().await;
    owner.close().await;
    Ok(ReadSide { data, rebuild, reads, replay })
}

/// The read side alone, its database kept (`--reads-only`).
async fn reads_only(args: &Args, embedded: &Embedded) -> anyhow::Result<String> {
    let database = READ_DATABASE;
    let ReadSide { data, rebuild, reads, replay } = read_side(args, embedded).await?;
    let mut report = String::new();
    writeln!(report, "# Read side only ({} events; database `{database}` kept)\n", data.events)?;
    read_side::report(&mut report, &data, &rebuild, &reads)?;
    if let Some(replay) = &replay {
        writeln!(report)?;
        replay::report(&mut report, replay, args.batch_size)?;
    }
    writeln!(report, "\n## Reading the numbers\n")?;
    read_side::reading(&mut report, &rebuild, &reads)?;
    if let Some(replay) = &replay {
        replay::reading(&mut report, replay)?;
    }
    Ok(report)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("gemba-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
