//! 5S templates and audits in GraphQL.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use gemba_domain::defect::{AbnormalityType as DomainType, Priority as DomainPriority};
use gemba_domain::five_s::{self as domain, Anchors, AuditTemplate, ItemValue, Scale, TemplateItem};
use gemba_domain::five_s_audit::{self as audit, Finding, FiveSAudit};
use gemba_domain::{AuditId, EvidenceRef, LongText, MemberId, Name, TemplateId, ZoneId};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::context::{command_context, principal, services};
use super::defects::{AbnormalityType, Priority};
use super::errors::{ApiError, ApiResult};
use super::inputs::{optional_long_text, reason, require_uploaded};
use super::types::ReasonCode;

mirror_enum!(
    /// A section of a 5S checklist.
    Section => domain::Section { Sort, SetInOrder, Shine, Standardize, Sustain, Safety }
);
mirror_enum!(
    /// Where a template stands.
    TemplateStatus => domain::TemplateStatus { None, Draft, Published, Retired }
);
mirror_enum!(
    /// Who audits: the zone's own team (SELF_AUDIT), a supervisor, a cross-functional team, management.
    AuditType => audit::AuditType { SelfAudit, Supervisor, CrossFunctional, Management }
);
mirror_enum!(
    /// Where an audit stands.
    AuditStatus => audit::AuditStatus { None, InProgress, Submitted, Cancelled, Scheduled, Missed }
);

/// A checklist item.
#[derive(Debug, SimpleObject)]
pub struct ChecklistItem {
    pub item_id: String,
    pub section: Section,
    pub text: String,
    pub guidance: Option<String>,
    pub weight: Decimal,
    pub na_allowed: bool,
    pub critical: bool,
    pub auto_finding_at_or_below: Option<i32>,
    pub photo_required_at_or_below: Option<i32>,
}

impl From<&TemplateItem> for ChecklistItem {
    fn from(item: &TemplateItem) -> Self {
        Self {
            item_id: item.item_id.clone(),
            section: item.section.into(),
            text: item.text.to_string(),
            guidance: item.guidance.as_ref().map(|g| g.as_str().to_owned()),
            weight: item.weight,
            na_allowed: item.na_allowed,
            critical: item.critical,
            auto_finding_at_or_below: item.auto_finding_at_or_below,
            photo_required_at_or_below: item.photo_required_at_or_below,
        }
    }
}

/// The written meaning of one scale value.
#[derive(Debug, SimpleObject)]
pub struct ScaleAnchor {
    pub value: i32,
    pub text: String,
}

/// A score band.
#[derive(Debug, SimpleObject)]
pub struct ScoreBand {
    pub label: String,
    pub min_pct: Decimal,
}

/// A 5S checklist template (its current draft or published version).
#[derive(Debug)]
pub struct AuditTemplateView(AuditTemplate);

#[Object(name = "AuditTemplate")]
impl AuditTemplateView {
    async fn id(&self) -> Option<ID> {
        self.0.definition().map(|d| ID(d.template_id.to_string()))
    }
    async fn name(&self) -> Option<String> {
        self.0.definition().map(|d| d.name.to_string())
    }
    async fn version(&self) -> Option<u32> {
        self.0.definition().map(|d| d.version)
    }
    async fn status(&self) -> TemplateStatus {
        self.0.status().into()
    }
    async fn scale_min(&self) -> Option<i32> {
        self.0.definition().map(|d| d.scale.min)
    }
    async fn scale_max(&self) -> Option<i32> {
        self.0.definition().map(|d| d.scale.max)
    }
    async fn scale_step(&self) -> Option<i32> {
        self.0.definition().map(|d| d.scale.step)
    }
    /// The written meaning of scale values, lowest first.
    async fn anchors(&self) -> Vec<ScaleAnchor> {
        self.0
            .definition()
            .map(|d| d.anchors.iter().map(|(value, text)| ScaleAnchor { value: *value, text: text.to_string() }).collect())
            .unwrap_or_default()
    }
    /// In checklist order.
    async fn items(&self) -> Vec<ChecklistItem> {
        self.0.definition().map(|d| d.items.iter().map(Into::into).collect()).unwrap_or_default()
    }
    async fn bands(&self) -> Vec<ScoreBand> {
        self.0
            .definition()
            .map(|d| d.bands.iter().map(|b| ScoreBand { label: b.label.to_string(), min_pct: b.min_pct }).collect())
            .unwrap_or_default()
    }
    /// The latest published version (what new audits pin) and its checksum.
    async fn published_version(&self) -> Option<u32> {
        self.0.published().map(|(d, _)| d.version)
    }
    async fn checksum(&self) -> Option<String> {
        self.0.published().map(|(_, c)| c.clone())
    }
}

/// One item's result.
#[derive(Debug, SimpleObject)]
pub struct ItemResultView {
    pub item_id: String,
    /// Null when not applicable.
    pub value: Option<i32>,
    pub not_applicable: bool,
    pub comment: Option<String>,
    pub evidence: Vec<String>,
}

/// A finding of an audit.
#[derive(Debug, SimpleObject)]
pub struct AuditFinding {
    pub finding_id: String,
    pub item_id: Option<String>,
    pub description: String,
    pub suggested_priority: Priority,
    pub raise_defect: bool,
}

/// A file attached to an audit (to one item, or to the audit as a whole).
#[derive(Debug, SimpleObject)]
pub struct AuditEvidence {
    pub item_id: Option<String>,
    /// sha256 of the file.
    pub sha256: String,
}

/// A section's score.
#[derive(Debug, SimpleObject)]
pub struct SectionScore {
    pub section: Section,
    /// Unrounded; null when every item of the section is not applicable.
    pub pct: Option<Decimal>,
}

/// One 5S audit of one zone.
#[derive(Debug)]
pub struct AuditView(AuditId, FiveSAudit);

#[Object(name = "FiveSAudit")]
impl AuditView {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }
    async fn zone_id(&self) -> Option<ID> {
        self.1.zone_id().map(|z| ID(z.to_string()))
    }
    async fn status(&self) -> AuditStatus {
        self.1.status().into()
    }
    async fn audit_type(&self) -> Option<AuditType> {
        self.1.audit_type().map(Into::into)
    }
    /// When a scheduled audit is due.
    async fn due_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.1.due_at()
    }
    /// Files attached on their own (scores may also carry evidence).
    async fn evidence(&self) -> Vec<AuditEvidence> {
        self.1.attachments().iter().map(|(item_id, e)| AuditEvidence { item_id: item_id.clone(), sha256: e.as_str().to_owned() }).collect()
    }
    async fn template_id(&self) -> Option<ID> {
        self.1.template_version().map(|(t, _)| ID(t.to_string()))
    }
    async fn template_version(&self) -> Option<u32> {
        self.1.template_version().map(|(_, v)| v)
    }
    async fn conducted_by_ids(&self) -> Vec<ID> {
        self.1.conducted_by().iter().map(|m| ID(m.to_string())).collect()
    }
    async fn results(&self) -> Vec<ItemResultView> {
        self.1
            .results()
            .iter()
            .map(|(item_id, r)| ItemResultView {
                item_id: item_id.clone(),
                value: match r.value {
                    ItemValue::Score(v) => Some(v),
                    ItemValue::NotApplicable => None,
                },
                not_applicable: r.value == ItemValue::NotApplicable,
                comment: r.comment.as_ref().map(|c| c.as_str().to_owned()),
                evidence: r.evidence.iter().map(|e| e.as_str().to_owned()).collect(),
            })
            .collect()
    }
    async fn findings(&self) -> Vec<AuditFinding> {
        self.1
            .findings()
            .iter()
            .map(|f| AuditFinding {
                finding_id: f.finding_id.clone(),
                item_id: f.item_id.clone(),
                description: f.description.as_str().to_owned(),
                suggested_priority: f.suggested_priority.into(),
                raise_defect: f.raise_defect,
            })
            .collect()
    }
    /// Frozen at submit (and recomputed by corrections); unrounded.
    async fn score_pct(&self) -> Option<Decimal> {
        self.1.scores().and_then(|s| s.score_pct)
    }
    async fn band(&self) -> Option<String> {
        self.1.scores().and_then(|s| s.band.clone())
    }
    async fn sections(&self) -> Vec<SectionScore> {
        self.1
            .scores()
            .map(|s| s.sections.iter().map(|x| SectionScore { section: x.section.into(), pct: x.pct }).collect())
            .unwrap_or_default()
    }
}

/// 5S queries.
#[derive(Debug, Default)]
pub struct FiveSQuery;

#[Object]
impl FiveSQuery {
    /// A template by id; null when absent or in another organisation.
    async fn audit_template(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<AuditTemplateView>> {
        let p = principal(ctx)?;
        Ok(services(ctx)?.gemba.template(p.org, TemplateId::parse(&id)?).await?.map(AuditTemplateView))
    }

    /// An audit by id; null when absent or in another organisation.
    async fn audit(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<AuditView>> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&id)?;
        match services(ctx)?.gemba.audit(p.org, id).await? {
            Some(a) if super::context::visible(ctx, &a.zone_id().map(|z| z.uuid()).into_iter().collect::<Vec<_>>()).await? => {
                Ok(Some(AuditView(id, a)))
            }
            _ => Ok(None),
        }
    }
}

async fn template_payload(ctx: &Context<'_>, id: TemplateId) -> ApiResult<AuditTemplateView> {
    let p = principal(ctx)?;
    services(ctx)?.gemba.template(p.org, id).await?.map(AuditTemplateView).ok_or(ApiError::NotFound)
}

async fn audit_payload(ctx: &Context<'_>, id: AuditId) -> ApiResult<AuditView> {
    let p = principal(ctx)?;
    services(ctx)?.gemba.audit(p.org, id).await?.map(|a| AuditView(id, a)).ok_or(ApiError::NotFound)
}

fn value(score: Option<i32>, not_applicable: Option<bool>) -> ApiResult<ItemValue> {
    match (score, not_applicable.unwrap_or(false)) {
        (Some(v), false) => Ok(ItemValue::Score(v)),
        (None, true) => Ok(ItemValue::NotApplicable),
        _ => Err(ApiError::Validation { field: "value".into(), message: "give either a value or notApplicable: true".into() }),
    }
}

#[derive(Debug, InputObject)]
pub struct CreateTemplateDraftInput {
    pub name: String,
    pub scale_min: i32,
    pub scale_max: i32,
    pub scale_step: Option<i32>,
}

#[derive(Debug, InputObject)]
pub struct AddTemplateItemInput {
    pub template_id: ID,
    pub item_id: String,
    pub section: Section,
    pub text: String,
    pub guidance: Option<String>,
    /// Default 1.
    pub weight: Option<Decimal>,
    pub na_allowed: Option<bool>,
    pub critical: Option<bool>,
    pub auto_finding_at_or_below: Option<i32>,
    pub photo_required_at_or_below: Option<i32>,
}

#[derive(Debug, InputObject)]
pub struct CloneTemplateInput {
    pub from_template_id: ID,
    /// Default: the source's name.
    pub name: Option<String>,
}

/// What changes in an item; absent fields stay as they are (null clears an optional one).
#[derive(Debug, InputObject)]
pub struct ChangeTemplateItemInput {
    pub template_id: ID,
    pub item_id: String,
    pub section: Option<Section>,
    pub text: Option<String>,
    pub guidance: MaybeUndefined<String>,
    pub weight: Option<Decimal>,
    pub na_allowed: Option<bool>,
    pub critical: Option<bool>,
    pub auto_finding_at_or_below: MaybeUndefined<i32>,
    pub photo_required_at_or_below: MaybeUndefined<i32>,
}

#[derive(Debug, InputObject)]
pub struct TemplateItemInput {
    pub template_id: ID,
    pub item_id: String,
}

#[derive(Debug, InputObject)]
pub struct ReorderTemplateItemsInput {
    pub template_id: ID,
    /// Every item id of the template, once, in the new order.
    pub order: Vec<String>,
}

#[derive(Debug, InputObject)]
pub struct AnchorInput {
    pub value: i32,
    pub text: String,
}

#[derive(Debug, InputObject)]
pub struct SetTemplateScaleInput {
    pub template_id: ID,
    pub min: i32,
    pub max: i32,
    /// Default 1.
    pub step: Option<i32>,
    pub anchors: Option<Vec<AnchorInput>>,
}

#[derive(Debug, InputObject)]
pub struct RetireTemplateInput {
    pub template_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct BandInput {
    pub label: String,
    pub min_pct: Decimal,
}

#[derive(Debug, InputObject)]
pub struct SetTemplateBandsInput {
    pub template_id: ID,
    pub bands: Vec<BandInput>,
}

#[derive(Debug, InputObject)]
pub struct TemplateInput {
    pub template_id: ID,
}

#[derive(Debug, InputObject)]
pub struct StartAuditInput {
    pub zone_id: ID,
    pub audit_type: AuditType,
    pub template_id: ID,
    /// Co-auditors (the caller is always one).
    pub conducted_by: Option<Vec<ID>>,
    /// Starts this scheduled audit (of the same zone and type) instead of a new one.
    pub audit_id: Option<ID>,
}

#[derive(Debug, InputObject)]
pub struct ScheduleAuditInput {
    pub zone_id: ID,
    pub audit_type: AuditType,
    pub due_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, InputObject)]
pub struct MarkItemNotApplicableInput {
    pub audit_id: ID,
    pub item_id: String,
    /// Required: why the item does not apply.
    pub comment: String,
}

#[derive(Debug, InputObject)]
pub struct AttachAuditEvidenceInput {
    pub audit_id: ID,
    /// The item it shows; absent for the audit as a whole.
    pub item_id: Option<String>,
    /// sha256 of the uploaded file.
    pub evidence: String,
}

#[derive(Debug, InputObject)]
pub struct ScoreItemInput {
    pub audit_id: ID,
    pub item_id: String,
    pub value: Option<i32>,
    pub not_applicable: Option<bool>,
    pub comment: Option<String>,
    /// sha256 of uploaded photos.
    pub evidence: Option<Vec<String>>,
}

#[derive(Debug, InputObject)]
pub struct RecordAuditFindingInput {
    pub audit_id: ID,
    pub item_id: Option<String>,
    pub description: String,
    pub suggested_priority: Priority,
    /// Raise a defect for it when the audit is submitted.
    pub raise_defect: bool,
    pub abnormality_type: Option<AbnormalityType>,
}

#[derive(Debug, InputObject)]
pub struct AuditInput {
    pub audit_id: ID,
}

#[derive(Debug, InputObject)]
pub struct CorrectAuditItemScoreInput {
    pub audit_id: ID,
    pub item_id: String,
    pub value: Option<i32>,
    pub not_applicable: Option<bool>,
    pub comment: Option<String>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct CancelAuditInput {
    pub audit_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

/// A submitted audit and the defects its findings raised.
#[derive(Debug, SimpleObject)]
pub struct SubmitAuditPayload {
    pub audit: AuditView,
    pub raised_defect_ids: Vec<ID>,
}

/// 5S mutations.
#[derive(Debug, Default)]
pub struct FiveSMutation;

#[Object]
impl FiveSMutation {
    /// Creates a 5S checklist template draft (version 1). Owners and Admins.
    async fn create_template_draft(&self, ctx: &Context<'_>, input: CreateTemplateDraftInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let name = Name::parse("name", &input.name)?;
        let scale = Scale::parse(input.scale_min, input.scale_max, input.scale_step.unwrap_or(1))?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.create_template(&command, name, scale).await?;
        template_payload(ctx, id).await
    }

    /// Adds an item to a draft.
    async fn add_template_item(&self, ctx: &Context<'_>, input: AddTemplateItemInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let item = TemplateItem {
            item_id: input.item_id.trim().to_owned(),
            section: input.section.into(),
            text: Name::parse("text", &input.text)?,
            guidance: optional_long_text("guidance", input.guidance.as_deref())?,
            weight: input.weight.unwrap_or(Decimal::ONE),
            na_allowed: input.na_allowed.unwrap_or(true),
            critical: input.critical.unwrap_or(false),
            auto_finding_at_or_below: input.auto_finding_at_or_below,
            photo_required_at_or_below: input.photo_required_at_or_below,
        };
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.add_template_item(&command, id, item).await?;
        template_payload(ctx, id).await
    }

    /// Sets a draft's score bands.
    async fn set_template_bands(&self, ctx: &Context<'_>, input: SetTemplateBandsInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let bands = input
            .bands
            .iter()
            .map(|b| Ok(domain::Band { label: Name::parse("label", &b.label)?, min_pct: b.min_pct }))
            .collect::<ApiResult<Vec<_>>>()?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.set_template_bands(&command, id, bands).await?;
        template_payload(ctx, id).await
    }

    /// Publishes a draft: the version is frozen under a checksum; new audits pin it.
    async fn publish_template(&self, ctx: &Context<'_>, input: TemplateInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.publish_template(&command, id).await?;
        template_payload(ctx, id).await
    }

    /// Starts a new template (a version 1 draft) as a copy of another's latest published version.
    async fn clone_template(&self, ctx: &Context<'_>, input: CloneTemplateInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let from = TemplateId::parse(&input.from_template_id)?;
        let name = input.name.as_deref().map(|n| Name::parse("name", n)).transpose()?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.clone_template(&command, from, name).await?;
        template_payload(ctx, id).await
    }

    /// Changes an item of a draft; the history keeps the item before and after.
    async fn change_template_item(&self, ctx: &Context<'_>, input: ChangeTemplateItemInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let gemba = &services(ctx)?.gemba;
        let current = gemba
            .template(p.org, id)
            .await?
            .and_then(|t| t.definition().and_then(|d| d.item(input.item_id.trim()).cloned()))
            .ok_or(ApiError::NotFound)?;
        let patched = |field: &MaybeUndefined<i32>, old: Option<i32>| match field {
            MaybeUndefined::Undefined => old,
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(v) => Some(*v),
        };
        let item = TemplateItem {
            section: input.section.map_or(current.section, Into::into),
            text: match &input.text {
                Some(text) => Name::parse("text", text)?,
                None => current.text.clone(),
            },
            guidance: match &input.guidance {
                MaybeUndefined::Undefined => current.guidance.clone(),
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(text) => Some(LongText::parse("guidance", text)?),
            },
            weight: input.weight.unwrap_or(current.weight),
            na_allowed: input.na_allowed.unwrap_or(current.na_allowed),
            critical: input.critical.unwrap_or(current.critical),
            auto_finding_at_or_below: patched(&input.auto_finding_at_or_below, current.auto_finding_at_or_below),
            photo_required_at_or_below: patched(&input.photo_required_at_or_below, current.photo_required_at_or_below),
            item_id: current.item_id,
        };
        let command = command_context(ctx, p.org, Some(p), &input)?;
        gemba.on_template(&command, id, |actor| domain::TemplateCommand::ChangeItem { actor, item }).await?;
        template_payload(ctx, id).await
    }

    /// Removes an item from a draft.
    async fn remove_template_item(&self, ctx: &Context<'_>, input: TemplateItemInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let item_id = input.item_id.trim().to_owned();
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_template(&command, id, |actor| domain::TemplateCommand::RemoveItem { actor, item_id }).await?;
        template_payload(ctx, id).await
    }

    /// Puts a draft's items in a new order (every item, once).
    async fn reorder_template_items(&self, ctx: &Context<'_>, input: ReorderTemplateItemsInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        if input.order.len() > 500 {
            return Err(ApiError::Validation { field: "order".into(), message: "lists at most 500 items".into() });
        }
        let order = input.order.iter().map(|i| i.trim().to_owned()).collect();
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_template(&command, id, |actor| domain::TemplateCommand::ReorderItems { actor, order }).await?;
        template_payload(ctx, id).await
    }

    /// Sets a draft's scale (min < max, on a step) and the written meaning of its values.
    async fn set_template_scale(&self, ctx: &Context<'_>, input: SetTemplateScaleInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let scale = Scale::parse(input.min, input.max, input.step.unwrap_or(1))?;
        let mut anchors = Anchors::new();
        for anchor in input.anchors.iter().flatten() {
            if anchors.insert(anchor.value, Name::parse("anchors", &anchor.text)?).is_some() {
                return Err(ApiError::Validation { field: "anchors".into(), message: "names each value once".into() });
            }
        }
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_template(&command, id, |actor| domain::TemplateCommand::SetScale { actor, scale, anchors }).await?;
        template_payload(ctx, id).await
    }

    /// Starts the next version as a draft copy of the published one; audits keep their pinned version.
    async fn revise_template(&self, ctx: &Context<'_>, input: TemplateInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_template(&command, id, |actor| domain::TemplateCommand::Revise { actor }).await?;
        template_payload(ctx, id).await
    }

    /// Retires a template, with a reason: no new audits start on it; audits already started are unaffected.
    async fn retire_template(&self, ctx: &Context<'_>, input: RetireTemplateInput) -> ApiResult<AuditTemplateView> {
        let p = principal(ctx)?;
        let id = TemplateId::parse(&input.template_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_template(&command, id, |actor| domain::TemplateCommand::Retire { actor, reason }).await?;
        template_payload(ctx, id).await
    }

    /// Starts an audit of a zone against the template's published version.
    async fn start_audit(&self, ctx: &Context<'_>, input: StartAuditInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let template = TemplateId::parse(&input.template_id)?;
        let conducted_by = input.conducted_by.iter().flatten().map(|id| MemberId::parse(id)).collect::<Result<Vec<_>, _>>()?;
        let scheduled = input.audit_id.as_ref().map(|id| AuditId::parse(id)).transpose()?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.start_audit(&command, zone, input.audit_type.into(), template, conducted_by, scheduled).await?;
        audit_payload(ctx, id).await
    }

    /// Schedules an audit of a zone with a due date; `startAudit` with its id starts it.
    async fn schedule_audit(&self, ctx: &Context<'_>, input: ScheduleAuditInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.schedule_audit(&command, zone, input.audit_type.into(), input.due_at).await?;
        audit_payload(ctx, id).await
    }

    /// Marks an item not applicable (only where the template allows it), with a comment.
    async fn mark_item_not_applicable(&self, ctx: &Context<'_>, input: MarkItemNotApplicableInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let comment = LongText::parse("comment", &input.comment)?;
        let item_id = input.item_id.trim().to_owned();
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_audit(&command, id, |actor| audit::AuditCommand::MarkItemNotApplicable { actor, item_id, comment }).await?;
        audit_payload(ctx, id).await
    }

    /// Attaches a file (by sha256) to an item or to the audit as a whole.
    async fn attach_audit_evidence(&self, ctx: &Context<'_>, input: AttachAuditEvidenceInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let evidence = EvidenceRef::parse("evidence", &input.evidence)?;
        require_uploaded(ctx, "evidence", std::slice::from_ref(&evidence)).await?;
        let item_id = input.item_id.as_ref().map(|i| i.trim().to_owned());
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_audit(&command, id, |actor| audit::AuditCommand::AttachEvidence { actor, item_id, evidence }).await?;
        audit_payload(ctx, id).await
    }

    /// Scores an item (or marks it not applicable, with a comment).
    async fn score_item(&self, ctx: &Context<'_>, input: ScoreItemInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let value = value(input.value, input.not_applicable)?;
        let comment = optional_long_text("comment", input.comment.as_deref())?;
        let evidence = input.evidence.iter().flatten().map(|e| EvidenceRef::parse("evidence", e)).collect::<Result<Vec<_>, _>>()?;
        require_uploaded(ctx, "evidence", &evidence).await?;
        let item_id = input.item_id.clone();
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?
            .gemba
            .on_audit(&command, id, |actor| audit::AuditCommand::ScoreItem { actor, item_id, value, comment, evidence })
            .await?;
        audit_payload(ctx, id).await
    }

    /// Records a finding; with `raiseDefect` the submit raises a defect for it.
    async fn record_audit_finding(&self, ctx: &Context<'_>, input: RecordAuditFindingInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let finding = Finding {
            finding_id: Uuid::now_v7().to_string(),
            item_id: input.item_id.clone(),
            description: LongText::parse("description", &input.description)?,
            suggested_priority: DomainPriority::from(input.suggested_priority),
            raise_defect: input.raise_defect,
            abnormality_type: input.abnormality_type.map(DomainType::from),
        };
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_audit(&command, id, |actor| audit::AuditCommand::RecordFinding { actor, finding }).await?;
        audit_payload(ctx, id).await
    }

    /// Submits the audit: scores are computed and frozen; findings raise defects.
    async fn submit_audit(&self, ctx: &Context<'_>, input: AuditInput) -> ApiResult<SubmitAuditPayload> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let raised = services(ctx)?.gemba.submit_audit(&command, id).await?;
        Ok(SubmitAuditPayload {
            audit: audit_payload(ctx, id).await?,
            raised_defect_ids: raised.into_iter().map(|d| ID(d.to_string())).collect(),
        })
    }

    /// Corrects an item of a submitted audit, with a reason; totals are recomputed.
    async fn correct_audit_item_score(&self, ctx: &Context<'_>, input: CorrectAuditItemScoreInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let value = value(input.value, input.not_applicable)?;
        let comment = optional_long_text("comment", input.comment.as_deref())?;
        let reason = reason(input.reason_code, &input.reason)?;
        let item_id = input.item_id.clone();
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?
            .gemba
            .on_audit(&command, id, |actor| audit::AuditCommand::CorrectItemScore { actor, item_id, value, comment, reason })
            .await?;
        audit_payload(ctx, id).await
    }

    /// Cancels an audit in progress, with a reason.
    async fn cancel_audit(&self, ctx: &Context<'_>, input: CancelAuditInput) -> ApiResult<AuditView> {
        let p = principal(ctx)?;
        let id = AuditId::parse(&input.audit_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_audit(&command, id, |actor| audit::AuditCommand::Cancel { actor, reason }).await?;
        audit_payload(ctx, id).await
    }
}
