//! The `zone_5s_scores` read model (reference/domain.md §5.1): one row per audit with its
//! frozen score, and the zone and roll-up figures built on it.
//!
//! The projection is a pure fold ([`fold`]) of an audit's events into its row, applied a
//! whole batch at a time with two statements ([`apply_all`]).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use gemba_domain::five_s_audit::AuditEvent;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};
use crate::fold;

/// Every column of a `zone_5s_scores` row (but `org_id`), as the projection folds it. The
/// score is kept as PostgreSQL prints the `numeric`, so a row read back compares equal.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Entry {
    pub audit_id: Uuid,
    pub zone_id: Uuid,
    pub audit_type: String,
    pub status: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub score_pct: Option<String>,
    pub band: Option<String>,
    pub sections: Option<serde_json::Value>,
    pub corrected: bool,
    pub due_at: Option<DateTime<Utc>>,
}

fn sections(scores: &gemba_domain::five_s::Scores) -> serde_json::Value {
    serde_json::to_value(&scores.sections).unwrap_or_default()
}

/// Folds one FiveSAudit event into the audit's row (pure). An audit is created when it is
/// scheduled or started; events of an audit without a row change nothing.
pub fn fold(row: &mut Option<Entry>, audit: Uuid, event: AuditEvent) {
    let created = |zone_id: Uuid, audit_type: String, status: &str, due_at: Option<DateTime<Utc>>| Entry {
        audit_id: audit,
        zone_id,
        audit_type,
        status: status.to_owned(),
        submitted_at: None,
        score_pct: None,
        band: None,
        sections: None,
        corrected: false,
        due_at,
    };
    match event {
        AuditEvent::AuditScheduled { zone_id, audit_type, due_at, .. } if row.is_none() => {
            *row = Some(created(zone_id.uuid(), name(&audit_type), "SCHEDULED", Some(due_at)));
        }
        AuditEvent::AuditStarted { zone_id, audit_type, .. } => match row.as_mut() {
            Some(r) => r.status = "IN_PROGRESS".to_owned(),
            None => *row = Some(created(zone_id.uuid(), name(&audit_type), "IN_PROGRESS", None)),
        },
        AuditEvent::AuditSubmitted { scores, submitted_at, .. } => {
            if let Some(r) = row.as_mut() {
                r.status = "SUBMITTED".to_owned();
                r.submitted_at = Some(submitted_at);
                r.score_pct = scores.score_pct.map(|d| d.to_string());
                r.band.clone_from(&scores.band);
                r.sections = Some(sections(&scores));
            }
        }
        AuditEvent::AuditScoreCorrected { scores_after, .. } => {
            if let Some(r) = row.as_mut() {
                r.score_pct = scores_after.score_pct.map(|d| d.to_string());
                r.band.clone_from(&scores_after.band);
                r.sections = Some(sections(&scores_after));
                r.corrected = true;
            }
        }
        AuditEvent::AuditCancelled { .. } => {
            if let Some(r) = row.as_mut() {
                r.status = "CANCELLED".to_owned();
            }
        }
        AuditEvent::AuditMissed { .. } => {
            if let Some(r) = row.as_mut() {
                r.status = "MISSED".to_owned();
            }
        }
        _ => {}
    }
}

const COLUMNS: &str =
    "audit_id, zone_id, audit_type, status, submitted_at, score_pct::text as score_pct, band, sections, corrected, due_at";

/// Applies a batch of FiveSAudit events set-based: one statement reads the rows the batch
/// touches, the events are folded in memory in order, one statement writes the rows back.
pub async fn apply_all(conn: &mut PgConnection, org: Uuid, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
    let (events, ids) = fold::decode::<AuditEvent>(events)?;
    if ids.is_empty() {
        return Ok(());
    }
    let stored: Vec<Entry> = sqlx::query_as(&format!("select {COLUMNS} from zone_5s_scores where org_id = $1 and audit_id = any($2)"))
        .bind(org)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let changed = fold::fold_rows(stored, |r| r.audit_id, events, |row, e| fold(row, e.id, e.event));
    if changed.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($field:ident) => {
            changed.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "insert into zone_5s_scores (org_id, audit_id, zone_id, audit_type, status, submitted_at, score_pct, band, sections, corrected, due_at)
         select $1, a, z, t, s, at, p::numeric, b, j, c, d
           from unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::jsonb[],
                       $10::bool[], $11::timestamptz[]) as r(a, z, t, s, at, p, b, j, c, d)
         on conflict (org_id, audit_id) do update set
            zone_id = excluded.zone_id, audit_type = excluded.audit_type, status = excluded.status,
            submitted_at = excluded.submitted_at, score_pct = excluded.score_pct, band = excluded.band,
            sections = excluded.sections, corrected = excluded.corrected, due_at = excluded.due_at",
    )
    .bind(org)
    .bind(column!(audit_id))
    .bind(column!(zone_id))
    .bind(column!(audit_type))
    .bind(column!(status))
    .bind(column!(submitted_at))
    .bind(column!(score_pct))
    .bind(column!(band))
    .bind(column!(sections))
    .bind(column!(corrected))
    .bind(column!(due_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A zone's current 5S score: its latest counted audit within the look-back, or none (the
/// zone is then "not rated", never 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneScore {
    pub zone_id: Uuid,
    pub zone_name: String,
    pub score_pct: Option<Decimal>,
    pub band: Option<String>,
    pub audited_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ScoreRow {
    zone_id: Uuid,
    name: String,
    score_pct: Option<String>,
    band: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
}

/// Current scores of the active zones of `site` (all sites when `None`), by zone code.
pub async fn current_scores(
    conn: &mut PgConnection,
    org: Uuid,
    site: Option<Uuid>,
    counted_types: &[String],
    since: DateTime<Utc>,
) -> Result<Vec<ZoneScore>, sqlx::Error> {
    let rows: Vec<ScoreRow> = sqlx::query_as(
        "select z.zone_id, z.name, s.score_pct::text as score_pct, s.band, s.submitted_at
           from zones z
           left join lateral (
                select score_pct, band, submitted_at from zone_5s_scores s
                 where s.org_id = z.org_id and s.zone_id = z.zone_id and s.status = 'SUBMITTED'
                   and s.audit_type = any($3) and s.submitted_at >= $4 and s.score_pct is not null
                 order by s.submitted_at desc limit 1) s on true
          where z.org_id = $1 and z.status = 'ACTIVE' and ($2::uuid is null or z.site_id = $2)
          order by z.code",
    )
    .bind(org)
    .bind(site)
    .bind(counted_types)
    .bind(since)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ZoneScore {
            zone_id: r.zone_id,
            zone_name: r.name,
            score_pct: r.score_pct.and_then(|s| Decimal::from_str(&s).ok()),
            band: r.band,
            audited_at: r.submitted_at,
        })
        .collect())
}

/// The roll-up of zone scores: the unweighted mean of rated zones' current scores, and the
/// share of active zones that are rated. `None` when no zone is rated.
pub fn roll_up(zones: &[ZoneScore]) -> (Option<Decimal>, Option<Decimal>) {
    let rated: Vec<Decimal> = zones.iter().filter_map(|z| z.score_pct).collect();
    let average = (!rated.is_empty()).then(|| (rated.iter().copied().sum::<Decimal>() / Decimal::from(rated.len())).normalize());
    let coverage = (!zones.is_empty()).then(|| (Decimal::from(rated.len()) / Decimal::from(zones.len())).normalize());
    (average, coverage)
}

/// One row of the audit register.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub audit_id: Uuid,
    pub zone_id: Uuid,
    pub audit_type: String,
    pub status: String,
    pub due_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub score_pct: Option<String>,
    pub band: Option<String>,
    pub corrected: bool,
}

/// Filters of the audit register; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub statuses: Option<Vec<String>>,
    pub zone: Option<Uuid>,
    /// Due in `[due_from, due_to)`.
    pub due_from: Option<DateTime<Utc>>,
    pub due_to: Option<DateTime<Utc>>,
}

/// A page of the audit register in creation order (audit ids are time-ordered), after `after`.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    filter: &AuditFilter,
    after: Option<Uuid>,
    first: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "select audit_id, zone_id, audit_type, status, due_at, submitted_at, score_pct::text as score_pct, band, corrected
           from zone_5s_scores
          where org_id = $1 and ($2::uuid is null or audit_id > $2)
            and ($3::text[] is null or status = any($3)) and ($4::uuid is null or zone_id = $4)
            and ($5::timestamptz is null or due_at >= $5) and ($6::timestamptz is null or due_at < $6)
          order by audit_id limit $7",
    )
    .bind(org)
    .bind(after)
    .bind(&filter.statuses)
    .bind(filter.zone)
    .bind(filter.due_from)
    .bind(filter.due_to)
    .bind(first + 1)
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(score: Option<i64>) -> ZoneScore {
        ZoneScore { zone_id: Uuid::nil(), zone_name: String::new(), score_pct: score.map(Decimal::from), band: None, audited_at: None }
    }

    #[test]
    fn unrated_zones_count_in_coverage_but_not_in_the_average() {
        let (average, coverage) = roll_up(&[zone(Some(80)), zone(Some(60)), zone(None), zone(None)]);
        assert_eq!(average, Some(Decimal::from(70)));
        assert_eq!(coverage, Some(Decimal::new(5, 1)));
        assert_eq!(roll_up(&[zone(None)]), (None, Some(Decimal::ZERO)));
        assert_eq!(roll_up(&[]), (None, None));
    }
}
