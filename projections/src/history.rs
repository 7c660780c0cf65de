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

/// Every event of the entity `entity_id` (any aggregate type), oldest first.
pub async fn entity_history(conn: &mut PgConnection, org: Uuid, entity_id: &str) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "select tenant_seq, sequence, aggregate_type, event_type, event_version, recorded_at, metadata
           from events where org_id = $1 and aggregate_id = $2 order by tenant_seq",
    )
    .bind(org)
    .bind(entity_id)
    .fetch_all(conn)
    .await
}
