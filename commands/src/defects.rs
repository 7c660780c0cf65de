//! Abnormality tags (defects): the facts each command needs, then dispatch.

use chrono::{DateTime, Duration, Utc};
use gemba_domain::defect::{Defect, DefectCommand, DefectState, DefectStatus, EscalationRule, NewDefect, Priority, ZoneFacts};
use gemba_domain::{A3Id, Actor, DefectId, DomainError, KaizenId, MemberId, OrgId, ZoneId};
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::{Channel, CommandContext};
use crate::error::CommandError;
use crate::service::Gemba;

impl Gemba {
    /// The zone facts a defect command needs.
    async fn zone_facts(&self, ctx: &CommandContext, zone: ZoneId, actor: MemberId) -> Result<ZoneFacts, CommandError> {
        let facts = self.actor_in_zone(ctx, zone, actor, "defect_verifier").await?;
        Ok(ZoneFacts { zone_active: facts.zone_active, actor_leads_zone: facts.leads_zone, actor_is_defect_verifier: facts.has_capability })
    }

    pub(crate) async fn member_is_active(&self, ctx: &CommandContext, member: MemberId) -> Result<bool, CommandError> {
        Ok(self
            .count(
                ctx.org,
                "select count(*) from members where org_id = $1 and member_id = $2 and status = 'ACTIVE' and gemba_visible(member_id)",
                Some(member.uuid()),
            )
            .await?
            > 0)
    }

    /// The current state of a defect; `None` when there is none with this id.
    pub async fn defect(&self, org: gemba_domain::OrgId, defect: DefectId) -> Result<Option<DefectState>, CommandError> {
        let loaded = self.bus.load::<Defect>(org, &defect.to_string()).await?;
        Ok(loaded.state().id.map(|_| loaded.state().clone()))
    }

    /// Raises a defect (optionally fixed on the spot: `fixed` = countermeasure and after-evidence).
    pub async fn raise_defect(
        &self,
        ctx: &CommandContext,
        defect: NewDefect,
        fixed: Option<(gemba_domain::LongText, Vec<gemba_domain::EvidenceRef>)>,
    ) -> Result<DefectId, CommandError> {
        let actor = ctx.require_actor()?;
        let facts = self.zone_facts(ctx, defect.zone_id, actor.member_id).await?;
        let id = defect.defect_id;
        let now = self.now();
        let suggestion = self
            .advisor
            .suggest_abnormality_type(defect.title.as_str(), defect.description.as_str())
            .filter(|(kind, _)| *kind != defect.abnormality_type);
        let command = match fixed {
            None => DefectCommand::Raise { actor, facts, defect, now },
            Some((countermeasure, evidence_after)) => {
                DefectCommand::RaiseFixedOnSpot { actor, facts, defect, countermeasure, evidence_after, now }
            }
        };
        let position = self.bus.execute::<Defect>(ctx, &id.to_string(), command).await?;
        let id = DefectId::parse(&position.aggregate_id)?;
        if let Some((abnormality_type, source)) = suggestion {
            // Advisory, by the system: stored as a suggestion, the defect is unchanged.
            let mut system = CommandContext::new(ctx.org, None, Channel::System);
            system.correlation_id = ctx.correlation_id;
            system.request_id = ctx.request_id;
            system.command_id = Uuid::new_v5(&ctx.command_id, b"advisor");
            let suggestion_id = system.command_id.to_string();
            let record = DefectCommand::RecordSuggestion { suggestion_id, abnormality_type, source: source.to_owned() };
            if let Err(error) = self.bus.execute::<Defect>(&system, &id.to_string(), record).await {
                tracing::warn!(%error, defect.id = %id, "the advisor's suggestion was not recorded");
            }
        }
        Ok(id)
    }

    /// Accepts (`accept`) or rejects the pending suggestion on a defect.
    pub async fn decide_suggestion(
        &self,
        ctx: &CommandContext,
        defect: DefectId,
        suggestion_id: String,
        accept: bool,
    ) -> Result<Position, CommandError> {
        self.on_defect(ctx, defect, |actor, facts| {
            if accept {
                DefectCommand::AcceptSuggestion { actor, facts, suggestion_id }
            } else {
                DefectCommand::RejectSuggestion { actor, facts, suggestion_id }
            }
        })
        .await
    }

    /// Runs a command on an existing defect, with the facts of its zone.
    pub async fn on_defect(
        &self,
        ctx: &CommandContext,
        defect: DefectId,
        build: impl FnOnce(Actor, ZoneFacts) -> DefectCommand,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let state = self.defect(ctx.org, defect).await?.ok_or(DomainError::NotFound)?;
        let zone = state.zone_id.ok_or(DomainError::NotFound)?;
        let facts = self.zone_facts(ctx, zone, actor.member_id).await?;
        self.bus.execute::<Defect>(ctx, &defect.to_string(), build(actor, facts)).await
    }

    /// Reopens a closed defect, with a reason; within the organisation's recurrence window it
    /// counts as a recurrence.
    pub async fn reopen_defect(
        &self,
        ctx: &CommandContext,
        defect: DefectId,
        reason: gemba_domain::Reason,
    ) -> Result<Position, CommandError> {
        let recurrence_window = Duration::days(i64::from(self.settings(ctx.org).await?.recurrence_window_days));
        let now = self.now();
        self.on_defect(ctx, defect, |actor, facts| DefectCommand::Reopen { actor, facts, reason, recurrence_window, now }).await
    }

    /// Assigns a defect to an active member; the due date defaults from the priority's SLA.
    pub async fn assign_defect(
        &self,
        ctx: &CommandContext,
        defect: DefectId,
        assignee: MemberId,
        due_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Position, CommandError> {
        let zone = self.defect(ctx.org, defect).await?.and_then(|d| d.zone_id).ok_or(DomainError::NotFound)?;
        let assignee_active = self.member_works_in_zone(ctx, assignee, zone).await?;
        let slas = self.settings(ctx.org).await?.defect_slas;
        let now = self.now();
        self.on_defect(ctx, defect, |actor, facts| DefectCommand::Assign { actor, facts, assignee, assignee_active, due_at, slas, now })
            .await
    }

    /// Reassigns a defect, with a reason.
    pub async fn reassign_defect(
        &self,
        ctx: &CommandContext,
        defect: DefectId,
        assignee: MemberId,
        reason: gemba_domain::Reason,
    ) -> Result<Position, CommandError> {
        let zone = self.defect(ctx.org, defect).await?.and_then(|d| d.zone_id).ok_or(DomainError::NotFound)?;
        let assignee_active = self.member_works_in_zone(ctx, assignee, zone).await?;
        self.on_defect(ctx, defect, |actor, facts| DefectCommand::Reassign { actor, facts, assignee, assignee_active, reason }).await
    }
}

impl Gemba {
    /// Links a defect to an A3 case of the same organisation (checked by loading the case).
    pub async fn link_defect_to_a3(&self, ctx: &CommandContext, defect: DefectId, a3_id: A3Id) -> Result<Position, CommandError> {
        let a3_exists = self.a3(ctx.org, a3_id).await?.is_some();
        self.on_defect(ctx, defect, |actor, facts| DefectCommand::LinkToA3 { actor, facts, a3_id, a3_exists }).await
    }

    /// Links a defect to a kaizen of the same organisation (checked by loading the kaizen).
    pub async fn link_defect_to_kaizen(
        &self,
        ctx: &CommandContext,
        defect: DefectId,
        kaizen_id: KaizenId,
    ) -> Result<Position, CommandError> {
        let kaizen_exists = self.kaizen(ctx.org, kaizen_id).await?.is_some();
        self.on_defect(ctx, defect, |actor, facts| DefectCommand::LinkToKaizen { actor, facts, kaizen_id, kaizen_exists }).await
    }

    /// Escalates a priority-A defect still unassigned `a_ack_minutes` after it was raised, as
    /// the system. The level is the number of whole acknowledgement periods elapsed; each level
    /// is flagged once (the command id derives from the defect and the level), so a periodic
    /// sweeper may call this as often as it likes. `None` when there is nothing to escalate.
    pub async fn escalate_defect(
        &self,
        org: OrgId,
        defect: DefectId,
        a_ack_minutes: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Position>, CommandError> {
        let Some(state) = self.defect(org, defect).await? else {
            return Err(DomainError::NotFound.into());
        };
        let Some(found_at) = state.found_at else {
            return Ok(None);
        };
        if state.priority != Some(Priority::A) || state.status != DefectStatus::Open {
            return Ok(None);
        }
        let elapsed = (now - found_at).num_minutes();
        let level = u32::try_from(elapsed / i64::from(a_ack_minutes.max(1))).unwrap_or(0);
        if level == 0 || level <= state.escalation_level {
            return Ok(None);
        }
        let mut system = CommandContext::new(org, None, Channel::System);
        system.command_id = Uuid::new_v5(&defect.uuid(), format!("escalate/{level}").as_bytes());
        let command = DefectCommand::Escalate { rule: EscalationRule::PriorityAUnassigned, level, a_ack_minutes, now };
        self.bus.execute::<Defect>(&system, &defect.to_string(), command).await.map(Some)
    }
}

/// A fresh defect id.
pub fn new_defect_id() -> DefectId {
    DefectId(Uuid::now_v7())
}
