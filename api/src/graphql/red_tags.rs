//! Red-tagged items (5S Sort) in GraphQL: one mutation per command of
//! reference/domain.md §4.5b, and the item by id.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use gemba_commands::red_tags::new_red_tag_id;
use gemba_domain::red_tag::{self as domain, NewRedTag, RedTagCommand, RedTagState};
use gemba_domain::{LongText, Name, RedTagId, ZoneId};

use super::context::{command_context, principal, services};
use super::errors::{ApiError, ApiResult};
use super::inputs::{long_text, reason};
use super::types::ReasonCode;

mirror_enum!(
    /// Why an item was red-tagged.
    RedTagReason => domain::RedTagReason { NotNeeded, Defective, Excess, Unknown }
);
mirror_enum!(
    /// Where a red-tagged item stands.
    RedTagStatus => domain::RedTagStatus { None, Held, HoldExpired, Dispositioned }
);

/// What became of a red-tagged item.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum RedTagDisposition {
    /// Back in use (give `location`).
    ReturnedToUse,
    /// Moved to another zone (give `zoneId`).
    Relocated,
    Sold,
    Scrapped,
    Recycled,
    Donated,
}

/// An item red-tagged during 5S Sort.
#[derive(Debug)]
pub struct RedTagItem(RedTagState);

#[Object]
impl RedTagItem {
    async fn id(&self) -> Option<ID> {
        self.0.id.map(|id| ID(id.to_string()))
    }
    async fn zone_id(&self) -> Option<ID> {
        self.0.zone_id.map(|id| ID(id.to_string()))
    }
    async fn status(&self) -> RedTagStatus {
        self.0.status.into()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_ref().map(LongText::as_str)
    }
    async fn qty(&self) -> u32 {
        self.0.qty
    }
    /// Where it was found.
    async fn location(&self) -> Option<&str> {
        self.0.location.as_ref().map(Name::as_str)
    }
    async fn reason(&self) -> Option<RedTagReason> {
        self.0.reason.map(Into::into)
    }
    async fn tagged_by_id(&self) -> Option<ID> {
        self.0.tagged_by.map(|id| ID(id.to_string()))
    }
    async fn tagged_at(&self) -> Option<DateTime<Utc>> {
        self.0.tagged_at
    }
    /// When the disposition is due (tagged plus the organisation's hold days, or extended).
    async fn hold_until(&self) -> Option<DateTime<Utc>> {
        self.0.hold_until
    }
    async fn disposition(&self) -> Option<RedTagDisposition> {
        self.0.disposition.as_ref().map(|d| match d {
            domain::Disposition::ReturnedToUse { .. } => RedTagDisposition::ReturnedToUse,
            domain::Disposition::Relocated { .. } => RedTagDisposition::Relocated,
            domain::Disposition::Sold => RedTagDisposition::Sold,
            domain::Disposition::Scrapped => RedTagDisposition::Scrapped,
            domain::Disposition::Recycled => RedTagDisposition::Recycled,
            domain::Disposition::Donated => RedTagDisposition::Donated,
        })
    }
    /// Where it went back into use.
    async fn new_location(&self) -> Option<&str> {
        match &self.0.disposition {
            Some(domain::Disposition::ReturnedToUse { location }) => Some(location.as_str()),
            _ => None,
        }
    }
    /// The zone it was moved to.
    async fn relocated_to_zone_id(&self) -> Option<ID> {
        match &self.0.disposition {
            Some(domain::Disposition::Relocated { zone_id }) => Some(ID(zone_id.to_string())),
            _ => None,
        }
    }
    async fn decided_by_id(&self) -> Option<ID> {
        self.0.decided_by.map(|id| ID(id.to_string()))
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
}

/// Red tag queries.
#[derive(Debug, Default)]
pub struct RedTagQuery;

#[Object]
impl RedTagQuery {
    /// A red-tagged item by id; null when absent or in another organisation.
    async fn red_tag_item(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<RedTagItem>> {
        let p = principal(ctx)?;
        let id = RedTagId::parse(&id)?;
        match services(ctx)?.gemba.red_tag_item(p.org, id).await? {
            Some(item) if super::context::visible(ctx, &item.zone_id.map(|z| z.uuid()).into_iter().collect::<Vec<_>>()).await? => {
                Ok(Some(RedTagItem(item)))
            }
            _ => Ok(None),
        }
    }
}

async fn payload(ctx: &Context<'_>, id: RedTagId) -> ApiResult<RedTagItem> {
    let p = principal(ctx)?;
    services(ctx)?.gemba.red_tag_item(p.org, id).await?.map(RedTagItem).ok_or(ApiError::NotFound)
}

#[derive(Debug, InputObject)]
pub struct TagRedTagItemInput {
    pub zone_id: ID,
    pub description: String,
    pub qty: u32,
    /// Where it was found.
    pub location: String,
    pub reason: RedTagReason,
}

#[derive(Debug, InputObject)]
pub struct ExtendRedTagHoldInput {
    pub red_tag_id: ID,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct DispositionRedTagItemInput {
    pub red_tag_id: ID,
    pub disposition: RedTagDisposition,
    /// For RETURNED_TO_USE: where it is used now.
    pub location: Option<String>,
    /// For RELOCATED: the zone it moves to.
    pub zone_id: Option<ID>,
}

fn disposition(input: &DispositionRedTagItemInput) -> ApiResult<domain::Disposition> {
    let refuse = |field: &str, message: &str| ApiError::Validation { field: field.into(), message: message.into() };
    let only = |d: domain::Disposition| {
        if input.location.is_some() || input.zone_id.is_some() {
            Err(refuse("disposition", "takes a location only when returned to use, a zone only when relocated"))
        } else {
            Ok(d)
        }
    };
    match input.disposition {
        RedTagDisposition::ReturnedToUse => match (&input.location, &input.zone_id) {
            (Some(location), None) => Ok(domain::Disposition::ReturnedToUse { location: Name::parse("location", location)? }),
            _ => Err(refuse("location", "is required (and only it) when the item returns to use")),
        },
        RedTagDisposition::Relocated => match (&input.location, &input.zone_id) {
            (None, Some(zone)) => Ok(domain::Disposition::Relocated { zone_id: ZoneId::parse(zone)? }),
            _ => Err(refuse("zoneId", "is required (and only it) when the item is relocated")),
        },
        RedTagDisposition::Sold => only(domain::Disposition::Sold),
        RedTagDisposition::Scrapped => only(domain::Disposition::Scrapped),
        RedTagDisposition::Recycled => only(domain::Disposition::Recycled),
        RedTagDisposition::Donated => only(domain::Disposition::Donated),
    }
}

/// Red tag mutations.
#[derive(Debug, Default)]
pub struct RedTagMutation;

#[Object]
impl RedTagMutation {
    /// Red-tags an item in an active zone; it is held for the organisation's hold days.
    async fn tag_red_tag_item(&self, ctx: &Context<'_>, input: TagRedTagItemInput) -> ApiResult<RedTagItem> {
        let p = principal(ctx)?;
        let item = NewRedTag {
            red_tag_id: new_red_tag_id(),
            zone_id: ZoneId::parse(&input.zone_id)?,
            description: long_text("description", &input.description)?,
            qty: input.qty,
            location: Name::parse("location", &input.location)?,
            reason: input.reason.into(),
        };
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.tag_red_tag_item(&command, item).await?;
        payload(ctx, id).await
    }

    /// Extends an item's hold, with a reason (the zone's owner or deputies, owners and admins).
    async fn extend_red_tag_hold(&self, ctx: &Context<'_>, input: ExtendRedTagHoldInput) -> ApiResult<RedTagItem> {
        let p = principal(ctx)?;
        let id = RedTagId::parse(&input.red_tag_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let until = input.until;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let gemba = &services(ctx)?.gemba;
        let now = gemba.now();
        gemba
            .on_red_tag(&command, id, |actor, actor_leads_zone| RedTagCommand::ExtendHold { actor, actor_leads_zone, until, reason, now })
            .await?;
        payload(ctx, id).await
    }

    /// Decides what becomes of an item (the zone's owner or deputies, owners and admins).
    async fn disposition_red_tag_item(&self, ctx: &Context<'_>, input: DispositionRedTagItemInput) -> ApiResult<RedTagItem> {
        let p = principal(ctx)?;
        let id = RedTagId::parse(&input.red_tag_id)?;
        let disposition = disposition(&input)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.disposition_red_tag_item(&command, id, disposition).await?;
        payload(ctx, id).await
    }
}
