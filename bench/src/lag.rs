//! Projection lag under sustained writes.
//!
//! A projector runs as in production (`Projector::run`: woken by LISTEN/NOTIFY on each
//! commit, polling every 5 s anyway) while writers issue real commands through the `Gemba`
//! service (raise a defect, then assign it) in a fresh organisation for a fixed time. A
//! monitor reads the organisation's head (`org_heads.last_seq`) and the projections'
//! checkpoints in one snapshot every millisecond. An event's lag is the time from the
//! first sample that shows it committed to the first sample whose checkpoint has passed it.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use gemba_api::embedded::Embedded;
use gemba_commands::auth::Password;
use gemba_commands::crypto::Keyring;
use gemba_commands::envelope::{Channel, CommandContext};
use gemba_commands::evidence::EvidenceConfig;
use gemba_commands::service::{Gemba, SystemClock};
use gemba_domain::defect::{AbnormalityType, NewDefect, Origin, Priority, TagClass};
use gemba_domain::{Actor, Code, DefectId, DisplayName, Email, LongText, Name, Role, Timezone};
use gemba_projections::engine::{Projector, tenant_tx};
use sqlx::{Connection, PgPool};
use uuid::Uuid;

use crate::stats::Latencies;

/// How often the monitor samples.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(1);
/// The projector's polling fallback (production default).
const POLL: Duration = Duration::from_secs(5);

/// The lag at one write rate.
#[derive(Debug)]
pub struct LagResult {
    pub writers: usize,
    pub elapsed: Duration,
    pub commands: usize,
    pub errors: usize,
    /// Events committed during the run (commands and what they derived).
    pub events: i64,
    /// Commit to `defect_register` checkpoint.
    pub defect_register: Latencies,
    /// Commit to the last of all projections' checkpoints (what read-your-writes waits for).
    pub all: Latencies,
    /// Monitor samples taken.
    pub samples: usize,
}

fn invalid(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow!("{e:?}")
}

#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    head: i64,
    defect_register: i64,
    all: i64,
}

/// For each `tenant_seq` in `(from, to]`, the time from the first sample showing it
/// committed to the first sample whose `checkpoint` has passed it.
fn lags(samples: &[Sample], from: i64, to: i64, checkpoint: fn(&Sample) -> i64) -> Latencies {
    let mut out = Vec::new();
    let (mut seen, mut done) = (0, 0);
    for seq in from + 1..=to {
        while seen < samples.len() && samples[seen].head < seq {
            seen += 1;
        }
        while done < samples.len() && checkpoint(&samples[done]) < seq {
            done += 1;
        }
        if let (Some(s), Some(d)) = (samples.get(seen), samples.get(done)) {
            out.push(d.at.saturating_duration_since(s.at));
        }
    }
    Latencies::new(out)
}

async fn sample(pool: &PgPool, org: Uuid) -> anyhow::Result<Sample> {
    let mut tx = tenant_tx(pool, org).await?;
    let (head, defect_register, all): (i64, i64, i64) = sqlx::query_as(
        "select coalesce((select last_seq from org_heads where org_id = $1), 0),
                coalesce((select last_seq from projection_checkpoints where org_id = $1 and projection = 'defect_register'), 0),
                coalesce((select min(last_seq) from projection_checkpoints where org_id = $1), 0)",
    )
    .bind(org)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Sample { at: Instant::now(), head, defect_register, all })
}

async fn one_rate(gemba: &Gemba, monitor: &PgPool, writers: usize, seconds: u64) -> anyhow::Result<LagResult> {
    let signed = gemba
        .sign_up(
            Email::parse("email", &format!("owner-{writers}@bench.example")).map_err(invalid)?,
            Password::parse("bench-password-1").map_err(invalid)?,
            DisplayName::parse("displayName", "Bench Owner").map_err(invalid)?,
            Name::parse("name", "Lag Works").map_err(invalid)?,
            Channel::Web,
        )
        .await
        .map_err(invalid)?;
    let (org, member) = (signed.org, signed.member);
    let actor = Actor { member_id: member, role: Role::Owner };
    let ctx = move || CommandContext::new(org, Some(actor), Channel::Web);
    let site = gemba
        .create_site(
            &ctx(),
            Code::parse("code", "PLT1").map_err(invalid)?,
            Name::parse("name", "Plant 1").map_err(invalid)?,
            Timezone::parse("timezone", "Europe/Berlin").map_err(invalid)?,
        )
        .await
        .map_err(invalid)?;
    let zone = gemba
        .create_zone(&ctx(), site, None, Code::parse("code", "Z001").map_err(invalid)?, Name::parse("name", "Zone 1").map_err(invalid)?)
        .await
        .map_err(invalid)?;
    // Wait until the projector has caught up with the set-up.
    let ready = Instant::now();
    loop {
        let s = sample(monitor, org.uuid()).await?;
        if s.head > 0 && s.all >= s.head {
            break;
        }
        if ready.elapsed() > Duration::from_secs(30) {
            return Err(anyhow!("the projector did not catch up with the set-up"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start_head = sample(monitor, org.uuid()).await?.head;

    let stop = Arc::new(AtomicBool::new(false));
    let target = Arc::new(AtomicI64::new(i64::MAX));
    let sampler = {
        let (pool, stop, target) = (monitor.clone(), stop.clone(), target.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut ticks = tokio::time::interval(SAMPLE_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut drained: Option<Instant> = None;
            loop {
                ticks.tick().await;
                let s = sample(&pool, org.uuid()).await?;
                samples.push(s);
                if stop.load(Ordering::SeqCst) {
                    let since = *drained.get_or_insert_with(Instant::now);
                    if s.all >= target.load(Ordering::SeqCst) || since.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                }
            }
            anyhow::Ok(samples)
        })
    };

    let title = Name::parse("title", "Oil leak under press 3").map_err(invalid)?;
    let description = LongText::parse("description", "Found during the shift round.").map_err(invalid)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (gemba, title, description) = (gemba.clone(), title.clone(), description.clone());
        tasks.push(tokio::spawn(async move {
            let (mut commands, mut errors) = (0usize, 0usize);
            while Instant::now() < deadline {
                let defect = NewDefect {
                    defect_id: DefectId(Uuid::now_v7()),
                    zone_id: zone,
                    abnormality_type: AbnormalityType::ContaminationSource,
                    tag_class: TagClass::Operator,
                    priority: Priority::B,
                    title: title.clone(),
                    description: description.clone(),
                    origin: Origin::OperatorReport,
                    evidence_before: vec![],
                };
                match gemba.raise_defect(&ctx(), defect, None).await {
                    Ok(id) => {
                        commands += 1;
                        match gemba.assign_defect(&ctx(), id, member, None).await {
                            Ok(_) => commands += 1,
                            Err(_) => errors += 1,
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (commands, errors)
        }));
    }
    let (mut commands, mut errors) = (0, 0);
    for task in tasks {
        let (c, e) = task.await?;
        commands += c;
        errors += e;
    }
    let elapsed = started.elapsed();
    let end_head = sample(monitor, org.uuid()).await?.head;
    target.store(end_head, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.await??;
    let result = LagResult {
        writers,
        elapsed,
        commands,
        errors,
        events: end_head - start_head,
        defect_register: lags(&samples, start_head, end_head, |s| s.defect_register),
        all: lags(&samples, start_head, end_head, |s| s.all),
        samples: samples.len(),
    };
    eprintln!(
        "lag writers={writers}: {:.0} commands/s, {:.0} events/s, defect_register p50={:.1}ms p99={:.1}ms, all p50={:.1}ms p99={:.1}ms, errors={errors}",
        result.commands as f64 / elapsed.as_secs_f64(),
        result.events as f64 / elapsed.as_secs_f64(),
        result.defect_register.percentile_ms(0.5),
        result.defect_register.percentile_ms(0.99),
        result.all.percentile_ms(0.5),
        result.all.percentile_ms(0.99),
    );
    Ok(result)
}

/// Measures the lag at each number of `writers` for `seconds` each, in the database
/// `bench_lag`, with a fresh organisation per rate.
pub async fn measure(embedded: &Embedded, dir: &Path, writers: &[usize], seconds: u64) -> anyhow::Result<Vec<LagResult>> {
    let database = "bench_lag";
    let mut superuser = embedded.superuser("postgres").await?;
    sqlx::query(&format!("drop database if exists {database} with (force)")).execute(&mut superuser).await?;
    embedded.create_database(&mut superuser, database).await?;
    superuser.close().await?;
    embedded.migrate(database).await?;
    let app = embedded.app_pool(database, 20).await?;
    let projector_pool = embedded.app_pool(database, 4).await?;
    let monitor = embedded.app_pool(database, 2).await?;
    let keyring = Keyring::from_base64(&Keyring::generate_base64()).map_err(invalid)?;
    let evidence = EvidenceConfig::local(&dir.join("evidence")).map_err(invalid)?;
    let gemba = Gemba::new(app.clone(), keyring, Arc::new(SystemClock), evidence).map_err(invalid)?;
    let worker = tokio::spawn(Projector::new(projector_pool.clone()).run(POLL));
    let mut results = Vec::new();
    for &n in writers {
        match one_rate(&gemba, &monitor, n, seconds).await {
            Ok(r) => results.push(r),
            Err(e) => {
                worker.abort();
                return Err(e);
            }
        }
    }
    worker.abort();
    app.close().await;
    projector_pool.close().await;
    monitor.close().await;
    Ok(results)
}

/// The lag section of the report.
pub fn report(report: &mut String, results: &[LagResult], seconds: u64) -> std::fmt::Result {
    writeln!(report, "## Read side: projection lag under sustained writes\n")?;
    writeln!(
        report,
        "A projector runs as in production (`Projector::run`, woken by LISTEN/NOTIFY, polling every {} s as a fallback, batches of 500, its own pool of 4 connections) while writers call the `Gemba` service for {seconds} s: raise a defect, then assign it to the Owner (real commands: facts looked up, aggregate loaded, decided, appended with envelope, hash chain, registry and points policy; events that the advisor or the points policy derive would count too). Each rate uses a fresh organisation with one site and zone. Lag of an event: from the first monitor sample (every {} ms, head and checkpoints in one snapshot) that shows it committed to the first sample whose checkpoint has passed it; resolution about one sample interval plus the sample's own query.\n",
        POLL.as_secs(),
        SAMPLE_EVERY.as_millis()
    )?;
    writeln!(
        report,
        "| writers | commands/s | events/s | events | `defect_register` lag p50 ms | p99 ms | all projections lag p50 ms | p99 ms | monitor samples | errors |"
    )?;
    writeln!(report, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in results {
        let secs = r.elapsed.as_secs_f64();
        writeln!(
            report,
            "| {} | {:.0} | {:.0} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            r.writers,
            r.commands as f64 / secs,
            r.events as f64 / secs,
            r.events,
            r.defect_register.percentile_ms(0.5),
            r.defect_register.percentile_ms(0.99),
            r.all.percentile_ms(0.5),
            r.all.percentile_ms(0.99),
            r.samples,
            r.errors
        )?;
    }
    Ok(())
}

/// How to read the lag figures.
pub fn reading(report: &mut String, results: &[LagResult]) -> std::fmt::Result {
    for r in results {
        writeln!(
            report,
            "- Lag with {} writer(s): half the events were in `defect_register` within {:.1} ms of their commit becoming visible and 99 % within {:.1} ms; every projection (what read-your-writes waits for) within {:.1} ms at the median.",
            r.writers,
            r.defect_register.percentile_ms(0.5),
            r.defect_register.percentile_ms(0.99),
            r.all.percentile_ms(0.5)
        )?;
    }
    writeln!(
        report,
        "- One organisation's writes are serialised by its head lock (see the write side), so more writers raise the write rate only a little; the projector's work per event stays the same, and it batches what arrived while it was busy. It takes one batch of each projection in turn until all have reached the head, so under sustained writes no projection waits for another to drain first."
    )
}
