//! Kaizens and A3 cases in GraphQL.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use gemba_domain::a3::{self as a3, A3Case, A3Command};
use gemba_domain::kaizen::{
    self as kaizen, AuthorShare, ImpactLine, Kaizen, KaizenCommand, KaizenContent, LineKind as DomainLineKind, LinePatch, Money,
    Recurrence, SavingsTotals,
};
use gemba_domain::{A3Id, DefectId, EvidenceRef, KaizenId, MemberId, Name, ZoneId};
use rust_decimal::Decimal;

use super::context::{command_context, principal, services};
use super::errors::{ApiError, ApiResult};
use super::inputs::{long_text, optional_long_text, optional_reason, reason, require_uploaded};
use super::types::ReasonCode;

mirror_enum!(
    /// SQDCM+E.
    KaizenCategory => kaizen::KaizenCategory { Safety, Quality, Delivery, Cost, People, Environment }
);
mirror_enum!(
    /// Where a kaizen stands.
    KaizenStatus => kaizen::KaizenStatus {
        None, Draft, Submitted, UnderReview, Deferred, Approved, Implementing, Implemented, ImpactSubmitted, SavingsVerified, Closed, Rejected, Withdrawn
    }
);
mirror_enum!(
    /// Which estimate an impact line is.
    LineKind => kaizen::LineKind { Target, Forecast, Actual }
);
mirror_enum!(
    /// Hard and soft savings are never added together.
    Classification => kaizen::Classification { Hard, Soft, Qualitative }
);
mirror_enum!(
    /// How often a recurring saving happens.
    Period => kaizen::Period { Month, Quarter, Year }
);
mirror_enum!(
    /// Where an A3 case stands (its PDCA phase while open).
    A3Status => a3::A3Status { None, Plan, Do, Check, Act, Closed, Cancelled, OnHold }
);
mirror_enum!(
    /// The free-text sections of an A3.
    A3Section => a3::A3Section { Background, CurrentCondition, Target, Containment, Lessons }
);
mirror_enum!(
    /// The 6M cause categories.
    CauseCategory => a3::CauseCategory { Man, Machine, Method, Material, Measurement, MotherNature }
);
mirror_enum!(
    /// What is known of a cause.
    CauseStatus => a3::CauseStatus { Hypothesis, Verified, Refuted }
);
mirror_enum!(
    /// Where a countermeasure stands.
    CountermeasureStatus => a3::CountermeasureStatus { Planned, InProgress, Done, Cancelled }
);
mirror_enum!(
    /// Whether the target was met.
    TargetMet => a3::TargetMet { Yes, Partial, No }
);

/// An amount in one currency.
#[derive(Debug, SimpleObject)]
pub struct Amount {
    pub currency: String,
    pub amount: Decimal,
}

fn amounts(map: &std::collections::BTreeMap<kaizen::Currency, Decimal>) -> Vec<Amount> {
    map.iter()
        .map(|(c, a)| Amount {
            currency: serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            amount: *a,
        })
        .collect()
}

/// An impact line.
#[derive(Debug, SimpleObject)]
pub struct ImpactLineView {
    pub line_id: String,
    pub kind: LineKind,
    pub classification: Classification,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// Null for one-time lines.
    pub period: Option<Period>,
    pub annualized: Option<Decimal>,
}

/// An author and their share of the kaizen's recognition (shares sum to 100).
#[derive(Debug, SimpleObject)]
pub struct KaizenAuthorView {
    pub member_id: ID,
    pub share_pct: u8,
}

/// An improvement idea.
#[derive(Debug)]
pub struct KaizenView(KaizenId, Kaizen);

#[Object(name = "Kaizen")]
impl KaizenView {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }
    /// The kaizen number: site code, `K`, year and sequence, e.g. `PLT1-K-2026-00042`.
    async fn number(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        super::context::entity_number(ctx, self.0.uuid()).await
    }
    async fn status(&self) -> KaizenStatus {
        self.1.status().into()
    }
    async fn zone_id(&self) -> Option<ID> {
        self.1.zone_id().map(|z| ID(z.to_string()))
    }
    async fn author_ids(&self) -> Vec<ID> {
        self.1.authors().iter().map(|a| ID(a.member_id.to_string())).collect()
    }
    /// The authors with their shares in whole percent (summing to 100).
    async fn authors(&self) -> Vec<KaizenAuthorView> {
        self.1.authors().iter().map(|a| KaizenAuthorView { member_id: ID(a.member_id.to_string()), share_pct: a.share_pct }).collect()
    }
    async fn title(&self) -> Option<String> {
        self.1.content().title.as_ref().map(ToString::to_string)
    }
    async fn category(&self) -> Option<KaizenCategory> {
        self.1.content().category.map(Into::into)
    }
    async fn problem(&self) -> Option<String> {
        self.1.content().problem.as_ref().map(|t| t.as_str().to_owned())
    }
    async fn proposal(&self) -> Option<String> {
        self.1.content().proposal.as_ref().map(|t| t.as_str().to_owned())
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.1.due_at()
    }
    /// 0 until verified; each savings adjustment adds one.
    async fn verification_version(&self) -> u32 {
        self.1.verification_version()
    }
    async fn linked_defect_ids(&self) -> Vec<ID> {
        self.1.linked_defects().iter().map(|d| ID(d.to_string())).collect()
    }
    async fn linked_a3_id(&self) -> Option<ID> {
        self.1.linked_a3().map(|a| ID(a.to_string()))
    }
    async fn reviewer_id(&self) -> Option<ID> {
        self.1.reviewer().map(|m| ID(m.to_string()))
    }
    async fn implementer_ids(&self) -> Vec<ID> {
        self.1.implementers().iter().map(|m| ID(m.to_string())).collect()
    }
    async fn impact_lines(&self) -> Vec<ImpactLineView> {
        self.1
            .lines()
            .iter()
            .map(|l| ImpactLineView {
                line_id: l.line_id.clone(),
                kind: l.kind.into(),
                classification: l.classification.into(),
                amount: l.money.as_ref().map(|m| m.amount),
                currency: l.money.as_ref().and_then(|m| serde_json::to_value(&m.currency).ok()).and_then(|v| v.as_str().map(str::to_owned)),
                period: match l.recurrence {
                    Recurrence::Recurring { period, .. } => Some(period.into()),
                    Recurrence::OneTime { .. } => None,
                },
                annualized: l.annualized(),
            })
            .collect()
    }
    /// Verified annualised hard savings per currency (never added to soft savings).
    async fn verified_hard_savings(&self) -> Vec<Amount> {
        self.1.verified().map(|t| amounts(&t.hard)).unwrap_or_default()
    }
    /// Verified annualised soft savings per currency.
    async fn verified_soft_savings(&self) -> Vec<Amount> {
        self.1.verified().map(|t| amounts(&t.soft)).unwrap_or_default()
    }
    /// Actual savings as submitted, not yet verified: hard.
    async fn actual_hard_savings(&self) -> Vec<Amount> {
        amounts(&SavingsTotals::of(self.1.lines(), DomainLineKind::Actual).hard)
    }
}

/// A cause of an A3 case.
#[derive(Debug, SimpleObject)]
pub struct A3CauseView {
    pub cause_id: String,
    pub category: CauseCategory,
    pub text: String,
    pub status: CauseStatus,
    pub iteration: u32,
}

/// A countermeasure of an A3 case.
#[derive(Debug, SimpleObject)]
pub struct A3CountermeasureView {
    pub cm_id: String,
    pub description: String,
    pub addresses: Vec<String>,
    pub owner_id: ID,
    pub due_on: NaiveDate,
    pub status: CountermeasureStatus,
    pub iteration: u32,
}

/// A metric of an A3 case.
#[derive(Debug, SimpleObject)]
pub struct A3MetricView {
    pub metric_id: String,
    pub name: String,
    pub unit: String,
    pub baseline: Option<Decimal>,
    pub target: Option<Decimal>,
    pub target_date: Option<NaiveDate>,
}

/// A free-text section of an A3.
#[derive(Debug, SimpleObject)]
pub struct A3SectionView {
    pub section: A3Section,
    pub content: String,
}

/// A five-whys chain ending in a cause of the case.
#[derive(Debug, SimpleObject)]
pub struct A3WhyChainView {
    pub chain_id: String,
    pub problem: String,
    pub whys: Vec<String>,
    pub root_cause_id: String,
    pub iteration: u32,
}

/// An A3 problem-solving case.
#[derive(Debug)]
pub struct A3View(A3Id, A3Case);

#[Object(name = "A3Case")]
impl A3View {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }
    /// The case number: `A3`, year and sequence, e.g. `A3-2026-0007`.
    async fn number(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        super::context::entity_number(ctx, self.0.uuid()).await
    }
    async fn status(&self) -> A3Status {
        self.1.status().into()
    }
    async fn iteration(&self) -> u32 {
        self.1.iteration()
    }
    async fn owner_id(&self) -> Option<ID> {
        self.1.owner().map(|m| ID(m.to_string()))
    }
    /// The approver; never the owner.
    async fn coach_id(&self) -> Option<ID> {
        self.1.coach().map(|m| ID(m.to_string()))
    }
    async fn team_ids(&self) -> Vec<ID> {
        self.1.team().iter().map(|m| ID(m.to_string())).collect()
    }
    /// The phase a case on hold resumes in.
    async fn held_from(&self) -> Option<A3Status> {
        self.1.held_from().map(Into::into)
    }
    /// The last effect check's verdict.
    async fn target_met(&self) -> Option<TargetMet> {
        self.1.target_met().map(Into::into)
    }
    async fn sections(&self) -> Vec<A3SectionView> {
        self.1
            .sections()
            .iter()
            .map(|(section, content)| A3SectionView { section: (*section).into(), content: content.as_str().to_owned() })
            .collect()
    }
    async fn why_chains(&self) -> Vec<A3WhyChainView> {
        self.1
            .why_chains()
            .iter()
            .map(|c| A3WhyChainView {
                chain_id: c.chain_id.clone(),
                problem: c.problem.as_str().to_owned(),
                whys: c.whys.iter().map(|w| w.as_str().to_owned()).collect(),
                root_cause_id: c.root_cause_id.clone(),
                iteration: c.iteration,
            })
            .collect()
    }
    async fn metrics(&self) -> Vec<A3MetricView> {
        self.1
            .metrics()
            .iter()
            .map(|m| A3MetricView {
                metric_id: m.metric_id.clone(),
                name: m.name.to_string(),
                unit: m.unit.clone(),
                baseline: m.baseline,
                target: m.target.map(|t| t.0),
                target_date: m.target.map(|t| t.1),
            })
            .collect()
    }
    async fn causes(&self) -> Vec<A3CauseView> {
        self.1
            .causes()
            .iter()
            .map(|c| A3CauseView {
                cause_id: c.cause_id.clone(),
                category: c.category.into(),
                text: c.text.as_str().to_owned(),
                status: c.status.into(),
                iteration: c.iteration,
            })
            .collect()
    }
    async fn countermeasures(&self) -> Vec<A3CountermeasureView> {
        self.1
            .countermeasures()
            .iter()
            .map(|c| A3CountermeasureView {
                cm_id: c.cm_id.clone(),
                description: c.description.as_str().to_owned(),
                addresses: c.addresses.clone(),
                owner_id: ID(c.owner.to_string()),
                due_on: c.due_on,
                status: c.status.into(),
                iteration: c.iteration,
            })
            .collect()
    }
}

/// Kaizen and A3 queries.
#[derive(Debug, Default)]
pub struct ImprovementQuery;

#[Object]
impl ImprovementQuery {
    /// A kaizen by id; null when absent or in another organisation.
    async fn kaizen(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<KaizenView>> {
        let p = principal(ctx)?;
        let id = KaizenId::parse(&id)?;
        match services(ctx)?.gemba.kaizen(p.org, id).await? {
            Some(k)
                if super::context::visible(
                    ctx,
                    &[Some(id.uuid()), k.zone_id().map(|z| z.uuid())].into_iter().flatten().collect::<Vec<_>>(),
                )
                .await? =>
            {
                Ok(Some(KaizenView(id, k)))
            }
            _ => Ok(None),
        }
    }

    /// An A3 case by id; null when absent or in another organisation.
    async fn a3_case(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<A3View>> {
        let p = principal(ctx)?;
        let id = A3Id::parse(&id)?;
        match services(ctx)?.gemba.a3(p.org, id).await? {
            Some(a) if super::context::visible(ctx, &[id.uuid()]).await? => Ok(Some(A3View(id, a))),
            _ => Ok(None),
        }
    }
}

async fn kaizen_payload(ctx: &Context<'_>, id: KaizenId) -> ApiResult<KaizenView> {
    let p = principal(ctx)?;
    services(ctx)?.gemba.kaizen(p.org, id).await?.map(|k| KaizenView(id, k)).ok_or(ApiError::NotFound)
}

async fn a3_payload(ctx: &Context<'_>, id: A3Id) -> ApiResult<A3View> {
    let p = principal(ctx)?;
    services(ctx)?.gemba.a3(p.org, id).await?.map(|a| A3View(id, a)).ok_or(ApiError::NotFound)
}

async fn on_kaizen(
    ctx: &Context<'_>,
    id: &ID,
    input: &impl std::fmt::Debug,
    build: impl FnOnce(gemba_domain::Actor, gemba_commands::improvement::KaizenFacts, DateTime<Utc>) -> KaizenCommand,
) -> ApiResult<KaizenView> {
    let p = principal(ctx)?;
    let id = KaizenId::parse(id)?;
    let command = command_context(ctx, p.org, Some(p), input)?;
    let gemba = &services(ctx)?.gemba;
    let now = gemba.now();
    gemba.on_kaizen(&command, id, |actor, facts| build(actor, facts, now)).await?;
    kaizen_payload(ctx, id).await
}

async fn on_a3(
    ctx: &Context<'_>,
    id: &ID,
    input: &impl std::fmt::Debug,
    build: impl FnOnce(gemba_domain::Actor, DateTime<Utc>) -> A3Command,
) -> ApiResult<A3View> {
    let p = principal(ctx)?;
    let id = A3Id::parse(id)?;
    let command = command_context(ctx, p.org, Some(p), input)?;
    let gemba = &services(ctx)?.gemba;
    let now = gemba.now();
    gemba.on_a3(&command, id, |actor| build(actor, now)).await?;
    a3_payload(ctx, id).await
}

fn member(id: &ID, field: &str) -> ApiResult<MemberId> {
    MemberId::parse(id).map_err(|_| ApiError::Validation { field: field.into(), message: "is not a valid id".into() })
}

#[derive(Debug, InputObject)]
pub struct DraftKaizenInput {
    pub zone_id: ID,
    pub title: String,
    pub category: KaizenCategory,
    pub problem: String,
    pub proposal: String,
}

#[derive(Debug, InputObject)]
pub struct KaizenInput {
    pub kaizen_id: ID,
}

#[derive(Debug, InputObject)]
pub struct KaizenReasonInput {
    pub kaizen_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ApproveKaizenInput {
    pub kaizen_id: ID,
    pub implementer_ids: Vec<ID>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, InputObject)]
pub struct RejectKaizenInput {
    pub kaizen_id: ID,
    /// Feedback to the authors (required).
    pub feedback: String,
}

#[derive(Debug, InputObject)]
pub struct SetKaizenImpactLineInput {
    pub kaizen_id: ID,
    pub line_id: String,
    pub kind: LineKind,
    pub classification: Classification,
    /// For one-time lines the amount, for recurring lines the amount per period.
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// Recurring when given; otherwise one-time, realised on `realizedOn`.
    pub period: Option<Period>,
    pub realized_on: NaiveDate,
    pub calculation: Option<String>,
    pub evidence: Option<Vec<String>>,
    /// Required to change a locked line.
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct EditKaizenDraftInput {
    pub kaizen_id: ID,
    pub title: Option<String>,
    pub category: Option<KaizenCategory>,
    pub problem: Option<String>,
    pub proposal: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct ChangeKaizenContentInput {
    pub kaizen_id: ID,
    pub title: Option<String>,
    pub category: Option<KaizenCategory>,
    pub problem: Option<String>,
    pub proposal: Option<String>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

fn content(
    title: Option<&str>,
    category: Option<KaizenCategory>,
    problem: Option<&str>,
    proposal: Option<&str>,
) -> ApiResult<KaizenContent> {
    Ok(KaizenContent {
        title: title.map(|t| Name::parse("title", t)).transpose()?,
        category: category.map(Into::into),
        problem: optional_long_text("problem", problem)?,
        proposal: optional_long_text("proposal", proposal)?,
    })
}

#[derive(Debug, InputObject)]
pub struct KaizenMemberInput {
    pub kaizen_id: ID,
    pub member_id: ID,
}

#[derive(Debug, InputObject)]
pub struct AuthorShareInput {
    pub member_id: ID,
    /// Whole percent, at least 1; all shares sum to 100.
    pub share_pct: i32,
}

#[derive(Debug, InputObject)]
pub struct SetKaizenAuthorSharesInput {
    pub kaizen_id: ID,
    pub shares: Vec<AuthorShareInput>,
}

#[derive(Debug, InputObject)]
pub struct ChangeKaizenDueDateInput {
    pub kaizen_id: ID,
    pub due_at: DateTime<Utc>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct RemoveKaizenImpactLineInput {
    pub kaizen_id: ID,
    pub line_id: String,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct AdjustKaizenSavingsInput {
    pub kaizen_id: ID,
    pub line_id: String,
    pub classification: Option<Classification>,
    /// A new amount (with its currency).
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub calculation: Option<String>,
    pub evidence: Option<Vec<String>>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct LinkKaizenToDefectInput {
    pub kaizen_id: ID,
    pub defect_id: ID,
}

#[derive(Debug, InputObject)]
pub struct LinkKaizenToA3Input {
    pub kaizen_id: ID,
    pub a3_id: ID,
}

fn money(amount: Option<Decimal>, currency: Option<&str>) -> ApiResult<Option<Money>> {
    match (amount, currency) {
        (Some(amount), Some(currency)) => Ok(Some(Money { amount, currency: kaizen::Currency::parse(currency)? })),
        (None, None) => Ok(None),
        _ => Err(ApiError::Validation { field: "currency".into(), message: "an amount needs its currency".into() }),
    }
}

fn evidence(refs: Option<&Vec<String>>) -> ApiResult<Vec<EvidenceRef>> {
    Ok(refs.into_iter().flatten().map(|e| EvidenceRef::parse("evidence", e)).collect::<Result<Vec<_>, _>>()?)
}

async fn kaizen_done(
    ctx: &Context<'_>,
    id: KaizenId,
    run: impl std::future::Future<Output = Result<gemba_commands::bus::Position, gemba_commands::error::CommandError>>,
) -> ApiResult<KaizenView> {
    run.await?;
    kaizen_payload(ctx, id).await
}

#[derive(Debug, InputObject)]
pub struct OpenA3Input {
    pub theme: String,
    pub owner_id: ID,
    pub coach_id: ID,
}

#[derive(Debug, InputObject)]
pub struct A3Input {
    pub a3_id: ID,
}

#[derive(Debug, InputObject)]
pub struct RecordA3BaselineInput {
    pub a3_id: ID,
    pub metric_id: String,
    pub name: String,
    pub unit: String,
    pub value: Decimal,
}

#[derive(Debug, InputObject)]
pub struct SetA3TargetInput {
    pub a3_id: ID,
    pub metric_id: String,
    pub value: Decimal,
    pub by: NaiveDate,
}

#[derive(Debug, InputObject)]
pub struct AddA3CauseInput {
    pub a3_id: ID,
    pub cause_id: String,
    pub category: CauseCategory,
    pub text: String,
}

#[derive(Debug, InputObject)]
pub struct ChangeA3CauseStatusInput {
    pub a3_id: ID,
    pub cause_id: String,
    pub status: CauseStatus,
}

#[derive(Debug, InputObject)]
pub struct AddA3CountermeasureInput {
    pub a3_id: ID,
    pub cm_id: String,
    pub description: String,
    pub addresses: Vec<String>,
    pub owner_id: ID,
    pub due_on: NaiveDate,
}

#[derive(Debug, InputObject)]
pub struct SetA3CountermeasureStatusInput {
    pub a3_id: ID,
    pub cm_id: String,
    pub status: CountermeasureStatus,
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct A3ActualInput {
    pub metric_id: String,
    pub value: Decimal,
}

#[derive(Debug, InputObject)]
pub struct ConfirmA3EffectInput {
    pub a3_id: ID,
    pub actuals: Vec<A3ActualInput>,
    pub target_met: TargetMet,
}

#[derive(Debug, InputObject)]
pub struct RecordA3StandardizationInput {
    pub a3_id: ID,
    pub documents: Vec<String>,
    pub no_change_justification: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct A3TextInput {
    pub a3_id: ID,
    pub text: String,
}

#[derive(Debug, InputObject)]
pub struct CancelA3Input {
    pub a3_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct A3ReasonInput {
    pub a3_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct EditA3SectionInput {
    pub a3_id: ID,
    pub section: A3Section,
    pub content: String,
    /// Required once the case has left plan.
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct RecordA3WhyChainInput {
    pub a3_id: ID,
    pub chain_id: String,
    pub problem: String,
    /// 1 to 10 whys, in order.
    pub whys: Vec<String>,
    /// A cause of this case.
    pub root_cause_id: String,
}

#[derive(Debug, InputObject)]
pub struct ChangeA3CountermeasureInput {
    pub a3_id: ID,
    pub cm_id: String,
    pub description: Option<String>,
    pub addresses: Option<Vec<String>>,
    pub owner_id: Option<ID>,
    pub due_on: Option<NaiveDate>,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ChangeA3OwnerInput {
    pub a3_id: ID,
    pub owner_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ChangeA3CoachInput {
    pub a3_id: ID,
    pub coach_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct A3MemberInput {
    pub a3_id: ID,
    pub member_id: ID,
}

async fn on_a3_member(
    ctx: &Context<'_>,
    id: &ID,
    member: MemberId,
    input: &impl std::fmt::Debug,
    build: impl FnOnce(gemba_domain::Actor, bool) -> A3Command,
) -> ApiResult<A3View> {
    let p = principal(ctx)?;
    let id = A3Id::parse(id)?;
    let command = command_context(ctx, p.org, Some(p), input)?;
    services(ctx)?.gemba.on_a3_with_member(&command, id, member, build).await?;
    a3_payload(ctx, id).await
}

/// Kaizen and A3 mutations.
#[derive(Debug, Default)]
pub struct ImprovementMutation;

#[Object]
impl ImprovementMutation {
    /// Drafts a kaizen in an active zone; the caller is its author.
    async fn draft_kaizen(&self, ctx: &Context<'_>, input: DraftKaizenInput) -> ApiResult<KaizenView> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let title = Name::parse("title", &input.title)?;
        let (problem, proposal) = (long_text("problem", &input.problem)?, long_text("proposal", &input.proposal)?);
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.draft_kaizen(&command, zone, title, input.category.into(), problem, proposal).await?;
        kaizen_payload(ctx, id).await
    }

    /// Submits a draft (an author); signature meaning `authored`.
    async fn submit_kaizen(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, now| KaizenCommand::Submit { actor, now }).await
    }

    /// Withdraws a draft or submitted kaizen (an author), with a reason.
    async fn withdraw_kaizen(&self, ctx: &Context<'_>, input: KaizenReasonInput) -> ApiResult<KaizenView> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::Withdraw { actor, reason }).await
    }

    /// Takes a submitted kaizen into review (zone leaders, owners, admins; never an author).
    async fn start_kaizen_review(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, facts, _| KaizenCommand::StartReview { actor, may_review: facts.may_review }).await
    }

    /// Approves a kaizen under review (its reviewer); signature meaning `approved`.
    async fn approve_kaizen(&self, ctx: &Context<'_>, input: ApproveKaizenInput) -> ApiResult<KaizenView> {
        let implementers = input.implementer_ids.iter().map(|id| member(id, "implementerIds")).collect::<ApiResult<Vec<_>>>()?;
        let p = principal(ctx)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let kaizen = KaizenId::parse(&input.kaizen_id)?;
        let implementers = services(ctx)?.gemba.eligible_implementers(&command, kaizen, implementers).await?;
        let due_at = input.due_at;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::Approve { actor, implementers, due_at }).await
    }

    /// Rejects a kaizen under review with feedback to its authors.
    async fn reject_kaizen(&self, ctx: &Context<'_>, input: RejectKaizenInput) -> ApiResult<KaizenView> {
        let feedback = long_text("feedback", &input.feedback)?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::Reject { actor, feedback }).await
    }

    /// An implementer starts the implementation.
    async fn start_kaizen_implementation(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::StartImplementation { actor }).await
    }

    /// An implementer marks the kaizen implemented.
    async fn mark_kaizen_implemented(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, now| KaizenCommand::MarkImplemented { actor, now }).await
    }

    /// Sets a target, forecast or actual impact line (hard lines need a calculation and evidence).
    async fn set_kaizen_impact_line(&self, ctx: &Context<'_>, input: SetKaizenImpactLineInput) -> ApiResult<KaizenView> {
        let money = money(input.amount, input.currency.as_deref())?;
        let recurrence = match input.period {
            Some(period) => Recurrence::Recurring { period: period.into(), start_on: input.realized_on, end_on: None },
            None => Recurrence::OneTime { realized_on: input.realized_on },
        };
        let line = ImpactLine {
            line_id: input.line_id.trim().to_owned(),
            kind: input.kind.into(),
            classification: input.classification.into(),
            money,
            recurrence,
            calculation: optional_long_text("calculation", input.calculation.as_deref())?,
            evidence: evidence(input.evidence.as_ref())?,
        };
        if line.line_id.is_empty() || line.line_id.len() > 32 {
            return Err(ApiError::Validation { field: "lineId".into(), message: "is 1 to 32 characters".into() });
        }
        require_uploaded(ctx, "evidence", &line.evidence).await?;
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::SetImpactLine { actor, line, reason }).await
    }

    /// Submits the actual impact of an implemented kaizen; signature meaning `responsible`.
    async fn submit_kaizen_impact(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::SubmitImpact { actor }).await
    }

    /// Verifies the savings (a savings_verifier who is no author, implementer or reviewer).
    async fn verify_kaizen_savings(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, facts, now| KaizenCommand::VerifySavings {
            actor,
            is_savings_verifier: facts.is_savings_verifier,
            admin_threshold: facts.admin_threshold,
            now,
        })
        .await
    }

    /// Declines the savings verification, with a reason; the kaizen returns for rework.
    async fn decline_kaizen_savings_verification(&self, ctx: &Context<'_>, input: KaizenReasonInput) -> ApiResult<KaizenView> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, facts, _| KaizenCommand::DeclineVerification {
            actor,
            is_savings_verifier: facts.is_savings_verifier,
            reason,
        })
        .await
    }

    /// Closes a verified kaizen (or an implemented one without quantified savings).
    async fn close_kaizen(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::Close { actor }).await
    }

    /// Edits a draft's title, category, problem or proposal (an author).
    async fn edit_kaizen_draft(&self, ctx: &Context<'_>, input: EditKaizenDraftInput) -> ApiResult<KaizenView> {
        let patch = content(input.title.as_deref(), input.category, input.problem.as_deref(), input.proposal.as_deref())?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::EditDraft { actor, patch }).await
    }

    /// Changes a submitted kaizen's content with a reason (an author, the reviewer, owners, admins).
    async fn change_kaizen_content(&self, ctx: &Context<'_>, input: ChangeKaizenContentInput) -> ApiResult<KaizenView> {
        let patch = content(input.title.as_deref(), input.category, input.problem.as_deref(), input.proposal.as_deref())?;
        let reason = reason(input.reason_code, &input.reason)?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::ChangeContent { actor, patch, reason }).await
    }

    /// Adds a co-author; the shares are reset to an equal split (remainder to the first author).
    async fn add_kaizen_co_author(&self, ctx: &Context<'_>, input: KaizenMemberInput) -> ApiResult<KaizenView> {
        let p = principal(ctx)?;
        let id = KaizenId::parse(&input.kaizen_id)?;
        let member = member(&input.member_id, "memberId")?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        kaizen_done(ctx, id, services(ctx)?.gemba.add_kaizen_co_author(&command, id, member)).await
    }

    /// Removes a co-author (never the last); the shares are reset to an equal split.
    async fn remove_kaizen_co_author(&self, ctx: &Context<'_>, input: KaizenMemberInput) -> ApiResult<KaizenView> {
        let member = member(&input.member_id, "memberId")?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::RemoveCoAuthor { actor, member }).await
    }

    /// Sets the authors' shares: every author once, at least 1 % each, summing to 100.
    async fn set_kaizen_author_shares(&self, ctx: &Context<'_>, input: SetKaizenAuthorSharesInput) -> ApiResult<KaizenView> {
        let shares = input
            .shares
            .iter()
            .map(|s| {
                let share_pct = u8::try_from(s.share_pct)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| ApiError::Validation { field: "shares".into(), message: "a share is 0 to 100 percent".into() })?;
                Ok(AuthorShare { member_id: member(&s.member_id, "shares")?, share_pct })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::SetAuthorShares { actor, shares }).await
    }

    /// The reviewer defers a kaizen under review, with a reason.
    async fn defer_kaizen(&self, ctx: &Context<'_>, input: KaizenReasonInput) -> ApiResult<KaizenView> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::Defer { actor, reason }).await
    }

    /// Takes a deferred kaizen back into review (its reviewer, or a zone leader, owner or admin who is no author).
    async fn reactivate_kaizen(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, facts, _| KaizenCommand::Reactivate { actor, may_review: facts.may_review }).await
    }

    /// Changes the due date with a reason (the reviewer, owners, admins).
    async fn change_kaizen_due_date(&self, ctx: &Context<'_>, input: ChangeKaizenDueDateInput) -> ApiResult<KaizenView> {
        let reason = reason(input.reason_code, &input.reason)?;
        let due_at = input.due_at;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::ChangeDueDate { actor, due_at, reason }).await
    }

    /// Removes an impact line with a reason (verified actual lines are only adjusted).
    async fn remove_kaizen_impact_line(&self, ctx: &Context<'_>, input: RemoveKaizenImpactLineInput) -> ApiResult<KaizenView> {
        let reason = reason(input.reason_code, &input.reason)?;
        let line_id = input.line_id.trim().to_owned();
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::RemoveImpactLine { actor, line_id, reason }).await
    }

    /// Adjusts a verified actual line (an independent savings verifier), with a reason; signature
    /// meaning `verified`. The earlier verification stays recorded; the event states before, after and the delta.
    async fn adjust_kaizen_savings(&self, ctx: &Context<'_>, input: AdjustKaizenSavingsInput) -> ApiResult<KaizenView> {
        let patch = LinePatch {
            classification: input.classification.map(Into::into),
            money: money(input.amount, input.currency.as_deref())?,
            calculation: optional_long_text("calculation", input.calculation.as_deref())?,
            evidence: input.evidence.as_ref().map(|e| evidence(Some(e))).transpose()?,
        };
        require_uploaded(ctx, "evidence", patch.evidence.as_deref().unwrap_or_default()).await?;
        let reason = reason(input.reason_code, &input.reason)?;
        let line_id = input.line_id.trim().to_owned();
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, facts, now| KaizenCommand::AdjustSavings {
            actor,
            is_savings_verifier: facts.is_savings_verifier,
            admin_threshold: facts.admin_threshold,
            line_id,
            patch,
            reason,
            now,
        })
        .await
    }

    /// Reopens a closed kaizen with a reason (the reviewer, owners, admins).
    async fn reopen_kaizen(&self, ctx: &Context<'_>, input: KaizenReasonInput) -> ApiResult<KaizenView> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, _| KaizenCommand::Reopen { actor, reason }).await
    }

    /// Just-do-it: an author submits a draft already implemented by themself.
    async fn submit_kaizen_as_implemented(&self, ctx: &Context<'_>, input: KaizenInput) -> ApiResult<KaizenView> {
        on_kaizen(ctx, &input.kaizen_id, &input, |actor, _, now| KaizenCommand::SubmitAsImplemented { actor, now }).await
    }

    /// Links a defect of the organisation to the kaizen.
    async fn link_kaizen_to_defect(&self, ctx: &Context<'_>, input: LinkKaizenToDefectInput) -> ApiResult<KaizenView> {
        let p = principal(ctx)?;
        let id = KaizenId::parse(&input.kaizen_id)?;
        let defect = DefectId::parse(&input.defect_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        kaizen_done(ctx, id, services(ctx)?.gemba.link_kaizen_to_defect(&command, id, defect)).await
    }

    /// Links an A3 case of the organisation to the kaizen.
    async fn link_kaizen_to_a3(&self, ctx: &Context<'_>, input: LinkKaizenToA3Input) -> ApiResult<KaizenView> {
        let p = principal(ctx)?;
        let id = KaizenId::parse(&input.kaizen_id)?;
        let a3 = A3Id::parse(&input.a3_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        kaizen_done(ctx, id, services(ctx)?.gemba.link_kaizen_to_a3(&command, id, a3)).await
    }

    /// Opens an A3 case with its owner and coach (never the same person).
    async fn open_a3(&self, ctx: &Context<'_>, input: OpenA3Input) -> ApiResult<A3View> {
        let p = principal(ctx)?;
        let theme = long_text("theme", &input.theme)?;
        let (owner, coach) = (member(&input.owner_id, "ownerId")?, member(&input.coach_id, "coachId")?);
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let id = services(ctx)?.gemba.open_a3(&command, theme, owner, coach).await?;
        a3_payload(ctx, id).await
    }

    /// Records a baseline metric of the current condition.
    async fn record_a3_baseline(&self, ctx: &Context<'_>, input: RecordA3BaselineInput) -> ApiResult<A3View> {
        let name = Name::parse("name", &input.name)?;
        let (metric_id, unit, value) = (input.metric_id.clone(), input.unit.trim().chars().take(20).collect::<String>(), input.value);
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::RecordBaseline { actor, metric_id, name, unit, value }).await
    }

    /// Sets a target for a metric.
    async fn set_a3_target(&self, ctx: &Context<'_>, input: SetA3TargetInput) -> ApiResult<A3View> {
        let (metric_id, value, by) = (input.metric_id.clone(), input.value, input.by);
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::SetTarget { actor, metric_id, value, by }).await
    }

    /// Adds a (hypothetical) cause to the fishbone.
    async fn add_a3_cause(&self, ctx: &Context<'_>, input: AddA3CauseInput) -> ApiResult<A3View> {
        let text = long_text("text", &input.text)?;
        let (cause_id, category) = (input.cause_id.clone(), input.category.into());
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::AddCause { actor, cause_id, category, text }).await
    }

    /// Verifies or refutes a cause.
    async fn change_a3_cause_status(&self, ctx: &Context<'_>, input: ChangeA3CauseStatusInput) -> ApiResult<A3View> {
        let (cause_id, status) = (input.cause_id.clone(), input.status.into());
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::ChangeCauseStatus { actor, cause_id, status }).await
    }

    /// Adds a countermeasure with an owner and a due date, addressing causes.
    async fn add_a3_countermeasure(&self, ctx: &Context<'_>, input: AddA3CountermeasureInput) -> ApiResult<A3View> {
        let description = long_text("description", &input.description)?;
        let owner = member(&input.owner_id, "ownerId")?;
        let (cm_id, addresses, due_on) = (input.cm_id.clone(), input.addresses.clone(), input.due_on);
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::AddCountermeasure { actor, cm_id, description, addresses, owner, due_on })
            .await
    }

    /// Moves a countermeasure on (cancelling needs a reason).
    async fn set_a3_countermeasure_status(&self, ctx: &Context<'_>, input: SetA3CountermeasureStatusInput) -> ApiResult<A3View> {
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let (cm_id, status) = (input.cm_id.clone(), input.status.into());
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::SetCountermeasureStatus { actor, cm_id, status, reason }).await
    }

    /// The coach approves the plan once its gate holds; signature meaning `approved`.
    async fn approve_a3_plan(&self, ctx: &Context<'_>, input: A3Input) -> ApiResult<A3View> {
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::ApprovePlan { actor }).await
    }

    /// Moves from do to check once every countermeasure is done or cancelled.
    async fn advance_a3_to_check(&self, ctx: &Context<'_>, input: A3Input) -> ApiResult<A3View> {
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::AdvanceToCheck { actor }).await
    }

    /// Confirms the effect with actuals for every target metric; signature meaning `reviewed`.
    async fn confirm_a3_effect(&self, ctx: &Context<'_>, input: ConfirmA3EffectInput) -> ApiResult<A3View> {
        let actuals = input.actuals.iter().map(|a| (a.metric_id.clone(), a.value)).collect();
        let target_met = input.target_met.into();
        on_a3(ctx, &input.a3_id, &input, |actor, now| A3Command::ConfirmEffect { actor, actuals, target_met, now }).await
    }

    /// Records the updated standards (or why none changed).
    async fn record_a3_standardization(&self, ctx: &Context<'_>, input: RecordA3StandardizationInput) -> ApiResult<A3View> {
        let documents = input.documents.iter().map(|d| Name::parse("documents", d)).collect::<Result<Vec<_>, _>>()?;
        let no_change_justification = optional_long_text("noChangeJustification", input.no_change_justification.as_deref())?;
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::RecordStandardization { actor, documents, no_change_justification }).await
    }

    /// Records the yokoten decision (where else the learning applies, or why nowhere).
    async fn record_a3_yokoten(&self, ctx: &Context<'_>, input: A3TextInput) -> ApiResult<A3View> {
        let note = long_text("text", &input.text)?;
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::RecordYokoten { actor, note }).await
    }

    /// The coach closes the case after standardisation and yokoten; signature meaning `approved`.
    async fn close_a3(&self, ctx: &Context<'_>, input: A3Input) -> ApiResult<A3View> {
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::Close { actor }).await
    }

    /// Cancels an open case, with a reason.
    async fn cancel_a3(&self, ctx: &Context<'_>, input: CancelA3Input) -> ApiResult<A3View> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::Cancel { actor, reason }).await
    }

    /// Edits a section (background, current condition, target, containment, lessons); a reason
    /// is required once the case has left plan.
    async fn edit_a3_section(&self, ctx: &Context<'_>, input: EditA3SectionInput) -> ApiResult<A3View> {
        let content = long_text("content", &input.content)?;
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let section = input.section.into();
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::EditSection { actor, section, content, reason }).await
    }

    /// Records a five-whys chain ending in a cause of the case.
    async fn record_a3_why_chain(&self, ctx: &Context<'_>, input: RecordA3WhyChainInput) -> ApiResult<A3View> {
        let problem = long_text("problem", &input.problem)?;
        let whys = input.whys.iter().map(|w| long_text("whys", w)).collect::<ApiResult<Vec<_>>>()?;
        let (chain_id, root_cause_id) = (input.chain_id.trim().to_owned(), input.root_cause_id.clone());
        if chain_id.is_empty() || chain_id.len() > 32 {
            return Err(ApiError::Validation { field: "chainId".into(), message: "is 1 to 32 characters".into() });
        }
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::RecordWhyChain { actor, chain_id, problem, whys, root_cause_id }).await
    }

    /// Changes a countermeasure's description, causes, owner or due date, with a reason.
    async fn change_a3_countermeasure(&self, ctx: &Context<'_>, input: ChangeA3CountermeasureInput) -> ApiResult<A3View> {
        let patch = a3::CountermeasurePatch {
            description: optional_long_text("description", input.description.as_deref())?,
            addresses: input.addresses.clone(),
            owner: input.owner_id.as_ref().map(|o| member(o, "ownerId")).transpose()?,
            due_on: input.due_on,
        };
        let reason = reason(input.reason_code, &input.reason)?;
        let cm_id = input.cm_id.clone();
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::ChangeCountermeasure { actor, cm_id, patch, reason }).await
    }

    /// Puts an open case on hold, with a reason.
    async fn put_a3_on_hold(&self, ctx: &Context<'_>, input: A3ReasonInput) -> ApiResult<A3View> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::PutOnHold { actor, reason }).await
    }

    /// Resumes a case on hold in the phase it was held in.
    async fn resume_a3(&self, ctx: &Context<'_>, input: A3Input) -> ApiResult<A3View> {
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::Resume { actor }).await
    }

    /// Reopens a closed case into check, with a reason (the coach, owners, admins).
    async fn reopen_a3(&self, ctx: &Context<'_>, input: A3ReasonInput) -> ApiResult<A3View> {
        let reason = reason(input.reason_code, &input.reason)?;
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::Reopen { actor, reason }).await
    }

    /// Hands the case to a new owner (never the coach or a team member), with a reason.
    async fn change_a3_owner(&self, ctx: &Context<'_>, input: ChangeA3OwnerInput) -> ApiResult<A3View> {
        let owner = member(&input.owner_id, "ownerId")?;
        let reason = reason(input.reason_code, &input.reason)?;
        on_a3_member(ctx, &input.a3_id, owner, &input, |actor, member_active| A3Command::ChangeOwner {
            actor,
            owner,
            member_active,
            reason,
        })
        .await
    }

    /// Changes the coach (never the owner), with a reason (the coach, owners, admins).
    async fn change_a3_coach(&self, ctx: &Context<'_>, input: ChangeA3CoachInput) -> ApiResult<A3View> {
        let coach = member(&input.coach_id, "coachId")?;
        let reason = reason(input.reason_code, &input.reason)?;
        on_a3_member(ctx, &input.a3_id, coach, &input, |actor, member_active| A3Command::ChangeCoach {
            actor,
            coach,
            member_active,
            reason,
        })
        .await
    }

    /// Adds a team member (neither the owner nor the coach).
    async fn add_a3_team_member(&self, ctx: &Context<'_>, input: A3MemberInput) -> ApiResult<A3View> {
        let who = member(&input.member_id, "memberId")?;
        on_a3_member(ctx, &input.a3_id, who, &input, |actor, member_active| A3Command::AddTeamMember { actor, member: who, member_active })
            .await
    }

    /// Removes a team member.
    async fn remove_a3_team_member(&self, ctx: &Context<'_>, input: A3MemberInput) -> ApiResult<A3View> {
        let who = member(&input.member_id, "memberId")?;
        on_a3(ctx, &input.a3_id, &input, |actor, _| A3Command::RemoveTeamMember { actor, member: who }).await
    }
}
