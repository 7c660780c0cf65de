//! Mutations: one per command. Inputs are parsed into domain values here (bad input is
//! `VALIDATION` and changes nothing); the write side decides.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use axum::http::header::SET_COOKIE;
use chrono::{DateTime, Utc};
use gemba_commands::auth::Password;
use gemba_commands::envelope::Channel;
use gemba_commands::service::{SESSION_TTL, SignedIn};
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::organization::OrganizationCommand;
use gemba_domain::{Code, DisplayName, Email, MemberId, Name, OrgId, SiteId, Timezone, ZoneId};
use gemba_projections::registry as reads;

use super::context::{Principal, command_context, principal, request, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::inputs::{optional_reason, reason};
use super::members::member_payload;
use super::types::{Capability, Member, Organization, ReasonCode, Role, Site, Zone, members_view};

/// Write operations.
#[derive(Debug, Default)]
pub struct CoreMutation;

#[derive(Debug, InputObject)]
pub struct SignUpInput {
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub organization_name: String,
}

#[derive(Debug, InputObject)]
pub struct LogInInput {
    pub email: String,
    pub password: String,
    pub organization_id: ID,
}

#[derive(Debug, InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    pub role: Role,
    /// The sites the member will work in; left out for every site.
    pub site_ids: Option<Vec<ID>>,
}

#[derive(Debug, InputObject)]
pub struct AcceptInvitationInput {
    pub token: String,
    pub password: String,
    pub display_name: String,
}

#[derive(Debug, InputObject)]
pub struct ChangeMemberRoleInput {
    pub member_id: ID,
    pub role: Role,
    /// Required: why the role changes.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct CapabilityInput {
    pub member_id: ID,
    pub capability: Capability,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct RemoveMemberInput {
    pub member_id: ID,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct RenameOrganizationInput {
    pub name: String,
}

#[derive(Debug, InputObject)]
pub struct ChangeDefectSettingsInput {
    pub defect_sla_hours_a: i32,
    pub defect_sla_hours_b: i32,
    pub defect_sla_hours_c: i32,
    pub recurrence_window_days: i32,
    /// Required: these settings change KPIs.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct SetRetentionPolicyInput {
    pub years: i32,
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct LegalHoldInput {
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct CreateSiteInput {
    pub code: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
}

#[derive(Debug, InputObject)]
pub struct RenameSiteInput {
    pub site_id: ID,
    pub name: String,
}

#[derive(Debug, InputObject)]
pub struct CreateZoneInput {
    pub site_id: ID,
    /// An active area of the same site, if the zone sits in one.
    pub area_id: Option<ID>,
    pub code: String,
    pub name: String,
}

#[derive(Debug, InputObject)]
pub struct RenameZoneInput {
    pub zone_id: ID,
    pub name: String,
    /// Optional: why the zone is renamed.
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct AssignZoneOwnerInput {
    pub zone_id: ID,
    pub member_id: ID,
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, InputObject)]
pub struct ZoneDeputyInput {
    pub zone_id: ID,
    pub member_id: ID,
}

#[derive(Debug, InputObject)]
pub struct ArchiveZoneInput {
    pub zone_id: ID,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
    /// Another zone of the same site that takes over the zone's open defects and kaizens;
    /// without it, a zone with open work is not archived.
    pub transfer_to_zone_id: Option<ID>,
}

#[derive(Debug, InputObject)]
pub struct RestoreZoneInput {
    pub zone_id: ID,
    /// Required.
    pub reason: String,
    pub reason_code: Option<ReasonCode>,
}

/// A session: the bearer token (also set as an HttpOnly cookie), its organisation and member.
#[derive(Debug, SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub organization: Organization,
    pub member: Member,
}

/// A pending invitation.
#[derive(Debug, SimpleObject)]
pub struct Invitation {
    pub id: ID,
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// A new invitation and its single-use token (shown once).
#[derive(Debug, SimpleObject)]
pub struct InvitePayload {
    pub invitation: Invitation,
    pub member: Member,
    pub token: String,
}

fn password(raw: &str) -> ApiResult<Password> {
    Ok(Password::parse(raw)?)
}

/// Builds the payload of a new session and sets its cookie.
async fn session_payload(ctx: &Context<'_>, signed: SignedIn) -> ApiResult<AuthPayload> {
    let gemba = &services(ctx)?.gemba;
    let mut tx = begin_tenant(gemba.pool(), signed.org).await?;
    let organization =
        reads::organization(&mut tx, signed.org.uuid()).await?.ok_or_else(|| ApiError::internal("new session without organisation"))?;
    let row = reads::member(&mut tx, signed.org.uuid(), signed.member.uuid())
        .await?
        .ok_or_else(|| ApiError::internal("new session without member"))?;
    // The new member is the viewer of their own payload.
    let viewer = Principal {
        org: signed.org,
        member: signed.member,
        role: gemba_commands::registry::parse_role(&row.role).ok_or_else(|| ApiError::internal("unknown role"))?,
        display_name: None,
    };
    let member =
        members_view(gemba.keyring(), &viewer, &mut tx, vec![row]).await?.pop().ok_or_else(|| ApiError::internal("member view"))?;
    tx.commit().await?;
    ctx.append_http_header(
        SET_COOKIE,
        format!("gemba_session={}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}", signed.token, SESSION_TTL.num_seconds()),
    );
    Ok(AuthPayload { token: signed.token, organization: Organization(organization), member })
}

pub(super) async fn zone_payload(ctx: &Context<'_>, zone: ZoneId) -> ApiResult<Zone> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    reads::zone(&mut tx, p.org.uuid(), zone.uuid()).await?.map(Zone).ok_or(ApiError::NotFound)
}

pub(super) async fn site_payload(ctx: &Context<'_>, site: SiteId) -> ApiResult<Site> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    reads::site(&mut tx, p.org.uuid(), site.uuid()).await?.map(Site).ok_or(ApiError::NotFound)
}

async fn set_capability(ctx: &Context<'_>, input: CapabilityInput, held: bool) -> ApiResult<Member> {
    let p = principal(ctx)?;
    let member = MemberId::parse(&input.member_id)?;
    let reason = reason(input.reason_code, &input.reason)?;
    let command = command_context(ctx, p.org, Some(p), &input)?;
    services(ctx)?.gemba.set_capability(&command, member, input.capability.into(), held, reason).await?;
    member_payload(ctx, member).await
}

async fn organization_payload(ctx: &Context<'_>) -> ApiResult<Organization> {
    let p = principal(ctx)?;
    let mut tx = tenant_tx(ctx).await?;
    reads::organization(&mut tx, p.org.uuid()).await?.map(Organization).ok_or(ApiError::NotFound)
}

async fn set_legal_hold(ctx: &Context<'_>, input: LegalHoldInput, hold: bool) -> ApiResult<Organization> {
    let p = principal(ctx)?;
    let reason = reason(input.reason_code, &input.reason)?;
    let command = command_context(ctx, p.org, Some(p), &input)?;
    services(ctx)?.gemba.on_organization(&command, |actor| OrganizationCommand::SetLegalHold { actor, hold, reason }).await?;
    organization_payload(ctx).await
}

async fn set_zone_deputy(ctx: &Context<'_>, input: ZoneDeputyInput, add: bool) -> ApiResult<Zone> {
    let p = principal(ctx)?;
    let zone = ZoneId::parse(&input.zone_id)?;
    let member = MemberId::parse(&input.member_id)?;
    let command = command_context(ctx, p.org, Some(p), &input)?;
    services(ctx)?.gemba.set_zone_deputy(&command, zone, member, add).await?;
    zone_payload(ctx, zone).await
}

#[Object]
impl CoreMutation {
    /// Creates an account and a new organisation whose first member is its Owner.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> ApiResult<AuthPayload> {
        let email = Email::parse("email", &input.email)?;
        let password = password(&input.password)?;
        let display_name = DisplayName::parse("displayName", &input.display_name)?;
        let organization = Name::parse("organizationName", &input.organization_name)?;
        let s = services(ctx)?;
        s.limiter.check(&format!("sign-up:{}", request(ctx)?.client_ip))?;
        let signed = s.gemba.sign_up(email, password, display_name, organization, Channel::Web).await?;
        session_payload(ctx, signed).await
    }

    /// Signs in to one organisation.
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> ApiResult<AuthPayload> {
        let org = OrgId::parse(&input.organization_id)?;
        if input.password.len() > 4 * Password::MAX_CHARS || input.email.len() > 1024 {
            return Err(ApiError::Unauthenticated);
        }
        let s = services(ctx)?;
        let ip = request(ctx)?.client_ip;
        s.address_limiter.check(&format!("log-in:{ip}"))?;
        s.limiter.check(&format!("log-in:{ip}:{}", input.email.trim().to_lowercase()))?;
        let signed = s.gemba.log_in(org, &input.email, input.password, Channel::Web).await?;
        session_payload(ctx, signed).await
    }

    /// Ends the current session.
    async fn log_out(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let token = request(ctx)?.token.clone().ok_or(ApiError::Unauthenticated)?;
        services(ctx)?.gemba.log_out(&token, Channel::Web).await?;
        ctx.append_http_header(SET_COOKIE, "gemba_session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0");
        Ok(true)
    }

    /// Invites someone by e-mail (Owners and Admins; only Owners invite Owners).
    async fn invite_member(&self, ctx: &Context<'_>, input: InviteMemberInput) -> ApiResult<InvitePayload> {
        let p = principal(ctx)?;
        let email = Email::parse("email", &input.email)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let sites = input.site_ids.as_ref().map(|ids| ids.iter().map(|id| SiteId::parse(id)).collect::<Result<Vec<_>, _>>()).transpose()?;
        let invited = services(ctx)?.gemba.invite_member(&command, email.clone(), input.role.into(), sites).await?;
        Ok(InvitePayload {
            invitation: Invitation {
                id: ID(invited.invitation.to_string()),
                email: email.as_str().to_owned(),
                role: input.role,
                expires_at: invited.expires_at,
            },
            member: member_payload(ctx, invited.member).await?,
            token: invited.token,
        })
    }

    /// Accepts an invitation: sets the password and signs in.
    async fn accept_invitation(&self, ctx: &Context<'_>, input: AcceptInvitationInput) -> ApiResult<AuthPayload> {
        let password = password(&input.password)?;
        let display_name = DisplayName::parse("displayName", &input.display_name)?;
        let s = services(ctx)?;
        s.limiter.check(&format!("accept:{}", request(ctx)?.client_ip))?;
        let signed = s.gemba.accept_invitation(input.token.trim(), password, display_name, Channel::Web).await?;
        session_payload(ctx, signed).await
    }

    /// Changes a member's role, with a reason. Nobody changes their own role; only Owners
    /// grant or revoke Owner; the last Owner stays.
    async fn change_member_role(&self, ctx: &Context<'_>, input: ChangeMemberRoleInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.change_member_role(&command, member, input.role.into(), reason).await?;
        member_payload(ctx, member).await
    }

    /// Grants a capability (five_s_auditor, savings_verifier, a3_coach, defect_verifier) to
    /// another active member, with a reason. Owners and Admins only.
    async fn grant_capability(&self, ctx: &Context<'_>, input: CapabilityInput) -> ApiResult<Member> {
        set_capability(ctx, input, true).await
    }

    /// Revokes a capability, with a reason. Owners and Admins only.
    async fn revoke_capability(&self, ctx: &Context<'_>, input: CapabilityInput) -> ApiResult<Member> {
        set_capability(ctx, input, false).await
    }

    /// Removes a member (or revokes a pending invitation), with a reason.
    async fn remove_member(&self, ctx: &Context<'_>, input: RemoveMemberInput) -> ApiResult<Member> {
        let p = principal(ctx)?;
        let member = MemberId::parse(&input.member_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.remove_member(&command, member, reason).await?;
        member_payload(ctx, member).await
    }

    /// Renames the organisation.
    async fn rename_organization(&self, ctx: &Context<'_>, input: RenameOrganizationInput) -> ApiResult<Organization> {
        let p = principal(ctx)?;
        let name = Name::parse("name", &input.name)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.rename_organization(&command, name).await?;
        let mut tx = tenant_tx(ctx).await?;
        reads::organization(&mut tx, p.org.uuid()).await?.map(Organization).ok_or(ApiError::NotFound)
    }

    /// Changes the defect SLAs and recurrence window, with a reason (Owners and Admins).
    async fn change_defect_settings(&self, ctx: &Context<'_>, input: ChangeDefectSettingsInput) -> ApiResult<Organization> {
        let p = principal(ctx)?;
        let hours = |field: &str, h: i32| {
            if (1..=24 * 366).contains(&h) {
                Ok(chrono::Duration::hours(i64::from(h)))
            } else {
                Err(ApiError::Validation { field: field.into(), message: "is between 1 hour and a year".into() })
            }
        };
        let defect_slas = gemba_domain::defect::PrioritySlas {
            a: hours("defectSlaHoursA", input.defect_sla_hours_a)?,
            b: hours("defectSlaHoursB", input.defect_sla_hours_b)?,
            c: hours("defectSlaHoursC", input.defect_sla_hours_c)?,
        };
        let recurrence_window_days = u32::try_from(input.recurrence_window_days)
            .map_err(|_| ApiError::Validation { field: "recurrenceWindowDays".into(), message: "is positive".into() })?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?
            .gemba
            .on_organization(&command, |actor| OrganizationCommand::ChangeDefectSettings {
                actor,
                defect_slas,
                recurrence_window_days,
                reason,
            })
            .await?;
        organization_payload(ctx).await
    }

    /// Sets the audit-log retention in years (Owners; never below 7), with a reason.
    async fn set_retention_policy(&self, ctx: &Context<'_>, input: SetRetentionPolicyInput) -> ApiResult<Organization> {
        let p = principal(ctx)?;
        let years =
            u32::try_from(input.years).map_err(|_| ApiError::Validation { field: "years".into(), message: "is positive".into() })?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_organization(&command, |actor| OrganizationCommand::SetRetentionPolicy { actor, years, reason }).await?;
        organization_payload(ctx).await
    }

    /// Places a legal hold (Owners), with a reason: nothing is disposed of while it stands.
    async fn place_legal_hold(&self, ctx: &Context<'_>, input: LegalHoldInput) -> ApiResult<Organization> {
        set_legal_hold(ctx, input, true).await
    }

    /// Releases the legal hold (Owners), with a reason.
    async fn release_legal_hold(&self, ctx: &Context<'_>, input: LegalHoldInput) -> ApiResult<Organization> {
        set_legal_hold(ctx, input, false).await
    }

    /// Creates a site.
    async fn create_site(&self, ctx: &Context<'_>, input: CreateSiteInput) -> ApiResult<Site> {
        let p = principal(ctx)?;
        let code = Code::parse("code", &input.code)?;
        let name = Name::parse("name", &input.name)?;
        let timezone = Timezone::parse("timezone", &input.timezone)?;
        if input.timezone.trim().parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::Validation { field: "timezone".into(), message: "is not a time zone of the IANA database".into() });
        }
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let site = services(ctx)?.gemba.create_site(&command, code, name, timezone).await?;
        site_payload(ctx, site).await
    }

    /// Renames a site.
    async fn rename_site(&self, ctx: &Context<'_>, input: RenameSiteInput) -> ApiResult<Site> {
        let p = principal(ctx)?;
        let site = SiteId::parse(&input.site_id)?;
        let name = Name::parse("name", &input.name)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.rename_site(&command, site, name).await?;
        site_payload(ctx, site).await
    }

    /// Creates a zone in a site; zone codes are unique per site.
    async fn create_zone(&self, ctx: &Context<'_>, input: CreateZoneInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let site = SiteId::parse(&input.site_id)?;
        let area = input.area_id.as_ref().map(|id| gemba_domain::AreaId::parse(id)).transpose()?;
        let code = Code::parse("code", &input.code)?;
        let name = Name::parse("name", &input.name)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let zone = services(ctx)?.gemba.create_zone(&command, site, area, code, name).await?;
        zone_payload(ctx, zone).await
    }

    /// Renames a zone.
    async fn rename_zone(&self, ctx: &Context<'_>, input: RenameZoneInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let name = Name::parse("name", &input.name)?;
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.rename_zone(&command, zone, name, reason).await?;
        zone_payload(ctx, zone).await
    }

    /// Makes an active member the zone's owner (zone leader).
    async fn assign_zone_owner(&self, ctx: &Context<'_>, input: AssignZoneOwnerInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let member = MemberId::parse(&input.member_id)?;
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.assign_zone_owner(&command, zone, member, reason).await?;
        zone_payload(ctx, zone).await
    }

    /// Makes an active member a deputy of the zone leader.
    async fn add_zone_deputy(&self, ctx: &Context<'_>, input: ZoneDeputyInput) -> ApiResult<Zone> {
        set_zone_deputy(ctx, input, true).await
    }

    /// Removes a deputy of the zone leader.
    async fn remove_zone_deputy(&self, ctx: &Context<'_>, input: ZoneDeputyInput) -> ApiResult<Zone> {
        set_zone_deputy(ctx, input, false).await
    }

    /// Archives a zone, with a reason. Its open defects and kaizens must be finished first,
    /// or moved to another zone of the site with `transferToZoneId`.
    async fn archive_zone(&self, ctx: &Context<'_>, input: ArchiveZoneInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        let transfer_to = input.transfer_to_zone_id.as_ref().map(|id| ZoneId::parse(id)).transpose()?;
        services(ctx)?.gemba.archive_zone(&command, zone, reason, transfer_to).await?;
        zone_payload(ctx, zone).await
    }

    /// Restores an archived zone, with a reason.
    async fn restore_zone(&self, ctx: &Context<'_>, input: RestoreZoneInput) -> ApiResult<Zone> {
        let p = principal(ctx)?;
        let zone = ZoneId::parse(&input.zone_id)?;
        let reason = reason(input.reason_code, &input.reason)?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.restore_zone(&command, zone, reason).await?;
        zone_payload(ctx, zone).await
    }
}
