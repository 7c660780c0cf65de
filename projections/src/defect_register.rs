//! The `defect_register` read model (reference/domain.md §5.2): one row per defect with its
//! current state and lifecycle timestamps, kept by the projector from the Defect events.

use gemba_domain::defect::DefectEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};

/// Applies one Defect event.
pub async fn apply(conn: &mut PgConnection, org: Uuid, event: &StoredEvent) -> Result<(), ProjectionError> {
    let defect = event.entity()?;
    let at = event.recorded_at;
    let update = |sql: &'static str| sqlx::query(sql).bind(org).bind(defect);
    let query = match event.decode::<DefectEvent>()? {
        DefectEvent::DefectRaised { zone_id, abnormality_type, tag_class, priority, title, origin, found_by, found_at, .. } => {
            sqlx::query(
                "insert into defect_register (org_id, defect_id, zone_id, status, priority, abnormality_type, tag_class, origin, title,
                                              found_by, raised_at)
                 values ($1, $2, $3, 'OPEN', $4, $5, $6, $7, $8, $9, $10) on conflict (org_id, defect_id) do nothing",
            )
            .bind(org)
            .bind(defect)
            .bind(zone_id.uuid())
            .bind(name(&priority))
            .bind(name(&abnormality_type))
            .bind(name(&tag_class))
            .bind(name(&origin))
            .bind(title.as_str().to_owned())
            .bind(found_by.uuid())
            .bind(found_at)
        }
        DefectEvent::DefectAssigned { assignee, due_at, .. } => update(
            "update defect_register set status = 'ASSIGNED', assignee_id = $3, due_at = $4, original_due_at = coalesce(original_due_at, $4),
                    first_assigned_at = coalesce(first_assigned_at, $5) where org_id = $1 and defect_id = $2",
        )
        .bind(assignee.uuid())
        .bind(due_at)
        .bind(at),
        DefectEvent::DefectReassigned { after, .. } => {
            update("update defect_register set assignee_id = $3 where org_id = $1 and defect_id = $2").bind(after.uuid())
        }
        DefectEvent::DefectDueDateChanged { after, .. } => {
            update("update defect_register set due_at = $3 where org_id = $1 and defect_id = $2").bind(after)
        }
        DefectEvent::DefectWorkStarted => update("update defect_register set status = 'IN_PROGRESS' where org_id = $1 and defect_id = $2"),
        DefectEvent::DefectPutOnHold { .. } => {
            update("update defect_register set status = 'ON_HOLD', hold_started_at = $3 where org_id = $1 and defect_id = $2").bind(at)
        }
        DefectEvent::DefectResumed { to } => update(
            "update defect_register set status = $3, hold_started_at = null,
                    hold_seconds = hold_seconds + coalesce(extract(epoch from ($4 - hold_started_at))::bigint, 0)
              where org_id = $1 and defect_id = $2",
        )
        .bind(name(&to))
        .bind(at),
        DefectEvent::DefectResolved { resolved_by, resolved_at, .. } => {
            update("update defect_register set status = 'RESOLVED', resolved_by = $3, resolved_at = $4 where org_id = $1 and defect_id = $2")
                .bind(resolved_by.uuid())
                .bind(resolved_at)
        }
        DefectEvent::DefectClosed { verified_by, verified_at, .. } => {
            update("update defect_register set status = 'CLOSED', verified_by = $3, closed_at = $4 where org_id = $1 and defect_id = $2")
                .bind(verified_by.uuid())
                .bind(verified_at)
        }
        DefectEvent::DefectVerificationFailed { .. } => update(
            "update defect_register set status = 'ASSIGNED', resolved_at = null, resolved_by = null where org_id = $1 and defect_id = $2",
        ),
        DefectEvent::DefectReopened { .. } => update(
            "update defect_register set status = 'ASSIGNED', closed_at = null, verified_by = null, resolved_at = null, resolved_by = null,
                    reopen_count = reopen_count + 1 where org_id = $1 and defect_id = $2",
        ),
        DefectEvent::DefectCancelled { .. } => {
            update("update defect_register set status = 'CANCELLED', cancelled_at = $3 where org_id = $1 and defect_id = $2").bind(at)
        }
        DefectEvent::DefectEscalated { to_level: level, .. } => update(
            "update defect_register set escalation_level = greatest(escalation_level, $3) where org_id = $1 and defect_id = $2",
        )
        .bind(i32::try_from(level).unwrap_or(i32::MAX)),
        DefectEvent::DefectSuggestionAccepted { after, .. } => {
            update("update defect_register set abnormality_type = $3 where org_id = $1 and defect_id = $2").bind(name(&after))
        }
        DefectEvent::DefectReclassified { abnormality_type, tag_class, priority, .. } => update(
            "update defect_register set abnormality_type = $3, tag_class = $4, priority = $5 where org_id = $1 and defect_id = $2",
        )
        .bind(name(&abnormality_type.1))
        .bind(name(&tag_class.1))
        .bind(name(&priority.1)),
        DefectEvent::DefectTransferred { to, .. } => {
            update("update defect_register set zone_id = $3 where org_id = $1 and defect_id = $2").bind(to.uuid())
        }
        DefectEvent::DefectContainmentRecorded { .. }
        | DefectEvent::DefectCountermeasureRecorded { .. }
        | DefectEvent::DefectEvidenceAttached { .. }
        | DefectEvent::DefectCommented { .. }
        | DefectEvent::DefectLinkedToA3 { .. }
        | DefectEvent::DefectLinkedToKaizen { .. }
        | DefectEvent::DefectWorkOrderLinked { .. }
        | DefectEvent::DefectTypeSuggested { .. }
        | DefectEvent::DefectSuggestionRejected { .. } => return Ok(()),
    };
    query.execute(&mut *conn).await?;
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
