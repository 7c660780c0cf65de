//! Red-tagged items (5S Sort): the facts each command needs, then dispatch.

use chrono::{DateTime, Utc};
use gemba_domain::red_tag::{Disposition, NewRedTag, RedTagCommand, RedTagItem, RedTagState};
use gemba_domain::{Actor, DomainError, OrgId, RedTagId};
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::{Channel, CommandContext};
use crate::error::CommandError;
use crate::service::Gemba;

impl Gemba {
    /// How many days a red-tagged item is held before its disposition is due: the
    /// organisation's `red_tag_hold_days` setting (30 by default, reference/domain.md §4.5b).
    pub async fn red_tag_hold_days(&self, ctx: &CommandContext) -> Result<u32, CommandError> {
        Ok(self.settings(ctx.org).await?.red_tag_hold_days)
    }

    /// Tags an item in an active zone; it is held for the organisation's hold days.
    pub async fn tag_red_tag_item(&self, ctx: &CommandContext, item: NewRedTag) -> Result<RedTagId, CommandError> {
        let actor = ctx.require_actor()?;
        let zone_active = self.actor_in_zone(ctx, item.zone_id, actor.member_id, "five_s_auditor").await?.zone_active;
        let id = item.red_tag_id;
        let hold_days = self.red_tag_hold_days(ctx).await?;
        let now = self.now();
        let command = RedTagCommand::Tag { actor, zone_active, item, hold_days, now };
        let position = self.bus.execute::<RedTagItem>(ctx, &id.to_string(), command).await?;
        RedTagId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// The current state of a red-tagged item; `None` when there is none with this id.
    pub async fn red_tag_item(&self, org: OrgId, id: RedTagId) -> Result<Option<RedTagState>, CommandError> {
        let loaded = self.bus.load::<RedTagItem>(org, &id.to_string()).await?;
        Ok(loaded.state().id.map(|_| loaded.state().clone()))
    }

    /// Runs a command on a tagged item, with whether the actor leads the item's zone.
    pub async fn on_red_tag(
        &self,
        ctx: &CommandContext,
        id: RedTagId,
        build: impl FnOnce(Actor, bool) -> RedTagCommand,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let zone = self.red_tag_item(ctx.org, id).await?.and_then(|s| s.zone_id).ok_or(DomainError::NotFound)?;
        let leads = self.actor_in_zone(ctx, zone, actor.member_id, "five_s_auditor").await?.leads_zone;
        self.bus.execute::<RedTagItem>(ctx, &id.to_string(), build(actor, leads)).await
    }

    /// Decides what becomes of a tagged item (a relocation's target zone must be active).
    pub async fn disposition_red_tag_item(
        &self,
        ctx: &CommandContext,
        id: RedTagId,
        disposition: Disposition,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let target_zone_active = match &disposition {
            Disposition::Relocated { zone_id } => self.actor_in_zone(ctx, *zone_id, actor.member_id, "five_s_auditor").await?.zone_active,
            _ => true,
        };
        let now = self.now();
        self.on_red_tag(ctx, id, |actor, actor_leads_zone| RedTagCommand::Disposition {
            actor,
            actor_leads_zone,
            disposition,
            target_zone_active,
            now,
        })
        .await
    }

    /// Records, as the system, that an item's hold ended without a decision. Refused
    /// (CONFLICT) unless the item is held and its hold has ended; the command id derives
    /// from the item and its hold end, so a periodic sweeper may call this repeatedly.
    pub async fn expire_red_tag_hold(&self, org: OrgId, id: RedTagId, now: DateTime<Utc>) -> Result<Position, CommandError> {
        let hold_until = self.red_tag_item(org, id).await?.and_then(|s| s.hold_until).ok_or(DomainError::NotFound)?;
        let mut system = CommandContext::new(org, None, Channel::System);
        system.command_id = Uuid::new_v5(&id.uuid(), format!("expire/{}", hold_until.timestamp()).as_bytes());
        self.bus.execute::<RedTagItem>(&system, &id.to_string(), RedTagCommand::ExpireHold { now }).await
    }
}

/// A fresh red tag id.
pub fn new_red_tag_id() -> RedTagId {
    RedTagId(Uuid::now_v7())
}
