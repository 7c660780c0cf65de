//! The read side at scale: the rebuild rate of the projections over the data set, and the
//! latency of the reads the dashboard makes, each beside its baseline.
//!
//! - Rebuild: `Projector::catch_up` from zero as the application role, then each
//!   projection reset and rebuilt alone (the same batches `catch_up` runs). Baseline: one
//!   sequential scan of the organisation's events in `tenant_seq` order, each payload
//!   deserialised into its domain enum, nothing written (the floor of one pass).
//! - Reads: exactly the functions the GraphQL resolvers call, each in its own tenant
//!   transaction as the application role. Baseline: a full count of the organisation's
//!   `defect_register` rows (what any unindexed roll-up over the register costs at least).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::TryStreamExt;
use gemba_domain::defect::DefectEvent;
use gemba_domain::five_s_audit::AuditEvent;
use gemba_domain::kaizen::KaizenEvent;
use gemba_domain::organization::Settings;
use gemba_projections::defect_register::{self, DefectFilter};
use gemba_projections::engine::{Projection, Projector, StoredEvent, tenant_tx};
use gemba_projections::leaderboard;
use gemba_projections::period::{self, Window};
use gemba_projections::rebuild::{Outcome, Rebuilder};
use gemba_projections::scope_kpis::{self, KpiSettings, Scope};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::dataset::{DataSet, TIMEZONE};
use crate::stats::Latencies;

/// One pass over the events.
#[derive(Debug)]
pub struct Pass {
    pub label: String,
    /// Events read.
    pub events: usize,
    pub elapsed: Duration,
}

impl Pass {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// The rebuild figures.
#[derive(Debug)]
pub struct Rebuild {
    pub batch_size: i64,
    pub scan: Pass,
    /// `catch_up` of every projection from zero; `events` is the stream's length.
    pub catch_up: Pass,
    pub per_projection: Vec<Pass>,
    /// Rows per read model after the rebuild.
    pub rows: Vec<(String, i64)>,
}

impl Rebuild {
    /// `projection` reset and rebuilt alone (the passes follow [`Projection::ALL`]).
    pub fn alone(&self, projection: Projection) -> Option<&Pass> {
        Projection::ALL.iter().position(|p| *p == projection).and_then(|i| self.per_projection.get(i))
    }
}

/// Reads the organisation's events once in `tenant_seq` order and deserialises each payload
/// into its domain enum, writing nothing.
async fn scan(app: &PgPool, org: Uuid) -> anyhow::Result<Pass> {
    let started = Instant::now();
    let mut tx = tenant_tx(app, org).await?;
    let mut events = 0;
    {
        let mut rows = sqlx::query_as::<_, StoredEvent>(
            "select tenant_seq, aggregate_type, aggregate_id, event_type, event_version, payload, recorded_at from events
              where org_id = $1 order by tenant_seq",
        )
        .bind(org)
        .fetch(&mut *tx);
        while let Some(event) = rows.try_next().await? {
            match event.aggregate_type.as_str() {
                "Defect" => _ = std::hint::black_box(event.decode::<DefectEvent>()?),
                "FiveSAudit" => _ = std::hint::black_box(event.decode::<AuditEvent>()?),
                "Kaizen" => _ = std::hint::black_box(event.decode::<KaizenEvent>()?),
                _ => {}
            }
            events += 1;
        }
    }
    tx.commit().await?;
    Ok(Pass { label: "baseline: sequential scan + deserialise, no writes".into(), events, elapsed: started.elapsed() })
}

/// Measures the rebuild of every projection of the data set's organisation (which has none
/// yet), leaving the read models built.
pub async fn rebuild(app: &PgPool, owner: &PgPool, data: &DataSet, batch_size: i64) -> anyhow::Result<Rebuild> {
    let org = data.org;
    let scan = scan(app, org).await?;
    eprintln!("scan: {} events in {:.1} s", scan.events, scan.elapsed.as_secs_f64());
    let projector = Projector::new(app.clone()).with_batch_size(batch_size);
    let started = Instant::now();
    let read = projector.catch_up(org).await?;
    let catch_up = Pass {
        label: format!("`catch_up` from zero, all {} projections (events of the stream per second)", Projection::ALL.len()),
        events: usize::try_from(data.events)?,
        elapsed: started.elapsed(),
    };
    eprintln!("catch_up: {read} events read in {:.1} s", catch_up.elapsed.as_secs_f64());
    analyze(owner).await?;
    // Each projection alone, as an operator rebuilds it: into the shadow tables while the
    // live rows serve, then swapped in (`gemba projections rebuild <name>`).
    let rebuilder = Rebuilder::new(app.clone()).with_batch_size(batch_size);
    let mut per_projection = Vec::new();
    for projection in Projection::ALL {
        let started = Instant::now();
        let events = match rebuilder.run(org, projection, |_| {}).await? {
            Outcome::Swapped { events, .. } => usize::try_from(events)?,
            other => anyhow::bail!("the rebuild of {} ended {other:?}", projection.name()),
        };
        let pass = Pass {
            label: format!("`{}` alone (`Rebuilder`: built in the shadow tables, then swapped in)", projection.name()),
            events,
            elapsed: started.elapsed(),
        };
        eprintln!("{}: {events} events in {:.1} s", projection.name(), pass.elapsed.as_secs_f64());
        per_projection.push(pass);
    }
    analyze(owner).await?;
    let mut rows = Vec::new();
    let mut tx = tenant_tx(app, org).await?;
    for table in ["defect_register", "zone_5s_scores", "kaizen_register", "kaizen_actual_lines", "kaizen_impact_ledger", "a3_register"] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table} where org_id = $1")).bind(org).fetch_one(&mut *tx).await?;
        rows.push((table.to_owned(), n));
    }
    tx.commit().await?;
    Ok(Rebuild { batch_size, scan, catch_up, per_projection, rows })
}

/// Fresh statistics of the read models, as autovacuum keeps them after a rebuild.
async fn analyze(owner: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "analyze defect_register; analyze zone_5s_scores; analyze kaizen_register; analyze kaizen_actual_lines;
         analyze kaizen_impact_ledger; analyze a3_register; analyze projection_checkpoints",
    )
    .execute(owner)
    .await?;
    Ok(())
}

/// A read the dashboard makes.
#[derive(Clone, Copy, Debug)]
enum Read {
    Kpis(Scope, Window),
    Ranking,
    ZonePoints,
    ZoneImprovement,
    PageFirst,
    PageFiltered,
    PageDeep,
    CountBaseline,
}

/// What the reads need: the organisation, its settings, the time and the cursor.
struct ReadContext {
    org: Uuid,
    site: Uuid,
    zone: Uuid,
    tz: Tz,
    now: DateTime<Utc>,
    settings: KpiSettings,
    deep_cursor: Option<Uuid>,
}

const PAGE: i64 = 20;

impl Read {
    fn label(self) -> String {
        let window = |w: Window| match w {
            Window::Month => "MONTH",
            Window::YearToDate => "YEAR_TO_DATE",
            Window::Week => "WEEK",
            Window::Quarter => "QUARTER",
            Window::Rolling30 => "ROLLING_30",
            Window::Rolling90 => "ROLLING_90",
        };
        match self {
            Self::Kpis(Scope::Organization, w) => format!("`scope_kpis` organisation, {}", window(w)),
            Self::Kpis(Scope::Site(_), w) => format!("`scope_kpis` site, {}", window(w)),
            Self::Kpis(Scope::Area(_), w) => format!("`scope_kpis` area, {}", window(w)),
            Self::Kpis(Scope::Zone(_), w) => format!("`scope_kpis` one zone, {}", window(w)),
            Self::Ranking => "`leaderboard::ranking` organisation, MONTH".into(),
            Self::ZonePoints => "`leaderboard::zone_points` site, MONTH".into(),
            Self::ZoneImprovement => "`leaderboard::zone_improvement` site, MONTH".into(),
            Self::PageFirst => format!("`defect_register::page` first {PAGE}"),
            Self::PageFiltered => format!("`defect_register::page` zone + status OPEN/ASSIGNED, first {PAGE}"),
            Self::PageDeep => format!("`defect_register::page` {PAGE} after a cursor 90% in"),
            Self::CountBaseline => "baseline: `select count(*) from defect_register where org_id = $1`".into(),
        }
    }

    /// Runs the read once inside `conn`'s tenant transaction; returns the rows it gave.
    async fn run(self, conn: &mut PgConnection, c: &ReadContext) -> anyhow::Result<usize> {
        let month = period::bounds_in(Window::Month, c.now, c.settings.fiscal_start_month, c.tz);
        Ok(match self {
            Self::Kpis(scope, window) => {
                usize::from(scope_kpis::scope_kpis(conn, c.org, scope, window, c.now, &c.settings).await?.is_some())
            }
            Self::Ranking => {
                let bounds = leaderboard::bounds(Window::Month, c.now, c.settings.fiscal_start_month);
                leaderboard::ranking(conn, c.org, leaderboard::Scope::default(), bounds).await?.len()
            }
            Self::ZonePoints => leaderboard::zone_points(conn, c.org, Some(c.site), month).await?.len(),
            Self::ZoneImprovement => {
                let previous = period::previous_in(Window::Month, month, c.settings.fiscal_start_month, c.tz);
                leaderboard::zone_improvement(conn, c.org, Some(c.site), &c.settings.counted_audit_types, month, previous).await?.len()
            }
            Self::PageFirst => defect_register::page(conn, c.org, &DefectFilter::default(), None, PAGE).await?.len(),
            Self::PageFiltered => {
                let filter =
                    DefectFilter { statuses: Some(vec!["OPEN".into(), "ASSIGNED".into()]), zone: Some(c.zone), ..DefectFilter::default() };
                defect_register::page(conn, c.org, &filter, None, PAGE).await?.len()
            }
            Self::PageDeep => defect_register::page(conn, c.org, &DefectFilter::default(), c.deep_cursor, PAGE).await?.len(),
            Self::CountBaseline => {
                let n: i64 =
                    sqlx::query_scalar("select count(*) from defect_register where org_id = $1").bind(c.org).fetch_one(&mut *conn).await?;
                usize::try_from(n)?
            }
        })
    }
}

/// The latency of one read.
#[derive(Debug)]
pub struct ReadLatency {
    pub label: String,
    pub rows: usize,
    pub latencies: Latencies,
}

/// Read latencies at the data set's size.
#[derive(Debug)]
pub struct Reads {
    pub runs: usize,
    pub budget: Duration,
    pub results: Vec<ReadLatency>,
}

/// Times each read `runs` times (after 3 warm-up runs), or as often as fits in `budget`
/// (at least 10 times), each in its own tenant transaction as the application role.
pub async fn latencies(app: &PgPool, data: &DataSet, runs: usize, budget: Duration) -> anyhow::Result<Reads> {
    let defaults = Settings::default();
    let settings = KpiSettings {
        fiscal_start_month: defaults.fiscal_year_start_month,
        counted_audit_types: defaults.five_s.counted_audit_types.iter().filter_map(gemba_domain::wire_name).collect(),
        lookback_days: defaults.five_s.lookback_days,
    };
    let mut tx = tenant_tx(app, data.org).await?;
    let defects: i64 =
        sqlx::query_scalar("select count(*) from defect_register where org_id = $1").bind(data.org).fetch_one(&mut *tx).await?;
    let deep_cursor: Option<Uuid> =
        sqlx::query_scalar("select defect_id from defect_register where org_id = $1 order by defect_id offset $2 limit 1")
            .bind(data.org)
            .bind(defects * 9 / 10)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    let context = ReadContext {
        org: data.org,
        site: data.site,
        zone: data.zones.first().copied().unwrap_or_default(),
        tz: TIMEZONE.parse().unwrap_or(chrono_tz::UTC),
        now: Utc::now(),
        settings,
        deep_cursor,
    };
    let reads = [
        Read::Kpis(Scope::Organization, Window::Month),
        Read::Kpis(Scope::Organization, Window::YearToDate),
        Read::Kpis(Scope::Site(data.site), Window::Month),
        Read::Kpis(Scope::Site(data.site), Window::YearToDate),
        Read::Kpis(Scope::Zone(context.zone), Window::Month),
        Read::Kpis(Scope::Zone(context.zone), Window::YearToDate),
        Read::Ranking,
        Read::ZonePoints,
        Read::ZoneImprovement,
        Read::PageFirst,
        Read::PageFiltered,
        Read::PageDeep,
        Read::CountBaseline,
    ];
    let mut results = Vec::new();
    for read in reads {
        let mut rows = 0;
        for _ in 0..3 {
            let mut tx = tenant_tx(app, data.org).await?;
            rows = read.run(&mut tx, &context).await?;
            tx.commit().await?;
        }
        let mut samples = Vec::with_capacity(runs);
        let started = Instant::now();
        while samples.len() < runs && (samples.len() < 10 || started.elapsed() < budget) {
            let began = Instant::now();
            let mut tx = tenant_tx(app, data.org).await?;
            read.run(&mut tx, &context).await?;
            tx.commit().await?;
            samples.push(began.elapsed());
        }
        let latencies = Latencies::new(samples);
        eprintln!(
            "{:<70} runs={:<4} p50={:.2}ms p99={:.2}ms rows={rows}",
            read.label(),
            latencies.len(),
            latencies.percentile_ms(0.5),
            latencies.percentile_ms(0.99)
        );
        results.push(ReadLatency { label: read.label(), rows, latencies });
    }
    Ok(Reads { runs, budget, results })
}

/// The data set, rebuild and read sections of the report.
pub fn report(report: &mut String, data: &DataSet, rebuild: &Rebuild, reads: &Reads) -> std::fmt::Result {
    writeln!(report, "## Read side: the data set\n")?;
    writeln!(
        report,
        "One organisation, generated in bulk by the benchmark in {:.0} s ({} events, `events` table with its indexes {:.0} MiB):\n",
        data.elapsed.as_secs_f64(),
        data.events,
        data.events_bytes as f64 / 1024.0 / 1024.0
    )?;
    writeln!(
        report,
        "- Structure inserted directly as the owner role in a tenant transaction (the deferred constraint triggers ran): 1 site in {TIMEZONE}, {} zones (headcount 3, each owned by one of its members), {} active members with home zones (1 Owner, 9 Admins, the rest Members) and sealed-looking e-mail and name (`{{key, ct}}` JSON; random text, not real ciphertext).",
        data.zones.len(),
        data.members.len()
    )?;
    writeln!(
        report,
        "- Events: real `gemba_domain` events serialised by serde (payload) with real envelopes from `CommandContext::envelope` (metadata), from {} to {} ({} defects, {} 5S audits, {} kaizens). Lifecycles: defects raised, assigned within 2 days (due by the priority's SLA), resolved, verified and closed; 6 % cancelled as duplicates, 4 % of closed ones reopened as recurrences and closed again; recent ones still open. Audits scheduled weekly-due, submitted with scores that improve over time (8 % missed). Kaizens drafted, submitted, 70 % implemented (of those 40 % with a verified hard or soft impact line, one-time or recurring), 15 % rejected.",
        data.first_at.format("%Y-%m-%d"),
        data.last_at.format("%Y-%m-%d"),
        data.defects,
        data.audits,
        data.kaizens
    )?;
    writeln!(
        report,
        "- Ordering: all events sorted by time; `tenant_seq` gapless in that order, `recorded_at` growing with it, per-aggregate `sequence` in lifecycle order, `org_heads.last_seq` = {}. Inserted in multi-row `unnest` batches of 5,000 as the owner role (synchronous_commit off for the load), then `vacuum analyze`.",
        data.events
    )?;
    writeln!(
        report,
        "- **Not real:** the hash chain (`prev_hash` and `hash` are 32 zero bytes; the read side never reads them, `gemba verify` would refuse this organisation); no `PointsAwarded` events or write-side registry rows the reads do not use (`defects`, `kaizens`, numbers, command log). Instead `points_awards` holds one `defect_resolved` award (10 points) per close for the resolver, reversed when the defect was reopened: {} rows.",
        data.awards
    )?;
    writeln!(report, "\n| event type | events |")?;
    writeln!(report, "|---|---:|")?;
    for (kind, n) in &data.by_type {
        writeln!(report, "| {kind} | {n} |")?;
    }

    writeln!(report, "\n## Read side: projection rebuild rate\n")?;
    writeln!(
        report,
        "As the application role (RLS), batches of {} events (the default). Each projection reads the whole stream and applies the events of its aggregate type; the read model and checkpoint move in one transaction per batch. The baseline reads the same events once and deserialises them without writing: the floor for one pass.\n",
        rebuild.batch_size
    )?;
    writeln!(report, "| pass | events | seconds | events/s |")?;
    writeln!(report, "|---|---:|---:|---:|")?;
    for pass in std::iter::once(&rebuild.scan).chain(std::iter::once(&rebuild.catch_up)).chain(&rebuild.per_projection) {
        writeln!(report, "| {} | {} | {:.1} | {:.0} |", pass.label, pass.events, pass.elapsed.as_secs_f64(), pass.per_second())?;
    }
    writeln!(
        report,
        "\nRows after the rebuild: {}.",
        rebuild.rows.iter().map(|(t, n)| format!("`{t}` {n}")).collect::<Vec<_>>().join(", ")
    )?;

    writeln!(report, "\n## Read side: read latency at {} events\n", data.events)?;
    writeln!(
        report,
        "Exactly the functions the GraphQL resolvers call, each run in its own tenant transaction (begin, `set_config`, the read, commit) as the application role, one at a time; {} runs each after 3 warm-up runs (fewer when a read's runs exceed {} s, at least 10). Settings are the organisation defaults (fiscal year from January, counted audit types all, look-back 90 days); `now` is the time of the run.\n",
        reads.runs,
        reads.budget.as_secs()
    )?;
    writeln!(report, "| read | rows | runs | p50 ms | p99 ms | mean ms |")?;
    writeln!(report, "|---|---:|---:|---:|---:|---:|")?;
    for r in &reads.results {
        writeln!(
            report,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} |",
            r.label,
            r.rows,
            r.latencies.len(),
            r.latencies.percentile_ms(0.5),
            r.latencies.percentile_ms(0.99),
            r.latencies.mean_ms()
        )?;
    }
    Ok(())
}

/// How to read the read side's figures.
pub fn reading(report: &mut String, rebuild: &Rebuild, reads: &Reads) -> std::fmt::Result {
    writeln!(
        report,
        "- Rebuild: `catch_up` reads the stream once per projection, in batches that commit with the checkpoint; every read model folds each batch in memory and writes it back set-based: one read of the rows the batch touches and one write per table (the kaizen register's ledger rows appended by one `insert`), whatever the events in the batch. It ran at {:.0} % of the rate of a plain scan that only reads and deserialises. The per-projection rows are what an operator's `gemba projections rebuild <name>` does: build into the shadow tables while the live rows serve, then swap the organisation's rows in one transaction (the swap's copy is included). A projection whose events are a small share of the stream costs little more than reading the stream. The first `catch_up` (into empty read models, caches cold) is measured separately from the per-projection rebuilds that follow it, so their sum need not equal it.",
        100.0 * rebuild.catch_up.per_second() / rebuild.scan.per_second()
    )?;
    let baseline = reads.results.iter().find(|r| r.label.starts_with("baseline")).map_or(f64::NAN, |r| r.latencies.percentile_ms(0.5));
    let slowest =
        reads.results.iter().filter(|r| !r.label.starts_with("baseline")).max_by(|a, b| {
            a.latencies.percentile_ms(0.5).partial_cmp(&b.latencies.percentile_ms(0.5)).unwrap_or(std::cmp::Ordering::Equal)
        });
    if let Some(slowest) = slowest {
        writeln!(
            report,
            "- Reads: the slowest read at the median is {} ({:.1} ms); a bare count of the organisation's register rows takes {:.1} ms. A zone's roll-up, the leaderboards and the register pages (keyset pagination: a deep page costs what the first does) use indexes.",
            slowest.label,
            slowest.latencies.percentile_ms(0.5),
            baseline
        )?;
    }
    writeln!(
        report,
        "- What an organisation's or a site's roll-up costs (from `EXPLAIN ANALYZE` of its statements): it walks the zones of the scope and reads each zone's rows of the period through an index (open defects; defects raised and defects closed in the period; counted audits of the period and the previous one; kaizens submitted in the period), each statement also bounded by the span of the sites' periods as plain values so the planner can use those indexes. Its work therefore grows with the rows of the period, not with the whole history: a month reads a few thousand defects, the year to date reads most of the year's (here about 135,000 raised and 127,000 closed) and sorts the closed ones for the exact median and P90 of the time to close. That is the floor for figures computed from leaf facts; lower needs pre-aggregated daily facts per zone (with approximate percentiles). The statements are prepared and reused, and the roll-up's transaction sets `plan_cache_mode = force_custom_plan`: each run is planned for its own period's values, so the year to date does not inherit a generic plan (index loops that suit a month) after the month reads."
    )?;
    Ok(())
}
