//! Workspace cancellation, restore and purge (`gemba_domain::workspace`).
//!
//! A cancelled workspace is locked: the bus refuses every command but the workspace's own
//! (`WORKSPACE_CANCELLED`), and only Owners may still sign in and read. An Owner restores it
//! within `GRACE_DAYS` (30). After the grace period the purge (the sweeper, or
//! `gemba workspace purge`) appends `WorkspacePurged` and, in the same transaction, deletes the
//! organisation's read models, registry rows, sign-in data and every person key (crypto-shredding
//! the personal values of all its events); then its evidence files. The events, the chain head,
//! checkpoints and export manifests stay, so `gemba verify` still passes.

use chrono::{DateTime, Utc};
use gemba_domain::workspace::{Workspace, WorkspaceCommand};
use gemba_domain::{OrgId, Reason};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::{Channel, CommandContext};
use crate::error::CommandError;
use crate::service::Gemba;
use crate::store::StoreError;
use crate::tenancy::begin_tenant;

/// Where a workspace stands, as its Owners see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceState {
    /// `ACTIVE`, `CANCELLED` or `PURGED`.
    pub status: String,
    /// For a cancelled workspace: the end of its grace period.
    pub purge_after: Option<DateTime<Utc>>,
}

/// What a purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Person keys deleted (their personal data now reads as erased).
    pub person_keys_shredded: u64,
    /// Evidence files deleted from the object store.
    pub evidence_files_deleted: u64,
}

/// The tables whose rows of the organisation a purge deletes, in an order that respects their
/// foreign keys. Not purged: `events`, `org_heads`, `command_log`, `chain_checkpoints`,
/// `export_manifests`, `org_keys`, `org_directory`, the projection checkpoints, the snapshots
/// and anchors of disposed events (`aggregate_snapshots`, `retention_disposals`: the retained
/// events start from them; their sealed values are shredded with the person keys), and the
/// `organizations` row (kept with status `PURGED`).
const PURGED_TABLES: [&str; 25] = [
    "defect_register",
    "zone_5s_scores",
    "kaizen_register",
    "kaizen_actual_lines",
    "kaizen_impact_ledger",
    "a3_register",
    "rebuild.defect_register",
    "rebuild.zone_5s_scores",
    "rebuild.kaizen_register",
    "rebuild.kaizen_actual_lines",
    "rebuild.kaizen_impact_ledger",
    "rebuild.a3_register",
    "zone_deputies",
    "red_tag_items",
    "audits",
    "defects",
    "kaizens",
    "zones",
    "areas",
    "sites",
    "evidence_files",
    "points_awards",
    "points_rulesets",
    "number_sequences",
    "entity_numbers",
];

/// Deletes the organisation's primary data and shreds its person keys (the registry's part of
/// `WorkspacePurged`, in the append transaction).
pub(crate) async fn purge_rows(conn: &mut PgConnection, org: Uuid) -> Result<(), StoreError> {
    for table in PURGED_TABLES.into_iter().chain(["deleted_entities", "sessions", "credentials", "invitations", "members"]) {
        sqlx::query(&format!("delete from {table} where org_id = $1")).bind(org).execute(&mut *conn).await?;
    }
    // Crypto-shredding: without its key a person's sealed values in the events read as erased.
    sqlx::query("delete from person_keys where org_id = $1").bind(org).execute(&mut *conn).await?;
    sqlx::query("update organizations set status = 'PURGED', name = '[purged]' where org_id = $1").bind(org).execute(&mut *conn).await?;
    Ok(())
}

impl Gemba {
    /// Cancels the workspace (Owner only), with a reason: locked for `GRACE_DAYS` (30) days,
    /// then purged.
    pub async fn cancel_workspace(&self, ctx: &CommandContext, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let command = WorkspaceCommand::Cancel { actor, reason, at: self.now() };
        self.bus.execute::<Workspace>(ctx, &ctx.org.to_string(), command).await
    }

    /// Restores the cancelled workspace within its grace period (Owner only), with a reason.
    pub async fn restore_workspace(&self, ctx: &CommandContext, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let command = WorkspaceCommand::Restore { actor, reason, at: self.now() };
        self.bus.execute::<Workspace>(ctx, &ctx.org.to_string(), command).await
    }

    /// Where the workspace of `org` stands.
    pub async fn workspace_state(&self, org: OrgId) -> Result<WorkspaceState, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let row: Option<(String, Option<DateTime<Utc>>)> =
            sqlx::query_as("select status, purge_after from organizations where org_id = $1")
                .bind(org.uuid())
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        let (status, purge_after) = row.ok_or(gemba_domain::DomainError::NotFound)?;
        Ok(WorkspaceState { status, purge_after })
    }

    /// Purges the cancelled workspace of `org` once its grace period has ended at `now`
    /// (refused before). Recorded as `WorkspacePurged` by the system; the events stay.
    /// Repeating it after a purge only removes evidence files a failed run left behind.
    pub async fn purge_workspace(&self, org: OrgId, now: DateTime<Utc>) -> Result<Purged, CommandError> {
        let state = self.workspace_state(org).await?;
        if state.status == "PURGED" {
            let evidence_files_deleted = self.delete_all_evidence(org).await?;
            return Ok(Purged { person_keys_shredded: 0, evidence_files_deleted });
        }
        let mut tx = begin_tenant(self.pool(), org).await?;
        let (keys, files): (i64, i64) = sqlx::query_as(
            "select (select count(*) from person_keys where org_id = $1), (select count(*) from evidence_files where org_id = $1)",
        )
        .bind(org.uuid())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let counts = Purged {
            person_keys_shredded: u64::try_from(keys).unwrap_or_default(),
            evidence_files_deleted: u64::try_from(files).unwrap_or_default(),
        };
        let mut system = CommandContext::new(org, None, Channel::System);
        // One purge per cancellation: a repeated or concurrent purge records it once.
        system.command_id = Uuid::new_v5(&org.uuid(), format!("workspace-purge/{:?}", state.purge_after).as_bytes());
        let command = WorkspaceCommand::Purge {
            at: now,
            person_keys_shredded: counts.person_keys_shredded,
            evidence_files_deleted: counts.evidence_files_deleted,
        };
        self.bus.execute::<Workspace>(&system, &org.to_string(), command).await?;
        self.delete_all_evidence(org).await?;
        Ok(counts)
    }
}
