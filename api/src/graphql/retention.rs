//! Retention: disposal of the events past the organisation's retention (Owners only), and the
//! list of past disposals with their anchors (Owners, Admins and Auditors).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_domain::Role;
use gemba_projections::engine::Projection;

use super::checkpoints::ChainCheckpoint;
use super::context::{command_context, principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::inputs::reason;
use super::types::ReasonCode;

#[derive(Debug, InputObject)]
pub struct DisposeExpiredRecordsInput {
    /// Report what would be disposed of and change nothing.
    #[graphql(default)]
    pub dry_run: bool,
    /// Why (recorded on `RecordsDisposed`).
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

/// What a disposal did, or (dry run) would do.
#[derive(Debug, SimpleObject)]
pub struct RecordsDisposal {
    pub dry_run: bool,
    /// The organisation's retention in years.
    pub retention_years: u32,
    /// Events recorded before this instant are past their retention.
    pub cutoff: DateTime<Utc>,
    /// The last disposed position (`tenant_seq`); null when nothing is past its retention.
    pub up_to_seq: Option<i64>,
    /// Events disposed of (or that would be).
    pub count: i64,
    /// Aggregates snapshotted before their early events went (or that would be).
    pub aggregates: i64,
    /// The hash (hex) of the last disposed event: the `prev_hash` of the first retained one.
    pub anchor_hash: Option<String>,
    /// The signed checkpoint at the anchor.
    pub anchor: Option<ChainCheckpoint>,
    /// The position of the `RecordsDisposed` event.
    pub recorded_at_seq: Option<i64>,
}

/// A past disposal.
#[derive(Debug, SimpleObject)]
pub struct Disposal {
    pub up_to_seq: i64,
    pub anchor_hash: String,
    pub events: i64,
    pub aggregates: i64,
    pub cutoff: DateTime<Utc>,
    pub disposed_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DisposalRow {
    up_to_seq: i64,
    anchor_hash: Vec<u8>,
    events: i64,
    aggregates: i64,
    cutoff: DateTime<Utc>,
    disposed_at: DateTime<Utc>,
}

/// Retention mutations.
#[derive(Debug, Default)]
pub struct RetentionMutation;

#[Object]
impl RetentionMutation {
    /// Disposes of the organisation's events older than its retention (Owners, with a
    /// reason): every aggregate they touch is snapshotted first, the retained chain starts
    /// from a signed anchor, and `RecordsDisposed` is recorded. Refused under a legal hold
    /// (`LEGAL_HOLD`). With `dryRun`, reports what would go and changes nothing.
    async fn dispose_expired_records(&self, ctx: &Context<'_>, input: DisposeExpiredRecordsInput) -> ApiResult<RecordsDisposal> {
        let p = principal(ctx)?;
        if p.role != Role::Owner {
            return Err(ApiError::Forbidden("only an owner may dispose of records".into()));
        }
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let services = services(ctx)?;
        let projections: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
        let report =
            services.gemba.dispose_expired(&command, services.gemba.now(), reason, input.dry_run, &projections, &services.signer).await?;
        Ok(RecordsDisposal {
            dry_run: report.dry_run,
            retention_years: report.retention_years,
            cutoff: report.cutoff,
            up_to_seq: report.up_to_seq,
            count: report.count,
            aggregates: report.aggregates,
            anchor_hash: report.anchor_hash,
            anchor: report.checkpoint.map(ChainCheckpoint::from),
            recorded_at_seq: report.position.map(|p| p.last_seq),
        })
    }
}

/// Retention queries.
#[derive(Debug, Default)]
pub struct RetentionQuery;

#[Object]
impl RetentionQuery {
    /// Past disposals of the organisation's events, newest first (Owners, Admins, Auditors).
    async fn records_disposals(&self, ctx: &Context<'_>) -> ApiResult<Vec<Disposal>> {
        let p = principal(ctx)?;
        if p.role == Role::Member {
            return Err(ApiError::Forbidden("disposals are visible to owners, admins and auditors".into()));
        }
        let mut tx = tenant_tx(ctx).await?;
        let rows: Vec<DisposalRow> = sqlx::query_as(
            "select up_to_seq, anchor_hash, events, aggregates, cutoff, disposed_at from retention_disposals
              where org_id = $1 order by up_to_seq desc",
        )
        .bind(p.org.uuid())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| Disposal {
                up_to_seq: r.up_to_seq,
                anchor_hash: hex::encode(r.anchor_hash),
                events: r.events,
                aggregates: r.aggregates,
                cutoff: r.cutoff,
                disposed_at: r.disposed_at,
            })
            .collect())
    }
}
