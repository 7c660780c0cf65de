//! Abnormality tags (defects) in GraphQL: one mutation per command of
//! reference/domain.md §4.6, and the defect by id.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use gemba_commands::defects::new_defect_id;
use gemba_domain::defect::{self as domain, DefectCommand, DefectState, NewDefect};
use gemba_domain::{A3Id, Code, DefectId, EvidenceRef, KaizenId, LongText, MemberId, Name, ZoneId};

use super::context::{command_context, principal, services};
use super::errors::{ApiError, ApiResult};
use super::inputs::{long_text, optional_long_text, reason, require_uploaded};
use super::types::ReasonCode;

mirror_enum!(
    /// The seven TPM abnormality types, and other.
    AbnormalityType => domain::AbnormalityType {
        MinorFlaw, UnfulfilledBasicCondition, InaccessiblePlace, ContaminationSource,
        QualityDefectSource, UnnecessaryNonUrgentItem, UnsafePlace, Other
    }
);
mirror_enum!(
    /// Who the tag is for.
    TagClass => domain::TagClass { Operator, Maintenance, Safety }
);
mirror_enum!(
    /// A: 24 h, B: 7 days, C: 30 days by default.
    Priority => domain::Priority { A, B, C }
);
mirror_enum!(
    /// Where the defect was found.
    DefectOrigin => domain::Origin { AutonomousMaintenance, FiveSAudit, GembaWalk, Lpa, OperatorReport, Other }
);
mirror_enum!(
    /// Why work waits.
    HoldReason => domain::HoldReason { WaitingParts, PlannedShutdown, AwaitingEngineering, Other }
);
mirror_enum!(
    /// Why a defect is cancelled.
    CancelReason => domain::CancelReason { Duplicate, NotADefect, OutOfScope }
);
mirror_enum!(
    /// Whether evidence shows the abnormality (before) or the fix (after).
    EvidencePhase => domain::EvidencePhase { Before, After }
);
mirror_enum!(
    /// Where a defect stands.
    DefectStatus => domain::DefectStatus { None, Open, Assigned, InProgress, OnHold, Resolved, Closed, Cancelled }
);

/// An abnormality tag.
#[derive(Debug)]
pub struct Defect(DefectState);

fn id_of<T: ToString>(value: Option<T>) -> Option<ID> {
    value.map(|v| ID(v.to_string()))
}

#[Object]
impl Defect {
    async fn id(&self) -> Option<ID> {
        id_of(self.0.id)
    }
    /// The tag number: site code, `T`, year and sequence, e.g. `PLT1-T-2026-000123`.
    async fn number(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        match self.0.id {
            Some(id) => super::context::entity_number(ctx, id.uuid()).await,
            None => Ok(None),
        }
    }
    async fn zone_id(&self) -> Option<ID> {
        id_of(self.0.zone_id)
    }
    async fn status(&self) -> DefectStatus {
        self.0.status.into()
    }
    async fn abnormality_type(&self) -> Option<AbnormalityType> {
        self.0.abnormality_type.map(Into::into)
    }
    async fn tag_class(&self) -> Option<TagClass> {
        self.0.tag_class.map(Into::into)
    }
    async fn priority(&self) -> Option<Priority> {
        self.0.priority.map(Into::into)
    }
    async fn origin(&self) -> Option<DefectOrigin> {
        self.0.origin.map(Into::into)
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_ref().map(Name::as_str)
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_ref().map(LongText::as_str)
    }
    async fn found_by_id(&self) -> Option<ID> {
        id_of(self.0.found_by)
    }
    async fn found_at(&self) -> Option<DateTime<Utc>> {
        self.0.found_at
    }
    async fn assignee_id(&self) -> Option<ID> {
        id_of(self.0.assignee)
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// The first due date ever set; never moves (honest on-time KPIs).
    async fn original_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.original_due_at
    }
    async fn containment(&self) -> Option<&str> {
        self.0.containment.as_ref().map(LongText::as_str)
    }
    async fn countermeasure(&self) -> Option<&str> {
        self.0.countermeasure.as_ref().map(LongText::as_str)
    }
    async fn fixed_on_spot(&self) -> bool {
        self.0.fixed_on_spot
    }
    async fn resolved_by_id(&self) -> Option<ID> {
        id_of(self.0.resolved_by)
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    async fn verified_by_id(&self) -> Option<ID> {
        id_of(self.0.verified_by)
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn reopen_count(&self) -> u32 {
        self.0.reopen_count
    }
    /// sha256 of the files showing the abnormality.
    async fn evidence_before(&self) -> Vec<&str> {
        self.0.evidence_before.iter().map(EvidenceRef::as_str).collect()
    }
    /// sha256 of the files showing the fix.
    async fn evidence_after(&self) -> Vec<&str> {
        self.0.evidence_after.iter().map(EvidenceRef::as_str).collect()
    }
    /// In the order they were made.
    async fn comments(&self) -> Vec<DefectComment> {
        self.0
            .comments
            .iter()
            .map(|c| DefectComment { author_id: ID(c.author.to_string()), text: c.text.as_str().to_owned(), at: c.at })
            .collect()
    }
    async fn linked_a3_id(&self) -> Option<ID> {
        id_of(self.0.linked_a3_id)
    }
    async fn linked_kaizen_ids(&self) -> Vec<ID> {
        self.0.linked_kaizen_ids.iter().map(|k| ID(k.to_string())).collect()
    }
    /// The external (CMMS) work order.
    async fn work_order_ref(&self) -> Option<&str> {
        self.0.work_order_ref.as_ref().map(Code::as_str)
    }
    /// The highest escalation level flagged by the system (0: never escalated); a flag, not a state.
    async fn escalation_level(&self) -> u32 {
        self.0.escalation_level
    }
    /// A pending advisory suggestion; the defect changes only when a person accepts it.
    async fn suggestion(&self) -> Option<Suggestion> {
        self.0.suggestion.as_ref().map(|(id, kind, source)| Suggestion {
            id: ID(id.clone()),
            abnormality_type: (*kind).into(),
            source: source.clone(),
        })
    }
}

/// A comment on a defect.
#[derive(Debug, async_graphql::SimpleObject)]
pub struct DefectComment {
    pub author_id: ID,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// An advisor's suggestion (AI is advisory).
#[derive(Debug, async_graphql::SimpleObject)]
pub struct Suggestion {
    pub id: ID,
    pub abnormality_type: AbnormalityType,
    /// Which advisor made it.
    pub source: String,
}

/// Defect queries.
#[derive(Debug, Default)]
pub struct DefectQuery;

#[Object]
impl DefectQuery {
    /// A defect by id; null when absent or in another organisation.
    async fn defect(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Defect>> {
        let p = principal(ctx)?;
        let id = DefectId::parse(&id)?;
        match services(ctx)?.gemba.defect(p.org, id).await? {
            Some(d)
                if super::context::visible(
                    ctx,
                    &[Some(id.uuid()), d.zone_id.map(|z| z.uuid())].into_iter().flatten().collect::<Vec<_>>(),
                )
                .await? =>
            {
                Ok(Some(Defect(d)))
            }
            _ => Ok(None),
        }
    }
}

async fn defect_payload(ctx: &Context<'_>, id: DefectId) -> ApiResult<Defect> {
    let p = principal(ctx)?;
    services(ctx)?.gemba.defect(p.org, id).await?.map(Defect).ok_or(ApiError::NotFound)
}

fn evidence(field: &str, refs: &[String]) -> ApiResult<Vec<EvidenceRef>> {
    if refs.len() > 50 {
        return Err(ApiError::Validation { field: field.into(), message: "lists at most 50 files".into() });
    }
    refs.iter().map(|r| EvidenceRef::parse(field, r).map_err(Into::into)).collect()
}

/// Parses what a new defect says.
fn new_defect(
    zone_id: &ID,
    (abnormality_type, tag_class, priority, origin): (AbnormalityType, TagClass, Priority, Option<DefectOrigin>),
    title: &str,
    description: &str,
    evidence_before: Option<&[String]>,
) -> ApiResult<NewDefect> {
    Ok(NewDefect {
        defect_id: new_defect_id(),
        zone_id: ZoneId::parse(zone_id)?,
        abnormality_type: abnormality_type.into(),
        tag_class: tag_class.into(),
        priority: priority.into(),
        title: Name::parse("title", title)?,
        description: long_text("description", description)?,
        origin: origin.unwrap_or(DefectOrigin::OperatorReport).into(),
        evidence_before: evidence("evidenceBefore", evidence_before.unwrap_or_default())?,
    })
}

/// Runs a command on an existing defect and returns the defect.
async fn on_defect(
    ctx: &Context<'_>,
    id: &ID,
    input: &impl std::fmt::Debug,
    build: impl FnOnce(gemba_domain::Actor, domain::ZoneFacts, DateTime<Utc>) -> DefectCommand,
) -> ApiResult<Defect> {
    let p = principal(ctx)?;
    let id = DefectId::parse(id)?;
    let command = command_context(ctx, p.org, Some(p), input)?;
    let gemba = &services(ctx)?.gemba;
    let now = gemba.now();
    gemba.on_defect(&command, id, |actor, facts| build(actor, facts, now)).await?;
    defect_payload(ctx, id).await
}

#[derive(Debug, InputObject)]
pub struct RaiseDefectInput {
    pub zone_id: ID,
    pub abnormality_type: AbnormalityType,
    pub tag_class: TagClass,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    pub origin: Option<DefectOrigin>,
    /// sha256 of uploaded photos.
    pub evidence_before: Option<Vec<String>>,
    /// Set both to raise a defect already fixed on the spot.
    pub countermeasure: Option<String>,
    pub evidence_after: Option<Vec<String>>,
}

#[derive(Debug, InputObject)]
pub struct RaiseDefectFixedOnSpotInput {
    pub zone_id: ID,
    pub abnormality_type: AbnormalityType,
    pub tag_class: TagClass,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    pub origin: Option<DefectOrigin>,
    /// sha256 of uploaded photos.
    pub evidence_before: Option<Vec<String>>,
    /// What was done on the spot.
    pub countermeasure: String,
    /// Required for maintenance and safety tags.
    pub evidence_after: Option<Vec<String>>,
}

#[derive(Debug, InputObject)]
pub struct AttachDefectEvidenceInput {
    pub defect_id: ID,
    /// sha256 of the uploaded file.
    pub evidence: String,
    pub phase: EvidencePhase,
}

#[derive(Debug, InputObject)]
pub struct LinkDefectToA3Input {
    pub defect_id: ID,
    pub a3_id: ID,
}

#[derive(Debug, InputObject)]
pub struct LinkDefectToKaizenInput {
    pub defect_id: ID,
    pub kaizen_id: ID,
}

#[derive(Debug, InputObject)]
pub struct SetDefectWorkOrderRefInput {
    pub defect_id: ID,
    /// The CMMS work order, e.g. `WO-12345`.
    pub work_order_ref: String,
}

#[derive(Debug, InputObject)]
pub struct AssignDefectInput {
    pub defect_id: ID,
    pub assignee_id: ID,
    /// Default: now plus the priority's SLA.
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, InputObject)]
pub struct ReassignDefectInput {
    pub defect_id: ID,
    pub assignee_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ChangeDefectDueDateInput {
    pub defect_id: ID,
    pub due_at: DateTime<Utc>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct DefectInput {
    pub defect_id: ID,
}

#[derive(Debug, InputObject)]
pub struct DefectTextInput {
    pub defect_id: ID,
    pub text: String,
}

#[derive(Debug, InputObject)]
pub struct PutDefectOnHoldInput {
    pub defect_id: ID,
    pub hold_reason: HoldReason,
    pub text: String,
}

#[derive(Debug, InputObject)]
pub struct RecordDefectCountermeasureInput {
    pub defect_id: ID,
    pub countermeasure: String,
    pub root_cause: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct ResolveDefectInput {
    pub defect_id: ID,
    pub countermeasure: String,
    /// Required for maintenance and safety tags.
    pub evidence_after: Option<Vec<String>>,
}

#[derive(Debug, InputObject)]
pub struct VerifyDefectInput {
    pub defect_id: ID,
    pub note: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct DefectReasonInput {
    pub defect_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct CancelDefectInput {
    pub defect_id: ID,
    pub cancel_reason: CancelReason,
    pub duplicate_of: Option<ID>,
    pub text: String,
}

#[derive(Debug, InputObject)]
pub struct SuggestionInput {
    pub defect_id: ID,
    pub suggestion_id: ID,
}

#[derive(Debug, InputObject)]
pub struct ReclassifyDefectInput {
    pub defect_id: ID,
    pub abnormality_type: AbnormalityType,
    pub tag_class: TagClass,
    pub priority: Priority,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

async fn decide_suggestion(ctx: &Context<'_>, input: SuggestionInput, accept: bool) -> ApiResult<Defect> {
    let p = principal(ctx)?;
    let id = DefectId::parse(&input.defect_id)?;
    let command = command_context(ctx, p.org, Some(p), &input)?;
    services(ctx)?.gemba.decide_suggestion(&command, id, input.suggestion_id.to_string(), accept).await?;
    defect_payload(ctx, id).await
}

/// Defect mutations.
#[derive(Debug, Default)]
pub struct DefectMutation;

#[Object]
impl DefectMutation {
    /// Raises a defect in an active zone (fixed on the spot when `countermeasure` is given).
    async fn raise_defect(&self, ctx: &Context<'_>, input: RaiseDefectInput) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let defect = new_defect(
            &input.zone_id,
            (input.abnormality_type, input.tag_class, input.priority, input.origin),
            &input.title,
            &input.description,
            input.evidence_before.as_deref(),
        )?;
        let fixed = match &input.countermeasure {
            Some(text) => {
                Some((long_text("countermeasure", text)?, evidence("evidenceAfter", input.evidence_after.as_deref().unwrap_or_default())?))
            }
            None => None,
        };
        require_uploaded(ctx, "evidenceBefore", &defect.evidence_before).await?;
        if let Some((_, after)) = &fixed {
            require_uploaded(ctx, "evidenceAfter", after).await?;
        }
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.raise_defect(&command, defect, fixed).await?;
        defect_payload(ctx, id).await
    }

    /// Raises a defect that was fixed on the spot: raised and resolved in one step.
    async fn raise_defect_fixed_on_spot(&self, ctx: &Context<'_>, input: RaiseDefectFixedOnSpotInput) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let defect = new_defect(
            &input.zone_id,
            (input.abnormality_type, input.tag_class, input.priority, input.origin),
            &input.title,
            &input.description,
            input.evidence_before.as_deref(),
        )?;
        let fixed = (
            long_text("countermeasure", &input.countermeasure)?,
            evidence("evidenceAfter", input.evidence_after.as_deref().unwrap_or_default())?,
        );
        require_uploaded(ctx, "evidenceBefore", &defect.evidence_before).await?;
        require_uploaded(ctx, "evidenceAfter", &fixed.1).await?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.raise_defect(&command, defect, Some(fixed)).await?;
        defect_payload(ctx, id).await
    }

    /// Attaches a file (by sha256) as before- or after-evidence.
    async fn attach_defect_evidence(&self, ctx: &Context<'_>, input: AttachDefectEvidenceInput) -> ApiResult<Defect> {
        let evidence = EvidenceRef::parse("evidence", &input.evidence)?;
        require_uploaded(ctx, "evidence", std::slice::from_ref(&evidence)).await?;
        let phase = input.phase.into();
        on_defect(ctx, &input.defect_id, &input, |actor, _, _| DefectCommand::AttachEvidence { actor, evidence, phase }).await
    }

    /// Comments on a defect; comments are kept in order with their author and time.
    async fn comment_on_defect(&self, ctx: &Context<'_>, input: DefectTextInput) -> ApiResult<Defect> {
        let text = long_text("text", &input.text)?;
        on_defect(ctx, &input.defect_id, &input, |actor, _, now| DefectCommand::Comment { actor, text, now }).await
    }

    /// Links the defect to an A3 case of this organisation.
    async fn link_defect_to_a3(&self, ctx: &Context<'_>, input: LinkDefectToA3Input) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let id = DefectId::parse(&input.defect_id)?;
        let a3 = A3Id::parse(&input.a3_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.link_defect_to_a3(&command, id, a3).await?;
        defect_payload(ctx, id).await
    }

    /// Links the defect to a kaizen of this organisation.
    async fn link_defect_to_kaizen(&self, ctx: &Context<'_>, input: LinkDefectToKaizenInput) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let id = DefectId::parse(&input.defect_id)?;
        let kaizen = KaizenId::parse(&input.kaizen_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.link_defect_to_kaizen(&command, id, kaizen).await?;
        defect_payload(ctx, id).await
    }

    /// Sets the external (CMMS) work order reference.
    async fn set_defect_work_order_ref(&self, ctx: &Context<'_>, input: SetDefectWorkOrderRefInput) -> ApiResult<Defect> {
        let work_order_ref = Code::parse("workOrderRef", &input.work_order_ref)?;
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::SetWorkOrderRef { actor, facts, work_order_ref }).await
    }

    /// Assigns an open defect to an active member, with a due date (default from the SLA).
    async fn assign_defect(&self, ctx: &Context<'_>, input: AssignDefectInput) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let id = DefectId::parse(&input.defect_id)?;
        let assignee = MemberId::parse(&input.assignee_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.assign_defect(&command, id, assignee, input.due_at).await?;
        defect_payload(ctx, id).await
    }

    /// Reassigns a defect, with a reason.
    async fn reassign_defect(&self, ctx: &Context<'_>, input: ReassignDefectInput) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let id = DefectId::parse(&input.defect_id)?;
        let assignee = MemberId::parse(&input.assignee_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.reassign_defect(&command, id, assignee, reason).await?;
        defect_payload(ctx, id).await
    }

    /// Moves the due date, with a reason; the original due date stays.
    async fn change_defect_due_date(&self, ctx: &Context<'_>, input: ChangeDefectDueDateInput) -> ApiResult<Defect> {
        let reason = reason(input.reason_code, &input.reason)?;
        let due_at = input.due_at;
        on_defect(ctx, &input.defect_id, &input, |actor, facts, now| DefectCommand::ChangeDueDate { actor, facts, due_at, reason, now })
            .await
    }

    /// The assignee (or the zone lead) starts work.
    async fn start_defect_work(&self, ctx: &Context<'_>, input: DefectInput) -> ApiResult<Defect> {
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::StartWork { actor, facts }).await
    }

    /// Records the containment (what keeps the problem from spreading meanwhile).
    async fn record_defect_containment(&self, ctx: &Context<'_>, input: DefectTextInput) -> ApiResult<Defect> {
        let text = long_text("text", &input.text)?;
        on_defect(ctx, &input.defect_id, &input, |actor, _, _| DefectCommand::RecordContainment { actor, text }).await
    }

    /// Puts the work on hold.
    async fn put_defect_on_hold(&self, ctx: &Context<'_>, input: PutDefectOnHoldInput) -> ApiResult<Defect> {
        let text = long_text("text", &input.text)?;
        let hold_reason = input.hold_reason.into();
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::PutOnHold { actor, facts, hold_reason, text }).await
    }

    /// Resumes work on hold.
    async fn resume_defect(&self, ctx: &Context<'_>, input: DefectInput) -> ApiResult<Defect> {
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::Resume { actor, facts }).await
    }

    /// Records (or improves) the countermeasure and root cause.
    async fn record_defect_countermeasure(&self, ctx: &Context<'_>, input: RecordDefectCountermeasureInput) -> ApiResult<Defect> {
        let countermeasure = long_text("countermeasure", &input.countermeasure)?;
        let root_cause = optional_long_text("rootCause", input.root_cause.as_deref())?;
        on_defect(ctx, &input.defect_id, &input, |actor, _, _| DefectCommand::RecordCountermeasure { actor, countermeasure, root_cause })
            .await
    }

    /// Resolves the defect with its countermeasure (and after-evidence where required).
    async fn resolve_defect(&self, ctx: &Context<'_>, input: ResolveDefectInput) -> ApiResult<Defect> {
        let countermeasure = long_text("countermeasure", &input.countermeasure)?;
        let evidence_after = evidence("evidenceAfter", input.evidence_after.as_deref().unwrap_or_default())?;
        require_uploaded(ctx, "evidenceAfter", &evidence_after).await?;
        on_defect(ctx, &input.defect_id, &input, |actor, facts, now| DefectCommand::Resolve {
            actor,
            facts,
            countermeasure,
            evidence_after,
            now,
        })
        .await
    }

    /// Verifies and closes a resolved defect (never by its resolver); signature meaning `verified`.
    async fn verify_defect(&self, ctx: &Context<'_>, input: VerifyDefectInput) -> ApiResult<Defect> {
        let note = optional_long_text("note", input.note.as_deref())?;
        on_defect(ctx, &input.defect_id, &input, |actor, facts, now| DefectCommand::Verify { actor, facts, note, now }).await
    }

    /// Sends a resolved defect back to its assignee, with a reason.
    async fn fail_defect_verification(&self, ctx: &Context<'_>, input: DefectReasonInput) -> ApiResult<Defect> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::FailVerification { actor, facts, reason }).await
    }

    /// Reopens a closed defect, with a reason; within the organisation's window it counts as a recurrence.
    async fn reopen_defect(&self, ctx: &Context<'_>, input: DefectReasonInput) -> ApiResult<Defect> {
        let p = principal(ctx)?;
        let id = DefectId::parse(&input.defect_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.reopen_defect(&command, id, reason).await?;
        defect_payload(ctx, id).await
    }

    /// Cancels an open defect (as a duplicate of another, not a defect, or out of scope).
    async fn cancel_defect(&self, ctx: &Context<'_>, input: CancelDefectInput) -> ApiResult<Defect> {
        let text = long_text("text", &input.text)?;
        let duplicate_of = input.duplicate_of.as_ref().map(|id| DefectId::parse(id)).transpose()?;
        let cancel_reason = input.cancel_reason.into();
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::Cancel {
            actor,
            facts,
            cancel_reason,
            duplicate_of,
            text,
        })
        .await
    }

    /// Accepts the advisor's pending suggestion: the defect's type changes (the finder, zone leaders, owners, admins).
    async fn accept_suggestion(&self, ctx: &Context<'_>, input: SuggestionInput) -> ApiResult<Defect> {
        decide_suggestion(ctx, input, true).await
    }

    /// Rejects the advisor's pending suggestion; the defect stays as it is.
    async fn reject_suggestion(&self, ctx: &Context<'_>, input: SuggestionInput) -> ApiResult<Defect> {
        decide_suggestion(ctx, input, false).await
    }

    /// Changes type, tag class or priority, with a reason.
    async fn reclassify_defect(&self, ctx: &Context<'_>, input: ReclassifyDefectInput) -> ApiResult<Defect> {
        let reason = reason(input.reason_code, &input.reason)?;
        let (abnormality_type, tag_class, priority) = (input.abnormality_type.into(), input.tag_class.into(), input.priority.into());
        on_defect(ctx, &input.defect_id, &input, |actor, facts, _| DefectCommand::Reclassify {
            actor,
            facts,
            abnormality_type,
            tag_class,
            priority,
            reason,
        })
        .await
    }
}
