//! The member leaderboard (reference/domain.md §5.5): live points earned in a window, for
//! members whose home zone is in the scope, ranked densely; ties go to whoever reached the
//! total first. Windows are computed in UTC for now (site time zones come with the roll-ups).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A leaderboard window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The ISO week (Monday start).
    Week,
    /// The calendar month.
    Month,
    /// The fiscal quarter.
    Quarter,
    /// The fiscal year to date.
    YearToDate,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).map(|d| d.and_utc()).unwrap_or_default()
}

fn first_of(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default()
}

/// `[start, end)` of `window` containing `now`; quarters and years start in
/// `fiscal_start_month` (1–12).
pub fn bounds(window: Window, now: DateTime<Utc>, fiscal_start_month: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.date_naive();
    let months_after = |day: NaiveDate, n: u32| day.checked_add_months(chrono::Months::new(n)).unwrap_or(day);
    match window {
        Window::Week => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            (midnight(monday), midnight(monday + Duration::days(7)))
        }
        Window::Month => {
            let first = first_of(today.year(), today.month());
            (midnight(first), midnight(months_after(first, 1)))
        }
        Window::Quarter | Window::YearToDate => {
            let start_month = fiscal_start_month.clamp(1, 12);
            let year = if today.month() >= start_month { today.year() } else { today.year() - 1 };
            let fiscal_start = first_of(year, start_month);
            if window == Window::YearToDate {
                return (midnight(fiscal_start), now);
            }
            let months_in = (today.year() - fiscal_start.year()) * 12 + i32::try_from(today.month()).unwrap_or(1)
                - i32::try_from(fiscal_start.month()).unwrap_or(1);
            let quarter_start = months_after(fiscal_start, u32::try_from(months_in / 3 * 3).unwrap_or(0));
            (midnight(quarter_start), midnight(months_after(quarter_start, 3)))
        }
    }
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
            and m.status = 'ACTIVE' and m.role <> 'AUDITOR'
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
    let mut rank = 0;
    let mut previous: Option<i64> = None;
    rows.into_iter()
        .map(|(member_id, points)| {
            if previous != Some(points) {
                rank += 1;
                previous = Some(points);
            }
            Ranked { rank, member_id, points }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).map(|d| d.to_utc()).unwrap_or_default()
    }

    #[test]
    fn windows_follow_the_iso_week_the_month_and_the_fiscal_year() {
        let now = at("2026-11-22T10:00:00Z"); // a Sunday
        assert_eq!(bounds(Window::Week, now, 1), (at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z")));
        assert_eq!(bounds(Window::Month, now, 1), (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!(bounds(Window::Quarter, now, 1), (at("2026-10-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        // A fiscal year starting in April: Q3 is October to December, the year began in April.
        assert_eq!(bounds(Window::Quarter, now, 4), (at("2026-10-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        assert_eq!(bounds(Window::YearToDate, now, 4), (at("2026-04-01T00:00:00Z"), now));
        // Starting in December: Q1 is December to February.
        assert_eq!(bounds(Window::Quarter, at("2027-01-15T00:00:00Z"), 12), (at("2026-12-01T00:00:00Z"), at("2027-03-01T00:00:00Z")));
        assert_eq!(bounds(Window::YearToDate, at("2027-01-15T00:00:00Z"), 12).0, at("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn equal_totals_share_a_dense_rank() {
        let (a, b, c, d) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(4));
        let ranks: Vec<u32> = dense_rank(vec![(a, 9), (b, 5), (c, 5), (d, 1)]).iter().map(|r| r.rank).collect();
        assert_eq!(ranks, [1, 2, 2, 3]);
    }
}
