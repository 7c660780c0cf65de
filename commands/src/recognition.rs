//! Recognition commands: publishing the points rules, and an Owner's or Admin's manual
//! adjustments and reversals (the policy in [`crate::points`] awards the rest).

use gemba_domain::points::{PointsCommand, PointsLedger};
use gemba_domain::points_rules::{PointsRuleSet, PointsRuleSetCommand, PointsRules};
use gemba_domain::{DomainError, MemberId, Reason};
use sha2::{Digest, Sha256};

use crate::bus::Position;
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::tenancy::begin_tenant;

/// The rules in force, as an organisation sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesInForce {
    /// 0: the defaults.
    pub version: u32,
    /// The sha256 of the rules' canonical JSON.
    pub checksum: String,
    pub rules: PointsRules,
}

fn checksum(rules: &PointsRules) -> Result<String, CommandError> {
    let json = serde_json::to_value(rules).map_err(|e| CommandError::Internal(e.to_string()))?;
    let mut bytes = Vec::new();
    crate::chain::write_canonical(&json, &mut bytes);
    Ok(hex::encode(Sha256::digest(&bytes)))
}

impl Gemba {
    /// Publishes a new version of the organisation's points rules (Owner/Admin).
    pub async fn publish_points_rules(&self, ctx: &CommandContext, rules: PointsRules) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let checksum = checksum(&rules)?;
        let command = PointsRuleSetCommand::Publish { actor, rules, checksum };
        self.bus.execute::<PointsRuleSet>(ctx, &ctx.org.to_string(), command).await
    }

    /// The rules in force for the organisation of `ctx`.
    pub async fn points_rules(&self, org: gemba_domain::OrgId) -> Result<RulesInForce, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let (version, rules) = crate::points::rules_in_force(&mut tx, org).await?;
        tx.commit().await?;
        Ok(RulesInForce { version, checksum: checksum(&rules)?, rules })
    }

    /// Adds `delta` points to another member's balance, with a reason (Owner/Admin).
    pub async fn adjust_points(
        &self,
        ctx: &CommandContext,
        member: MemberId,
        delta: i64,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let beneficiary_role = self.role_of(ctx.org, member).await?.ok_or(DomainError::NotFound)?;
        let command = PointsCommand::Adjust { actor, member, beneficiary_role, adjustment_id: ctx.command_id.to_string(), delta, reason };
        self.bus.execute::<PointsLedger>(ctx, &member.to_string(), command).await
    }

    /// Reverses an award by hand, with a reason (Owner/Admin).
    pub async fn reverse_points_award(&self, ctx: &CommandContext, award_id: String, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let member: Option<uuid::Uuid> = sqlx::query_scalar("select member_id from points_awards where org_id = $1 and award_id = $2")
            .bind(ctx.org.uuid())
            .bind(&award_id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let member = member.ok_or(DomainError::NotFound)?;
        self.bus.execute::<PointsLedger>(ctx, &member.to_string(), PointsCommand::Reverse { actor, award_id, reason }).await
    }
}
