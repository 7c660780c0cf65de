//! The kaizen read models (reference/domain.md §5.3): `kaizen_register` (one row per kaizen:
//! status, authors, first submission, first response, implementation, verification) and
//! `kaizen_impact_ledger` (one row per verified line per month of recognition).
//!
//! Recognition rule: a one-time line is recognised in full in the month it was realised; a
//! recurring line as a monthly amount (`amount × periods per year / 12`) in every month from
//! its start to its end, at most [`CAP_MONTHS`] months (the "first-year savings" convention).
//! A verification recognises the actual lines standing at that moment; an adjustment adds
//! reversing rows for the line before and new rows for the line after; a reopening reverses
//! what stands. Rows are never updated, so YTD as reported at any past time is reproducible.

use chrono::{Datelike, NaiveDate};
use gemba_domain::kaizen::{Classification, ImpactLine, KaizenEvent, KaizenStatus, LineKind, Recurrence};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};

/// Months a recurring saving is recognised for.
pub const CAP_MONTHS: u32 = 12;

/// One month of recognition of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recognition {
    /// The first day of the month.
    pub month: NaiveDate,
    pub amount: Decimal,
}

fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The months in which `line` is recognised, with their amounts (none for qualitative or
/// amount-less lines). Amounts are in the line's currency, rounded to cents; a full year of
/// a recurring line adds up to exactly its annual amount (the rounding goes to the first month).
pub fn recognition_schedule(line: &ImpactLine) -> Vec<Recognition> {
    let Some(money) = &line.money else { return Vec::new() };
    if line.classification == Classification::Qualitative {
        return Vec::new();
    }
    match line.recurrence {
        Recurrence::OneTime { realized_on } => vec![Recognition { month: month_of(realized_on), amount: money.amount }],
        Recurrence::Recurring { start_on, end_on, .. } => {
            let Some(annual) = line.annualized() else { return Vec::new() };
            let monthly = (annual / Decimal::from(12)).round_dp(2);
            let first = month_of(start_on);
            let mut months: Vec<Recognition> = (0..CAP_MONTHS)
                .filter_map(|n| first.checked_add_months(chrono::Months::new(n)))
                .take_while(|month| end_on.is_none_or(|end| *month <= month_of(end)))
                .map(|month| Recognition { month, amount: monthly })
                .collect();
            if months.len() == 12
                && let Some(head) = months.first_mut()
            {
                head.amount += annual - monthly * Decimal::from(12);
            }
            months
        }
    }
}

/// Applies one Kaizen event.
pub async fn apply(conn: &mut PgConnection, org: Uuid, event: &StoredEvent) -> Result<(), ProjectionError> {
    let kaizen = event.entity()?;
    let at = event.recorded_at;
    let set_status = |status: KaizenStatus| {
        sqlx::query("update kaizen_register set status = $3 where org_id = $1 and kaizen_id = $2")
            .bind(org)
            .bind(kaizen)
            .bind(name(&status))
    };
    let query = match event.decode::<KaizenEvent>()? {
        KaizenEvent::KaizenDrafted { zone_id, title, category, author, .. } => sqlx::query(
            "insert into kaizen_register (org_id, kaizen_id, zone_id, title, category, status, authors, drafted_at)
             values ($1, $2, $3, $4, $5, 'DRAFT', array[$6::uuid], $7) on conflict (org_id, kaizen_id) do nothing",
        )
        .bind(org)
        .bind(kaizen)
        .bind(zone_id.uuid())
        .bind(title.as_str().to_owned())
        .bind(name(&category))
        .bind(author.uuid())
        .bind(at),
        KaizenEvent::KaizenSubmitted { submitted_at } => sqlx::query(
            "update kaizen_register set status = 'SUBMITTED', submitted_at = coalesce(submitted_at, $3) where org_id = $1 and kaizen_id = $2",
        )
        .bind(org)
        .bind(kaizen)
        .bind(submitted_at),
        KaizenEvent::KaizenDraftEdited { after, .. } | KaizenEvent::KaizenContentChanged { after, .. } => sqlx::query(
            "update kaizen_register set title = coalesce($3, title), category = coalesce($4, category) where org_id = $1 and kaizen_id = $2",
        )
        .bind(org)
        .bind(kaizen)
        .bind(after.title.map(|t| t.as_str().to_owned()))
        .bind(after.category.map(|c| name(&c))),
        KaizenEvent::KaizenReviewStarted { .. } | KaizenEvent::KaizenReactivated { .. } => first_response(org, kaizen, "UNDER_REVIEW", at),
        KaizenEvent::KaizenApproved { .. } => first_response(org, kaizen, "APPROVED", at),
        KaizenEvent::KaizenRejected { .. } => first_response(org, kaizen, "REJECTED", at),
        KaizenEvent::KaizenDeferred { .. } => first_response(org, kaizen, "DEFERRED", at),
        KaizenEvent::KaizenWithdrawn { .. } => set_status(KaizenStatus::Withdrawn),
        KaizenEvent::KaizenImplementationStarted => set_status(KaizenStatus::Implementing),
        KaizenEvent::KaizenImplemented { implemented_at, just_do_it, .. } => sqlx::query(
            "update kaizen_register set status = 'IMPLEMENTED', implemented_at = coalesce(implemented_at, $3), just_do_it = just_do_it or $4
              where org_id = $1 and kaizen_id = $2",
        )
        .bind(org)
        .bind(kaizen)
        .bind(implemented_at)
        .bind(just_do_it),
        KaizenEvent::KaizenImpactSubmitted { .. } => set_status(KaizenStatus::ImpactSubmitted),
        KaizenEvent::KaizenSavingsVerificationDeclined { .. } => set_status(KaizenStatus::Implemented),
        KaizenEvent::KaizenClosed { .. } => {
            sqlx::query("update kaizen_register set status = 'CLOSED', closed_at = $3 where org_id = $1 and kaizen_id = $2")
                .bind(org)
                .bind(kaizen)
                .bind(at)
        }
        KaizenEvent::KaizenAuthorAdded { after, .. }
        | KaizenEvent::KaizenAuthorRemoved { after, .. }
        | KaizenEvent::KaizenAuthorSharesChanged { after, .. } => {
            sqlx::query("update kaizen_register set authors = $3 where org_id = $1 and kaizen_id = $2")
                .bind(org)
                .bind(kaizen)
                .bind(after.iter().map(|a| a.member_id.uuid()).collect::<Vec<_>>())
        }
        KaizenEvent::KaizenTransferred { to, .. } => {
            sqlx::query("update kaizen_register set zone_id = $3 where org_id = $1 and kaizen_id = $2").bind(org).bind(kaizen).bind(to.uuid())
        }
        KaizenEvent::KaizenImpactLineSet { after, .. } => return set_line(conn, org, kaizen, &after).await,
        KaizenEvent::KaizenImpactLineRemoved { line, .. } => {
            sqlx::query("delete from kaizen_actual_lines where org_id = $1 and kaizen_id = $2 and line_id = $3")
                .bind(org)
                .bind(kaizen)
                .bind(line.line_id)
        }
        KaizenEvent::KaizenSavingsVerified { verified_at, verification_version, .. } => {
            sqlx::query(
                "update kaizen_register set status = 'SAVINGS_VERIFIED', verified_at = $3 where org_id = $1 and kaizen_id = $2",
            )
            .bind(org)
            .bind(kaizen)
            .bind(verified_at)
            .execute(&mut *conn)
            .await?;
            let lines: Vec<(serde_json::Value,)> =
                sqlx::query_as("select line from kaizen_actual_lines where org_id = $1 and kaizen_id = $2 order by line_id")
                    .bind(org)
                    .bind(kaizen)
                    .fetch_all(&mut *conn)
                    .await?;
            let mut entries = Vec::new();
            for (line,) in lines {
                let line: ImpactLine = serde_json::from_value(line).map_err(|e| ProjectionError::Unreadable {
                    tenant_seq: event.tenant_seq,
                    event_type: event.event_type.clone(),
                    message: format!("a stored impact line: {e}"),
                })?;
                entries.push((line, Decimal::ONE));
            }
            return record(conn, org, kaizen, event, verification_version, &entries).await;
        }
        KaizenEvent::KaizenSavingsAdjusted { line_before, line_after, verification_version, .. } => {
            set_line(conn, org, kaizen, &line_after).await?;
            return record(conn, org, kaizen, event, verification_version, &[(line_before, -Decimal::ONE), (line_after, Decimal::ONE)])
                .await;
        }
        KaizenEvent::KaizenReopened { to: KaizenStatus::SavingsVerified, .. } => {
            // Reopened to where it was closed from: the verification stands.
            sqlx::query("update kaizen_register set status = 'SAVINGS_VERIFIED', closed_at = null where org_id = $1 and kaizen_id = $2")
                .bind(org)
                .bind(kaizen)
        }
        KaizenEvent::KaizenReopened { to, .. } => {
            // Reopened before its verification: what stands is reversed; a new verification
            // recognises the lines again.
            sqlx::query(
                "insert into kaizen_impact_ledger (org_id, kaizen_id, entry_seq, line_id, recognition_month, classification, currency,
                                                   amount, verification_version, recorded_at)
                 select org_id, kaizen_id, $3, line_id, recognition_month, classification, currency, -sum(amount),
                        max(verification_version), $4
                   from kaizen_impact_ledger where org_id = $1 and kaizen_id = $2
                  group by org_id, kaizen_id, line_id, recognition_month, classification, currency
                 having sum(amount) <> 0",
            )
            .bind(org)
            .bind(kaizen)
            .bind(event.tenant_seq)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            sqlx::query("update kaizen_register set status = $3, verified_at = null, closed_at = null where org_id = $1 and kaizen_id = $2")
                .bind(org)
                .bind(kaizen)
                .bind(name(&to))
        }
        KaizenEvent::KaizenDueDateChanged { .. } | KaizenEvent::KaizenLinkedToDefect { .. } | KaizenEvent::KaizenLinkedToA3 { .. } => {
            return Ok(());
        }
    };
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The first decision or review start answers the idea (time to first response).
fn first_response<'q>(org: Uuid, kaizen: Uuid, status: &'static str, at: chrono::DateTime<chrono::Utc>) -> SqlQuery<'q> {
    sqlx::query(
        "update kaizen_register set status = $3, first_response_at = coalesce(first_response_at, $4) where org_id = $1 and kaizen_id = $2",
    )
    .bind(org)
    .bind(kaizen)
    .bind(status)
    .bind(at)
}

type SqlQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

async fn set_line(conn: &mut PgConnection, org: Uuid, kaizen: Uuid, line: &ImpactLine) -> Result<(), ProjectionError> {
    if line.kind == LineKind::Actual {
        sqlx::query(
            "insert into kaizen_actual_lines (org_id, kaizen_id, line_id, line) values ($1, $2, $3, $4)
             on conflict (org_id, kaizen_id, line_id) do update set line = excluded.line",
        )
        .bind(org)
        .bind(kaizen)
        .bind(&line.line_id)
        .bind(serde_json::to_value(line).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query("delete from kaizen_actual_lines where org_id = $1 and kaizen_id = $2 and line_id = $3")
            .bind(org)
            .bind(kaizen)
            .bind(&line.line_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Ledger rows for `entries` (each line with its sign), one bulk insert.
async fn record(
    conn: &mut PgConnection,
    org: Uuid,
    kaizen: Uuid,
    event: &StoredEvent,
    verification_version: u32,
    entries: &[(ImpactLine, Decimal)],
) -> Result<(), ProjectionError> {
    let (mut lines, mut months, mut classes, mut currencies, mut amounts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (line, sign) in entries {
        let Some(money) = &line.money else { continue };
        if line.kind != LineKind::Actual {
            continue;
        }
        for recognition in recognition_schedule(line) {
            lines.push(line.line_id.clone());
            months.push(recognition.month);
            classes.push(name(&line.classification));
            currencies.push(money.currency.as_str().to_owned());
            amounts.push((recognition.amount * sign).to_string());
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    // An adjustment that reverses and re-recognises the same month nets in one row.
    sqlx::query(
        "insert into kaizen_impact_ledger (org_id, kaizen_id, entry_seq, line_id, recognition_month, classification, currency, amount,
                                           verification_version, recorded_at)
         select $1, $2, $3, r.line_id, r.month, min(r.class), min(r.currency), sum(r.amount::numeric), $4, $5
           from unnest($6::text[], $7::date[], $8::text[], $9::text[], $10::text[]) as r(line_id, month, class, currency, amount)
          group by r.line_id, r.month, r.class, r.currency",
    )
    .bind(org)
    .bind(kaizen)
    .bind(event.tenant_seq)
    .bind(i32::try_from(verification_version).unwrap_or(i32::MAX))
    .bind(event.recorded_at)
    .bind(lines)
    .bind(months)
    .bind(classes)
    .bind(currencies)
    .bind(amounts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One row of the kaizen register.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KaizenRow {
    pub kaizen_id: Uuid,
    pub zone_id: Uuid,
    pub title: String,
    pub category: String,
    pub status: String,
    pub authors: Vec<Uuid>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub first_response_at: Option<chrono::DateTime<chrono::Utc>>,
    pub implemented_at: Option<chrono::DateTime<chrono::Utc>>,
    pub just_do_it: bool,
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Filters of the kaizen register; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct KaizenFilter {
    pub statuses: Option<Vec<String>>,
    pub zone: Option<Uuid>,
    pub site: Option<Uuid>,
    pub author: Option<Uuid>,
    /// First submitted in `[from, to)`.
    pub submitted_from: Option<chrono::DateTime<chrono::Utc>>,
    pub submitted_to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of the register in creation order (kaizen ids are time-ordered), after `after`.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    filter: &KaizenFilter,
    after: Option<Uuid>,
    first: i64,
) -> Result<Vec<KaizenRow>, sqlx::Error> {
    sqlx::query_as(
        "select kaizen_id, zone_id, title, category, status, authors, submitted_at, first_response_at, implemented_at, just_do_it,
                verified_at, closed_at
           from kaizen_register k
          where org_id = $1 and ($2::uuid is null or kaizen_id > $2) and gemba_visible(kaizen_id) and gemba_visible(zone_id)
            and ($3::text[] is null or status = any($3)) and ($4::uuid is null or zone_id = $4)
            and ($5::uuid is null or zone_id in (select zone_id from zones z where z.org_id = $1 and z.site_id = $5))
            and ($6::uuid is null or $6 = any(authors))
            and ($7::timestamptz is null or submitted_at >= $7) and ($8::timestamptz is null or submitted_at < $8)
          order by kaizen_id limit $9",
    )
    .bind(org)
    .bind(after)
    .bind(&filter.statuses)
    .bind(filter.zone)
    .bind(filter.site)
    .bind(filter.author)
    .bind(filter.submitted_from)
    .bind(filter.submitted_to)
    .bind(first + 1)
    .fetch_all(conn)
    .await
}

/// Verified savings recognised per month for one kaizen: `(month, classification, currency,
/// amount)`, reversals netted, in month order.
pub async fn recognised(
    conn: &mut PgConnection,
    org: Uuid,
    kaizen: Uuid,
) -> Result<Vec<(NaiveDate, String, String, Decimal)>, sqlx::Error> {
    let rows: Vec<(NaiveDate, String, String, String)> = sqlx::query_as(
        "select recognition_month, classification, currency, sum(amount)::text from kaizen_impact_ledger
          where org_id = $1 and kaizen_id = $2
          group by recognition_month, classification, currency having sum(amount) <> 0
          order by recognition_month, classification, currency",
    )
    .bind(org)
    .bind(kaizen)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(|(m, c, cur, a)| Some((m, c, cur, a.parse::<Decimal>().ok()?.normalize()))).collect())
}

#[cfg(test)]
mod tests {
    use gemba_domain::kaizen::{Currency, Money, Period};

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    fn line(classification: Classification, amount: &str, recurrence: Recurrence) -> ImpactLine {
        ImpactLine {
            line_id: "l1".to_owned(),
            kind: LineKind::Actual,
            classification,
            money: Some(Money { amount: amount.parse().unwrap_or_default(), currency: Currency::default() }),
            recurrence,
            calculation: None,
            evidence: Vec::new(),
        }
    }

    fn schedule(line: &ImpactLine) -> Vec<(String, String)> {
        recognition_schedule(line).into_iter().map(|r| (r.month.format("%Y-%m").to_string(), r.amount.to_string())).collect()
    }

    #[test]
    fn a_one_time_saving_is_recognised_in_full_in_the_month_it_was_realised() {
        let l = line(Classification::Hard, "1250.50", Recurrence::OneTime { realized_on: day("2026-03-17") });
        assert_eq!(schedule(&l), [("2026-03".to_owned(), "1250.50".to_owned())]);
    }

    #[test]
    fn a_recurring_saving_is_recognised_monthly_for_twelve_months_adding_up_to_its_annual_amount() {
        // 1000 a year from mid-May: 83.33 a month, the 4 cents of rounding in the first month.
        let l =
            line(Classification::Soft, "1000", Recurrence::Recurring { period: Period::Year, start_on: day("2026-05-15"), end_on: None });
        let months = recognition_schedule(&l);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].month, day("2026-05-01"));
        assert_eq!(months[11].month, day("2027-04-01"));
        assert_eq!(months[0].amount.to_string(), "83.37");
        assert!(months[1..].iter().all(|m| m.amount.to_string() == "83.33"));
        assert_eq!(months.iter().map(|m| m.amount).sum::<Decimal>().to_string(), "1000.00");
    }

    #[test]
    fn a_recurring_saving_with_an_end_stops_in_its_last_month() {
        // 300 a quarter = 100 a month, January to March only.
        let l = line(
            Classification::Hard,
            "300",
            Recurrence::Recurring { period: Period::Quarter, start_on: day("2026-01-10"), end_on: Some(day("2026-03-02")) },
        );
        assert_eq!(schedule(&l), [("2026-01", "100"), ("2026-02", "100"), ("2026-03", "100")].map(|(m, a)| (m.to_owned(), a.to_owned())));
    }

    #[test]
    fn qualitative_lines_are_never_recognised() {
        let mut l = line(Classification::Qualitative, "10", Recurrence::OneTime { realized_on: day("2026-01-01") });
        assert!(recognition_schedule(&l).is_empty());
        l.money = None;
        assert!(recognition_schedule(&l).is_empty());
    }
}
