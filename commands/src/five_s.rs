//! 5S templates and audits: facts, dispatch, and the FindingToDefect policy.

use chrono::{DateTime, Utc};
use gemba_domain::defect::{AbnormalityType, Defect, DefectCommand, NewDefect, Origin, Priority, TagClass, ZoneFacts};
use gemba_domain::five_s::{AuditTemplate, Band, Scale, TemplateCommand, TemplateItem, TemplateStatus};
use gemba_domain::five_s_audit::{AuditCommand, AuditEvent, AuditPlan, AuditStart, AuditStatus, AuditType, Finding, FiveSAudit};
use gemba_domain::{
    AuditId, DefectId, DomainError, EvidenceRef, LongText, MemberId, Name, OrgId, Role, TemplateId, ValidationError, ZoneId,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::bus::Position;
use crate::envelope::{Channel, CommandContext};
use crate::error::CommandError;
use crate::service::Gemba;
use crate::store::StoreError;
use crate::tenancy::begin_tenant;

/// Namespace of the ids of defects raised from audits (idempotent per audit and finding).
const FINDING_NAMESPACE: Uuid = Uuid::from_u128(0x5a5e_0000_0000_4000_8000_0000_0000_0005);

/// The id of the defect raised for `source` (a finding id or `item:<id>`) of `audit`.
pub fn finding_defect_id(audit: AuditId, source: &str) -> DefectId {
    DefectId(Uuid::new_v5(&FINDING_NAMESPACE, format!("{audit}/{source}").as_bytes()))
}

impl Gemba {
    /// Runs a template command.
    pub async fn on_template(
        &self,
        ctx: &CommandContext,
        template: TemplateId,
        build: impl FnOnce(gemba_domain::Actor) -> TemplateCommand,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<AuditTemplate>(ctx, &template.to_string(), build(actor)).await
    }

    /// Creates a template draft (version 1).
    pub async fn create_template(&self, ctx: &CommandContext, name: Name, scale: Scale) -> Result<TemplateId, CommandError> {
        let template = TemplateId(Uuid::now_v7());
        let position =
            self.on_template(ctx, template, |actor| TemplateCommand::CreateDraft { actor, template_id: template, name, scale }).await?;
        TemplateId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Starts a new template as a draft copy of another's latest published version (or, when
    /// it was never published, of its draft).
    pub async fn clone_template(&self, ctx: &CommandContext, from: TemplateId, name: Option<Name>) -> Result<TemplateId, CommandError> {
        let source = self
            .template(ctx.org, from)
            .await?
            .and_then(|t| t.published().map(|(d, _)| d.clone()).or_else(|| t.definition().cloned()))
            .ok_or_else(|| ValidationError::new("fromTemplateId", "does not name a template of this organisation"))?;
        let template = TemplateId(Uuid::now_v7());
        let position = self
            .on_template(ctx, template, |actor| TemplateCommand::Clone { actor, template_id: template, name, source: Box::new(source) })
            .await?;
        TemplateId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Adds an item to a draft.
    pub async fn add_template_item(
        &self,
        ctx: &CommandContext,
        template: TemplateId,
        item: TemplateItem,
    ) -> Result<Position, CommandError> {
        self.on_template(ctx, template, |actor| TemplateCommand::AddItem { actor, item }).await
    }

    /// Sets a draft's bands.
    pub async fn set_template_bands(&self, ctx: &CommandContext, template: TemplateId, bands: Vec<Band>) -> Result<Position, CommandError> {
        self.on_template(ctx, template, |actor| TemplateCommand::SetBands { actor, bands }).await
    }

    /// Publishes a draft, freezing it under the sha256 of its canonical JSON.
    pub async fn publish_template(&self, ctx: &CommandContext, template: TemplateId) -> Result<Position, CommandError> {
        let loaded = self.bus.load::<AuditTemplate>(ctx.org, &template.to_string()).await?;
        let definition = loaded.definition().ok_or(DomainError::NotFound)?;
        let json = serde_json::to_value(definition).map_err(|e| CommandError::Internal(e.to_string()))?;
        let mut bytes = Vec::new();
        crate::chain::write_canonical(&json, &mut bytes);
        let checksum = hex::encode(Sha256::digest(&bytes));
        self.on_template(ctx, template, |actor| TemplateCommand::Publish { actor, checksum }).await
    }

    /// The template's current state.
    pub async fn template(&self, org: gemba_domain::OrgId, template: TemplateId) -> Result<Option<AuditTemplate>, CommandError> {
        let loaded = self.bus.load::<AuditTemplate>(org, &template.to_string()).await?;
        Ok(loaded.definition().is_some().then_some(loaded))
    }

    /// Schedules an audit of a zone, due at `due_at` (five_s_auditors, the zone's leaders,
    /// owners and admins).
    pub async fn schedule_audit(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        audit_type: AuditType,
        due_at: DateTime<Utc>,
    ) -> Result<AuditId, CommandError> {
        let actor = ctx.require_actor()?;
        let facts = self.actor_in_zone(ctx, zone, actor.member_id, "five_s_auditor").await?;
        let audit = AuditId(Uuid::now_v7());
        let plan = AuditPlan {
            audit_id: audit,
            zone_id: zone,
            zone_active: facts.zone_active,
            audit_type,
            due_at,
            actor_may_schedule: facts.has_capability || facts.leads_zone || matches!(actor.role, Role::Owner | Role::Admin),
        };
        let now = self.now();
        let position = self.bus.execute::<FiveSAudit>(ctx, &audit.to_string(), AuditCommand::Schedule { actor, plan, now }).await?;
        AuditId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Marks a scheduled audit that was not started by its due date as missed, as the
    /// system. Refused (CONFLICT) unless the audit is scheduled and past due; the command
    /// id derives from the audit, so a periodic sweeper may call this repeatedly.
    pub async fn mark_audit_missed(&self, org: OrgId, audit: AuditId, now: DateTime<Utc>) -> Result<Position, CommandError> {
        let mut system = CommandContext::new(org, None, Channel::System);
        system.command_id = Uuid::new_v5(&audit.uuid(), b"missed");
        self.bus.execute::<FiveSAudit>(&system, &audit.to_string(), AuditCommand::MarkMissed { now }).await
    }

    /// Starts an audit of a zone against the latest published version of a template; with
    /// `scheduled`, starts that scheduled audit (same zone and type).
    pub async fn start_audit(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        audit_type: AuditType,
        template: TemplateId,
        conducted_by: Vec<MemberId>,
        scheduled: Option<AuditId>,
    ) -> Result<AuditId, CommandError> {
        let actor = ctx.require_actor()?;
        let (definition, checksum) = self
            .template(ctx.org, template)
            .await?
            .filter(|t| t.status() != TemplateStatus::Retired)
            .and_then(|t| t.published().cloned())
            .ok_or_else(|| ValidationError::new("templateId", "does not name a published template that is not retired"))?;
        let facts = self.actor_in_zone(ctx, zone, actor.member_id, "five_s_auditor").await?;
        let audit_type_text = serde_json::to_value(audit_type).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let open = {
            let mut tx = begin_tenant(self.pool(), ctx.org).await?;
            let open: bool = sqlx::query_scalar(
                "select exists(select 1 from audits where org_id = $1 and zone_id = $2 and audit_type = $3 and status = 'IN_PROGRESS')",
            )
            .bind(ctx.org.uuid())
            .bind(zone.uuid())
            .bind(audit_type_text)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            open
        };
        if let Some(id) = scheduled
            && self.audit(ctx.org, id).await?.is_none_or(|a| a.status() == AuditStatus::None)
        {
            return Err(DomainError::NotFound.into());
        }
        let audit = scheduled.unwrap_or_else(|| AuditId(Uuid::now_v7()));
        let start = AuditStart {
            audit_id: audit,
            zone_id: zone,
            zone_active: facts.zone_active,
            zone_owner: facts.zone_owner,
            audit_type,
            template: definition,
            checksum,
            conducted_by,
            actor_may_conduct: facts.has_capability || (audit_type == AuditType::SelfAudit && facts.leads_zone),
            open_audit_exists: open,
        };
        let now = self.now();
        let position =
            self.bus.execute::<FiveSAudit>(ctx, &audit.to_string(), AuditCommand::Start { actor, start: Box::new(start), now }).await?;
        AuditId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Runs an audit command.
    pub async fn on_audit(
        &self,
        ctx: &CommandContext,
        audit: AuditId,
        build: impl FnOnce(gemba_domain::Actor) -> AuditCommand,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<FiveSAudit>(ctx, &audit.to_string(), build(actor)).await
    }

    /// The audit's current state.
    pub async fn audit(&self, org: gemba_domain::OrgId, audit: AuditId) -> Result<Option<FiveSAudit>, CommandError> {
        let loaded = self.bus.load::<FiveSAudit>(org, &audit.to_string()).await?;
        Ok(loaded.zone_id().is_some().then_some(loaded))
    }

    /// Submits an audit and, in the same transaction, raises a defect for every finding
    /// marked `raise_defect` and every item at or below its auto-finding threshold
    /// (the FindingToDefect policy; defect ids derive from the audit and the finding, so
    /// it is idempotent). Returns the ids of the defects raised.
    pub async fn submit_audit(&self, ctx: &CommandContext, audit: AuditId) -> Result<Vec<DefectId>, CommandError> {
        let actor = ctx.require_actor()?;
        let state = self.audit(ctx.org, audit).await?.ok_or(DomainError::NotFound)?;
        let zone = state.zone_id().ok_or(DomainError::NotFound)?;
        let mut events = self.bus.decide::<FiveSAudit>(ctx, &audit.to_string(), AuditCommand::Submit { actor, now: self.now() }).await?;
        let auto_items = match events.first().map(|e| serde_json::from_value::<AuditEvent>(e.payload.clone())) {
            Some(Ok(AuditEvent::AuditSubmitted { auto_finding_items, .. })) => auto_finding_items,
            _ => Vec::new(),
        };
        let mut to_raise: Vec<(String, NewDefect)> = Vec::new();
        for finding in state.findings().iter().filter(|f| f.raise_defect) {
            to_raise.push((finding.finding_id.clone(), finding_defect(audit, zone, finding)?));
        }
        for item in auto_items {
            let source = format!("item:{item}");
            let description = LongText::parse("description", &format!("5S audit {audit}: item {item} scored at or below its threshold"))?;
            to_raise.push((
                source.clone(),
                NewDefect {
                    defect_id: finding_defect_id(audit, &source),
                    zone_id: zone,
                    abnormality_type: AbnormalityType::Other,
                    tag_class: TagClass::Operator,
                    priority: Priority::C,
                    title: Name::parse("title", &format!("5S finding: item {item}"))?,
                    description,
                    origin: Origin::FiveSAudit,
                    evidence_before: Vec::<EvidenceRef>::new(),
                },
            ));
        }
        let facts = ZoneFacts { zone_active: true, ..ZoneFacts::default() };
        let mut raised = Vec::new();
        for (_, defect) in to_raise {
            let id = defect.defect_id;
            let command = DefectCommand::Raise { actor, facts, defect, now: self.now() };
            events.extend(self.bus.decide::<Defect>(ctx, &id.to_string(), command).await?);
            raised.push(id);
        }
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        if self.bus.append(&mut tx, ctx, &events).await?.is_none() {
            return Err(CommandError::Conflict("this command was already executed"));
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(raised)
    }
}

fn finding_defect(audit: AuditId, zone: ZoneId, finding: &Finding) -> Result<NewDefect, CommandError> {
    let title: String = finding.description.as_str().chars().take(Name::MAX_CHARS).collect();
    Ok(NewDefect {
        defect_id: finding_defect_id(audit, &finding.finding_id),
        zone_id: zone,
        abnormality_type: finding.abnormality_type.unwrap_or(AbnormalityType::Other),
        tag_class: TagClass::Operator,
        priority: match (finding.abnormality_type, finding.suggested_priority) {
            (Some(AbnormalityType::UnsafePlace), Priority::C) => Priority::B,
            (_, p) => p,
        },
        title: Name::parse("title", &title)?,
        description: finding.description.clone(),
        origin: Origin::FiveSAudit,
        evidence_before: Vec::new(),
    })
}
