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
//!
//! The projection is a pure fold ([`fold`]) of a kaizen's events into everything it keeps of
//! that kaizen ([`Kaizen`]: its register row, its actual lines, the ledger's standing sums and
//! the rows appended); the projector applies a whole batch with one read and one write per
//! table ([`apply_all`]), live and in rebuilds alike.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use gemba_domain::kaizen::{Classification, ImpactLine, KaizenEvent, KaizenStatus, LineKind, Recurrence};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};
use crate::fold;

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

/// Every column of a `kaizen_register` row (but `org_id`), as the projection folds it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub kaizen_id: Uuid,
    pub zone_id: Uuid,
    pub title: String,
    pub category: String,
    pub status: String,
    pub authors: Vec<Uuid>,
    pub drafted_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub implemented_at: Option<DateTime<Utc>>,
    pub just_do_it: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "kaizen_id, zone_id, title, category, status, authors, drafted_at, submitted_at, first_response_at, implemented_at,
     just_do_it, verified_at, closed_at";

/// One row of `kaizen_impact_ledger` (but `org_id` and `kaizen_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    /// The `tenant_seq` of the event that recorded it.
    pub entry_seq: i64,
    pub line_id: String,
    pub recognition_month: NaiveDate,
    pub classification: String,
    pub currency: String,
    pub amount: Decimal,
    pub verification_version: i32,
    pub recorded_at: DateTime<Utc>,
}

/// What the ledger holds for one line, month, classification and currency of a kaizen: the
/// sum of its rows and the latest verification version among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub amount: Decimal,
    pub verification_version: i32,
}

/// `(line_id, recognition_month, classification, currency)`.
pub type LedgerKey = (String, NaiveDate, String, String);

/// Everything the projection keeps of one kaizen, as [`fold`] reads and changes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kaizen {
    /// Its `kaizen_register` row; none before `KaizenDrafted`.
    pub register: Option<Entry>,
    /// Its actual impact lines as they stand (`kaizen_actual_lines`): line id → the line as stored.
    pub lines: BTreeMap<String, serde_json::Value>,
    /// What its ledger holds (the rows already recorded and those appended since), summed per
    /// line, month, classification and currency: what a reopening reverses. Nothing else
    /// reads it, so [`apply_all`] loads the recorded sums only for the kaizens a batch reopens.
    pub recognised: BTreeMap<LedgerKey, Standing>,
    /// The ledger rows the fold appended (the ledger is append-only).
    pub appended: Vec<LedgerRow>,
}

/// Folds one Kaizen event, its `tenant_seq` `seq`, recorded at `at`, into the kaizen (pure).
/// The register row is created by `KaizenDrafted` (once); register changes of a kaizen
/// without a row change nothing, while its lines and ledger are kept regardless. Fails only
/// when a stored impact line does not read.
pub fn fold(kaizen: &mut Kaizen, id: Uuid, event: KaizenEvent, seq: i64, at: DateTime<Utc>) -> Result<(), serde_json::Error> {
    fold_register(&mut kaizen.register, id, &event, at);
    match event {
        KaizenEvent::KaizenImpactLineSet { after, .. } => set_line(kaizen, &after),
        KaizenEvent::KaizenImpactLineRemoved { line, .. } => {
            kaizen.lines.remove(&line.line_id);
        }
        KaizenEvent::KaizenSavingsVerified { verification_version, .. } => {
            let mut entries = Vec::with_capacity(kaizen.lines.len());
            for line in kaizen.lines.values() {
                entries.push((serde_json::from_value::<ImpactLine>(line.clone())?, Decimal::ONE));
            }
            record(kaizen, seq, at, verification_version, &entries);
        }
        KaizenEvent::KaizenSavingsAdjusted { line_before, line_after, verification_version, .. } => {
            set_line(kaizen, &line_after);
            record(kaizen, seq, at, verification_version, &[(line_before, -Decimal::ONE), (line_after, Decimal::ONE)]);
        }
        // Reopened before its verification: what stands is reversed; a new verification
        // recognises the lines again. (Reopened to where it was closed from, it stands.)
        KaizenEvent::KaizenReopened { to, .. } if to != KaizenStatus::SavingsVerified => reverse(kaizen, seq, at),
        _ => {}
    }
    Ok(())
}

/// The register row's part of [`fold`].
fn fold_register(row: &mut Option<Entry>, id: Uuid, event: &KaizenEvent, at: DateTime<Utc>) {
    if let KaizenEvent::KaizenDrafted { zone_id, title, category, author, .. } = event {
        if row.is_none() {
            *row = Some(Entry {
                kaizen_id: id,
                zone_id: zone_id.uuid(),
                title: title.as_str().to_owned(),
                category: name(category),
                status: name(&KaizenStatus::Draft),
                authors: vec![author.uuid()],
                drafted_at: at,
                submitted_at: None,
                first_response_at: None,
                implemented_at: None,
                just_do_it: false,
                verified_at: None,
                closed_at: None,
            });
        }
        return;
    }
    let Some(r) = row.as_mut() else { return };
    // The first decision or review start answers the idea (time to first response).
    let mut first_response = |status: KaizenStatus| {
        r.status = name(&status);
        r.first_response_at = r.first_response_at.or(Some(at));
    };
    match event {
        KaizenEvent::KaizenReviewStarted { .. } | KaizenEvent::KaizenReactivated { .. } => first_response(KaizenStatus::UnderReview),
        KaizenEvent::KaizenApproved { .. } => first_response(KaizenStatus::Approved),
        KaizenEvent::KaizenRejected { .. } => first_response(KaizenStatus::Rejected),
        KaizenEvent::KaizenDeferred { .. } => first_response(KaizenStatus::Deferred),
        KaizenEvent::KaizenSubmitted { submitted_at } => {
            r.status = name(&KaizenStatus::Submitted);
            r.submitted_at = r.submitted_at.or(Some(*submitted_at));
        }
        KaizenEvent::KaizenDraftEdited { after, .. } | KaizenEvent::KaizenContentChanged { after, .. } => {
            if let Some(title) = &after.title {
                r.title = title.as_str().to_owned();
            }
            if let Some(category) = &after.category {
                r.category = name(category);
            }
        }
        KaizenEvent::KaizenWithdrawn { .. } => r.status = name(&KaizenStatus::Withdrawn),
        KaizenEvent::KaizenImplementationStarted => r.status = name(&KaizenStatus::Implementing),
        KaizenEvent::KaizenImplemented { implemented_at, just_do_it, .. } => {
            r.status = name(&KaizenStatus::Implemented);
            r.implemented_at = r.implemented_at.or(Some(*implemented_at));
            r.just_do_it = r.just_do_it || *just_do_it;
        }
        KaizenEvent::KaizenImpactSubmitted { .. } => r.status = name(&KaizenStatus::ImpactSubmitted),
        KaizenEvent::KaizenSavingsVerificationDeclined { .. } => r.status = name(&KaizenStatus::Implemented),
        KaizenEvent::KaizenSavingsVerified { verified_at, .. } => {
            r.status = name(&KaizenStatus::SavingsVerified);
            r.verified_at = Some(*verified_at);
        }
        KaizenEvent::KaizenClosed { .. } => {
            r.status = name(&KaizenStatus::Closed);
            r.closed_at = Some(at);
        }
        KaizenEvent::KaizenReopened { to: KaizenStatus::SavingsVerified, .. } => {
            r.status = name(&KaizenStatus::SavingsVerified);
            r.closed_at = None;
        }
        KaizenEvent::KaizenReopened { to, .. } => {
            r.status = name(to);
            r.verified_at = None;
            r.closed_at = None;
        }
        KaizenEvent::KaizenAuthorAdded { after, .. }
        | KaizenEvent::KaizenAuthorRemoved { after, .. }
        | KaizenEvent::KaizenAuthorSharesChanged { after, .. } => r.authors = after.iter().map(|a| a.member_id.uuid()).collect(),
        KaizenEvent::KaizenTransferred { to, .. } => r.zone_id = to.uuid(),
        KaizenEvent::KaizenDrafted { .. }
        | KaizenEvent::KaizenImpactLineSet { .. }
        | KaizenEvent::KaizenImpactLineRemoved { .. }
        | KaizenEvent::KaizenSavingsAdjusted { .. }
        | KaizenEvent::KaizenDueDateChanged { .. }
        | KaizenEvent::KaizenLinkedToDefect { .. }
        | KaizenEvent::KaizenLinkedToA3 { .. } => {}
    }
}

/// Keeps an actual line as it now stands; a line of another kind is no actual line.
fn set_line(kaizen: &mut Kaizen, line: &ImpactLine) {
    if line.kind == LineKind::Actual {
        kaizen.lines.insert(line.line_id.clone(), serde_json::to_value(line).unwrap_or_default());
    } else {
        kaizen.lines.remove(&line.line_id);
    }
}

/// Appends the ledger rows of `entries` (each line with its sign) for the event `seq`: one
/// row per line, month, classification and currency, so an adjustment that reverses and
/// re-recognises the same month nets in one row.
fn record(kaizen: &mut Kaizen, seq: i64, at: DateTime<Utc>, verification_version: u32, entries: &[(ImpactLine, Decimal)]) {
    let mut rows: BTreeMap<LedgerKey, Decimal> = BTreeMap::new();
    for (line, sign) in entries {
        let Some(money) = &line.money else { continue };
        if line.kind != LineKind::Actual {
            continue;
        }
        for recognition in recognition_schedule(line) {
            let key = (line.line_id.clone(), recognition.month, name(&line.classification), money.currency.as_str().to_owned());
            let amount = recognition.amount * sign;
            rows.entry(key).and_modify(|sum| *sum += amount).or_insert(amount);
        }
    }
    let verification_version = i32::try_from(verification_version).unwrap_or(i32::MAX);
    for (key, amount) in rows {
        append(kaizen, key, amount, verification_version, seq, at);
    }
}

/// Appends, for the event `seq`, a row reversing each sum that stands (not zero), with the
/// latest verification version of what it reverses.
fn reverse(kaizen: &mut Kaizen, seq: i64, at: DateTime<Utc>) {
    let standing: Vec<(LedgerKey, Standing)> =
        kaizen.recognised.iter().filter(|(_, s)| !s.amount.is_zero()).map(|(k, s)| (k.clone(), s.clone())).collect();
    for (key, s) in standing {
        append(kaizen, key, -s.amount, s.verification_version, seq, at);
    }
}

fn append(kaizen: &mut Kaizen, key: LedgerKey, amount: Decimal, verification_version: i32, seq: i64, at: DateTime<Utc>) {
    kaizen
        .recognised
        .entry(key.clone())
        .and_modify(|s| {
            s.amount += amount;
            s.verification_version = s.verification_version.max(verification_version);
        })
        .or_insert(Standing { amount, verification_version });
    let (line_id, recognition_month, classification, currency) = key;
    kaizen.appended.push(LedgerRow {
        entry_seq: seq,
        line_id,
        recognition_month,
        classification,
        currency,
        amount,
        verification_version,
        recorded_at: at,
    });
}

/// Applies a batch of Kaizen events set-based: one statement per table reads what the batch
/// touches (register rows, actual lines, and the ledger's sums for kaizens the batch
/// reopens), the events are folded in memory in order, and one statement per table writes
/// the changes (register upsert, line deletes and upserts, ledger appends).
pub async fn apply_all(conn: &mut PgConnection, org: Uuid, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
    let (decoded, ids) = fold::decode::<KaizenEvent>(events)?;
    if ids.is_empty() {
        return Ok(());
    }
    let before = load(conn, org, &ids, &decoded).await?;
    let mut kaizens = before.clone();
    for (stored, e) in events.iter().zip(decoded) {
        fold(kaizens.entry(e.id).or_default(), e.id, e.event, e.seq, e.at).map_err(|error| ProjectionError::Unreadable {
            tenant_seq: stored.tenant_seq,
            event_type: stored.event_type.clone(),
            message: format!("a stored impact line: {error}"),
        })?;
    }
    write(conn, org, &before, &kaizens).await?;
    Ok(())
}

type Kaizens = BTreeMap<Uuid, Kaizen>;

/// What the database holds of the kaizens `ids` (the ledger's sums only for kaizens that
/// `events` reopen: nothing else reads them).
async fn load(conn: &mut PgConnection, org: Uuid, ids: &[Uuid], events: &[fold::Decoded<KaizenEvent>]) -> Result<Kaizens, ProjectionError> {
    let mut kaizens: Kaizens = ids.iter().map(|id| (*id, Kaizen::default())).collect();
    let rows: Vec<Entry> = sqlx::query_as(&format!("select {COLUMNS} from kaizen_register where org_id = $1 and kaizen_id = any($2)"))
        .bind(org)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        let id = row.kaizen_id;
        kaizens.entry(id).or_default().register = Some(row);
    }
    let lines: Vec<(Uuid, String, serde_json::Value)> =
        sqlx::query_as("select kaizen_id, line_id, line from kaizen_actual_lines where org_id = $1 and kaizen_id = any($2)")
            .bind(org)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    for (kaizen, line_id, line) in lines {
        kaizens.entry(kaizen).or_default().lines.insert(line_id, line);
    }
    let mut reopened: Vec<Uuid> = events.iter().filter(|e| matches!(e.event, KaizenEvent::KaizenReopened { .. })).map(|e| e.id).collect();
    reopened.sort_unstable();
    reopened.dedup();
    if !reopened.is_empty() {
        let sums: Vec<(Uuid, String, NaiveDate, String, String, String, i32)> = sqlx::query_as(
            "select kaizen_id, line_id, recognition_month, classification, currency, sum(amount)::text, max(verification_version)
               from kaizen_impact_ledger where org_id = $1 and kaizen_id = any($2)
              group by kaizen_id, line_id, recognition_month, classification, currency",
        )
        .bind(org)
        .bind(&reopened)
        .fetch_all(&mut *conn)
        .await?;
        for (kaizen, line_id, month, classification, currency, amount, verification_version) in sums {
            let amount = amount.parse::<Decimal>().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            kaizens
                .entry(kaizen)
                .or_default()
                .recognised
                .insert((line_id, month, classification, currency), Standing { amount, verification_version });
        }
    }
    Ok(kaizens)
}

/// Writes what the fold changed: the register rows that differ, the actual lines removed
/// and set, and the appended ledger rows; one statement each.
async fn write(conn: &mut PgConnection, org: Uuid, before: &Kaizens, after: &Kaizens) -> Result<(), sqlx::Error> {
    let unchanged = Kaizen::default();
    let mut registers = Vec::new();
    let (mut removed, mut set) = (Vec::new(), Vec::new());
    let mut ledger = Vec::new();
    for (id, kaizen) in after {
        let old = before.get(id).unwrap_or(&unchanged);
        if let Some(row) = &kaizen.register
            && old.register.as_ref() != Some(row)
        {
            registers.push(row);
        }
        removed.extend(old.lines.keys().filter(|line| !kaizen.lines.contains_key(*line)).map(|line| (*id, line)));
        set.extend(kaizen.lines.iter().filter(|(line, value)| old.lines.get(*line) != Some(value)).map(|(line, value)| (*id, line, value)));
        ledger.extend(kaizen.appended.iter().map(|row| (*id, row)));
    }
    if !registers.is_empty() {
        macro_rules! column {
            ($field:ident) => {
                registers.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
            };
        }
        // `authors` goes as one array literal per row: unnest would flatten an array of arrays.
        let authors: Vec<String> =
            registers.iter().map(|r| format!("{{{}}}", r.authors.iter().map(Uuid::to_string).collect::<Vec<_>>().join(","))).collect();
        sqlx::query(&format!(
            "insert into kaizen_register (org_id, {COLUMNS})
             select $1, k, z, t, c, s, a::uuid[], d, su, fr, im, j, v, cl
               from unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
                           $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::bool[], $13::timestamptz[],
                           $14::timestamptz[]) as r(k, z, t, c, s, a, d, su, fr, im, j, v, cl)
             on conflict (org_id, kaizen_id) do update set
                zone_id = excluded.zone_id, title = excluded.title, category = excluded.category, status = excluded.status,
                authors = excluded.authors, drafted_at = excluded.drafted_at, submitted_at = excluded.submitted_at,
                first_response_at = excluded.first_response_at, implemented_at = excluded.implemented_at,
                just_do_it = excluded.just_do_it, verified_at = excluded.verified_at, closed_at = excluded.closed_at"
        ))
        .bind(org)
        .bind(column!(kaizen_id))
        .bind(column!(zone_id))
        .bind(column!(title))
        .bind(column!(category))
        .bind(column!(status))
        .bind(authors)
        .bind(column!(drafted_at))
        .bind(column!(submitted_at))
        .bind(column!(first_response_at))
        .bind(column!(implemented_at))
        .bind(column!(just_do_it))
        .bind(column!(verified_at))
        .bind(column!(closed_at))
        .execute(&mut *conn)
        .await?;
    }
    if !removed.is_empty() {
        sqlx::query(
            "delete from kaizen_actual_lines l using unnest($2::uuid[], $3::text[]) as r(k, line)
              where l.org_id = $1 and l.kaizen_id = r.k and l.line_id = r.line",
        )
        .bind(org)
        .bind(removed.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(removed.iter().map(|(_, line)| (*line).clone()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !set.is_empty() {
        sqlx::query(
            "insert into kaizen_actual_lines (org_id, kaizen_id, line_id, line)
             select $1, * from unnest($2::uuid[], $3::text[], $4::jsonb[])
             on conflict (org_id, kaizen_id, line_id) do update set line = excluded.line",
        )
        .bind(org)
        .bind(set.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
        .bind(set.iter().map(|(_, line, _)| (*line).clone()).collect::<Vec<_>>())
        .bind(set.iter().map(|(_, _, value)| (*value).clone()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !ledger.is_empty() {
        sqlx::query(
            "insert into kaizen_impact_ledger (org_id, kaizen_id, entry_seq, line_id, recognition_month, classification, currency, amount,
                                               verification_version, recorded_at)
             select $1, k, s, l, m, c, cu, a::numeric, v, at
               from unnest($2::uuid[], $3::bigint[], $4::text[], $5::date[], $6::text[], $7::text[], $8::text[], $9::int[],
                           $10::timestamptz[]) as r(k, s, l, m, c, cu, a, v, at)",
        )
        .bind(org)
        .bind(ledger.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.entry_seq).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.line_id.clone()).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.recognition_month).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.classification.clone()).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.currency.clone()).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.amount.to_string()).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.verification_version).collect::<Vec<_>>())
        .bind(ledger.iter().map(|(_, r)| r.recorded_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
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
          where org_id = $1 and ($2::uuid is null or kaizen_id > $2)
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
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;
    use gemba_domain::kaizen::{Currency, Money, Period};
    use serde_json::{Value, json};

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

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
    }

    fn event(value: Value) -> KaizenEvent {
        serde_json::from_value(value).unwrap()
    }

    fn reason(text: &str) -> Value {
        json!({"code": "other", "text": text})
    }

    fn actual(id: &str, classification: Classification, amount: &str, recurrence: Recurrence) -> ImpactLine {
        ImpactLine { line_id: id.to_owned(), ..line(classification, amount, recurrence) }
    }

    fn drafted(author: Uuid) -> KaizenEvent {
        event(
            json!({"KaizenDrafted": {"kaizen_id": Uuid::nil(), "zone_id": Uuid::nil(), "title": "Quick-change clamps", "category": "cost",
                                       "problem": "40 min changeovers", "proposal": "hydraulic clamps", "author": author}}),
        )
    }

    fn line_set(line: &ImpactLine) -> KaizenEvent {
        event(json!({"KaizenImpactLineSet": {"before": null, "after": line, "reason": null}}))
    }

    fn verified(version: u32, on: i64) -> KaizenEvent {
        event(json!({"KaizenSavingsVerified": {"verified_by": Uuid::nil(), "verified_at": at(on), "totals": {"hard": {}, "soft": {}},
                                               "verification_version": version, "authors": []}}))
    }

    fn adjusted(before: &ImpactLine, after: &ImpactLine, version: u32) -> KaizenEvent {
        let totals = json!({"hard": {}, "soft": {}});
        event(json!({"KaizenSavingsAdjusted": {"line_before": before, "line_after": after, "totals_before": totals, "totals_after": totals,
                                               "delta": totals, "verification_version": version, "adjusted_by": Uuid::nil(),
                                               "adjusted_at": at(0), "reason": reason("invoice")}}))
    }

    fn reopened(to: &str) -> KaizenEvent {
        event(json!({"KaizenReopened": {"to": to, "reason": reason("not sustained"), "authors": [], "implementers": []}}))
    }

    /// Folds `events` with `tenant_seq` (and time) `from`, `from + 1`, …
    fn fold_all(kaizen: &mut Kaizen, from: i64, events: Vec<KaizenEvent>) {
        for (seq, e) in (from..).zip(events) {
            fold(kaizen, Uuid::nil(), e, seq, at(seq)).unwrap();
        }
    }

    /// The appended rows as `(entry_seq, line, month, classification, amount, version)`.
    fn rows(kaizen: &Kaizen) -> Vec<(i64, String, String, String, String, i32)> {
        kaizen
            .appended
            .iter()
            .map(|r| {
                assert_eq!((r.currency.as_str(), r.recorded_at), ("EUR", at(r.entry_seq)));
                (
                    r.entry_seq,
                    r.line_id.clone(),
                    r.recognition_month.format("%Y-%m").to_string(),
                    r.classification.clone(),
                    r.amount.to_string(),
                    r.verification_version,
                )
            })
            .collect()
    }

    fn row(seq: i64, line: &str, month: &str, class: &str, amount: &str, version: i32) -> (i64, String, String, String, String, i32) {
        (seq, line.to_owned(), month.to_owned(), class.to_owned(), amount.to_owned(), version)
    }

    #[test]
    fn the_register_row_keeps_first_submission_first_response_and_first_implementation() {
        let (author, co, zone) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut k = Kaizen::default();
        fold(&mut k, Uuid::nil(), event(json!({"KaizenSubmitted": {"submitted_at": at(1)}})), 1, at(1)).unwrap();
        assert_eq!(k.register, None, "nothing before the draft");
        let shares = json!([{"member_id": author, "share_pct": 50}, {"member_id": co, "share_pct": 50}]);
        let steps = [
            (drafted(author), 10),
            (event(json!({"KaizenDraftEdited": {"before": {}, "after": {"title": "Hydraulic die clamps"}}})), 11),
            (event(json!({"KaizenSubmitted": {"submitted_at": at(12)}})), 12),
            (event(json!({"KaizenReviewStarted": {"reviewer": co}})), 13),
            (event(json!({"KaizenDeferred": {"reason": reason("budget")}})), 14),
            (event(json!({"KaizenReactivated": {"reviewer_before": co, "reviewer": author}})), 15),
            (event(json!({"KaizenContentChanged": {"before": {}, "after": {"category": "quality"}, "reason": reason("scrap")}})), 16),
            (event(json!({"KaizenAuthorAdded": {"member_id": co, "before": [], "after": shares}})), 17),
            (event(json!({"KaizenApproved": {"implementers": [co], "due_at": null}})), 18),
            (event(json!({"KaizenTransferred": {"from": Uuid::nil(), "to": zone, "reason": reason("moved")}})), 19),
            (event(json!("KaizenImplementationStarted")), 20),
            (event(json!({"KaizenImplemented": {"implemented_at": at(21), "just_do_it": false}})), 21),
            (event(json!({"KaizenImplemented": {"implemented_at": at(22), "just_do_it": true}})), 22),
            (event(json!({"KaizenDueDateChanged": {"before": null, "after": at(99), "reason": reason("late")}})), 23),
        ];
        for (e, n) in steps {
            fold(&mut k, Uuid::nil(), e, n, at(n)).unwrap();
        }
        assert_eq!(
            k.register,
            Some(Entry {
                kaizen_id: Uuid::nil(),
                zone_id: zone,
                title: "Hydraulic die clamps".to_owned(),
                category: "quality".to_owned(),
                status: "IMPLEMENTED".to_owned(),
                authors: vec![author, co],
                drafted_at: at(10),
                submitted_at: Some(at(12)),
                first_response_at: Some(at(13)),
                implemented_at: Some(at(21)),
                just_do_it: true,
                verified_at: None,
                closed_at: None,
            })
        );
        assert!(k.lines.is_empty() && k.appended.is_empty());
    }

    #[test]
    fn a_verification_recognises_the_actual_lines_standing_after_a_declined_submission_was_corrected() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let hard = actual("a1", Classification::Hard, "1250.50", Recurrence::OneTime { realized_on: day("2026-03-17") });
        let soft = actual(
            "a2",
            Classification::Soft,
            "300",
            Recurrence::Recurring { period: Period::Quarter, start_on: day("2026-01-10"), end_on: Some(day("2026-03-02")) },
        );
        let dropped = actual("a3", Classification::Hard, "999", Recurrence::OneTime { realized_on: day("2026-02-01") });
        let forecast = ImpactLine { kind: LineKind::Forecast, ..actual("f1", Classification::Hard, "5000", hard.recurrence.clone()) };
        let mut k = Kaizen::default();
        let first_try =
            ImpactLine { money: Some(Money { amount: "2000".parse().unwrap(), currency: Currency::default() }), ..hard.clone() };
        fold_all(
            &mut k,
            100,
            vec![
                drafted(Uuid::now_v7()),
                line_set(&first_try),
                line_set(&dropped),
                line_set(&forecast),
                event(json!({"KaizenImpactSubmitted": {"actual": {"hard": {}, "soft": {}}}})),
                event(json!({"KaizenSavingsVerificationDeclined": {"reason": reason("no invoice")}})),
            ],
        );
        assert_eq!(k.register.as_ref().map(|r| r.status.as_str()), Some("IMPLEMENTED"));
        assert!(k.appended.is_empty(), "a declined verification recognises nothing");
        let removed = event(json!({"KaizenImpactLineRemoved": {"line": dropped, "reason": reason("double counted")}}));
        fold_all(&mut k, 110, vec![line_set(&hard), line_set(&soft), removed, verified(1, 5)]);
        assert_eq!(k.lines.keys().collect::<Vec<_>>(), ["a1", "a2"], "only actual lines are kept; the removed one is gone");
        assert_eq!(k.register.as_ref().map(|r| (r.status.as_str(), r.verified_at)), Some(("SAVINGS_VERIFIED", Some(at(5)))));
        assert_eq!(
            rows(&k),
            [
                row(113, "a1", "2026-03", "hard", "1250.50", 1),
                row(113, "a2", "2026-01", "soft", "100", 1),
                row(113, "a2", "2026-02", "soft", "100", 1),
                row(113, "a2", "2026-03", "soft", "100", 1),
            ]
        );
        let standing = &k.recognised[&("a1".to_owned(), day("2026-03-01"), "hard".to_owned(), "EUR".to_owned())];
        assert_eq!((standing.amount.to_string(), standing.verification_version), ("1250.50".to_owned(), 1));
    }

    #[test]
    fn an_adjustment_nets_per_month_and_a_reopening_before_verification_reverses_what_stands() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let before = actual("a1", Classification::Hard, "1250.50", Recurrence::OneTime { realized_on: day("2026-03-17") });
        let lower =
            ImpactLine { money: Some(Money { amount: "1000.00".parse().unwrap(), currency: Currency::default() }), ..before.clone() };
        let soft = ImpactLine { classification: Classification::Soft, ..lower.clone() };
        let explained = ImpactLine { calculation: None, ..soft.clone() };
        // What earlier batches recorded: 1250.50 in March 2026, verification 1.
        let mut k = Kaizen::default();
        k.lines.insert("a1".to_owned(), serde_json::to_value(&before).unwrap());
        k.recognised.insert(
            ("a1".to_owned(), day("2026-03-01"), "hard".to_owned(), "EUR".to_owned()),
            Standing { amount: "1250.50".parse().unwrap(), verification_version: 1 },
        );
        fold_all(&mut k, 100, vec![adjusted(&before, &lower, 2), adjusted(&lower, &soft, 3), adjusted(&soft, &explained, 4)]);
        assert_eq!(
            rows(&k),
            [
                row(100, "a1", "2026-03", "hard", "-250.50", 2),
                row(101, "a1", "2026-03", "hard", "-1000.00", 3),
                row(101, "a1", "2026-03", "soft", "1000.00", 3),
                row(102, "a1", "2026-03", "soft", "0.00", 4),
            ],
            "one row per month and classification; an adjustment that moves no amount still records its zero row"
        );
        assert_eq!(k.lines["a1"], serde_json::to_value(&explained).unwrap(), "the line as adjusted stands");

        k.appended.clear();
        fold_all(&mut k, 103, vec![reopened("IMPLEMENTED"), reopened("IMPLEMENTED")]);
        assert_eq!(
            rows(&k),
            [row(103, "a1", "2026-03", "soft", "-1000.00", 4)],
            "only sums that stand are reversed (hard nets to zero), with the latest version; a second reopening finds nothing"
        );
    }

    #[test]
    fn reopening_to_verified_keeps_the_verification_and_its_ledger() {
        let mut k = Kaizen::default();
        let line = actual("a1", Classification::Hard, "100", Recurrence::OneTime { realized_on: NaiveDate::default() });
        fold_all(
            &mut k,
            100,
            vec![drafted(Uuid::now_v7()), line_set(&line), verified(1, 2), event(json!({"KaizenClosed": {"from": "SAVINGS_VERIFIED"}}))],
        );
        assert_eq!(k.register.as_ref().map(|r| (r.status.as_str(), r.closed_at)), Some(("CLOSED", Some(at(103)))));
        fold_all(&mut k, 104, vec![reopened("SAVINGS_VERIFIED")]);
        assert_eq!(
            k.register.as_ref().map(|r| (r.status.as_str(), r.verified_at, r.closed_at)),
            Some(("SAVINGS_VERIFIED", Some(at(2)), None))
        );
        assert_eq!(k.appended.len(), 1, "nothing reversed");
        fold_all(&mut k, 105, vec![event(json!({"KaizenClosed": {"from": "SAVINGS_VERIFIED"}})), reopened("IMPLEMENTED")]);
        let r = k.register.clone().unwrap();
        assert_eq!((r.status.as_str(), r.verified_at, r.closed_at), ("IMPLEMENTED", None, None));
        assert_eq!(k.appended.last().map(|r| r.amount.to_string()), Some("-100".to_owned()));
    }

    #[test]
    fn a_stored_line_that_does_not_read_stops_the_verification() {
        let mut k = Kaizen::default();
        k.lines.insert("a1".to_owned(), json!({"line_id": "a1"}));
        assert!(fold(&mut k, Uuid::nil(), verified(1, 0), 1, at(1)).is_err());
    }
}
