//! Reporting periods (reference/domain.md §5, conventions): `[start, end)` of a window,
//! evaluated in a site's time zone. Quarters and years start in the organisation's fiscal
//! start month.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A reporting window.
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
    /// The last 30 days.
    Rolling30,
    /// The last 90 days.
    Rolling90,
}

fn first_of(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default()
}

fn months_after(day: NaiveDate, n: u32) -> NaiveDate {
    day.checked_add_months(chrono::Months::new(n)).unwrap_or(day)
}

/// The first day of the fiscal year that contains `day`.
pub fn fiscal_year_start(day: NaiveDate, fiscal_start_month: u32) -> NaiveDate {
    let start_month = fiscal_start_month.clamp(1, 12);
    let year = if day.month() >= start_month { day.year() } else { day.year() - 1 };
    first_of(year, start_month)
}

/// `[start, end)` of `window` containing `now`, with day boundaries at midnight in `tz`.
/// The year to date and the rolling windows end at `now`.
pub fn bounds_in(window: Window, now: DateTime<Utc>, fiscal_start_month: u32, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    // Midnight in the zone; where a DST change skips midnight, the first instant after it.
    let midnight = |day: NaiveDate| {
        let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&naive)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
            .map_or_else(|| naive.and_utc(), |d| d.to_utc())
    };
    match window {
        Window::Week => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            (midnight(monday), midnight(monday + Duration::days(7)))
        }
        Window::Month => {
            let first = first_of(today.year(), today.month());
            (midnight(first), midnight(months_after(first, 1)))
        }
        Window::Quarter => {
            let fiscal_start = fiscal_year_start(today, fiscal_start_month);
            let months_in = (today.year() - fiscal_start.year()) * 12 + i32::try_from(today.month()).unwrap_or(1)
                - i32::try_from(fiscal_start.month()).unwrap_or(1);
            let quarter_start = months_after(fiscal_start, u32::try_from(months_in / 3 * 3).unwrap_or(0));
            (midnight(quarter_start), midnight(months_after(quarter_start, 3)))
        }
        Window::YearToDate => (midnight(fiscal_year_start(today, fiscal_start_month)), now),
        Window::Rolling30 => (now - Duration::days(30), now),
        Window::Rolling90 => (now - Duration::days(90), now),
    }
}

/// The period before `current` (for trends): the previous week, month or quarter; the same
/// span of the previous fiscal year; the rolling window just before.
pub fn previous_in(
    window: Window,
    current: (DateTime<Utc>, DateTime<Utc>),
    fiscal_start_month: u32,
    tz: Tz,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (start, end) = current;
    match window {
        Window::Week | Window::Month | Window::Quarter => bounds_in(window, start - Duration::seconds(1), fiscal_start_month, tz),
        Window::YearToDate => {
            let year_earlier = |t: DateTime<Utc>| t.checked_sub_months(chrono::Months::new(12)).unwrap_or(t);
            (year_earlier(start), year_earlier(end))
        }
        Window::Rolling30 | Window::Rolling90 => (start - (end - start), start),
    }
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
        let utc = chrono_tz::UTC;
        assert_eq!(bounds_in(Window::Week, now, 1, utc), (at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z")));
        assert_eq!(bounds_in(Window::Month, now, 1, utc), (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!(bounds_in(Window::Quarter, now, 1, utc), (at("2026-10-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        // A fiscal year starting in April: Q3 is October to December, the year began in April.
        assert_eq!(bounds_in(Window::Quarter, now, 4, utc), (at("2026-10-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        assert_eq!(bounds_in(Window::YearToDate, now, 4, utc), (at("2026-04-01T00:00:00Z"), now));
        // Starting in December: Q1 is December to February.
        assert_eq!(
            bounds_in(Window::Quarter, at("2027-01-15T00:00:00Z"), 12, utc),
            (at("2026-12-01T00:00:00Z"), at("2027-03-01T00:00:00Z"))
        );
        assert_eq!(bounds_in(Window::YearToDate, at("2027-01-15T00:00:00Z"), 12, utc).0, at("2026-12-01T00:00:00Z"));
        assert_eq!(bounds_in(Window::Rolling30, now, 1, utc), (at("2026-10-23T10:00:00Z"), now));
    }

    #[test]
    fn days_begin_at_midnight_in_the_sites_time_zone() {
        // 23:30 UTC on Sunday 22 November is already Monday 23 November in Tokyo (+9).
        let now = at("2026-11-22T23:30:00Z");
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap_or(chrono_tz::UTC);
        assert_eq!(bounds_in(Window::Week, now, 1, tokyo), (at("2026-11-22T15:00:00Z"), at("2026-11-29T15:00:00Z")));
        // In New York (-5) it is still Sunday: the week began on Monday 16th at 05:00 UTC.
        let new_york: Tz = "America/New_York".parse().unwrap_or(chrono_tz::UTC);
        assert_eq!(bounds_in(Window::Week, now, 1, new_york), (at("2026-11-16T05:00:00Z"), at("2026-11-23T05:00:00Z")));
        // A month spanning the end of summer time: March starts at 05:00 UTC (EST), April at 04:00 (EDT).
        assert_eq!(
            bounds_in(Window::Month, at("2026-03-15T12:00:00Z"), 1, new_york),
            (at("2026-03-01T05:00:00Z"), at("2026-04-01T04:00:00Z"))
        );
    }

    #[test]
    fn the_previous_period_is_the_one_just_before() {
        let utc = chrono_tz::UTC;
        let now = at("2026-11-22T10:00:00Z");
        let month = bounds_in(Window::Month, now, 1, utc);
        assert_eq!(previous_in(Window::Month, month, 1, utc), (at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z")));
        let ytd = bounds_in(Window::YearToDate, now, 4, utc);
        assert_eq!(previous_in(Window::YearToDate, ytd, 4, utc), (at("2025-04-01T00:00:00Z"), at("2025-11-22T10:00:00Z")));
        let rolling = bounds_in(Window::Rolling30, now, 1, utc);
        assert_eq!(previous_in(Window::Rolling30, rolling, 1, utc), (at("2026-09-23T10:00:00Z"), at("2026-10-23T10:00:00Z")));
    }
}
