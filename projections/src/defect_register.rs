//! The `defect_register` read model (reference/domain.md §5.2): one row per defect with its
//! current state and lifecycle timestamps, kept by the projector from the Defect events.
//!
//! The projection is a pure fold ([`fold`]) of a defect's events into its row; the projector
//! applies a whole batch with two statements ([`apply_all`]), live and in rebuilds alike.

use chrono::{DateTime, Utc};
use gemba_domain::defect::DefectEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};
use crate::fold;

/// Every column of a register row (but `org_id`), as the projection folds it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub defect_id: Uuid,
    pub zone_id: Uuid,
    pub status: String,
    pub priority: String,
    pub abnormality_type: String,
    pub tag_class: String,
    pub origin: String,
    pub title: String,
    pub found_by: Uuid,
    pub assignee_id: Option<Uuid>,
    pub raised_at: DateTime<Utc>,
    pub first_assigned_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub original_due_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
    pub verified_by: Option<Uuid>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub hold_started_at: Option<DateTime<Utc>>,
    pub hold_seconds: i64,
    pub reopen_count: i32,
    pub escalation_level: i32,
}

const COLUMNS: &str = "defect_id, zone_id, status, priority, abnormality_type, tag_class, origin, title, found_by, assignee_id, raised_at,
     first_assigned_at, due_at, original_due_at, resolved_at, resolved_by, closed_at, verified_by, cancelled_at, hold_started_at,
     hold_seconds, reopen_count, escalation_level";

/// Whole seconds from `from` to `to`, rounded half away from zero.
fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let micros = (to - from).num_microseconds().unwrap_or(i64::MAX);
    let whole = micros / 1_000_000;
    let rest = micros % 1_000_000;
    whole
        + if rest >= 500_000 {
            1
        } else if rest <= -500_000 {
            -1
        } else {
            0
        }
}

/// Folds one Defect event, recorded at `at`, into the defect's row (pure). A defect is
/// created by `DefectRaised` (once); events of a defect without a row change nothing.
pub fn fold(row: &mut Option<Entry>, defect: Uuid, event: DefectEvent, at: DateTime<Utc>) {
    if let DefectEvent::DefectRaised { zone_id, abnormality_type, tag_class, priority, title, origin, found_by, found_at, .. } = event {
        if row.is_none() {
            *row = Some(Entry {
                defect_id: defect,
                zone_id: zone_id.uuid(),
                status: "OPEN".to_owned(),
                priority: name(&priority),
                abnormality_type: name(&abnormality_type),
                tag_class: name(&tag_class),
                origin: name(&origin),
                title: title.as_str().to_owned(),
                found_by: found_by.uuid(),
                assignee_id: None,
                raised_at: found_at,
                first_assigned_at: None,
                due_at: None,
                original_due_at: None,
                resolved_at: None,
                resolved_by: None,
                closed_at: None,
                verified_by: None,
                cancelled_at: None,
                hold_started_at: None,
                hold_seconds: 0,
                reopen_count: 0,
                escalation_level: 0,
            });
        }
        return;
    }
    let Some(r) = row.as_mut() else { return };
    match event {
        DefectEvent::DefectRaised { .. } => {}
        DefectEvent::DefectAssigned { assignee, due_at, .. } => {
            r.status = "ASSIGNED".to_owned();
            r.assignee_id = Some(assignee.uuid());
            r.due_at = Some(due_at);
            r.original_due_at = r.original_due_at.or(Some(due_at));
            r.first_assigned_at = r.first_assigned_at.or(Some(at));
        }
        DefectEvent::DefectReassigned { after, .. } => r.assignee_id = Some(after.uuid()),
        DefectEvent::DefectDueDateChanged { after, .. } => r.due_at = Some(after),
        DefectEvent::DefectWorkStarted => r.status = "IN_PROGRESS".to_owned(),
        DefectEvent::DefectPutOnHold { .. } => {
            r.status = "ON_HOLD".to_owned();
            r.hold_started_at = Some(at);
        }
        DefectEvent::DefectResumed { to } => {
            r.status = name(&to);
            if let Some(started) = r.hold_started_at.take() {
                r.hold_seconds += seconds_between(started, at);
            }
        }
        DefectEvent::DefectResolved { resolved_by, resolved_at, .. } => {
            r.status = "RESOLVED".to_owned();
            r.resolved_by = Some(resolved_by.uuid());
            r.resolved_at = Some(resolved_at);
        }
        DefectEvent::DefectClosed { verified_by, verified_at, .. } => {
            r.status = "CLOSED".to_owned();
            r.verified_by = Some(verified_by.uuid());
            r.closed_at = Some(verified_at);
        }
        DefectEvent::DefectVerificationFailed { .. } => {
            r.status = "ASSIGNED".to_owned();
            r.resolved_at = None;
            r.resolved_by = None;
        }
        DefectEvent::DefectReopened { .. } => {
            r.status = "ASSIGNED".to_owned();
            r.closed_at = None;
            r.verified_by = None;
            r.resolved_at = None;
            r.resolved_by = None;
            r.reopen_count += 1;
        }
        DefectEvent::DefectCancelled { .. } => {
            r.status = "CANCELLED".to_owned();
            r.cancelled_at = Some(at);
        }
        DefectEvent::DefectEscalated { to_level, .. } => {
            r.escalation_level = r.escalation_level.max(i32::try_from(to_level).unwrap_or(i32::MAX));
        }
        DefectEvent::DefectSuggestionAccepted { after, .. } => r.abnormality_type = name(&after),
        DefectEvent::DefectReclassified { abnormality_type, tag_class, priority, .. } => {
            r.abnormality_type = name(&abnormality_type.1);
            r.tag_class = name(&tag_class.1);
            r.priority = name(&priority.1);
        }
        DefectEvent::DefectTransferred { to, .. } => r.zone_id = to.uuid(),
        DefectEvent::DefectContainmentRecorded { .. }
        | DefectEvent::DefectCountermeasureRecorded { .. }
        | DefectEvent::DefectEvidenceAttached { .. }
        | DefectEvent::DefectCommented { .. }
        | DefectEvent::DefectLinkedToA3 { .. }
        | DefectEvent::DefectLinkedToKaizen { .. }
        | DefectEvent::DefectWorkOrderLinked { .. }
        | DefectEvent::DefectTypeSuggested { .. }
        | DefectEvent::DefectSuggestionRejected { .. } => {}
    }
}

/// Applies a batch of Defect events set-based: one statement reads the rows the batch
/// touches, the events are folded in memory in order, one statement writes the rows back.
pub async fn apply_all(conn: &mut PgConnection, org: Uuid, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
    let (events, ids) = fold::decode::<DefectEvent>(events)?;
    if ids.is_empty() {
        return Ok(());
    }
    let stored: Vec<Entry> = sqlx::query_as(&format!("select {COLUMNS} from defect_register where org_id = $1 and defect_id = any($2)"))
        .bind(org)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let changed = fold::fold_rows(stored, |r| r.defect_id, events, |row, e| fold(row, e.id, e.event, e.at));
    write(conn, org, &changed).await?;
    Ok(())
}

/// Inserts or replaces `rows` in one statement.
async fn write(conn: &mut PgConnection, org: Uuid, rows: &[Entry]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($field:ident) => {
            rows.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(&format!(
        "insert into defect_register (org_id, {COLUMNS})
         select $1, * from unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                                  $10::uuid[], $11::uuid[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
                                  $15::timestamptz[], $16::timestamptz[], $17::uuid[], $18::timestamptz[], $19::uuid[],
                                  $20::timestamptz[], $21::timestamptz[], $22::bigint[], $23::int[], $24::int[])
         on conflict (org_id, defect_id) do update set
            zone_id = excluded.zone_id, status = excluded.status, priority = excluded.priority,
            abnormality_type = excluded.abnormality_type, tag_class = excluded.tag_class, origin = excluded.origin,
            title = excluded.title, found_by = excluded.found_by, assignee_id = excluded.assignee_id,
            raised_at = excluded.raised_at, first_assigned_at = excluded.first_assigned_at, due_at = excluded.due_at,
            original_due_at = excluded.original_due_at, resolved_at = excluded.resolved_at, resolved_by = excluded.resolved_by,
            closed_at = excluded.closed_at, verified_by = excluded.verified_by, cancelled_at = excluded.cancelled_at,
            hold_started_at = excluded.hold_started_at, hold_seconds = excluded.hold_seconds,
            reopen_count = excluded.reopen_count, escalation_level = excluded.escalation_level"
    ))
    .bind(org)
    .bind(column!(defect_id))
    .bind(column!(zone_id))
    .bind(column!(status))
    .bind(column!(priority))
    .bind(column!(abnormality_type))
    .bind(column!(tag_class))
    .bind(column!(origin))
    .bind(column!(title))
    .bind(column!(found_by))
    .bind(column!(assignee_id))
    .bind(column!(raised_at))
    .bind(column!(first_assigned_at))
    .bind(column!(due_at))
    .bind(column!(original_due_at))
    .bind(column!(resolved_at))
    .bind(column!(resolved_by))
    .bind(column!(closed_at))
    .bind(column!(verified_by))
    .bind(column!(cancelled_at))
    .bind(column!(hold_started_at))
    .bind(column!(hold_seconds))
    .bind(column!(reopen_count))
    .bind(column!(escalation_level))
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the register.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DefectRow {
    pub defect_id: Uuid,
    pub zone_id: Uuid,
    pub status: String,
    pub priority: String,
    pub abnormality_type: String,
    pub tag_class: String,
    pub title: String,
    pub assignee_id: Option<Uuid>,
    pub raised_at: chrono::DateTime<chrono::Utc>,
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub original_due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub reopen_count: i32,
    pub escalation_level: i32,
}

/// Filters of the register; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct DefectFilter {
    pub statuses: Option<Vec<String>>,
    pub zone: Option<Uuid>,
    pub site: Option<Uuid>,
    pub priority: Option<String>,
    pub abnormality_type: Option<String>,
    pub tag_class: Option<String>,
    pub assignee: Option<Uuid>,
    /// Raised in `[raised_from, raised_to)`.
    pub raised_from: Option<chrono::DateTime<chrono::Utc>>,
    pub raised_to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of the register in creation order (defect ids are time-ordered), after `after`.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    filter: &DefectFilter,
    after: Option<Uuid>,
    first: i64,
) -> Result<Vec<DefectRow>, sqlx::Error> {
    sqlx::query_as(
        "select defect_id, zone_id, status, priority, abnormality_type, tag_class, title, assignee_id, raised_at, due_at,
                original_due_at, closed_at, reopen_count, escalation_level
           from defect_register
          where org_id = $1 and ($2::uuid is null or defect_id > $2)
            and ($3::text[] is null or status = any($3)) and ($4::uuid is null or zone_id = $4)
            and ($5::text is null or priority = $5) and ($6::uuid is null or assignee_id = $6)
            and ($8::uuid is null or zone_id in (select zone_id from zones z where z.org_id = $1 and z.site_id = $8))
            and ($9::text is null or abnormality_type = $9) and ($10::text is null or tag_class = $10)
            and ($11::timestamptz is null or raised_at >= $11) and ($12::timestamptz is null or raised_at < $12)
          order by defect_id limit $7",
    )
    .bind(org)
    .bind(after)
    .bind(&filter.statuses)
    .bind(filter.zone)
    .bind(&filter.priority)
    .bind(filter.assignee)
    .bind(first + 1)
    .bind(filter.site)
    .bind(&filter.abnormality_type)
    .bind(&filter.tag_class)
    .bind(filter.raised_from)
    .bind(filter.raised_to)
    .fetch_all(conn)
    .await
}

/// A change of a defect: the defect as the register shows it, and the position
/// (`tenant_seq`) of its latest event within the range asked for.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ZoneChange {
    pub position: i64,
    #[sqlx(flatten)]
    pub defect: DefectRow,
}

/// The defects of `zone` changed by events in `(after, upto]`, one per defect with its
/// latest position there, in position order. Defects transferred out of the zone in that
/// range are included (their row then names the new zone). Call it in a transaction whose
/// snapshot has the register at `upto` (its checkpoint), so rows and positions agree.
pub async fn zone_changes(conn: &mut PgConnection, org: Uuid, zone: Uuid, after: i64, upto: i64) -> Result<Vec<ZoneChange>, sqlx::Error> {
    sqlx::query_as(
        "with changed as (
             select aggregate_id, max(tenant_seq) as position,
                    bool_or(event_type = 'DefectTransferred' and payload #>> '{DefectTransferred,from}' = $2::text) as left_zone
               from events
              where org_id = $1 and aggregate_type = 'Defect' and tenant_seq > $3 and tenant_seq <= $4
              group by aggregate_id)
         select c.position, r.defect_id, r.zone_id, r.status, r.priority, r.abnormality_type, r.tag_class, r.title, r.assignee_id,
                r.raised_at, r.due_at, r.original_due_at, r.closed_at, r.reopen_count, r.escalation_level
           from changed c
           join defect_register r on r.org_id = $1 and r.defect_id = c.aggregate_id::uuid
          where r.zone_id = $2 or c.left_zone
          order by c.position",
    )
    .bind(org)
    .bind(zone)
    .bind(after)
    .bind(upto)
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;
    use gemba_domain::defect::{AbnormalityType, DefectEvent, Origin, Priority, TagClass};
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::{Entry, fold};

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
    }

    fn event(value: Value) -> DefectEvent {
        serde_json::from_value(value).unwrap()
    }

    fn raised(zone: Uuid, found_by: Uuid) -> DefectEvent {
        event(json!({"DefectRaised": {
            "defect_id": Uuid::nil(), "zone_id": zone, "abnormality_type": AbnormalityType::MinorFlaw, "tag_class": TagClass::Operator,
            "priority": Priority::B, "title": "Oil leak", "description": "drips", "origin": Origin::GembaWalk,
            "evidence_before": [], "found_by": found_by, "found_at": at(0)}}))
    }

    fn fold_all(events: Vec<(DefectEvent, i64)>) -> Option<Entry> {
        let mut row = None;
        for (e, seconds) in events {
            fold(&mut row, Uuid::nil(), e, at(seconds));
        }
        row
    }

    #[test]
    fn events_before_the_defect_is_raised_change_nothing_and_a_second_raise_is_ignored() {
        let (zone, finder) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(fold_all(vec![(event(json!("DefectWorkStarted")), 1)]), None);
        let row = fold_all(vec![(raised(zone, finder), 0), (raised(Uuid::now_v7(), finder), 5)]).unwrap();
        assert_eq!((row.zone_id, row.status.as_str(), row.priority.as_str(), row.raised_at), (zone, "OPEN", "B", at(0)));
    }

    #[test]
    fn the_original_due_date_and_first_assignment_are_kept_through_reassignments_and_due_date_changes() {
        let (zone, finder, fixer, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let row = fold_all(vec![
            (raised(zone, finder), 0),
            (event(json!({"DefectAssigned": {"assignee": fixer, "due_at": at(100), "original_due_at": null}})), 10),
            (event(json!({"DefectAssigned": {"assignee": other, "due_at": at(200), "original_due_at": at(100)}})), 20),
            (event(json!({"DefectDueDateChanged": {"before": at(200), "after": at(300), "reason": {"code": "other", "text": "parts late"}}})), 30),
        ])
        .unwrap();
        assert_eq!(row.assignee_id, Some(other));
        assert_eq!((row.due_at, row.original_due_at, row.first_assigned_at), (Some(at(300)), Some(at(100)), Some(at(10))));
    }

    #[test]
    fn hold_time_adds_up_in_whole_seconds_and_reopening_clears_the_closure() {
        let (zone, finder, fixer) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut row = fold_all(vec![(raised(zone, finder), 0)]);
        let hold = |text: &str| event(json!({"DefectPutOnHold": {"from": "OPEN", "hold_reason": "waiting_parts", "text": text}}));
        fold(&mut row, Uuid::nil(), hold("parts"), at(10));
        let resumed = chrono::Utc.timestamp_opt(1_790_000_000 + 70, 600_000_000).unwrap();
        fold(&mut row, Uuid::nil(), event(json!({"DefectResumed": {"to": "OPEN"}})), resumed);
        let r = row.clone().unwrap();
        assert_eq!((r.status.as_str(), r.hold_seconds, r.hold_started_at), ("OPEN", 61, None), "60.6 s rounds to 61");
        fold(
            &mut row,
            Uuid::nil(),
            event(json!({"DefectClosed": {"verified_by": fixer, "verified_at": at(500), "note": null, "signature_meaning": "verified",
                                          "resolved_by": null, "found_by": null, "original_due_at": null}})),
            at(500),
        );
        assert_eq!(row.as_ref().map(|r| (r.status.as_str(), r.closed_at)), Some(("CLOSED", Some(at(500)))));
        fold(
            &mut row,
            Uuid::nil(),
            event(json!({"DefectReopened": {"reason": {"code": "other", "text": "leaks again"}, "recurrence": true}})),
            at(600),
        );
        let r = row.unwrap();
        assert_eq!((r.status.as_str(), r.closed_at, r.verified_by, r.reopen_count), ("ASSIGNED", None, None, 1));
    }
}
