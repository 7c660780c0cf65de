//! Membership details: site scope, home zone, profile, suspension. Facts about sites and
//! zones are looked up here and passed in; personal fields are sealed here.

use gemba_domain::member::{Member, MemberCommand, ProfilePatch, SiteScope};
use gemba_domain::{Code, DisplayName, DomainError, MemberId, Name, Reason, SiteId, ZoneId};
use uuid::Uuid;

use crate::bus::{Guard, Position};
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::tenancy::begin_tenant;

/// A profile patch as received: plain text, sealed by the write side.
#[derive(Clone, Debug, Default)]
pub struct ProfileInput {
    /// New display name.
    pub display_name: Option<DisplayName>,
    /// New employee number.
    pub employee_number: Option<Code>,
    /// New shift.
    pub shift: Option<Name>,
}

impl Gemba {
    /// Limits a member to some sites (`None`: every site), with a reason.
    pub async fn change_member_site_scope(
        &self,
        ctx: &CommandContext,
        member: MemberId,
        sites: Option<Vec<SiteId>>,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let ids: Option<Vec<Uuid>> = sites.as_ref().map(|s| s.iter().map(|id| id.uuid()).collect());
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let (known, outside): (i64, i64) = sqlx::query_as(
            "select (select count(*) from sites where org_id = $1 and site_id = any(coalesce($3, '{}'::uuid[]))),
                    (select count(*) from zones where org_id = $1 and owner_member_id = $2 and status = 'ACTIVE'
                        and $3::uuid[] is not null and not (site_id = any($3)))",
        )
        .bind(ctx.org.uuid())
        .bind(member.uuid())
        .bind(&ids)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let scope = match sites {
            None => SiteScope::All,
            Some(sites) => SiteScope::Sites(sites.into_iter().collect()),
        };
        let sites_exist = match &scope {
            SiteScope::All => true,
            SiteScope::Sites(set) => usize::try_from(known).unwrap_or(0) == set.len(),
        };
        let owned_zones_outside = u32::try_from(outside).unwrap_or(u32::MAX);
        let command = MemberCommand::ChangeSiteScope { actor, scope, reason, sites_exist, owned_zones_outside };
        self.bus.execute::<Member>(ctx, &member.to_string(), command).await
    }

    /// Sets a member's home zone (an active zone inside their site scope).
    pub async fn set_home_zone(&self, ctx: &CommandContext, member: MemberId, zone: ZoneId) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let site: Option<Uuid> = sqlx::query_scalar(
            "select site_id from zones where org_id = $1 and zone_id = $2 and status = 'ACTIVE' and gemba_visible(zone_id)",
        )
        .bind(ctx.org.uuid())
        .bind(zone.uuid())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let command = MemberCommand::SetHomeZone { actor, zone, zone_site: site.map(SiteId) };
        self.bus.execute::<Member>(ctx, &member.to_string(), command).await
    }

    /// Updates a member's profile (by the member themself, an Owner or an Admin).
    pub async fn update_member_profile(
        &self,
        ctx: &CommandContext,
        member: MemberId,
        input: ProfileInput,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let erased = || DomainError::Rule(gemba_domain::member::ERASED);
        let mut patch = ProfilePatch { shift: input.shift, ..ProfilePatch::default() };
        if let Some(name) = input.display_name {
            patch.display_name = Some(self.keyring().seal_for(&mut tx, ctx.org, member, name.as_str()).await?.ok_or_else(erased)?);
        }
        if let Some(number) = input.employee_number {
            patch.employee_number = Some(self.keyring().seal_for(&mut tx, ctx.org, member, number.as_str()).await?.ok_or_else(erased)?);
        }
        tx.commit().await?;
        self.bus.execute::<Member>(ctx, &member.to_string(), MemberCommand::UpdateProfile { actor, patch }).await
    }

    /// Suspends a member, with a reason: they cannot sign in and their sessions end.
    pub async fn suspend_member(&self, ctx: &CommandContext, member: MemberId, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let active_owners = self.active_owners(ctx.org).await?;
        let owned_zones = self
            .count(
                ctx.org,
                "select count(*) from zones where org_id = $1 and owner_member_id = $2 and status = 'ACTIVE'",
                Some(member.uuid()),
            )
            .await?;
        let command = MemberCommand::Suspend { actor, reason, active_owners, owned_zones };
        self.bus.execute::<Member>(ctx, &member.to_string(), command).await
    }

    /// Reactivates a suspended member, with a reason.
    pub async fn reactivate_member(&self, ctx: &CommandContext, member: MemberId, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Member>(ctx, &member.to_string(), MemberCommand::Reactivate { actor, reason }).await
    }

    /// Erases a person's personal data (GDPR) by crypto-shredding, with a reason (Owners and
    /// Admins; an Owner's only by an Owner; never one's own). A member not yet removed is
    /// removed by the same command (same rules: never the last Owner, zones reassigned
    /// first). `MemberPersonalDataErased` is appended and, in the same transaction, the
    /// person's key is deleted and the plain copies kept for sign-in (credentials,
    /// invitations) are removed, so every sealed value of theirs reads as erased and they
    /// can no longer sign in. The events stay; the hash chain covers ciphertext and still
    /// verifies. Neither a deleted member (soft delete) nor a cancelled workspace blocks it.
    pub async fn erase_personal_data(&self, ctx: &CommandContext, member: MemberId, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let active_owners = self.active_owners(ctx.org).await?;
        let owned_zones = self
            .count(
                ctx.org,
                "select count(*) from zones where org_id = $1 and owner_member_id = $2 and status = 'ACTIVE'",
                Some(member.uuid()),
            )
            .await?;
        let command = MemberCommand::ErasePersonalData { actor, reason, active_owners, owned_zones };
        // Erasure is a right: a deleted member or a cancelled workspace does not block it.
        let position = self.bus.execute_guarded::<Member>(ctx, &member.to_string(), command, Guard::Always).await?;
        tracing::info!(org.id = %ctx.org, member.id = %member, "personal data erased");
        Ok(position)
    }
}
