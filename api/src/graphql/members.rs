//! Membership details in GraphQL: site scope, home zone, profile, suspension.

use async_graphql::{Context, ID, InputObject, Object};
use gemba_commands::members::ProfileInput;
use gemba_domain::{Code, DisplayName, MemberId, Name, SiteId, ZoneId};

use super::context::{command_context, principal, services};
use super::errors::{ApiError, ApiResult};
use super::inputs::reason;
use super::types::{Member, ReasonCode, member_for};

#[derive(Debug, InputObject)]
pub struct ChangeMemberSiteScopeInput {
    pub member_id: ID,
    /// The sites the member works in (at least one); null opens every site.
    pub site_ids: Option<Vec<ID>>,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct SetHomeZoneInput {
    pub member_id: ID,
    /// An active zone inside the member's site scope.
    pub zone_id: ID,
}

#[derive(Debug, InputObject)]
pub struct UpdateMemberProfileInput {
    pub member_id: ID,
    /// Only the fields given change.
    pub display_name: Option<String>,
    pub employee_number: Option<String>,
    pub shift: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct MemberStatusInput {
    pub member_id: ID,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ErasePersonalDataInput {
    pub member_id: ID,
    /// Required (e.g. the request under GDPR Art. 17 it answers). Must not contain personal data.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

/// A member after a command on them (refused as not found when hidden).
pub(super) async fn member_payload(ctx: &Context<'_>, member: MemberId) -> ApiResult<Member> {
    member_for(ctx, member.uuid()).await?.ok_or(ApiError::NotFound)
}

/// Changes of membership details.
#[derive(Debug, Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Limits a member to some sites, or opens every site, with a reason (Owners and Admins).
    /// Refused while the member owns an active zone outside the new scope.
    async fn change_member_site_scope(&self, ctx: &Context<'_>, input: ChangeMemberSiteScopeInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let sites = input
            .site_ids
            .as_ref()
            .map(|ids| {
                ids.iter()
                    .map(|id| {
                        SiteId::parse(id).map_err(|_| ApiError::Validation { field: "siteIds".into(), message: "is not a valid id".into() })
                    })
                    .collect::<ApiResult<Vec<_>>>()
            })
            .transpose()?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.change_member_site_scope(&command, member, sites, reason).await?;
        member_payload(ctx, member).await
    }

    /// Sets a member's home zone (by the member themself, an Owner or an Admin).
    async fn set_home_zone(&self, ctx: &Context<'_>, input: SetHomeZoneInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.set_home_zone(&command, member, zone).await?;
        member_payload(ctx, member).await
    }

    /// Updates a member's display name, employee number or shift (by the member themself,
    /// an Owner or an Admin); only the fields given change.
    async fn update_member_profile(&self, ctx: &Context<'_>, input: UpdateMemberProfileInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let profile = ProfileInput {
            display_name: input.display_name.as_deref().map(|t| DisplayName::parse("displayName", t)).transpose()?,
            employee_number: input.employee_number.as_deref().map(|t| Code::parse("employeeNumber", t)).transpose()?,
            shift: input.shift.as_deref().map(|t| Name::parse("shift", t)).transpose()?,
        };
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.update_member_profile(&command, member, profile).await?;
        member_payload(ctx, member).await
    }

    /// Suspends a member, with a reason: they cannot sign in and their sessions end. Nobody
    /// suspends themselves; the last active Owner is never suspended.
    async fn suspend_member(&self, ctx: &Context<'_>, input: MemberStatusInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.suspend_member(&command, member, reason).await?;
        member_payload(ctx, member).await
    }

    /// Erases a person's personal data by crypto-shredding their key, with a reason (Owners
    /// and Admins; an Owner's data only by an Owner; never one's own). A member not yet
    /// removed is removed by it (never the last active Owner; their zones must be reassigned
    /// first). Their events stay and the hash chain still verifies; every personal value of
    /// theirs (name, e-mail, employee number) reads `[erased]` everywhere from now on, and
    /// they can no longer sign in. Recorded as `MemberPersonalDataErased`. A deleted member
    /// (soft delete) is erased too; the answer is then null, as every lookup of them is.
    async fn erase_personal_data(&self, ctx: &Context<'_>, input: ErasePersonalDataInput) -> ApiResult<Option<Member>> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.erase_personal_data(&command, member, reason).await?;
        member_for(ctx, member.uuid()).await
    }

    /// Reactivates a suspended member, with a reason.
    async fn reactivate_member(&self, ctx: &Context<'_>, input: MemberStatusInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.reactivate_member(&command, member, reason).await?;
        member_payload(ctx, member).await
    }
}
