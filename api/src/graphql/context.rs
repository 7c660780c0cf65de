//! Per-request context: who is asking, in which organisation, and helpers to act for them.

use std::net::IpAddr;

use async_graphql::Context;
use gemba_commands::envelope::{Channel, CommandContext};
use gemba_commands::service::Gemba;
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::{Actor, MemberId, OrgId, Role, Sealed};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::errors::{ApiError, ApiResult};
use crate::rate_limit::RateLimiter;

/// The signed-in member a request acts for, with their role as of this request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub org: OrgId,
    pub member: MemberId,
    pub role: Role,
    pub display_name: Option<Sealed>,
}

/// Facts about the HTTP request.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub principal: Option<Principal>,
    pub request_id: Uuid,
    pub idempotency_key: Option<Uuid>,
    pub client_ip: IpAddr,
    pub token: Option<String>,
}

/// Shared state of the schema.
#[derive(Clone, Debug)]
pub struct Services {
    pub gemba: Gemba,
    /// Per client address and account.
    pub limiter: RateLimiter,
    /// Per client address, whatever the account (a higher limit).
    pub address_limiter: RateLimiter,
    /// The projectors' announcements of committed batches (live subscriptions listen here).
    pub progress: tokio::sync::broadcast::Sender<gemba_projections::engine::Progress>,
    /// The deployment's signing key (its public half is shown to auditors).
    pub signer: gemba_commands::signing::Signer,
}

pub fn services<'a>(ctx: &Context<'a>) -> ApiResult<&'a Services> {
    ctx.data::<Services>().map_err(|e| ApiError::internal(e.message))
}

pub fn request<'a>(ctx: &Context<'a>) -> ApiResult<&'a RequestContext> {
    ctx.data::<RequestContext>().map_err(|e| ApiError::internal(e.message))
}

/// The signed-in member, or `UNAUTHENTICATED`.
pub fn principal<'a>(ctx: &Context<'a>) -> ApiResult<&'a Principal> {
    request(ctx)?.principal.as_ref().ok_or(ApiError::Unauthenticated)
}

/// A tenant transaction for reads of the principal's organisation.
pub async fn tenant_tx(ctx: &Context<'_>) -> ApiResult<Transaction<'static, Postgres>> {
    let principal = principal(ctx)?;
    Ok(begin_tenant(services(ctx)?.gemba.pool(), principal.org).await?)
}

/// The command context of a mutation. With an `Idempotency-Key` header, each mutation field
/// of the request gets a command id derived from the key and its response key, so a retried
/// request repeats nothing.
/// The command id also covers the input, so a key reused for a different input is a
/// different command rather than a silent no-op.
pub fn command_context(
    ctx: &Context<'_>,
    org: OrgId,
    actor: Option<&Principal>,
    input: &impl std::fmt::Debug,
) -> ApiResult<CommandContext> {
    let request = request(ctx)?;
    let mut command = CommandContext::new(org, actor.map(|p| Actor { member_id: p.member, role: p.role }), Channel::Web);
    command.actor_name = actor.and_then(|p| p.display_name.clone());
    command.request_id = request.request_id;
    command.correlation_id = request.request_id;
    if let Some(key) = request.idempotency_key {
        let field = ctx.path_node.map(|p| p.to_string()).unwrap_or_default();
        command.command_id = Uuid::new_v5(&key, format!("{field}\n{input:?}").as_bytes());
    }
    Ok(command)
}

/// The human number of a defect, kaizen or A3 case.
pub async fn entity_number(ctx: &Context<'_>, entity: Uuid) -> ApiResult<Option<String>> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    let number = gemba_projections::registry::entity_number(&mut tx, p.org.uuid(), entity).await?;
    tx.commit().await?;
    Ok(number)
}

/// Whether none of `ids` (an entity, its zone) is deleted: lookups of a deleted entity, or of
/// one in a deleted zone, answer null.
pub async fn visible(ctx: &Context<'_>, ids: &[Uuid]) -> ApiResult<bool> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    let hidden: bool = sqlx::query_scalar("select exists(select 1 from deleted_entities where org_id = $1 and entity_id = any($2))")
        .bind(p.org.uuid())
        .bind(ids)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(!hidden)
}
