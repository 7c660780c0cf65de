//! Points in GraphQL: the rules in force, a member's ledger, publishing rules, and manual
//! adjustments and reversals by Owners and Admins.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_commands::recognition::RulesInForce;
use gemba_domain::MemberId;
use gemba_domain::points_rules::{self, PointsRules};
use gemba_projections::registry as reads;
use rust_decimal::Decimal;

use super::context::{command_context, principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::inputs::reason;
use super::types::ReasonCode;

/// The points of one rule.
#[derive(Clone, Copy, Debug, SimpleObject, InputObject)]
#[graphql(input_name = "RuleValueInput")]
pub struct RuleValue {
    /// 0 switches the rule off.
    pub points: i64,
    /// Most points of this rule one member earns per ISO week (UTC).
    pub weekly_cap: Option<i64>,
}

impl From<points_rules::RuleValue> for RuleValue {
    fn from(v: points_rules::RuleValue) -> Self {
        Self { points: v.points, weekly_cap: v.weekly_cap }
    }
}

impl From<RuleValue> for points_rules::RuleValue {
    fn from(v: RuleValue) -> Self {
        Self { points: v.points, weekly_cap: v.weekly_cap }
    }
}

/// A bonus for verified hard savings of at least an amount.
#[derive(Clone, Copy, Debug, SimpleObject, InputObject)]
#[graphql(input_name = "SavingsTierInput")]
pub struct SavingsTier {
    pub at_least: Decimal,
    pub bonus: i64,
}

/// Every rule of the points policy (see `PointsRules` in the domain for who earns what).
#[derive(Clone, Debug, SimpleObject, InputObject)]
#[graphql(input_name = "PointsRulesInput")]
pub struct Rules {
    pub defect_accepted: RuleValue,
    pub defect_resolved: RuleValue,
    pub defect_on_time_bonus: RuleValue,
    pub defect_verified: RuleValue,
    pub kaizen_accepted: RuleValue,
    pub kaizen_implemented: RuleValue,
    pub kaizen_savings_verified: RuleValue,
    pub kaizen_savings_tiers: Vec<SavingsTier>,
    pub audit_submitted: RuleValue,
    pub a3_closed_owner: RuleValue,
    pub a3_closed_team: RuleValue,
}

impl From<PointsRules> for Rules {
    fn from(r: PointsRules) -> Self {
        Self {
            defect_accepted: r.defect_accepted.into(),
            defect_resolved: r.defect_resolved.into(),
            defect_on_time_bonus: r.defect_on_time_bonus.into(),
            defect_verified: r.defect_verified.into(),
            kaizen_accepted: r.kaizen_accepted.into(),
            kaizen_implemented: r.kaizen_implemented.into(),
            kaizen_savings_verified: r.kaizen_savings_verified.into(),
            kaizen_savings_tiers: r.kaizen_savings_tiers.iter().map(|t| SavingsTier { at_least: t.at_least, bonus: t.bonus }).collect(),
            audit_submitted: r.audit_submitted.into(),
            a3_closed_owner: r.a3_closed_owner.into(),
            a3_closed_team: r.a3_closed_team.into(),
        }
    }
}

impl From<Rules> for PointsRules {
    fn from(r: Rules) -> Self {
        Self {
            defect_accepted: r.defect_accepted.into(),
            defect_resolved: r.defect_resolved.into(),
            defect_on_time_bonus: r.defect_on_time_bonus.into(),
            defect_verified: r.defect_verified.into(),
            kaizen_accepted: r.kaizen_accepted.into(),
            kaizen_implemented: r.kaizen_implemented.into(),
            kaizen_savings_verified: r.kaizen_savings_verified.into(),
            kaizen_savings_tiers: r
                .kaizen_savings_tiers
                .iter()
                .map(|t| points_rules::SavingsTier { at_least: t.at_least, bonus: t.bonus })
                .collect(),
            audit_submitted: r.audit_submitted.into(),
            a3_closed_owner: r.a3_closed_owner.into(),
            a3_closed_team: r.a3_closed_team.into(),
        }
    }
}

/// The points rules in force.
#[derive(Debug, SimpleObject)]
pub struct PointsRuleSet {
    /// 0 for the defaults; published versions count from 1.
    pub version: u32,
    /// sha256 of the rules' canonical JSON.
    pub checksum: String,
    pub rules: Rules,
}

impl From<RulesInForce> for PointsRuleSet {
    fn from(r: RulesInForce) -> Self {
        Self { version: r.version, checksum: r.checksum, rules: r.rules.into() }
    }
}

/// One award or adjustment.
#[derive(Debug, SimpleObject)]
pub struct PointsEntry {
    pub award_id: String,
    /// The rule, or `manual_adjustment`.
    pub rule_id: String,
    pub points: i64,
    /// The entity that earned it, e.g. `Defect/<id>`.
    pub source: Option<String>,
    pub earned_at: DateTime<Utc>,
    pub reversed: bool,
}

/// A member's points.
#[derive(Debug, SimpleObject)]
pub struct PointsLedger {
    pub member_id: ID,
    /// Live awards and adjustments.
    pub balance: i64,
    /// Newest first, at most 200.
    pub entries: Vec<PointsEntry>,
}

async fn ledger(ctx: &Context<'_>, member: MemberId) -> ApiResult<PointsLedger> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    if reads::member(&mut tx, p.org.uuid(), member.uuid()).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = reads::points_entries(&mut tx, p.org.uuid(), member.uuid(), 200).await?;
    let balance = gemba_commands::points::balance(&mut tx, p.org, member).await?;
    tx.commit().await?;
    let entries = rows
        .into_iter()
        .map(|r| PointsEntry {
            award_id: r.award_id,
            rule_id: r.rule_id,
            points: r.points,
            source: r.source_ref,
            earned_at: r.earned_at,
            reversed: r.reversed,
        })
        .collect();
    Ok(PointsLedger { member_id: ID(member.to_string()), balance, entries })
}

/// Points queries.
#[derive(Debug, Default)]
pub struct PointsQuery;

#[Object]
impl PointsQuery {
    /// The points rules in force in the organisation.
    async fn points_rule_set(&self, ctx: &Context<'_>) -> ApiResult<PointsRuleSet> {
        let p = principal(ctx)?;
        Ok(services(ctx)?.gemba.points_rules(p.org).await?.into())
    }

    /// A member's points: balance and the awards behind it.
    async fn points_ledger(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<PointsLedger> {
        ledger(ctx, MemberId::parse(&member_id)?).await
    }
}

#[derive(Debug, InputObject)]
pub struct AdjustPointsInput {
    pub member_id: ID,
    /// Non-zero, at most 10000 either way.
    pub delta: i64,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ReversePointsAwardInput {
    pub award_id: String,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

/// Points mutations.
#[derive(Debug, Default)]
pub struct PointsMutation;

#[Object]
impl PointsMutation {
    /// Publishes a new, immutable version of the points rules (Owners and Admins); awards
    /// from now on pin it.
    async fn publish_points_rule_set(&self, ctx: &Context<'_>, input: Rules) -> ApiResult<PointsRuleSet> {
        let p = principal(ctx)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let gemba = &services(ctx)?.gemba;
        gemba.publish_points_rules(&command, input.into()).await?;
        Ok(gemba.points_rules(p.org).await?.into())
    }

    /// Adjusts another member's points with a reason (Owners and Admins).
    async fn adjust_points(&self, ctx: &Context<'_>, input: AdjustPointsInput) -> ApiResult<PointsLedger> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let why = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.adjust_points(&command, member, input.delta, why).await?;
        ledger(ctx, member).await
    }

    /// Reverses an award with a reason (Owners and Admins).
    async fn reverse_points_award(&self, ctx: &Context<'_>, input: ReversePointsAwardInput) -> ApiResult<PointsLedger> {
        let p = principal(ctx)?;
        let why = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let position = services(ctx)?.gemba.reverse_points_award(&command, input.award_id.clone(), why).await?;
        ledger(ctx, MemberId::parse(&position.aggregate_id)?).await
    }
}
