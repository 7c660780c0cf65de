//! Audit-trail export at scale: the real `gemba export` binary over the read side's data
//! set, CSV and NDJSON, then the real `gemba verify --export` (offline) over each file.
//!
//! - Rate: rows in the file over the child process's wall time (start-up, connecting and
//!   the signed checkpoint included).
//! - Memory: the child's peak resident set (`VmHWM` of `/proc/<pid>/status`, polled every
//!   10 ms while it runs; the kernel keeps the high-water mark, so a peak between two polls
//!   is still seen at the next one, and only growth in the last 10 ms before exit could be
//!   missed). Constant memory means this stays flat whatever `--events` is.
//! - The data set is generated without a hash chain; before measuring, the chain is computed
//!   and written into it (as the superuser, append-only trigger bypassed; not timed), so the
//!   exports verify. Its personal data is sealed-looking noise without keys, so exported
//!   names read `[erased]`: opening real ones costs one key look-up per batch of 500 rows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use futures::TryStreamExt;
use gemba_api::embedded::Embedded;
use gemba_commands::chain::{CHAINED_COLUMNS, ChainedEvent, GENESIS};
use gemba_commands::crypto::Keyring;
use gemba_commands::signing::Signer;
use gemba_domain::OrgId;
use serde_json::Value;
use sqlx::Connection as _;

use crate::dataset::DataSet;

/// One run of a child process.
#[derive(Debug)]
pub struct Run {
    pub label: String,
    pub rows: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Peak resident set in KiB.
    pub peak_kib: u64,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// The export figures.
#[derive(Debug)]
pub struct Exports {
    pub chain_elapsed: Duration,
    pub exports: Vec<Run>,
    pub verifies: Vec<Run>,
}

/// The `gemba` binary the benchmark runs: `explicit`, else next to the benchmark's own.
pub fn gemba_bin(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()?.parent().map(|dir| dir.join("gemba")).ok_or_else(|| anyhow!("no folder of the benchmark"))?,
    };
    if !path.is_file() {
        return Err(anyhow!(
            "the gemba binary is not at {} (build it first: cargo build --release -p gemba-api, or pass --gemba-bin)",
            path.display()
        ));
    }
    Ok(path)
}

/// Computes the data set's hash chain and writes it into the events and the head.
async fn chain(embedded: &Embedded, database: &str, org: uuid::Uuid) -> anyhow::Result<Duration> {
    const BATCH: i64 = 10_000;
    let started = Instant::now();
    let mut reader = embedded.superuser(database).await?;
    let mut writer = embedded.superuser(database).await?;
    // The append-only trigger refuses updates; replica mode skips ordinary triggers.
    sqlx::query("set session_replication_role = replica").execute(&mut writer).await?;
    let mut prev = GENESIS.to_vec();
    let mut after = 0_i64;
    loop {
        let rows: Vec<ChainedEvent> = sqlx::query_as(&format!(
            "select {CHAINED_COLUMNS} from events where org_id = $1 and tenant_seq > $2 order by tenant_seq limit $3"
        ))
        .bind(org)
        .bind(after)
        .bind(BATCH)
        .fetch(&mut reader)
        .try_collect()
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.tenant_seq;
        let (mut seqs, mut prevs, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let hash = row.link(OrgId(org)).hash(&prev).to_vec();
            seqs.push(row.tenant_seq);
            prevs.push(std::mem::replace(&mut prev, hash.clone()));
            hashes.push(hash);
        }
        let mut tx = writer.begin().await?;
        sqlx::query(
            "update events e set prev_hash = t.p, hash = t.h
               from unnest($2::int8[], $3::bytea[], $4::bytea[]) as t(s, p, h)
              where e.org_id = $1 and e.tenant_seq = t.s",
        )
        .bind(org)
        .bind(&seqs)
        .bind(&prevs)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    sqlx::query("update org_heads set last_hash = $2 where org_id = $1").bind(org).bind(&prev).execute(&mut writer).await?;
    sqlx::query("set session_replication_role = origin").execute(&mut writer).await?;
    Ok(started.elapsed())
}

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `command` to its end, polling its peak memory; fails unless it succeeds.
fn watch(mut command: Command) -> anyhow::Result<(Duration, u64, String)> {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("starting gemba")?;
    let pid = child.id();
    let mut peak = 0;
    // stdout/stderr are small (one line each), so the pipes never fill while we poll.
    while child.try_wait()?.is_none() {
        peak = peak.max(peak_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let output = child.wait_with_output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(anyhow!("gemba failed: {text}"));
    }
    Ok((elapsed, peak, text))
}

/// Chains the data set, then exports it in both formats and verifies each file offline.
pub async fn measure(embedded: &Embedded, database: &str, data: &DataSet, gemba: &Path, dir: &Path) -> anyhow::Result<Exports> {
    let chain_elapsed = chain(embedded, database, data.org).await.context("computing the data set's hash chain")?;
    eprintln!("export: hash chain computed in {:.1} s", chain_elapsed.as_secs_f64());
    std::fs::create_dir_all(dir)?;
    let signing_key = Signer::generate_base64();
    let public = Signer::from_base64(&signing_key).map_err(|e| anyhow!("{e}"))?.public_key().to_base64();
    let key_file = dir.join("public.key");
    std::fs::write(&key_file, public)?;
    let app_key = Keyring::generate_base64();
    let (mut exports, mut verifies) = (Vec::new(), Vec::new());
    for format in ["csv", "ndjson"] {
        let file = dir.join(format!("export.{format}"));
        let mut command = Command::new(gemba);
        command
            .args(["export", "--org", &data.org.to_string(), "--format", format, "--out"])
            .arg(&file)
            .env("DATABASE_URL", embedded.app_url(database))
            .env_remove("GEMBA_MIGRATION_DATABASE_URL")
            .env("GEMBA_APP_KEY", &app_key)
            .env("GEMBA_SIGNING_KEY", &signing_key)
            .env("GEMBA_DATA_DIR", dir.join("data"))
            .env("GEMBA_LOG", "warn");
        let (elapsed, peak_kib, _) = tokio::task::spawn_blocking(move || watch(command)).await??;
        let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join(format!("export.{format}.manifest.json")))?)?;
        let rows = manifest["rows"].as_u64().unwrap_or(0);
        let bytes = std::fs::metadata(&file)?.len();
        eprintln!("export: {format}: {rows} rows in {:.1} s, peak {peak_kib} KiB", elapsed.as_secs_f64());
        exports.push(Run { label: format.to_owned(), rows, bytes, elapsed, peak_kib });

        let mut command = Command::new(gemba);
        command.args(["verify", "--export"]).arg(&file).arg("--public-key").arg(&key_file).env("GEMBA_LOG", "warn");
        let (elapsed, peak_kib, _) = tokio::task::spawn_blocking(move || watch(command)).await??;
        eprintln!("verify: {format}: {rows} rows in {:.1} s, peak {peak_kib} KiB", elapsed.as_secs_f64());
        verifies.push(Run { label: format.to_owned(), rows, bytes, elapsed, peak_kib });
        std::fs::remove_file(&file)?;
    }
    std::fs::remove_dir_all(dir)?;
    Ok(Exports { chain_elapsed, exports, verifies })
}

/// The export section of the report.
pub fn report(report: &mut String, figures: &Exports) -> std::fmt::Result {
    writeln!(report, "## Audit-trail export and offline verification\n")?;
    writeln!(report, "| step | format | rows | file | rows/s | wall time | peak memory (RSS) |")?;
    writeln!(report, "|---|---|---:|---:|---:|---:|---:|")?;
    for (step, runs) in [("`gemba export`", &figures.exports), ("`gemba verify --export`", &figures.verifies)] {
        for run in runs {
            writeln!(
                report,
                "| {step} | {} | {} | {:.1} MiB | {:.0} | {:.1} s | {:.1} MiB |",
                run.label,
                run.rows,
                run.bytes as f64 / 1024.0 / 1024.0,
                run.per_second(),
                run.elapsed.as_secs_f64(),
                run.peak_kib as f64 / 1024.0
            )?;
        }
    }
    Ok(())
}

/// What the export figures mean.
pub fn reading(report: &mut String, figures: &Exports) -> std::fmt::Result {
    let peak = figures.exports.iter().chain(&figures.verifies).map(|r| r.peak_kib).max().unwrap_or(0);
    writeln!(
        report,
        "- Export: the real `gemba export` and `gemba verify --export` binaries, run as child processes; rate = rows over the process's wall time (connecting, the `ExportRequested`/`ExportGenerated` events and the signed checkpoint included). Peak memory is the child's `VmHWM` (at most {:.1} MiB here): rows stream from a server-side `fetch` through a bounded channel and leave in 64 KiB chunks, so it does not grow with the number of events; run with a different `--events` to see it stay flat. The verifier streams too (one row in memory), and its cost is one sha256 and one canonical re-serialisation per row. The hash chain of the generated data set was computed first ({:.1} s, not part of the figures).",
        peak as f64 / 1024.0,
        figures.chain_elapsed.as_secs_f64()
    )
}
