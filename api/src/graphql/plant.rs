//! Plant structure in GraphQL: areas, and zones' areas, headcounts and audit plans.

use std::collections::BTreeSet;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_domain::area as domain_area;
use gemba_domain::zone::{self as domain_zone, AuditPlan};
use gemba_domain::{AreaId, Code, Name, SiteId, TemplateId, Timezone, ZoneId};
use gemba_projections::registry::{self as reads, AreaRow};

use super::context::{command_context, principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::five_s::AuditType;
use super::inputs::{optional_reason, reason};
use super::mutation::{site_payload, zone_payload};
use super::types::{ReasonCode, Site, Zone};

mirror_enum!(
    /// What an area stands for: an area of the site, a production line or a work cell.
    AreaKind => domain_area::AreaKind { Area, Line, Cell }
);
mirror_enum!(
    /// How often a zone is audited.
    Cadence => domain_zone::Cadence { Weekly, Biweekly, Monthly, Quarterly }
);

/// Whether an area is in use.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum AreaStatus {
    Active,
    Archived,
}

/// An area, production line or cell of a site; zones may be placed in it.
#[derive(Debug)]
pub struct Area(pub AreaRow);

#[Object]
impl Area {
    async fn id(&self) -> ID {
        ID(self.0.area_id.to_string())
    }
    async fn site_id(&self) -> ID {
        ID(self.0.site_id.to_string())
    }
    async fn kind(&self) -> AreaKind {
        match self.0.kind.as_str() {
            "line" => AreaKind::Line,
            "cell" => AreaKind::Cell,
            _ => AreaKind::Area,
        }
    }
    /// The area this one sits in, if any.
    async fn parent_area_id(&self) -> Option<ID> {
        self.0.parent_area_id.map(|p| ID(p.to_string()))
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn status(&self) -> AreaStatus {
        if self.0.status == "ARCHIVED" { AreaStatus::Archived } else { AreaStatus::Active }
    }
}

/// A zone's 5S audit plan.
#[derive(Debug, SimpleObject)]
pub struct ZoneAuditPlan {
    pub template_id: ID,
    pub cadence: Cadence,
    pub audit_types: Vec<AuditType>,
    pub next_due_at: DateTime<Utc>,
}

impl ZoneAuditPlan {
    /// The plan as stored in the registry.
    pub fn from_stored(value: &serde_json::Value) -> ApiResult<Self> {
        let plan: AuditPlan = serde_json::from_value(value.clone()).map_err(|e| ApiError::internal(format!("audit plan: {e}")))?;
        Ok(Self {
            template_id: ID(plan.template_id.to_string()),
            cadence: plan.cadence.into(),
            audit_types: plan.audit_types.into_iter().map(Into::into).collect(),
            next_due_at: plan.next_due_at,
        })
    }
}

#[derive(Debug, InputObject)]
pub struct CreateAreaInput {
    pub site_id: ID,
    pub kind: AreaKind,
    /// The area this one sits in (same site), if any.
    pub parent_area_id: Option<ID>,
    pub code: String,
    pub name: String,
}

#[derive(Debug, InputObject)]
pub struct RenameAreaInput {
    pub area_id: ID,
    pub name: String,
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct MoveAreaInput {
    pub area_id: ID,
    /// The new parent (same site); null moves the area to the top of its site.
    pub parent_area_id: Option<ID>,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ArchiveAreaInput {
    pub area_id: ID,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct MoveZoneInput {
    pub zone_id: ID,
    /// An active area of the zone's site; null takes the zone out of any area.
    pub area_id: Option<ID>,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct SetZoneHeadcountInput {
    pub zone_id: ID,
    /// Zero or more; null clears the override.
    pub headcount: Option<i32>,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct SetZoneAuditPlanInput {
    pub zone_id: ID,
    /// A published 5S template.
    pub template_id: ID,
    pub cadence: Cadence,
    /// At least one.
    pub audit_types: Vec<AuditType>,
    pub next_due_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ChangeSiteTimezoneInput {
    pub site_id: ID,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

async fn area_payload(ctx: &Context<'_>, area: AreaId) -> ApiResult<Area> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    reads::area(&mut tx, p.org.uuid(), area.uuid()).await?.map(Area).ok_or(ApiError::NotFound)
}

fn optional_area(id: Option<&ID>, field: &str) -> ApiResult<Option<AreaId>> {
    id.map(|id| AreaId::parse(id).map_err(|_| ApiError::Validation { field: field.into(), message: "is not a valid id".into() }))
        .transpose()
}

/// Reads of the plant structure.
#[derive(Debug, Default)]
pub struct PlantQuery;

#[Object]
impl PlantQuery {
    /// An area by id; null when absent or in another organisation.
    async fn area(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Area>> {
        let p = principal(ctx)?;
        let id = AreaId::parse(&id)?;
        let mut tx = tenant_tx(ctx).await?;
        Ok(reads::area(&mut tx, p.org.uuid(), id.uuid()).await?.map(Area))
    }

    /// The areas of a site (archived ones included), in creation order.
    async fn areas(&self, ctx: &Context<'_>, site_id: ID) -> ApiResult<Vec<Area>> {
        let p = principal(ctx)?;
        let site = SiteId::parse(&site_id)?;
        let mut tx = tenant_tx(ctx).await?;
        Ok(reads::areas(&mut tx, p.org.uuid(), site.uuid()).await?.into_iter().map(Area).collect())
    }
}

/// Changes of the plant structure.
#[derive(Debug, Default)]
pub struct PlantMutation;

#[Object]
impl PlantMutation {
    /// Creates an area, line or cell in a site, optionally under a parent area of the same
    /// site; area codes are unique per site. Owners and Admins.
    async fn create_area(&self, ctx: &Context<'_>, input: CreateAreaInput) -> ApiResult<Area> {
        let p = principal(ctx)?;
        let site = SiteId::parse(&input.site_id)?;
        let parent = optional_area(input.parent_area_id.as_ref(), "parentAreaId")?;
        let code = Code::parse("code", &input.code)?;
        let name = Name::parse("name", &input.name)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let area = services(ctx)?.gemba.create_area(&command, site, input.kind.into(), parent, code, name).await?;
        area_payload(ctx, area).await
    }

    /// Renames an area.
    async fn rename_area(&self, ctx: &Context<'_>, input: RenameAreaInput) -> ApiResult<Area> {
        let p = principal(ctx)?;
        let area = AreaId::parse(&input.area_id)?;
        let name = Name::parse("name", &input.name)?;
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.rename_area(&command, area, name, reason).await?;
        area_payload(ctx, area).await
    }

    /// Moves an area under another area of the same site (never under itself or one of its
    /// descendants), or to the top of its site, with a reason.
    async fn move_area(&self, ctx: &Context<'_>, input: MoveAreaInput) -> ApiResult<Area> {
        let p = principal(ctx)?;
        let area = AreaId::parse(&input.area_id)?;
        let to = optional_area(input.parent_area_id.as_ref(), "parentAreaId")?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.move_area(&command, area, to, reason).await?;
        area_payload(ctx, area).await
    }

    /// Archives an area with no active zone and no active child area, with a reason.
    async fn archive_area(&self, ctx: &Context<'_>, input: ArchiveAreaInput) -> ApiResult<Area> {
        let p = principal(ctx)?;
        let area = AreaId::parse(&input.area_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.archive_area(&command, area, reason).await?;
        area_payload(ctx, area).await
    }

    /// Moves a zone to another area of its site, or out of any area, with a reason. Zones
    /// never move between sites.
    async fn move_zone(&self, ctx: &Context<'_>, input: MoveZoneInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let to = optional_area(input.area_id.as_ref(), "areaId")?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.move_zone(&command, zone, to, reason).await?;
        zone_payload(ctx, zone).await
    }

    /// Sets (or clears, with null) the zone's headcount override, with a reason.
    async fn set_zone_headcount(&self, ctx: &Context<'_>, input: SetZoneHeadcountInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let headcount = input
            .headcount
            .map(|n| u32::try_from(n).map_err(|_| ApiError::Validation { field: "headcount".into(), message: "is zero or more".into() }))
            .transpose()?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.set_zone_headcount(&command, zone, headcount, reason).await?;
        zone_payload(ctx, zone).await
    }

    /// Sets the zone's 5S audit plan: a published template, a cadence, the audit types and
    /// the next due date.
    async fn set_zone_audit_plan(&self, ctx: &Context<'_>, input: SetZoneAuditPlanInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let template_id = TemplateId::parse(&input.template_id)?;
        let audit_types: BTreeSet<_> = input.audit_types.iter().map(|t| (*t).into()).collect();
        let plan = AuditPlan { template_id, cadence: input.cadence.into(), audit_types, next_due_at: input.next_due_at };
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.set_zone_audit_plan(&command, zone, plan, reason).await?;
        zone_payload(ctx, zone).await
    }

    /// Changes a site's time zone, with a reason (Owners and Admins).
    async fn change_site_timezone(&self, ctx: &Context<'_>, input: ChangeSiteTimezoneInput) -> ApiResult<Site> {
        let p = principal(ctx)?;
        let site = SiteId::parse(&input.site_id)?;
        let timezone = Timezone::parse("timezone", &input.timezone)?;
        if input.timezone.trim().parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::Validation { field: "timezone".into(), message: "is not a time zone of the IANA database".into() });
        }
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.change_site_timezone(&command, site, timezone, reason).await?;
        site_payload(ctx, site).await
    }
}
