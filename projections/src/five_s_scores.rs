//! The `zone_5s_scores` read model (reference/domain.md §5.1): one row per audit with its
//! frozen score, and the zone and roll-up figures built on it.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use gemba_domain::five_s_audit::AuditEvent;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};

/// Applies one FiveSAudit event.
pub async fn apply(conn: &mut PgConnection, org: Uuid, event: &StoredEvent) -> Result<(), ProjectionError> {
    let audit = event.entity()?;
    let json = |value: &gemba_domain::five_s::Scores| serde_json::to_value(&value.sections).unwrap_or_default();
    let update = |sql: &'static str| sqlx::query(sql).bind(org).bind(audit);
    let query = match event.decode::<AuditEvent>()? {
        AuditEvent::AuditScheduled { zone_id, audit_type, due_at, .. } => sqlx::query(
            "insert into zone_5s_scores (org_id, audit_id, zone_id, audit_type, status, due_at) values ($1, $2, $3, $4, 'SCHEDULED', $5)
             on conflict (org_id, audit_id) do nothing",
        )
        .bind(org)
        .bind(audit)
        .bind(zone_id.uuid())
        .bind(name(&audit_type))
        .bind(due_at),
        AuditEvent::AuditStarted { zone_id, audit_type, .. } => sqlx::query(
            "insert into zone_5s_scores (org_id, audit_id, zone_id, audit_type, status) values ($1, $2, $3, $4, 'IN_PROGRESS')
             on conflict (org_id, audit_id) do update set status = 'IN_PROGRESS'",
        )
        .bind(org)
        .bind(audit)
        .bind(zone_id.uuid())
        .bind(name(&audit_type)),
        AuditEvent::AuditSubmitted { scores, submitted_at, .. } => update(
            "update zone_5s_scores set status = 'SUBMITTED', submitted_at = $3, score_pct = $4::numeric, band = $5, sections = $6
              where org_id = $1 and audit_id = $2",
        )
        .bind(submitted_at)
        .bind(scores.score_pct.map(|d| d.to_string()))
        .bind(scores.band.clone())
        .bind(json(&scores)),
        AuditEvent::AuditScoreCorrected { scores_after, .. } => update(
            "update zone_5s_scores set score_pct = $3::numeric, band = $4, sections = $5, corrected = true
              where org_id = $1 and audit_id = $2",
        )
        .bind(scores_after.score_pct.map(|d| d.to_string()))
        .bind(scores_after.band.clone())
        .bind(json(&scores_after)),
        AuditEvent::AuditCancelled { .. } => update("update zone_5s_scores set status = 'CANCELLED' where org_id = $1 and audit_id = $2"),
        AuditEvent::AuditMissed { .. } => update("update zone_5s_scores set status = 'MISSED' where org_id = $1 and audit_id = $2"),
        _ => return Ok(()),
    };
    query.execute(&mut *conn).await?;
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
