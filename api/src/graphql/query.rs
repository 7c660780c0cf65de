//! Queries.

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, ID, Json, Object};
use gemba_domain::{MemberId, Role as DomainRole, SiteId, ZoneId};
use gemba_projections::history::entity_history;
use gemba_projections::registry as reads;
use uuid::Uuid;

use super::context::{principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::types::{
    FieldChange, HistoryActor, HistoryEntry, Member, Organization, PAGE_DEFAULT, Site, Zone, connection, member_for, members_view, page,
};
use crate::trail::{Viewer, render_envelopes};

/// Read operations.
#[derive(Debug, Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// The signed-in member.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Member> {
        member_for(ctx, principal(ctx)?.member.uuid()).await?.ok_or(ApiError::Unauthenticated)
    }

    /// The organisation the session acts in.
    async fn organization(&self, ctx: &Context<'_>) -> ApiResult<Organization> {
        let p = principal(ctx)?;
        let mut tx = tenant_tx(ctx).await?;
        let row = reads::organization(&mut tx, p.org.uuid()).await?;
        row.map(Organization).ok_or_else(|| ApiError::internal("session of a missing organisation"))
    }

    /// A member by id; null when absent or in another organisation.
    async fn member(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Member>> {
        member_for(ctx, MemberId::parse(&id)?.uuid()).await
    }

    /// The organisation's members (invited, active and removed), in joining order.
    #[graphql(complexity = "usize::try_from(first.unwrap_or(PAGE_DEFAULT)).unwrap_or(0) * child_complexity + 1")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<OpaqueCursor<Uuid>, Member>> {
        let p = principal(ctx)?;
        let page = page(first, after)?;
        let mut tx = tenant_tx(ctx).await?;
        let rows = reads::members(&mut tx, p.org.uuid(), page).await?;
        let members = members_view(services(ctx)?.gemba.keyring(), p, &mut tx, rows).await?;
        Ok(connection(page, members, |m| Uuid::parse_str(&m.id).unwrap_or_default(), |m| m))
    }

    /// A site by id; null when absent or in another organisation.
    async fn site(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Site>> {
        let p = principal(ctx)?;
        let id = SiteId::parse(&id)?;
        let mut tx = tenant_tx(ctx).await?;
        Ok(reads::site(&mut tx, p.org.uuid(), id.uuid()).await?.map(Site))
    }

    /// The organisation's sites, in creation order.
    #[graphql(complexity = "usize::try_from(first.unwrap_or(PAGE_DEFAULT)).unwrap_or(0) * child_complexity + 1")]
    async fn sites(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> ApiResult<Connection<OpaqueCursor<Uuid>, Site>> {
        let p = principal(ctx)?;
        let page = page(first, after)?;
        let mut tx = tenant_tx(ctx).await?;
        let rows = reads::sites(&mut tx, p.org.uuid(), page).await?;
        Ok(connection(page, rows, |s| s.site_id, Site))
    }

    /// A zone by id; null when absent or in another organisation.
    async fn zone(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Zone>> {
        let p = principal(ctx)?;
        let id = ZoneId::parse(&id)?;
        let mut tx = tenant_tx(ctx).await?;
        Ok(reads::zone(&mut tx, p.org.uuid(), id.uuid()).await?.map(Zone))
    }

    /// The organisation's zones (optionally of one site), in creation order.
    #[graphql(complexity = "usize::try_from(first.unwrap_or(PAGE_DEFAULT)).unwrap_or(0) * child_complexity + 1")]
    async fn zones(
        &self,
        ctx: &Context<'_>,
        site_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<OpaqueCursor<Uuid>, Zone>> {
        let p = principal(ctx)?;
        let site = site_id.map(|id| SiteId::parse(&id)).transpose()?;
        let page = page(first, after)?;
        let mut tx = tenant_tx(ctx).await?;
        let rows = reads::zones(&mut tx, p.org.uuid(), site.map(SiteId::uuid), page).await?;
        Ok(connection(page, rows, |z| z.zone_id, Zone))
    }

    /// Every change of an entity (any record by its id, an evidence file by its sha256):
    /// who, when, what, before, after and why. With `asOf`, only the changes recorded by
    /// then. Owners, Admins and Auditors only.
    async fn history(
        &self,
        ctx: &Context<'_>,
        entity_id: ID,
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    ) -> ApiResult<Vec<HistoryEntry>> {
        let p = principal(ctx)?;
        if p.role == DomainRole::Member {
            return Err(ApiError::Forbidden("the audit log is visible to owners, admins and auditors".into()));
        }
        // Entities have UUIDs; evidence files are named by their sha256.
        let entity = match Uuid::parse_str(entity_id.trim()) {
            Ok(uuid) => uuid.to_string(),
            Err(_) => gemba_domain::EvidenceRef::parse("entityId", &entity_id)
                .map_err(|_| ApiError::Validation { field: "entityId".into(), message: "is not a valid id".into() })?
                .as_str()
                .to_owned(),
        };
        let mut tx = tenant_tx(ctx).await?;
        let rows = entity_history(&mut tx, p.org.uuid(), &entity, as_of).await?;
        let entries = render_history(ctx, &mut tx, rows).await?;
        tx.commit().await?;
        Ok(entries)
    }
}

/// History rows as GraphQL entries (the rendering is shared with exports: [`crate::trail`]).
pub(crate) async fn render_history(
    ctx: &Context<'_>,
    tx: &mut sqlx::PgConnection,
    rows: Vec<gemba_projections::history::HistoryRow>,
) -> ApiResult<Vec<HistoryEntry>> {
    let p = principal(ctx)?;
    let metadata: Vec<&serde_json::Value> = rows.iter().map(|r| &r.metadata).collect();
    let rendered = render_envelopes(services(ctx)?.gemba.keyring(), tx, Viewer::member(p.org, p.role), &metadata).await?;
    Ok(rows
        .into_iter()
        .zip(rendered)
        .map(|(row, envelope)| HistoryEntry {
            entity_id: ID(row.aggregate_id),
            seq: row.sequence,
            tenant_seq: row.tenant_seq,
            recorded_at: row.recorded_at,
            event_type: row.event_type,
            entity_type: row.aggregate_type,
            actor: HistoryActor {
                id: envelope.actor_id.map(ID),
                display_name: envelope.actor_name,
                role: envelope.actor_role.map(Into::into),
            },
            changes: envelope
                .changes
                .into_iter()
                .map(|c| FieldChange { path: c.path, before: c.before.map(Json), after: c.after.map(Json) })
                .collect(),
            reason: envelope.reason,
            reason_code: envelope.reason_code,
            channel: envelope.channel,
            signature_meaning: envelope.signature_meaning,
            command_id: Some(ID(envelope.command_id.to_string())),
            correlation_id: Some(ID(envelope.correlation_id.to_string())),
        })
        .collect())
}
