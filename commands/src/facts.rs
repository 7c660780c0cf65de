//! Facts about an actor in a zone, looked up once for the commands that need them.

use gemba_domain::{MemberId, ZoneId};
use uuid::Uuid;

use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::tenancy::begin_tenant;

/// What the write side knows about a member and a zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActorInZone {
    /// The zone exists and is active.
    pub zone_active: bool,
    /// The zone's owner (leader), if any.
    pub zone_owner: Option<MemberId>,
    /// The member is the zone's owner or one of its deputies.
    pub leads_zone: bool,
    /// The member is active and holds the capability asked about.
    pub has_capability: bool,
}

impl Gemba {
    /// Facts about `member` in `zone`, with whether they hold `capability`
    /// (`five_s_auditor`, `savings_verifier`, `a3_coach`, `defect_verifier`).
    pub(crate) async fn actor_in_zone(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        member: MemberId,
        capability: &str,
    ) -> Result<ActorInZone, CommandError> {
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let (zone_active, zone_owner, leads_zone, has_capability): (bool, Option<Uuid>, bool, bool) = sqlx::query_as(
            "select exists(select 1 from zones where org_id = $1 and zone_id = $2 and status = 'ACTIVE'),
                    (select owner_member_id from zones where org_id = $1 and zone_id = $2),
                    exists(select 1 from zones where org_id = $1 and zone_id = $2 and owner_member_id = $3)
                        or exists(select 1 from zone_deputies where org_id = $1 and zone_id = $2 and member_id = $3),
                    exists(select 1 from members where org_id = $1 and member_id = $3 and status = 'ACTIVE' and $4 = any(capabilities))",
        )
        .bind(ctx.org.uuid())
        .bind(zone.uuid())
        .bind(member.uuid())
        .bind(capability)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ActorInZone { zone_active, zone_owner: zone_owner.map(MemberId), leads_zone, has_capability })
    }
}
