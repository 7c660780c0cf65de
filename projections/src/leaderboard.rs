//! Leaderboards (reference/domain.md §5.5).
//!
//! - Members: live points earned in a window, for members whose home zone is in the scope,
//!   ranked densely; ties go to whoever reached the total first.
//! - Zones: points of the zone's members per head, and a separate 5S improvement board
//!   ranked by the change of the zone's period score (so improving zones can win).
//!
//! Members are attributed by their current home zone.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

pub use crate::period::Window;

/// `[start, end)` of `window` containing `now`, in UTC; quarters and years start in
/// `fiscal_start_month` (1–12).
pub fn bounds(window: Window, now: DateTime<Utc>, fiscal_start_month: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    crate::period::bounds_in(window, now, fiscal_start_month, chrono_tz::UTC)
}

/// The time zone a scope's windows are evaluated in: its site's (UTC for the whole
/// organisation, or when the site is unknown).
pub async fn scope_time_zone(conn: &mut PgConnection, org: Uuid, scope: Scope) -> Result<chrono_tz::Tz, sqlx::Error> {
    if scope.site.is_none() && scope.zone.is_none() {
        return Ok(chrono_tz::UTC);
    }
    let timezone: Option<String> = sqlx::query_scalar(
        "select s.timezone from sites s
          where s.org_id = $1 and s.site_id = coalesce($2, (select z.site_id from zones z where z.org_id = $1 and z.zone_id = $3))",
    )
    .bind(org)
    .bind(scope.site)
    .bind(scope.zone)
    .fetch_optional(conn)
    .await?;
    Ok(timezone.and_then(|tz| tz.parse().ok()).unwrap_or(chrono_tz::UTC))
}

/// One ranked member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranked {
    pub rank: u32,
    pub member_id: Uuid,
    pub points: i64,
}

/// The scope of a leaderboard: a zone, a site, or the whole organisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub site: Option<Uuid>,
    pub zone: Option<Uuid>,
}

/// Everyone with points in `[start, end)` in scope, ranked.
pub async fn ranking(
    conn: &mut PgConnection,
    org: Uuid,
    scope: Scope,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Ranked>, sqlx::Error> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "select a.member_id, sum(a.points)::bigint as points
           from points_awards a
           join members m on m.org_id = a.org_id and m.member_id = a.member_id
          where a.org_id = $1 and not a.reversed and a.earned_at >= $2 and a.earned_at < $3
            and m.status = 'ACTIVE' and m.role <> 'AUDITOR' and gemba_visible(m.member_id)
            and ($4::uuid is null or m.home_zone_id = $4)
            and ($5::uuid is null or m.home_zone_id in (select zone_id from zones where org_id = $1 and site_id = $5))
          group by a.member_id
         having sum(a.points) <> 0
          order by points desc, max(a.earned_at) asc, a.member_id",
    )
    .bind(org)
    .bind(start)
    .bind(end)
    .bind(scope.zone)
    .bind(scope.site)
    .fetch_all(conn)
    .await?;
    Ok(dense_rank(rows))
}

/// Dense ranks of rows sorted by points, descending.
pub fn dense_rank(rows: Vec<(Uuid, i64)>) -> Vec<Ranked> {
    let ranks = dense_ranks(rows.iter().map(|(_, points)| *points));
    rows.into_iter().zip(ranks).map(|((member_id, points), rank)| Ranked { rank, member_id, points }).collect()
}

/// Dense ranks of values already sorted best first: equal values share a rank.
pub fn dense_ranks<T: PartialEq>(sorted: impl IntoIterator<Item = T>) -> Vec<u32> {
    let mut rank = 0;
    let mut previous: Option<T> = None;
    sorted
        .into_iter()
        .map(|value| {
            if previous.as_ref() != Some(&value) {
                rank += 1;
                previous = Some(value);
            }
            rank
        })
        .collect()
}

/// A zone on the points board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZonePoints {
    pub rank: u32,
    pub zone_id: Uuid,
    /// Live points of the zone's members (by home zone) in the window.
    pub points: i64,
    pub headcount: i32,
    /// `points / max(1, headcount)`, to two decimals.
    pub per_head: Decimal,
}

/// Active zones of `site` (every site when `None`) ranked by points per head in
/// `[start, end)`: small zones compete with large ones.
pub async fn zone_points(
    conn: &mut PgConnection,
    org: Uuid,
    site: Option<Uuid>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<ZonePoints>, sqlx::Error> {
    let rows: Vec<(Uuid, i64, i32)> = sqlx::query_as(
        "select z.zone_id, coalesce(sum(a.points), 0)::bigint, coalesce(z.headcount, 0)
           from zones z
           left join members m on m.org_id = z.org_id and m.home_zone_id = z.zone_id and m.role <> 'AUDITOR'
                                and gemba_visible(m.member_id)
           left join points_awards a on a.org_id = m.org_id and a.member_id = m.member_id and not a.reversed
                                    and a.earned_at >= $3 and a.earned_at < $4
          where z.org_id = $1 and z.status = 'ACTIVE' and ($2::uuid is null or z.site_id = $2) and gemba_visible(z.zone_id)
          group by z.zone_id, z.headcount",
    )
    .bind(org)
    .bind(site)
    .bind(start)
    .bind(end)
    .fetch_all(conn)
    .await?;
    let mut zones: Vec<(Uuid, i64, i32, Decimal)> = rows
        .into_iter()
        .map(|(zone, points, headcount)| (zone, points, headcount, (Decimal::from(points) / Decimal::from(headcount.max(1))).round_dp(2)))
        .collect();
    zones.sort_by(|a, b| b.3.cmp(&a.3).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    let ranks = dense_ranks(zones.iter().map(|z| z.3));
    Ok(zones
        .into_iter()
        .zip(ranks)
        .map(|((zone_id, points, headcount, per_head), rank)| ZonePoints {
            rank,
            zone_id,
            points,
            headcount,
            per_head: per_head.normalize(),
        })
        .collect())
}

/// A zone on the 5S improvement board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneImprovement {
    pub rank: u32,
    pub zone_id: Uuid,
    pub period_score: Decimal,
    pub previous_score: Decimal,
    /// `period_score - previous_score`: the board ranks improvement, not the absolute score.
    pub delta: Decimal,
}

/// Active zones of `site` (every site when `None`) with a period score in both `current`
/// and `previous` (means of counted audits submitted in each), ranked by the change.
pub async fn zone_improvement(
    conn: &mut PgConnection,
    org: Uuid,
    site: Option<Uuid>,
    counted_types: &[String],
    current: (DateTime<Utc>, DateTime<Utc>),
    previous: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<ZoneImprovement>, sqlx::Error> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "with scores as (
             select s.zone_id,
                    avg(s.score_pct) filter (where s.submitted_at >= $4 and s.submitted_at < $5) as period,
                    avg(s.score_pct) filter (where s.submitted_at >= $6 and s.submitted_at < $7) as previous
               from zone_5s_scores s join zones z on z.org_id = s.org_id and z.zone_id = s.zone_id
              where s.org_id = $1 and z.status = 'ACTIVE' and ($2::uuid is null or z.site_id = $2) and gemba_visible(z.zone_id)
                and s.status = 'SUBMITTED' and s.score_pct is not null and s.audit_type = any($3)
              group by s.zone_id)
         select zone_id, round(period, 2)::text, round(previous, 2)::text from scores
          where period is not null and previous is not null",
    )
    .bind(org)
    .bind(site)
    .bind(counted_types)
    .bind(current.0)
    .bind(current.1)
    .bind(previous.0)
    .bind(previous.1)
    .fetch_all(conn)
    .await?;
    let mut zones: Vec<(Uuid, Decimal, Decimal)> =
        rows.into_iter().filter_map(|(zone, period, previous)| Some((zone, period.parse().ok()?, previous.parse().ok()?))).collect();
    zones.sort_by(|a, b| (b.1 - b.2).cmp(&(a.1 - a.2)).then(a.0.cmp(&b.0)));
    let ranks = dense_ranks(zones.iter().map(|z| z.1 - z.2));
    Ok(zones
        .into_iter()
        .zip(ranks)
        .map(|((zone_id, period_score, previous_score), rank)| ZoneImprovement {
            rank,
            zone_id,
            period_score: period_score.normalize(),
            previous_score: previous_score.normalize(),
            delta: (period_score - previous_score).normalize(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_totals_share_a_dense_rank() {
        let (a, b, c, d) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(4));
        let ranks: Vec<u32> = dense_rank(vec![(a, 9), (b, 5), (c, 5), (d, 1)]).iter().map(|r| r.rank).collect();
        assert_eq!(ranks, [1, 2, 2, 3]);
    }
}
