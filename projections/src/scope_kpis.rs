//! The plant roll-up (reference/domain.md §5.6): the KPIs of one scope (organisation, site,
//! area with its sub-areas, or zone) over one period, computed from the leaf facts of the
//! read models (`defect_register`, `zone_5s_scores`, `kaizen_register`,
//! `kaizen_impact_ledger`, `a3_register`) and the current hierarchy ("as-is" membership).
//! Nothing is an average of averages, except the 5S score, which is defined as the
//! unweighted mean of zone scores.
//!
//! Periods are evaluated in each site's time zone: an organisation roll-up spanning time
//! zones gives each site its own period boundaries. Cancelled and withdrawn items are left
//! out of every rate. An A3 case belongs to the scope of its owner's home zone.
//! Deleted entities, and everything in a deleted zone, are left out of every figure.
//!
//! A roll-up costs a fixed number of statements whatever the size of the scope.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use gemba_domain::kaizen::{Classification, ImpactLine, Recurrence};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::period::{self, Window};

/// What a roll-up covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Site(Uuid),
    /// An area (or line, or cell) with every area under it.
    Area(Uuid),
    Zone(Uuid),
}

/// The organisation's settings a roll-up depends on.
#[derive(Clone, Debug)]
pub struct KpiSettings {
    pub fiscal_start_month: u32,
    /// The stored names of the audit types that count for 5S scores.
    pub counted_audit_types: Vec<String>,
    pub lookback_days: u32,
}

/// Mean, median and 90th percentile (linear interpolation) in days.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// Counts per key (type, priority, tag class, age bucket, phase).
pub type Counts = BTreeMap<String, i64>;

/// Amounts per currency: hard and soft are never added together.
pub type Amounts = BTreeMap<String, Decimal>;

/// The KPIs of one scope and period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeKpis {
    /// The period (in the time zone of the scope's site; in UTC for an organisation spanning
    /// several time zones, whose sites are each evaluated in their own).
    pub period: (DateTime<Utc>, DateTime<Utc>),
    pub active_zones: i64,
    pub avg_5s_score: Option<Decimal>,
    /// The unweighted mean over zones rated in both periods of (period score − previous).
    pub avg_5s_delta: Option<Decimal>,
    pub coverage: Option<Decimal>,
    pub audit_adherence: Option<f64>,
    pub open_defects: i64,
    pub open_by_type: Counts,
    pub open_by_priority: Counts,
    pub open_by_tag_class: Counts,
    /// `0-7`, `8-30`, `31-90`, `>90` days since raised.
    pub open_by_age_bucket: Counts,
    /// Open with the current due date passed.
    pub overdue_defects: i64,
    /// Open with the original due date passed.
    pub overdue_vs_original: i64,
    pub raised_in_period: i64,
    pub closed_in_period: i64,
    pub mttc_days: Spread,
    /// Closed in the period by the original due date / closed in the period.
    pub on_time_closure_rate: Option<f64>,
    /// The same against the current due date.
    pub on_time_vs_current_due: Option<f64>,
    /// Raised for operators / raised for maintenance, in the period.
    pub fm_ratio: Option<f64>,
    pub ideas_submitted: i64,
    pub active_members: i64,
    pub participating_members: i64,
    pub participation_rate: Option<f64>,
    pub implementation_rate_30d: Option<f64>,
    pub verified_hard_savings_ytd: Amounts,
    pub verified_soft_savings_ytd: Amounts,
    pub annualized_run_rate_hard: Amounts,
    pub a3_open_by_phase: Counts,
    pub a3_closed: i64,
    pub a3_effectiveness_rate: Option<f64>,
}

/// The zones of the scope, each with its site's current and previous period
/// (`$1` org, `$2` site, `$3` zone, `$4` area, `$5`–`$9` per-site bounds, `$10` now).
///
/// Deleted records (soft delete) are left out of the rows a roll-up reads by an anti-join
/// with `deleted_entities`, not by `gemba_visible()` per row: that function holds a subquery,
/// so PostgreSQL cannot inline it and probes the index once per row (a year-to-date roll-up
/// of 1M events read 4 times slower). The zones (a hundred rows) still use the function.
const SCOPE: &str = "
with recursive sub_areas(area_id) as (
        select area_id from areas where org_id = $1 and area_id = $4
         union all
        select a.area_id from areas a join sub_areas s on a.parent_area_id = s.area_id where a.org_id = $1),
     b as (select * from unnest($5::uuid[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[])
                       as b(site_id, p_start, p_end, q_start, q_end)),
     sz as (select z.zone_id, z.status, b.p_start, b.p_end, b.q_start, b.q_end
              from zones z join b on b.site_id = z.site_id
             where z.org_id = $1 and ($2::uuid is null or z.site_id = $2) and ($3::uuid is null or z.zone_id = $3)
               and gemba_visible(z.zone_id)
               and ($4::uuid is null or z.area_id in (select area_id from sub_areas)))
";

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn decimal(text: Option<String>) -> Option<Decimal> {
    text.and_then(|t| Decimal::from_str(&t).ok()).map(|d| d.round_dp(2).normalize())
}

struct Bounds {
    sites: Vec<Uuid>,
    p_start: Vec<DateTime<Utc>>,
    p_end: Vec<DateTime<Utc>>,
    q_start: Vec<DateTime<Utc>>,
    q_end: Vec<DateTime<Utc>>,
}

/// The KPIs of `scope` over `window` at `now`; `None` when the scope is not one of the
/// organisation's. `conn` must be inside a transaction: the planner setting below is local
/// to it.
pub async fn scope_kpis(
    conn: &mut PgConnection,
    org: Uuid,
    scope: Scope,
    window: Window,
    now: DateTime<Utc>,
    settings: &KpiSettings,
) -> Result<Option<ScopeKpis>, sqlx::Error> {
    let (site, area, zone) = match scope {
        Scope::Organization => (None, None, None),
        Scope::Site(s) => (Some(s), None, None),
        Scope::Area(a) => (None, Some(a), None),
        Scope::Zone(z) => (None, None, Some(z)),
    };
    // Every statement below is planned for its own period's values. A generic plan (which
    // PostgreSQL may switch to after five runs of a prepared statement) is costed without
    // them, and a plan that suits a month reads a year through month-sized index loops.
    sqlx::query("select set_config('plan_cache_mode', 'force_custom_plan', true)").execute(&mut *conn).await?;
    let sites: Vec<(Uuid, String)> = sqlx::query_as(
        "select s.site_id, s.timezone from sites s
          where s.org_id = $1
            and ($2::uuid is null or s.site_id = $2)
            and ($3::uuid is null or s.site_id = (select site_id from areas where org_id = $1 and area_id = $3))
            and ($4::uuid is null or s.site_id = (select site_id from zones where org_id = $1 and zone_id = $4))
          order by s.site_id",
    )
    .bind(org)
    .bind(site)
    .bind(area)
    .bind(zone)
    .fetch_all(&mut *conn)
    .await?;
    if sites.is_empty() && scope != Scope::Organization {
        return Ok(None);
    }
    let fiscal = settings.fiscal_start_month;
    let mut bounds = Bounds { sites: Vec::new(), p_start: Vec::new(), p_end: Vec::new(), q_start: Vec::new(), q_end: Vec::new() };
    let mut time_zones = std::collections::BTreeSet::new();
    for (site_id, timezone) in &sites {
        let tz: Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
        let p = period::bounds_in(window, now, fiscal, tz);
        let q = period::previous_in(window, p, fiscal, tz);
        time_zones.insert(tz.name());
        bounds.sites.push(*site_id);
        bounds.p_start.push(p.0);
        bounds.p_end.push(p.1);
        bounds.q_start.push(q.0);
        bounds.q_end.push(q.1);
    }
    let shown_tz = match (time_zones.len(), time_zones.first()) {
        (1, Some(name)) => name.parse().unwrap_or(chrono_tz::UTC),
        _ => chrono_tz::UTC,
    };
    let mut kpis = ScopeKpis { period: period::bounds_in(window, now, fiscal, shown_tz), ..ScopeKpis::default() };
    // The span of every site's period, as plain values: each zone is still held to its own
    // site's bounds, and these let the planner find the period's rows through an index.
    let span = (bounds.p_start.iter().min().copied().unwrap_or(kpis.period.0), bounds.p_end.iter().max().copied().unwrap_or(kpis.period.1));
    let scoped = |sql: &str| -> String { format!("{SCOPE}{sql}") };
    // Every statement below shares the scope's ten parameters.
    macro_rules! query {
        ($sql:expr) => {{
            sqlx::query_as($sql)
                .bind(org)
                .bind(site)
                .bind(zone)
                .bind(area)
                .bind(&bounds.sites)
                .bind(&bounds.p_start)
                .bind(&bounds.p_end)
                .bind(&bounds.q_start)
                .bind(&bounds.q_end)
                .bind(now)
        }};
    }

    // Open defects by type, priority, tag class and age bucket, and overdue (one pass over
    // the open defects of each zone, through the partial index of open defects).
    let open_sql = scoped(
        ", open as (select d.abnormality_type, d.priority, d.tag_class, d.due_at, d.original_due_at,
                            case when $10 - d.raised_at <= interval '7 days' then '0-7'
                                 when $10 - d.raised_at <= interval '30 days' then '8-30'
                                 when $10 - d.raised_at <= interval '90 days' then '31-90'
                                 else '>90' end as age
                       from sz join defect_register d on d.org_id = $1 and d.zone_id = sz.zone_id
                      where d.status not in ('CLOSED', 'CANCELLED')
                        and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = d.defect_id))
         select case when grouping(abnormality_type) = 0 then 'type'
                     when grouping(priority) = 0 then 'priority'
                     when grouping(tag_class) = 0 then 'tag_class'
                     when grouping(age) = 0 then 'age'
                     else 'all' end as dimension,
                coalesce(abnormality_type, priority, tag_class, age, '') as key, count(*) as n,
                count(*) filter (where due_at < $10) as overdue,
                count(*) filter (where original_due_at < $10) as overdue_original
           from open group by grouping sets ((abnormality_type), (priority), (tag_class), (age), ())",
    );
    let rows: Vec<(String, String, i64, i64, i64)> = query!(&open_sql).fetch_all(&mut *conn).await?;
    for (dimension, key, n, overdue, overdue_original) in rows {
        let counts = match dimension.as_str() {
            "type" => &mut kpis.open_by_type,
            "priority" => &mut kpis.open_by_priority,
            "tag_class" => &mut kpis.open_by_tag_class,
            "age" => &mut kpis.open_by_age_bucket,
            _ => {
                kpis.open_defects = n;
                kpis.overdue_defects = overdue;
                kpis.overdue_vs_original = overdue_original;
                continue;
            }
        };
        counts.insert(key, n);
    }

    // Defects raised and closed in the period: flow, time to close, on-time closure, F:M.
    // Each side reads only its period's defects of each zone, through its own index.
    let flow_sql = scoped(
        ", raised as (select count(*) as n,
                              count(*) filter (where d.tag_class = 'operator') as operator,
                              count(*) filter (where d.tag_class = 'maintenance') as maintenance
                         from sz join defect_register d on d.org_id = $1 and d.zone_id = sz.zone_id
                        where d.raised_at >= sz.p_start and d.raised_at < sz.p_end and d.raised_at >= $11 and d.raised_at < $12
                          and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = d.defect_id)),
            closed as (select extract(epoch from d.closed_at - d.raised_at) / 86400 as days,
                              d.closed_at <= d.original_due_at as on_time_original,
                              d.closed_at <= d.due_at as on_time_current
                         from sz join defect_register d on d.org_id = $1 and d.zone_id = sz.zone_id
                        where d.status = 'CLOSED' and d.closed_at >= sz.p_start and d.closed_at < sz.p_end
                          and d.closed_at >= $11 and d.closed_at < $12
                          and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = d.defect_id))
         select raised.n, raised.operator, raised.maintenance, c.*
           from raised,
                (select count(*),
                        avg(days)::float8,
                        percentile_cont(0.5) within group (order by days)::float8,
                        percentile_cont(0.9) within group (order by days)::float8,
                        count(*) filter (where on_time_original),
                        count(*) filter (where on_time_current)
                   from closed) c",
    );
    #[allow(clippy::type_complexity)]
    let row: (i64, i64, i64, i64, Option<f64>, Option<f64>, Option<f64>, i64, i64) =
        query!(&flow_sql).bind(span.0).bind(span.1).fetch_one(&mut *conn).await?;
    let round = |v: Option<f64>| v.map(|d| (d * 100.0).round() / 100.0);
    kpis.raised_in_period = row.0;
    kpis.fm_ratio = ratio(row.1, row.2);
    kpis.closed_in_period = row.3;
    kpis.mttc_days = Spread { mean: round(row.4), median: round(row.5), p90: round(row.6) };
    kpis.on_time_closure_rate = ratio(row.7, row.3);
    kpis.on_time_vs_current_due = ratio(row.8, row.3);

    // 5S: zone current scores (counted types, look-back), period and previous period scores,
    // schedule adherence.
    // Each zone's counted audits are read through zone_5s_scores_latest: the latest within
    // the look-back, and one grouped pass over the two periods.
    let five_s_sql = scoped(
        ", zone_scores as (
                select (select s.score_pct from zone_5s_scores s
                         where s.org_id = $1 and s.zone_id = sz.zone_id and s.status = 'SUBMITTED'
                           and s.score_pct is not null and s.audit_type = any($11) and s.submitted_at >= $12
                         order by s.submitted_at desc limit 1) as current,
                       g.period, g.previous
                  from sz cross join lateral (
                       select avg(s.score_pct) filter (where s.submitted_at >= sz.p_start and s.submitted_at < sz.p_end) as period,
                              avg(s.score_pct) filter (where s.submitted_at >= sz.q_start and s.submitted_at < sz.q_end) as previous
                         from zone_5s_scores s
                        where s.org_id = $1 and s.zone_id = sz.zone_id and s.status = 'SUBMITTED'
                          and s.score_pct is not null and s.audit_type = any($11)
                          and s.submitted_at >= least(sz.p_start, sz.q_start)
                          and s.submitted_at < greatest(sz.p_end, sz.q_end)) g
                 where sz.status = 'ACTIVE'),
            due as (select s.status, s.submitted_at, s.due_at
                      from sz join zone_5s_scores s on s.org_id = $1 and s.zone_id = sz.zone_id
                     where s.due_at >= sz.p_start and s.due_at < sz.p_end and s.due_at >= $13 and s.due_at < $14)
         select z.zones, z.scored, z.avg_current, z.avg_delta, d.due, d.on_time
           from (select count(*) as zones, count(current) as scored, avg(current)::text as avg_current,
                        avg(period - previous)::text as avg_delta from zone_scores) z,
                (select count(*) as due, count(*) filter (where status = 'SUBMITTED' and submitted_at <= due_at) as on_time
                   from due) d",
    );
    let since = now - chrono::Duration::days(i64::from(settings.lookback_days));
    let row: (i64, i64, Option<String>, Option<String>, i64, i64) =
        query!(&five_s_sql).bind(&settings.counted_audit_types).bind(since).bind(span.0).bind(span.1).fetch_one(&mut *conn).await?;
    kpis.active_zones = row.0;
    kpis.coverage = (row.0 > 0).then(|| (Decimal::from(row.1) / Decimal::from(row.0)).round_dp(4).normalize());
    kpis.avg_5s_score = decimal(row.2);
    kpis.avg_5s_delta = decimal(row.3);
    kpis.audit_adherence = ratio(row.5, row.4);

    // Kaizen: ideas, participation of active members whose home zone is in the scope,
    // implementation within 30 days of first submission.
    let kaizen_sql = scoped(
        ", k as (select k.status, k.submitted_at, k.implemented_at, k.authors
                   from sz join kaizen_register k on k.org_id = $1 and k.zone_id = sz.zone_id
                  where k.submitted_at >= sz.p_start and k.submitted_at < sz.p_end and k.submitted_at >= $11 and k.submitted_at < $12
                    and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = k.kaizen_id)),
            active as (select m.member_id from sz join members m on m.org_id = $1 and m.home_zone_id = sz.zone_id
                        where m.status = 'ACTIVE' and m.role in ('OWNER', 'ADMIN', 'MEMBER') and gemba_visible(m.member_id)),
            authors as (select distinct unnest(authors) as member_id from k)
         select (select count(*) from k),
                (select count(*) from active),
                (select count(*) from active a join authors using (member_id)),
                (select count(*) from k where status <> 'WITHDRAWN'),
                (select count(*) from k where status <> 'WITHDRAWN' and implemented_at <= submitted_at + interval '30 days')",
    );
    let row: (i64, i64, i64, i64, i64) = query!(&kaizen_sql).bind(span.0).bind(span.1).fetch_one(&mut *conn).await?;
    kpis.ideas_submitted = row.0;
    kpis.active_members = row.1;
    kpis.participating_members = row.2;
    kpis.participation_rate = ratio(row.2, row.1);
    kpis.implementation_rate_30d = ratio(row.4, row.3);

    // Verified savings recognised in the fiscal year to date, per classification and currency.
    let today = now.with_timezone(&shown_tz).date_naive();
    let year_start = period::fiscal_year_start(today, fiscal);
    let this_month = NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), chrono::Datelike::month(&today), 1).unwrap_or(today);
    let savings_sql = scoped(
        " select l.classification, l.currency, sum(l.amount)::text
            from kaizen_impact_ledger l join kaizen_register k on k.org_id = l.org_id and k.kaizen_id = l.kaizen_id
            join sz on sz.zone_id = k.zone_id
           where l.org_id = $1 and l.recognition_month >= $11 and l.recognition_month <= $12
             and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = k.kaizen_id)
           group by l.classification, l.currency having sum(l.amount) <> 0",
    );
    let rows: Vec<(String, String, String)> = query!(&savings_sql).bind(year_start).bind(this_month).fetch_all(&mut *conn).await?;
    for (classification, currency, amount) in rows {
        let Some(amount) = decimal(Some(amount)) else { continue };
        match classification.as_str() {
            "hard" => kpis.verified_hard_savings_ytd.insert(currency, amount),
            _ => kpis.verified_soft_savings_ytd.insert(currency, amount),
        };
    }

    // Run rate: verified recurring hard lines active today, annualised.
    let lines_sql = scoped(
        " select l.line from kaizen_actual_lines l join kaizen_register k on k.org_id = l.org_id and k.kaizen_id = l.kaizen_id
            join sz on sz.zone_id = k.zone_id
           where l.org_id = $1 and k.status in ('SAVINGS_VERIFIED', 'CLOSED')
             and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = k.kaizen_id)",
    );
    let rows: Vec<(serde_json::Value,)> = query!(&lines_sql).fetch_all(&mut *conn).await?;
    for (line,) in rows {
        let Ok(line) = serde_json::from_value::<ImpactLine>(line) else { continue };
        if let Some((currency, amount)) = run_rate(&line, today) {
            *kpis.annualized_run_rate_hard.entry(currency).or_default() += amount;
        }
    }

    // A3 cases, by their owner's home zone (an organisation roll-up counts every case).
    let a3_sql = scoped(
        ", a as (select a.*, coalesce(sz.p_start, $11) as p_start, coalesce(sz.p_end, $12) as p_end
                  from a3_register a
                  left join members m on m.org_id = a.org_id and m.member_id = a.owner_id
                  left join sz on sz.zone_id = m.home_zone_id
                 where a.org_id = $1 and (sz.zone_id is not null or ($2::uuid is null and $3::uuid is null and $4::uuid is null))
                   and not exists (select 1 from deleted_entities x where x.org_id = $1 and x.entity_id = a.a3_id)),
            closed as (select * from a where status = 'CLOSED' and closed_at >= p_start and closed_at < p_end)
         select 'phase:' || status, count(*) from a where status in ('PLAN', 'DO', 'CHECK', 'ACT', 'ON_HOLD') group by status
          union all select 'closed', count(*) from closed
          union all select 'effective', count(*) from closed where target_met = 'yes'",
    );
    let rows: Vec<(String, i64)> = query!(&a3_sql).bind(kpis.period.0).bind(kpis.period.1).fetch_all(&mut *conn).await?;
    let mut effective = 0;
    for (key, n) in rows {
        match key.strip_prefix("phase:") {
            Some(phase) => {
                kpis.a3_open_by_phase.insert(phase.to_owned(), n);
            }
            None if key == "closed" => kpis.a3_closed = n,
            None => effective = n,
        }
    }
    kpis.a3_effectiveness_rate = ratio(effective, kpis.a3_closed);
    Ok(Some(kpis))
}

/// A verified hard line's contribution to the annualised run rate on `today`: recurring
/// lines while `today` is within their dates; one-time lines never.
pub fn run_rate(line: &ImpactLine, today: NaiveDate) -> Option<(String, Decimal)> {
    if line.classification != Classification::Hard {
        return None;
    }
    let Recurrence::Recurring { start_on, end_on, .. } = line.recurrence else { return None };
    if today < start_on || end_on.is_some_and(|end| today > end) {
        return None;
    }
    let money = line.money.as_ref()?;
    Some((money.currency.as_str().to_owned(), line.annualized()?))
}
