//! Deleting and recovering zones, defects, kaizens, A3 cases and members
//! (`gemba_domain::deletion`): the write side looks up whether the entity exists and what
//! forbids its deletion, then the `Deletion` stream of the entity decides.
//!
//! What a deletion may not leave behind:
//! - a zone with open defects or kaizens (close, cancel, delete or transfer them first, as for
//!   archiving); once deleted, the zone's closed work, audits and scores are hidden with it;
//! - a member who is an Owner (demote first, so an active Owner always remains), the acting
//!   member themself, or a member who owns active zones (reassign first). A deleted member is
//!   signed out everywhere, cannot sign in, is not an active member for any command, and is
//!   back exactly as before (role, capabilities, status) when recovered.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use gemba_domain::deletion::{DeletableKind, Deletion, DeletionCommand};
use gemba_domain::{DomainError, Reason};
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::store::last_sequence;
use crate::tenancy::begin_tenant;

/// A deleted entity, as Owners and Admins see it to recover it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DeletedEntity {
    /// The entity.
    pub entity_id: Uuid,
    /// Its kind (`ZONE`, `DEFECT`, `KAIZEN`, `A3_CASE`, `MEMBER`).
    pub kind: String,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
    /// Until when it can be recovered.
    pub recoverable_until: DateTime<Utc>,
}

impl Gemba {
    /// Deletes `entity` of `kind`, with a reason (Owner or Admin).
    pub async fn delete_entity(
        &self,
        ctx: &CommandContext,
        kind: DeletableKind,
        entity: Uuid,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        actor.require_admin()?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        // Its events, or its snapshot when they were disposed of (retention).
        let exists = last_sequence(&mut tx, ctx.org, kind.aggregate_type(), &entity.to_string()).await? > 0;
        let refused = match kind {
            DeletableKind::Zone => {
                let open: i64 = sqlx::query_scalar(
                    "select (select count(*) from defects where org_id = $1 and zone_id = $2
                                and status in ('OPEN', 'ASSIGNED', 'IN_PROGRESS', 'ON_HOLD', 'RESOLVED')
                                and gemba_visible(defect_id))
                          + (select count(*) from kaizens where org_id = $1 and zone_id = $2
                                and status not in ('CLOSED', 'REJECTED', 'WITHDRAWN')
                                and gemba_visible(kaizen_id))",
                )
                .bind(ctx.org.uuid())
                .bind(entity)
                .fetch_one(&mut *tx)
                .await?;
                (open > 0).then_some("the zone has open defects or kaizens: close, delete or transfer them first")
            }
            DeletableKind::Member => {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "select m.role, (select count(*) from zones z where z.org_id = m.org_id and z.owner_member_id = m.member_id
                                        and z.status = 'ACTIVE' and gemba_visible(z.zone_id))
                       from members m where m.org_id = $1 and m.member_id = $2",
                )
                .bind(ctx.org.uuid())
                .bind(entity)
                .fetch_optional(&mut *tx)
                .await?;
                match row {
                    _ if entity == actor.member_id.uuid() => Some("members cannot delete themselves"),
                    Some((role, _)) if role == "OWNER" => Some("an owner cannot be deleted: change their role first"),
                    Some((_, zones)) if zones > 0 => Some("the member owns active zones: assign them to someone else first"),
                    _ => None,
                }
            }
            DeletableKind::Defect | DeletableKind::Kaizen | DeletableKind::A3Case => None,
        };
        tx.commit().await?;
        let command = DeletionCommand::Delete { actor, kind, exists, refused, reason, at: self.now() };
        self.bus.execute::<Deletion>(ctx, &entity.to_string(), command).await
    }

    /// Recovers the deleted `entity` within its recovery window, with a reason (Owner or Admin).
    pub async fn recover_entity(&self, ctx: &CommandContext, entity: Uuid, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let command = DeletionCommand::Recover { actor, reason, at: self.now() };
        match self.bus.execute::<Deletion>(ctx, &entity.to_string(), command).await {
            // Never deleted at all: as good as missing.
            Err(CommandError::Domain(DomainError::Rule(_))) if !self.was_ever_deleted(ctx, entity).await? => {
                Err(DomainError::NotFound.into())
            }
            other => other,
        }
    }

    async fn was_ever_deleted(&self, ctx: &CommandContext, entity: Uuid) -> Result<bool, CommandError> {
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let found = last_sequence(&mut tx, ctx.org, Deletion::TYPE, &entity.to_string()).await? > 0;
        tx.commit().await?;
        Ok(found)
    }

    /// The entities of `ctx.org` deleted now, most recent first (Owners and Admins).
    pub async fn deleted_entities(&self, ctx: &CommandContext) -> Result<Vec<DeletedEntity>, CommandError> {
        ctx.require_actor()?.require_admin()?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let rows = sqlx::query_as(
            "select entity_id, kind, deleted_at, recoverable_until from deleted_entities
              where org_id = $1 order by deleted_at desc, entity_id",
        )
        .bind(ctx.org.uuid())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}
