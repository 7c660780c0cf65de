//! Kaizens and A3 cases: the facts their commands need, then dispatch.

use gemba_domain::a3::{A3Case, A3Command};
use gemba_domain::kaizen::{Kaizen, KaizenCategory, KaizenCommand};
use gemba_domain::{A3Id, Actor, DefectId, DomainError, KaizenId, LongText, MemberId, Name, Role, ZoneId};
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;

/// Facts about the actor for kaizen decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KaizenFacts {
    /// Owner/Admin, or leader (owner or deputy) of the kaizen's zone.
    pub may_review: bool,
    /// Holds `savings_verifier`.
    pub is_savings_verifier: bool,
    /// The organisation's `verifier_threshold_amount`, in its default currency.
    pub admin_threshold: Option<gemba_domain::kaizen::Money>,
}

impl Gemba {
    /// Drafts a kaizen in an active zone; the actor is its author.
    pub async fn draft_kaizen(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        title: Name,
        category: KaizenCategory,
        problem: LongText,
        proposal: LongText,
    ) -> Result<KaizenId, CommandError> {
        let actor = ctx.require_actor()?;
        let zone_active = self.actor_in_zone(ctx, zone, actor.member_id, "savings_verifier").await?.zone_active;
        let id = KaizenId(Uuid::now_v7());
        let command = KaizenCommand::Draft { actor, kaizen_id: id, zone_id: zone, zone_active, title, category, problem, proposal };
        let position = self.bus.execute::<Kaizen>(ctx, &id.to_string(), command).await?;
        KaizenId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Runs a command on a kaizen with the actor's facts.
    pub async fn on_kaizen(
        &self,
        ctx: &CommandContext,
        id: KaizenId,
        build: impl FnOnce(Actor, KaizenFacts) -> KaizenCommand,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let zone = self.kaizen(ctx.org, id).await?.and_then(|k| k.zone_id()).ok_or(DomainError::NotFound)?;
        let facts = self.actor_in_zone(ctx, zone, actor.member_id, "savings_verifier").await?;
        let facts = KaizenFacts {
            may_review: facts.leads_zone || matches!(actor.role, Role::Owner | Role::Admin),
            is_savings_verifier: facts.has_capability,
            admin_threshold: {
                let settings = self.settings(ctx.org).await?;
                settings
                    .kaizen
                    .verifier_threshold_amount
                    .map(|amount| gemba_domain::kaizen::Money { amount, currency: settings.default_currency })
            },
        };
        self.bus.execute::<Kaizen>(ctx, &id.to_string(), build(actor, facts)).await
    }

    /// Adds a co-author, who must be an active member of the organisation.
    pub async fn add_kaizen_co_author(&self, ctx: &CommandContext, id: KaizenId, member: MemberId) -> Result<Position, CommandError> {
        let member_active = self.member_is_active(ctx, member).await?;
        self.on_kaizen(ctx, id, |actor, _| KaizenCommand::AddCoAuthor { actor, member, member_active }).await
    }

    /// Links a defect of the same organisation to the kaizen.
    pub async fn link_kaizen_to_defect(&self, ctx: &CommandContext, id: KaizenId, defect_id: DefectId) -> Result<Position, CommandError> {
        let defect_exists = self.defect(ctx.org, defect_id).await?.is_some();
        self.on_kaizen(ctx, id, |actor, _| KaizenCommand::LinkToDefect { actor, defect_id, defect_exists }).await
    }

    /// Links an A3 case of the same organisation to the kaizen.
    pub async fn link_kaizen_to_a3(&self, ctx: &CommandContext, id: KaizenId, a3_id: A3Id) -> Result<Position, CommandError> {
        let a3_exists = self.a3(ctx.org, a3_id).await?.is_some();
        self.on_kaizen(ctx, id, |actor, _| KaizenCommand::LinkToA3 { actor, a3_id, a3_exists }).await
    }

    /// The kaizen's current state.
    pub async fn kaizen(&self, org: gemba_domain::OrgId, id: KaizenId) -> Result<Option<Kaizen>, CommandError> {
        let loaded = self.bus.load::<Kaizen>(org, &id.to_string()).await?;
        Ok(loaded.zone_id().is_some().then_some(loaded))
    }

    /// Opens an A3 case.
    pub async fn open_a3(&self, ctx: &CommandContext, theme: LongText, owner: MemberId, coach: MemberId) -> Result<A3Id, CommandError> {
        let actor = ctx.require_actor()?;
        // Only the coach passes the gates and the owner runs the case: both must be able to act.
        for (field, member) in [("ownerId", owner), ("coachId", coach)] {
            if !self.member_acts(ctx, member).await? {
                return Err(gemba_domain::ValidationError::new(field, "is not an active member who may act (Auditors may not)").into());
            }
        }
        let id = A3Id(Uuid::now_v7());
        let position = self.bus.execute::<A3Case>(ctx, &id.to_string(), A3Command::Open { actor, a3_id: id, theme, owner, coach }).await?;
        A3Id::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Checks a kaizen's implementers: each an active member (not an Auditor) working in the
    /// kaizen's site; names repeated once are kept once.
    pub async fn eligible_implementers(
        &self,
        ctx: &CommandContext,
        kaizen: KaizenId,
        implementers: Vec<MemberId>,
    ) -> Result<Vec<MemberId>, CommandError> {
        let zone = self.kaizen(ctx.org, kaizen).await?.and_then(|k| k.zone_id()).ok_or(DomainError::NotFound)?;
        let mut unique: Vec<MemberId> = Vec::with_capacity(implementers.len());
        for member in implementers {
            if unique.contains(&member) {
                continue;
            }
            if !self.member_acts(ctx, member).await? || !self.member_works_in_zone(ctx, member, zone).await? {
                return Err(gemba_domain::ValidationError::new(
                    "implementerIds",
                    "names someone who is not an active member working in the kaizen's site",
                )
                .into());
            }
            unique.push(member);
        }
        Ok(unique)
    }

    /// Whether `member` is active and not an Auditor (Auditors never act on records).
    async fn member_acts(&self, ctx: &CommandContext, member: MemberId) -> Result<bool, CommandError> {
        Ok(self.member_is_active(ctx, member).await? && !matches!(self.role_of(ctx.org, member).await?, Some(Role::Auditor) | None))
    }

    /// Runs a command on an A3 case.
    pub async fn on_a3(&self, ctx: &CommandContext, id: A3Id, build: impl FnOnce(Actor) -> A3Command) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<A3Case>(ctx, &id.to_string(), build(actor)).await
    }

    /// Runs a command naming a member (new owner, coach or team member) with whether that
    /// member is active in the organisation.
    pub async fn on_a3_with_member(
        &self,
        ctx: &CommandContext,
        id: A3Id,
        member: MemberId,
        build: impl FnOnce(Actor, bool) -> A3Command,
    ) -> Result<Position, CommandError> {
        let member_active = self.member_is_active(ctx, member).await?;
        self.on_a3(ctx, id, |actor| build(actor, member_active)).await
    }

    /// The A3 case's current state.
    pub async fn a3(&self, org: gemba_domain::OrgId, id: A3Id) -> Result<Option<A3Case>, CommandError> {
        let loaded = self.bus.load::<A3Case>(org, &id.to_string()).await?;
        Ok((loaded.iteration() > 0).then_some(loaded))
    }
}
