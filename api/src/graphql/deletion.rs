//! Deleting and recovering records, and cancelling and restoring the workspace
//! (ARCHITECTURE.md, "Deletion, recovery and workspace cancellation").

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::context::{command_context, principal, services};
use super::errors::{ApiError, ApiResult};
use super::inputs::reason;
use super::types::ReasonCode;

mirror_enum! {
    /// What kind of record a deletion hides.
    DeletableKind => gemba_domain::deletion::DeletableKind { Zone, Defect, Kaizen, A3Case, Member }
}

mirror_enum! {
    /// Where a workspace stands.
    WorkspaceStatus => gemba_domain::workspace::WorkspaceStatus { Active, Cancelled, Purged }
}

#[derive(Debug, InputObject)]
pub struct DeleteRecordInput {
    pub kind: DeletableKind,
    pub id: ID,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct RecoverRecordInput {
    pub id: ID,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct WorkspaceReasonInput {
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

/// A deleted record: hidden from every view, recoverable until `recoverableUntil`.
#[derive(Debug, SimpleObject)]
pub struct DeletedRecord {
    pub id: ID,
    pub kind: DeletableKind,
    pub deleted_at: DateTime<Utc>,
    pub recoverable_until: DateTime<Utc>,
}

/// A record brought back by `recoverRecord`.
#[derive(Debug, SimpleObject)]
pub struct RecoveredRecord {
    pub id: ID,
}

/// The workspace's standing.
#[derive(Debug, SimpleObject)]
pub struct WorkspaceState {
    pub status: WorkspaceStatus,
    /// For a cancelled workspace: the end of its grace period, after which it is purged.
    pub purge_after: Option<DateTime<Utc>>,
}

fn kind_of(text: &str) -> ApiResult<DeletableKind> {
    use gemba_domain::deletion::DeletableKind as Domain;
    let kind = match text {
        "ZONE" => Domain::Zone,
        "DEFECT" => Domain::Defect,
        "KAIZEN" => Domain::Kaizen,
        "A3_CASE" => Domain::A3Case,
        "MEMBER" => Domain::Member,
        other => return Err(ApiError::internal(format!("unknown deleted kind {other}"))),
    };
    Ok(kind.into())
}

fn record_id(id: &ID) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::Validation { field: "id".into(), message: "is not an id".into() })
}

async fn deleted(ctx: &Context<'_>, id: Uuid) -> ApiResult<DeletedRecord> {
    let p = principal(ctx)?;
    let command = command_context(ctx, p.org, Some(p), &"deletedRecords")?;
    let rows = services(ctx)?.gemba.deleted_entities(&command).await?;
    let row = rows.into_iter().find(|r| r.entity_id == id).ok_or(ApiError::NotFound)?;
    Ok(DeletedRecord {
        id: ID(row.entity_id.to_string()),
        kind: kind_of(&row.kind)?,
        deleted_at: row.deleted_at,
        recoverable_until: row.recoverable_until,
    })
}

async fn workspace_state(ctx: &Context<'_>) -> ApiResult<WorkspaceState> {
    let p = principal(ctx)?;
    let state = services(ctx)?.gemba.workspace_state(p.org).await?;
    let status = match state.status.as_str() {
        "ACTIVE" => WorkspaceStatus::Active,
        "CANCELLED" => WorkspaceStatus::Cancelled,
        "PURGED" => WorkspaceStatus::Purged,
        other => return Err(ApiError::internal(format!("unknown workspace status {other}"))),
    };
    Ok(WorkspaceState { status, purge_after: state.purge_after })
}

/// Reads of deleted records and of the workspace's standing.
#[derive(Debug, Default)]
pub struct DeletionQuery;

#[Object]
impl DeletionQuery {
    /// The records deleted now and still recoverable or not, most recent first (Owners and
    /// Admins).
    async fn deleted_records(&self, ctx: &Context<'_>) -> ApiResult<Vec<DeletedRecord>> {
        let p = principal(ctx)?;
        let command = command_context(ctx, p.org, Some(p), &"deletedRecords")?;
        let rows = services(ctx)?.gemba.deleted_entities(&command).await?;
        rows.into_iter()
            .map(|row| {
                Ok(DeletedRecord {
                    id: ID(row.entity_id.to_string()),
                    kind: kind_of(&row.kind)?,
                    deleted_at: row.deleted_at,
                    recoverable_until: row.recoverable_until,
                })
            })
            .collect()
    }

    /// Where the workspace stands (active, cancelled with the end of its grace period).
    async fn workspace(&self, ctx: &Context<'_>) -> ApiResult<WorkspaceState> {
        workspace_state(ctx).await
    }
}

/// Deleting and recovering records; cancelling and restoring the workspace.
#[derive(Debug, Default)]
pub struct DeletionMutation;

#[Object]
impl DeletionMutation {
    /// Deletes a zone, defect, kaizen, A3 case or member, with a reason (Owners and Admins).
    /// It disappears from every view at once and can be recovered for 30 days. A zone with
    /// open defects or kaizens, an Owner, one's own membership and a member who owns active
    /// zones are refused.
    async fn delete_record(&self, ctx: &Context<'_>, input: DeleteRecordInput) -> ApiResult<DeletedRecord> {
        let p = principal(ctx)?;
        let id = record_id(&input.id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.delete_entity(&command, input.kind.into(), id, reason).await?;
        deleted(ctx, id).await
    }

    /// Recovers a deleted record within its recovery window, with a reason (Owners and
    /// Admins); refused with `RECOVERY_WINDOW_CLOSED` after it.
    async fn recover_record(&self, ctx: &Context<'_>, input: RecoverRecordInput) -> ApiResult<RecoveredRecord> {
        let p = principal(ctx)?;
        let id = record_id(&input.id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.recover_entity(&command, id, reason).await?;
        Ok(RecoveredRecord { id: ID(id.to_string()) })
    }

    /// Cancels the workspace, with a reason (Owners only). It is locked at once (only Owners
    /// sign in and read; every command but `restoreWorkspace` answers `WORKSPACE_CANCELLED`)
    /// and purged 30 days later.
    async fn cancel_workspace(&self, ctx: &Context<'_>, input: WorkspaceReasonInput) -> ApiResult<WorkspaceState> {
        let p = principal(ctx)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.cancel_workspace(&command, reason).await?;
        workspace_state(ctx).await
    }

    /// Restores the cancelled workspace within its grace period, with a reason (Owners only).
    async fn restore_workspace(&self, ctx: &Context<'_>, input: WorkspaceReasonInput) -> ApiResult<WorkspaceState> {
        let p = principal(ctx)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.restore_workspace(&command, reason).await?;
        workspace_state(ctx).await
    }
}
