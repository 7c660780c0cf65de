//! Per-entity history, straight from the event stream.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// One event of an entity, with its envelope.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HistoryRow {
    pub tenant_seq: i64,
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
        "select tenant_seq, sequence, aggregate_type, event_type, event_version, recorded_at, metadata
           from events where org_id = $1 and aggregate_id = $2 and ($3::timestamptz is null or recorded_at <= $3)
          order by tenant_seq",
    )
    .bind(org)
    .bind(entity_id)
    .bind(as_of)
    .fetch_all(conn)
    .await
}
