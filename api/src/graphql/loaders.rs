//! DataLoaders: fields that would query once per row of a list (the zone of each register
//! entry, say) are collected over the whole answer and fetched in one statement.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, ID};
use gemba_projections::engine::tenant_tx;
use gemba_projections::registry::{self, ZoneRow};
use sqlx::PgPool;
use uuid::Uuid;

use super::context::principal;
use super::errors::{ApiError, ApiResult};
use super::kpis::{AuditRegisterEntry, KaizenRegisterEntry, ZoneImprovementEntry, ZonePointsEntry};
use super::read_models::DefectRegisterEntry;
use super::types::Zone;

/// A zone of an organisation (the organisation keeps row-level security in force).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ZoneKey {
    pub org: Uuid,
    pub zone: Uuid,
}

/// Loads zones by id, one statement per organisation and batch.
#[derive(Debug)]
pub struct ZoneLoader {
    pub pool: PgPool,
}

impl Loader<ZoneKey> for ZoneLoader {
    type Value = ZoneRow;
    type Error = ApiError;

    async fn load(&self, keys: &[ZoneKey]) -> Result<HashMap<ZoneKey, ZoneRow>, ApiError> {
        let mut by_org: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_org.entry(key.org).or_default().push(key.zone);
        }
        let mut found = HashMap::new();
        for (org, zones) in by_org {
            let mut tx = tenant_tx(&self.pool, org).await.map_err(ApiError::internal)?;
            let rows = registry::zones_by_id(&mut tx, org, &zones).await.map_err(ApiError::internal)?;
            tx.commit().await.map_err(ApiError::internal)?;
            found.extend(rows.into_iter().map(|row| (ZoneKey { org, zone: row.zone_id }, row)));
        }
        Ok(found)
    }
}

/// The zone `zone_id` of the caller's organisation, through the request's loader.
pub async fn zone_of(ctx: &Context<'_>, zone_id: &ID) -> ApiResult<Option<Zone>> {
    let p = principal(ctx)?;
    let zone = Uuid::parse_str(zone_id).map_err(ApiError::internal)?;
    let loader = ctx.data::<DataLoader<ZoneLoader>>().map_err(|e| ApiError::internal(e.message))?;
    Ok(loader.load_one(ZoneKey { org: p.org.uuid(), zone }).await?.map(Zone))
}

macro_rules! with_zone {
    ($($entry:ty),+) => {$(
        #[ComplexObject]
        impl $entry {
            /// The zone (loaded for the whole list at once).
            async fn zone(&self, ctx: &Context<'_>) -> ApiResult<Option<Zone>> {
                zone_of(ctx, &self.zone_id).await
            }
        }
    )+};
}

with_zone!(DefectRegisterEntry, KaizenRegisterEntry, AuditRegisterEntry, ZonePointsEntry, ZoneImprovementEntry);
