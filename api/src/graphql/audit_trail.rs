//! The organisation's audit trail: one row per event (who, role, when, what, before, after,
//! why), filtered and paged, for Owners, Admins and Auditors.

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use gemba_domain::{MemberId, Role as DomainRole};
use gemba_projections::history::{self, TrailFilter};

use super::context::{principal, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::query::render_history;
use super::types::HistoryEntry;

/// Filters of the audit trail; a missing field matches everything.
#[derive(Debug, Default, InputObject)]
pub struct AuditTrailFilter {
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
    /// One entity (its id; an evidence file's sha256).
    pub entity_id: Option<ID>,
    /// One entity type: `Organization`, `Member`, `Site`, `Area`, `Zone`, `AuditTemplate`,
    /// `FiveSAudit`, `RedTagItem`, `Defect`, `Kaizen`, `A3Case`, `PointsLedger`, ...
    pub entity_type: Option<String>,
    /// Changes made by this member.
    pub actor_id: Option<ID>,
    /// Only these event types (e.g. `DefectDueDateChanged`).
    pub event_types: Option<Vec<String>>,
    /// Only changes recorded without a reason (review by exception).
    #[graphql(default)]
    pub without_reason: bool,
}

const TRAIL_PAGE_DEFAULT: i32 = 100;
const TRAIL_PAGE_MAX: i32 = 500;

/// The audit trail.
#[derive(Debug, Default)]
pub struct AuditTrailQuery;

#[Object]
impl AuditTrailQuery {
    /// Every change in the organisation in stream order (one row per event), filtered by
    /// time range, entity, entity type, actor, event type or missing reason. Owners, Admins
    /// and Auditors only.
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditTrailFilter>,
    ) -> ApiResult<Connection<OpaqueCursor<i64>, HistoryEntry>> {
        let p = principal(ctx)?;
        if p.role == DomainRole::Member {
            return Err(ApiError::Forbidden("the audit trail is visible to owners, admins and auditors".into()));
        }
        let first = first.unwrap_or(TRAIL_PAGE_DEFAULT);
        if !(1..=TRAIL_PAGE_MAX).contains(&first) {
            return Err(ApiError::Validation { field: "first".into(), message: format!("must be between 1 and {TRAIL_PAGE_MAX}") });
        }
        let after = after
            .map(|cursor| {
                <OpaqueCursor<i64> as async_graphql::connection::CursorType>::decode_cursor(&cursor)
                    .map(|c| c.0)
                    .map_err(|_| ApiError::Validation { field: "after".into(), message: "is not a cursor of this list".into() })
            })
            .transpose()?;
        let f = filter.unwrap_or_default();
        let filter = TrailFilter {
            from: f.from,
            to: f.to,
            entity_id: f.entity_id.map(|e| e.trim().to_owned()),
            entity_type: f.entity_type,
            actor: f.actor_id.map(|a| MemberId::parse(&a)).transpose()?.map(MemberId::uuid),
            event_types: f.event_types,
            without_reason: f.without_reason,
        };
        let mut tx = tenant_tx(ctx).await?;
        let mut rows = history::audit_trail(&mut tx, p.org.uuid(), &filter, after, i64::from(first)).await?;
        let has_next = rows.len() > usize::try_from(first).unwrap_or(0);
        rows.truncate(usize::try_from(first).unwrap_or(0));
        let positions: Vec<i64> = rows.iter().map(|r| r.tenant_seq).collect();
        let entries = render_history(ctx, &mut tx, rows).await?;
        tx.commit().await?;
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(positions.into_iter().zip(entries).map(|(position, entry)| Edge::new(OpaqueCursor(position), entry)));
        Ok(connection)
    }
}
