//! Per-entity history, straight from the event stream.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// One event of an entity, with its envelope.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HistoryRow {
    pub tenant_seq: i64,
    pub aggregate_id: String,
    pub sequence: i64,
    pub aggregate_type: String,
    pub event_type: String,
    pub event_version: String,
    pub recorded_at: DateTime<Utc>,
    pub metadata: Value,
}

/// Every event of the entity `entity_id` (any aggregate type), oldest first; with `as_of`,
/// only those recorded by then (the entity as it stood at that time).
pub async fn entity_history(
    conn: &mut PgConnection,
    org: Uuid,
    entity_id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "select tenant_seq, aggregate_id, sequence, aggregate_type, event_type, event_version, recorded_at, metadata
           from events where org_id = $1 and aggregate_id = $2 and ($3::timestamptz is null or recorded_at <= $3)
          order by tenant_seq",
    )
    .bind(org)
    .bind(entity_id)
    .bind(as_of)
    .fetch_all(conn)
    .await
}

/// Filters of the audit trail; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct TrailFilter {
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
    pub entity_id: Option<String>,
    /// The aggregate type (`Defect`, `Kaizen`, ...).
    pub entity_type: Option<String>,
    /// The acting member.
    pub actor: Option<Uuid>,
    pub event_types: Option<Vec<String>>,
    /// Only changes made without a reason.
    pub without_reason: bool,
}

/// One page of the organisation's audit trail (one row per event, in stream order), after
/// the position `after`.
pub async fn audit_trail(
    conn: &mut PgConnection,
    org: Uuid,
    filter: &TrailFilter,
    after: Option<i64>,
    first: i64,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "select tenant_seq, aggregate_id, sequence, aggregate_type, event_type, event_version, recorded_at, metadata
           from events
          where org_id = $1 and ($2::bigint is null or tenant_seq > $2)
            and ($3::timestamptz is null or recorded_at >= $3) and ($4::timestamptz is null or recorded_at < $4)
            and ($5::text is null or aggregate_id = $5) and ($6::text is null or aggregate_type = $6)
            and ($7::uuid is null or metadata -> 'actor' ->> 'member_id' = $7::text)
            and ($8::text[] is null or event_type = any($8))
            and (not $9 or jsonb_typeof(metadata -> 'reason') is distinct from 'object')
          order by tenant_seq limit $10",
    )
    .bind(org)
    .bind(after)
    .bind(filter.from)
    .bind(filter.to)
    .bind(&filter.entity_id)
    .bind(&filter.entity_type)
    .bind(filter.actor)
    .bind(&filter.event_types)
    .bind(filter.without_reason)
    .bind(first + 1)
    .fetch_all(conn)
    .await
}
