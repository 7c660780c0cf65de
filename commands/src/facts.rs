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

#[derive(sqlx::FromRow)]
struct ZoneFactsRow {
    zone_active: bool,
    zone_owner: Option<Uuid>,
    leads_zone: bool,
    has_capability: bool,
    outside_scope: bool,
}

impl Gemba {
    /// Facts about `member` in `zone`, with whether they hold `capability`
    /// (`five_s_auditor`, `savings_verifier`, `a3_coach`, `defect_verifier`). A member whose
    /// site scope leaves out the zone's site is refused here (`FORBIDDEN`): they do not act
    /// in that site at all.
    pub(crate) async fn actor_in_zone(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        member: MemberId,
        capability: &str,
    ) -> Result<ActorInZone, CommandError> {
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let facts: ZoneFactsRow = sqlx::query_as(
            "select exists(select 1 from zones where org_id = $1 and zone_id = $2 and status = 'ACTIVE' and gemba_visible(zone_id))
                        as zone_active,
                    (select owner_member_id from zones where org_id = $1 and zone_id = $2) as zone_owner,
                    exists(select 1 from zones where org_id = $1 and zone_id = $2 and owner_member_id = $3)
                        or exists(select 1 from zone_deputies where org_id = $1 and zone_id = $2 and member_id = $3) as leads_zone,
                    exists(select 1 from members where org_id = $1 and member_id = $3 and status = 'ACTIVE' and $4 = any(capabilities)
                                  and gemba_visible(member_id))
                        as has_capability,
                    exists(select 1 from zones z join members m on m.org_id = z.org_id and m.member_id = $3
                            where z.org_id = $1 and z.zone_id = $2 and m.site_scope is not null and not (z.site_id = any(m.site_scope)))
                        as outside_scope",
        )
        .bind(ctx.org.uuid())
        .bind(zone.uuid())
        .bind(member.uuid())
        .bind(capability)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if facts.outside_scope {
            return Err(gemba_domain::DomainError::Forbidden("the zone is in a site outside your site scope").into());
        }
        Ok(ActorInZone {
            zone_active: facts.zone_active,
            zone_owner: facts.zone_owner.map(MemberId),
            leads_zone: facts.leads_zone,
            has_capability: facts.has_capability,
        })
    }

    /// Whether `member` is active and their site scope covers the site of `zone`.
    pub(crate) async fn member_works_in_zone(&self, ctx: &CommandContext, member: MemberId, zone: ZoneId) -> Result<bool, CommandError> {
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let works: bool = sqlx::query_scalar(
            "select exists(select 1 from members m join zones z on z.org_id = m.org_id and z.zone_id = $3
                            where m.org_id = $1 and m.member_id = $2 and m.status = 'ACTIVE' and gemba_visible(m.member_id)
                              and gemba_visible(z.zone_id)
                              and (m.site_scope is null or z.site_id = any(m.site_scope)))",
        )
        .bind(ctx.org.uuid())
        .bind(member.uuid())
        .bind(zone.uuid())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(works)
    }
}
