//! Plant structure: areas, and zones placed in areas with a headcount and an audit plan.
//! Facts about other areas, sites and templates are looked up here and passed in.

use gemba_domain::area::{Area, AreaCommand, AreaKind, ParentFacts};
use gemba_domain::site::{Site, SiteCommand};
use gemba_domain::zone::{AuditPlan, Zone, ZoneCommand};
use gemba_domain::{AreaId, Code, Name, Reason, SiteId, Timezone, ZoneId};
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::tenancy::begin_tenant;

impl Gemba {
    /// The site of `area` when it exists and is active.
    pub(crate) async fn active_area_site(&self, ctx: &CommandContext, area: AreaId) -> Result<Option<SiteId>, CommandError> {
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let site: Option<Uuid> = sqlx::query_scalar("select site_id from areas where org_id = $1 and area_id = $2 and status = 'ACTIVE'")
            .bind(ctx.org.uuid())
            .bind(area.uuid())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(site.map(SiteId))
    }

    /// Facts about `area` as a prospective parent: its site (when active) and its ancestry.
    async fn parent_facts(&self, ctx: &CommandContext, area: AreaId) -> Result<ParentFacts, CommandError> {
        let site = self.active_area_site(ctx, area).await?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let ancestry: Vec<Uuid> = sqlx::query_scalar(
            "with recursive up (area_id, parent_area_id, depth) as (
                 select area_id, parent_area_id, 0 from areas where org_id = $1 and area_id = $2
                 union all
                 select a.area_id, a.parent_area_id, up.depth + 1
                   from areas a join up on a.area_id = up.parent_area_id
                  where a.org_id = $1 and up.depth < 1000)
             select area_id from up order by depth",
        )
        .bind(ctx.org.uuid())
        .bind(area.uuid())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ParentFacts { site, ancestry: ancestry.into_iter().map(AreaId).collect() })
    }

    /// Creates an area (area, line or cell) in a site, optionally under a parent area.
    pub async fn create_area(
        &self,
        ctx: &CommandContext,
        site: SiteId,
        kind: AreaKind,
        parent: Option<AreaId>,
        code: Code,
        name: Name,
    ) -> Result<AreaId, CommandError> {
        let actor = ctx.require_actor()?;
        let site_exists =
            self.count(ctx.org, "select count(*) from sites where org_id = $1 and site_id = $2", Some(site.uuid())).await? > 0;
        let parent = match parent {
            Some(id) => Some((id, self.parent_facts(ctx, id).await?)),
            None => None,
        };
        let area = AreaId(Uuid::now_v7());
        let command = AreaCommand::Create { actor, area_id: area, site_id: site, site_exists, kind, parent, code, name };
        let position = self.bus.execute::<Area>(ctx, &area.to_string(), command).await?;
        AreaId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Renames an area.
    pub async fn rename_area(
        &self,
        ctx: &CommandContext,
        area: AreaId,
        name: Name,
        reason: Option<Reason>,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Area>(ctx, &area.to_string(), AreaCommand::Rename { actor, name, reason }).await
    }

    /// Moves an area under another area of its site (or to the top), with a reason.
    pub async fn move_area(
        &self,
        ctx: &CommandContext,
        area: AreaId,
        to: Option<AreaId>,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let to = match to {
            Some(id) => Some((id, self.parent_facts(ctx, id).await?)),
            None => None,
        };
        self.bus.execute::<Area>(ctx, &area.to_string(), AreaCommand::Move { actor, to, reason }).await
    }

    /// Archives an area that has no active zone and no active child area, with a reason.
    pub async fn archive_area(&self, ctx: &CommandContext, area: AreaId, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let id = Some(area.uuid());
        let active_zones =
            self.count(ctx.org, "select count(*) from zones where org_id = $1 and area_id = $2 and status = 'ACTIVE'", id).await?;
        let active_children =
            self.count(ctx.org, "select count(*) from areas where org_id = $1 and parent_area_id = $2 and status = 'ACTIVE'", id).await?;
        let command = AreaCommand::Archive { actor, reason, active_zones, active_children };
        self.bus.execute::<Area>(ctx, &area.to_string(), command).await
    }

    /// Moves a zone to another area of its site (or out of any area), with a reason.
    pub async fn move_zone(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        to: Option<AreaId>,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let to = match to {
            Some(id) => Some((id, self.active_area_site(ctx, id).await?)),
            None => None,
        };
        self.bus.execute::<Zone>(ctx, &zone.to_string(), ZoneCommand::Move { actor, to, reason }).await
    }

    /// Sets or clears a zone's headcount override, with a reason.
    pub async fn set_zone_headcount(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        headcount: Option<u32>,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Zone>(ctx, &zone.to_string(), ZoneCommand::SetHeadcount { actor, headcount, reason }).await
    }

    /// Sets a zone's 5S audit plan against a published template.
    pub async fn set_zone_audit_plan(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        plan: AuditPlan,
        reason: Option<Reason>,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let template_published = self.template(ctx.org, plan.template_id).await?.is_some_and(|t| t.published().is_some());
        let command = ZoneCommand::SetAuditPlan { actor, plan, template_published, reason };
        self.bus.execute::<Zone>(ctx, &zone.to_string(), command).await
    }

    /// Changes a site's time zone, with a reason.
    pub async fn change_site_timezone(
        &self,
        ctx: &CommandContext,
        site: SiteId,
        timezone: Timezone,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Site>(ctx, &site.to_string(), SiteCommand::ChangeTimezone { actor, timezone, reason }).await
    }
}
