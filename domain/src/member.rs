//! The Member aggregate: one person's membership of one organisation.
//!
//! Invariants: at least one active Owner (the write side supplies the current count of
//! active Owners, and re-checks it in the same transaction as the append); only an Owner
//! grants, revokes or removes the Owner role; nobody changes their own role; Auditors never
//! mutate; a member who owns zones cannot be removed until the zones are reassigned.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::ValidationError;
use crate::error::{DomainError, Outcome};
use crate::ids::{AccountId, InvitationId, MemberId, SiteId, ZoneId};
use crate::values::{Name, Reason, Role, Sealed};

/// Where a membership stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberStatus {
    /// Nothing happened yet.
    #[default]
    New,
    /// Invited, not yet joined.
    Invited,
    /// Joined and active.
    Active,
    /// Suspended: cannot sign in until reactivated.
    Suspended,
    /// Removed (logically; history is kept).
    Removed,
}

/// State of a membership.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Member {
    id: Option<MemberId>,
    status: MemberStatus,
    role: Option<Role>,
    email: Option<Sealed>,
    invitation_expires_at: Option<DateTime<Utc>>,
    capabilities: BTreeSet<Capability>,
    site_scope: SiteScope,
    home_zone: Option<ZoneId>,
    display_name: Option<Sealed>,
    employee_number: Option<Sealed>,
    shift: Option<Name>,
    /// The person's personal data was erased (their key shredded).
    #[serde(default)]
    erased: bool,
}

/// The sites a member works in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteScope {
    /// Every site of the organisation.
    #[default]
    All,
    /// Only these sites (at least one).
    Sites(BTreeSet<SiteId>),
}

impl SiteScope {
    /// Whether `site` is in scope.
    pub fn includes(&self, site: SiteId) -> bool {
        match self {
            Self::All => true,
            Self::Sites(sites) => sites.contains(&site),
        }
    }
}

/// One field of a profile change: its value before (if any) and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit<T> {
    /// The value before, if there was one.
    pub before: Option<T>,
    /// The new value.
    pub after: T,
}

/// A profile patch: only the fields given change. Personal fields come sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// New display name (sealed).
    pub display_name: Option<Sealed>,
    /// New employee number (sealed).
    pub employee_number: Option<Sealed>,
    /// New shift.
    pub shift: Option<Name>,
}

/// Capabilities a member may hold besides their role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Conducts 5S audits.
    FiveSAuditor,
    /// Verifies kaizen savings.
    SavingsVerifier,
    /// Coaches A3 cases.
    A3Coach,
    /// Verifies resolved defects.
    DefectVerifier,
}

impl Capability {
    fn path(self) -> String {
        let name = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        format!("capabilities.{name}")
    }
}

impl Member {
    /// The member's current status.
    pub fn status(&self) -> MemberStatus {
        self.status
    }
    /// The member's current role.
    pub fn role(&self) -> Option<Role> {
        self.role
    }
}

/// Commands on a membership.
#[derive(Clone, Debug)]
pub enum MemberCommand {
    /// The founder of a new organisation joins as its first Owner.
    Found { member_id: MemberId, account_id: AccountId, email: Sealed, display_name: Sealed },
    /// An Owner or Admin invites someone (only an Owner may invite an Owner).
    /// `sites_exist`: every site of `site_scope` exists (looked up by the write side).
    Invite {
        actor: Actor,
        member_id: MemberId,
        invitation_id: InvitationId,
        email: Sealed,
        role: Role,
        site_scope: SiteScope,
        sites_exist: bool,
        expires_at: DateTime<Utc>,
    },
    /// The invitee accepts before the invitation expires.
    AcceptInvitation { account_id: AccountId, display_name: Sealed, now: DateTime<Utc> },
    /// Change the member's role, with a reason.
    ChangeRole { actor: Actor, role: Role, reason: Reason, active_owners: u32 },
    /// Grant a capability, with a reason.
    GrantCapability { actor: Actor, capability: Capability, reason: Reason },
    /// Revoke a capability, with a reason.
    RevokeCapability { actor: Actor, capability: Capability, reason: Reason },
    /// Remove the member (or revoke a pending invitation), with a reason.
    Remove { actor: Actor, reason: Reason, active_owners: u32, owned_zones: u32 },
    /// Limit the member to some sites (or open every site), with a reason. The write side
    /// says whether every site exists and how many active zones the member owns outside.
    ChangeSiteScope { actor: Actor, scope: SiteScope, reason: Reason, sites_exist: bool, owned_zones_outside: u32 },
    /// Set the member's home zone (`zone_site` is the zone's site when it is active).
    SetHomeZone { actor: Actor, zone: ZoneId, zone_site: Option<SiteId> },
    /// The member themself, an Owner or an Admin updates the profile.
    UpdateProfile { actor: Actor, patch: ProfilePatch },
    /// Suspend the member, with a reason: they cannot sign in and their sessions end.
    Suspend { actor: Actor, reason: Reason, active_owners: u32, owned_zones: u32 },
    /// Reactivate a suspended member, with a reason.
    Reactivate { actor: Actor, reason: Reason },
    /// Erase the person's personal data (GDPR), with a reason: a member not yet removed is
    /// removed by the same command (the rules of removal apply), then the erasure is
    /// recorded; the write side shreds the person's key in the same transaction.
    ErasePersonalData { actor: Actor, reason: Reason, active_owners: u32, owned_zones: u32 },
}

/// Events of a membership.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MemberEvent {
    /// Someone was invited in a role.
    MemberInvited {
        member_id: MemberId,
        invitation_id: InvitationId,
        email: Sealed,
        role: Role,
        invited_by: MemberId,
        expires_at: DateTime<Utc>,
        /// Absent from invitations recorded before site scopes: every site.
        #[serde(default)]
        site_scope: SiteScope,
    },
    /// The person joined: the founder (`invited: false`), or an invitee accepting.
    MemberJoined { member_id: MemberId, account_id: AccountId, email: Sealed, display_name: Sealed, role: Role, invited: bool },
    /// The role changed.
    MemberRoleChanged { before: Role, after: Role, reason: Reason },
    /// A capability was granted.
    MemberCapabilityGranted { capability: Capability, reason: Reason },
    /// A capability was revoked.
    MemberCapabilityRevoked { capability: Capability, reason: Reason },
    /// The member was removed (`previous` is `Invited` when a pending invitation is revoked).
    MemberRemoved { role: Role, previous: MemberStatus, reason: Reason },
    /// The member's site scope changed.
    MemberSiteScopeChanged { before: SiteScope, after: SiteScope, reason: Reason },
    /// The member's home zone changed.
    MemberHomeZoneChanged { before: Option<ZoneId>, after: ZoneId },
    /// The member's profile changed (only the fields listed).
    MemberProfileChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_name: Option<Edit<Sealed>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        employee_number: Option<Edit<Sealed>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shift: Option<Edit<Name>>,
    },
    /// The member was suspended.
    MemberSuspended { reason: Reason },
    /// The suspended member was reactivated.
    MemberReactivated { reason: Reason },
    /// The person's personal data was erased: their key is shredded, so every sealed value
    /// of theirs (in any event) reads as erased. Carries no personal data itself.
    MemberPersonalDataErased { reason: Reason },
}

impl DomainEvent for MemberEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MemberInvited { .. } => "MemberInvited",
            Self::MemberJoined { .. } => "MemberJoined",
            Self::MemberRoleChanged { .. } => "MemberRoleChanged",
            Self::MemberRemoved { .. } => "MemberRemoved",
            Self::MemberCapabilityGranted { .. } => "MemberCapabilityGranted",
            Self::MemberCapabilityRevoked { .. } => "MemberCapabilityRevoked",
            Self::MemberSiteScopeChanged { .. } => "MemberSiteScopeChanged",
            Self::MemberHomeZoneChanged { .. } => "MemberHomeZoneChanged",
            Self::MemberProfileChanged { .. } => "MemberProfileChanged",
            Self::MemberSuspended { .. } => "MemberSuspended",
            Self::MemberReactivated { .. } => "MemberReactivated",
            Self::MemberPersonalDataErased { .. } => "MemberPersonalDataErased",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for MemberEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::MemberInvited { email, role, site_scope, .. } => vec![
                Change::created("email", email),
                Change::created("role", role),
                Change::created("siteScope", site_scope),
                Change::created("status", MemberStatus::Invited),
            ],
            Self::MemberJoined { display_name, invited: true, .. } => {
                vec![Change::created("displayName", display_name), Change::new("status", MemberStatus::Invited, MemberStatus::Active)]
            }
            Self::MemberJoined { email, display_name, role, invited: false, .. } => vec![
                Change::created("email", email),
                Change::created("displayName", display_name),
                Change::created("role", role),
                Change::created("status", MemberStatus::Active),
            ],
            Self::MemberRoleChanged { before, after, .. } => vec![Change::new("role", before, after)],
            Self::MemberRemoved { previous, .. } => vec![Change::new("status", previous, MemberStatus::Removed)],
            Self::MemberCapabilityGranted { capability, .. } => vec![Change::new(&capability.path(), false, true)],
            Self::MemberCapabilityRevoked { capability, .. } => vec![Change::new(&capability.path(), true, false)],
            Self::MemberSiteScopeChanged { before, after, .. } => vec![Change::new("siteScope", before, after)],
            Self::MemberHomeZoneChanged { before, after } => vec![Change::new("homeZoneId", before, after)],
            Self::MemberProfileChanged { display_name, employee_number, shift } => {
                let mut changes = Vec::new();
                if let Some(edit) = display_name {
                    changes.push(Change::new("displayName", &edit.before, &edit.after));
                }
                if let Some(edit) = employee_number {
                    changes.push(Change::new("employeeNumber", &edit.before, &edit.after));
                }
                if let Some(edit) = shift {
                    changes.push(Change::new("shift", &edit.before, &edit.after));
                }
                changes
            }
            Self::MemberSuspended { .. } => vec![Change::new("status", MemberStatus::Active, MemberStatus::Suspended)],
            Self::MemberReactivated { .. } => vec![Change::new("status", MemberStatus::Suspended, MemberStatus::Active)],
            Self::MemberPersonalDataErased { .. } => vec![Change::new("personalData", "held", "erased")],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::MemberRoleChanged { reason, .. }
            | Self::MemberRemoved { reason, .. }
            | Self::MemberCapabilityGranted { reason, .. }
            | Self::MemberCapabilityRevoked { reason, .. }
            | Self::MemberSiteScopeChanged { reason, .. }
            | Self::MemberSuspended { reason }
            | Self::MemberReactivated { reason }
            | Self::MemberPersonalDataErased { reason } => Some(reason),
            _ => None,
        }
    }
}

const LAST_OWNER: &str = "an organisation needs at least one owner";
/// Refusal of anything that needs the personal data of an erased person.
pub const ERASED: &str = "the member's personal data was erased";

/// Refuses to let the last active Owner stop being one.
fn keep_an_owner(leaving_owner: bool, active_owners: u32) -> Outcome {
    if leaving_owner && active_owners <= 1 {
        return Err(DomainError::Rule(LAST_OWNER));
    }
    Ok(())
}

impl Aggregate for Member {
    const TYPE: &'static str = "Member";
    type Command = MemberCommand;
    type Event = MemberEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            MemberCommand::Found { member_id, account_id, email, display_name } => {
                if self.status != MemberStatus::New {
                    return Err(DomainError::Rule("the member already exists"));
                }
                let event = MemberEvent::MemberJoined { member_id, account_id, email, display_name, role: Role::Owner, invited: false };
                sink.write(event, self).await;
            }
            MemberCommand::Invite { actor, member_id, invitation_id, email, role, site_scope, sites_exist, expires_at } => {
                actor.require_admin()?;
                if role == Role::Owner {
                    actor.require_owner()?;
                }
                if self.status != MemberStatus::New {
                    return Err(DomainError::Rule("the member already exists"));
                }
                if matches!(&site_scope, SiteScope::Sites(sites) if sites.is_empty()) {
                    return Err(ValidationError::new("siteIds", "names at least one site, or is left out for every site").into());
                }
                if !sites_exist {
                    return Err(ValidationError::new("siteIds", "names a site that does not exist").into());
                }
                let event = MemberEvent::MemberInvited {
                    member_id,
                    invitation_id,
                    email,
                    role,
                    invited_by: actor.member_id,
                    expires_at,
                    site_scope,
                };
                sink.write(event, self).await;
            }
            MemberCommand::AcceptInvitation { account_id, display_name, now } => {
                let (Some(member_id), Some(role), Some(email)) = (self.id, self.role, self.email.clone()) else {
                    return Err(DomainError::NotFound);
                };
                if self.status != MemberStatus::Invited {
                    return Err(DomainError::Rule("the invitation is no longer valid"));
                }
                if self.invitation_expires_at.is_none_or(|expiry| now >= expiry) {
                    return Err(DomainError::Rule("the invitation has expired"));
                }
                let event = MemberEvent::MemberJoined { member_id, account_id, email, display_name, role, invited: true };
                sink.write(event, self).await;
            }
            MemberCommand::ChangeRole { actor, role, reason, active_owners } => {
                actor.require_admin()?;
                let before = self.active_role()?;
                if Some(actor.member_id) == self.id {
                    return Err(DomainError::Forbidden("nobody changes their own role"));
                }
                if before == Role::Owner || role == Role::Owner {
                    actor.require_owner()?;
                }
                if before == role {
                    return Err(DomainError::Rule("the member already has this role"));
                }
                keep_an_owner(before == Role::Owner, active_owners)?;
                sink.write(MemberEvent::MemberRoleChanged { before, after: role, reason }, self).await;
            }
            MemberCommand::GrantCapability { actor, capability, reason } => {
                let role = self.capability_change(&actor)?;
                if role == Role::Auditor {
                    return Err(DomainError::Rule("auditors are read-only and hold no capabilities"));
                }
                if self.capabilities.contains(&capability) {
                    return Err(DomainError::Rule("the member already holds this capability"));
                }
                sink.write(MemberEvent::MemberCapabilityGranted { capability, reason }, self).await;
            }
            MemberCommand::RevokeCapability { actor, capability, reason } => {
                self.capability_change(&actor)?;
                if !self.capabilities.contains(&capability) {
                    return Err(DomainError::Rule("the member does not hold this capability"));
                }
                sink.write(MemberEvent::MemberCapabilityRevoked { capability, reason }, self).await;
            }
            MemberCommand::Remove { actor, reason, active_owners, owned_zones } => {
                actor.require_admin()?;
                let (role, previous) = match self.status {
                    MemberStatus::Active | MemberStatus::Invited | MemberStatus::Suspended => {
                        (self.role.ok_or(DomainError::NotFound)?, self.status)
                    }
                    MemberStatus::New | MemberStatus::Removed => return Err(DomainError::NotFound),
                };
                if Some(actor.member_id) == self.id {
                    return Err(DomainError::Forbidden("members cannot remove themselves"));
                }
                if role == Role::Owner {
                    actor.require_owner()?;
                }
                let active_owner = role == Role::Owner && self.status == MemberStatus::Active;
                keep_an_owner(active_owner, active_owners)?;
                if owned_zones > 0 {
                    return Err(DomainError::Rule("reassign the zones this member owns before removing them"));
                }
                sink.write(MemberEvent::MemberRemoved { role, previous, reason }, self).await;
            }
            MemberCommand::ChangeSiteScope { actor, scope, reason, sites_exist, owned_zones_outside } => {
                actor.require_admin()?;
                self.current()?;
                if matches!(&scope, SiteScope::Sites(sites) if sites.is_empty()) {
                    return Err(ValidationError::new("siteIds", "must name at least one site").into());
                }
                if !sites_exist {
                    return Err(ValidationError::new("siteIds", "must name sites of the organisation").into());
                }
                if scope == self.site_scope {
                    return Err(DomainError::Rule("the member already has this site scope"));
                }
                if owned_zones_outside > 0 {
                    return Err(DomainError::Rule("the member owns zones outside this site scope: reassign them first"));
                }
                sink.write(MemberEvent::MemberSiteScopeChanged { before: self.site_scope.clone(), after: scope, reason }, self).await;
            }
            MemberCommand::SetHomeZone { actor, zone, zone_site } => {
                self.self_or_admin(&actor)?;
                self.current()?;
                let site = zone_site.ok_or_else(|| ValidationError::new("zoneId", "does not name an active zone"))?;
                if !self.site_scope.includes(site) {
                    return Err(DomainError::Rule("the zone is outside the member's site scope"));
                }
                if self.home_zone == Some(zone) {
                    return Err(DomainError::Rule("this is already the member's home zone"));
                }
                sink.write(MemberEvent::MemberHomeZoneChanged { before: self.home_zone, after: zone }, self).await;
            }
            MemberCommand::UpdateProfile { actor, patch } => {
                self.self_or_admin(&actor)?;
                if self.erased {
                    return Err(DomainError::Rule(ERASED));
                }
                self.current()?;
                if patch == ProfilePatch::default() {
                    return Err(ValidationError::new("input", "must change at least one field").into());
                }
                let display_name = patch.display_name.map(|after| Edit { before: self.display_name.clone(), after });
                let employee_number = patch.employee_number.map(|after| Edit { before: self.employee_number.clone(), after });
                let shift = patch.shift.filter(|s| Some(s) != self.shift.as_ref()).map(|after| Edit { before: self.shift.clone(), after });
                if display_name.is_none() && employee_number.is_none() && shift.is_none() {
                    return Err(DomainError::Rule("the profile is unchanged"));
                }
                sink.write(MemberEvent::MemberProfileChanged { display_name, employee_number, shift }, self).await;
            }
            MemberCommand::Suspend { actor, reason, active_owners, owned_zones } => {
                actor.require_admin()?;
                if Some(actor.member_id) == self.id {
                    return Err(DomainError::Forbidden("nobody suspends themselves"));
                }
                let role = match (self.status, self.role) {
                    (MemberStatus::Active, Some(role)) => role,
                    (MemberStatus::Suspended, _) => return Err(DomainError::Rule("the member is already suspended")),
                    (MemberStatus::Invited, _) => return Err(DomainError::Rule("the member has not joined yet")),
                    _ => return Err(DomainError::NotFound),
                };
                if role == Role::Owner {
                    actor.require_owner()?;
                }
                keep_an_owner(role == Role::Owner, active_owners)?;
                if owned_zones > 0 {
                    return Err(DomainError::Rule("reassign the zones this member owns before suspending them"));
                }
                sink.write(MemberEvent::MemberSuspended { reason }, self).await;
            }
            MemberCommand::Reactivate { actor, reason } => {
                actor.require_admin()?;
                let role = match (self.status, self.role) {
                    (MemberStatus::Suspended, Some(role)) => role,
                    (MemberStatus::New | MemberStatus::Removed, _) | (_, None) => return Err(DomainError::NotFound),
                    _ => return Err(DomainError::Rule("the member is not suspended")),
                };
                if role == Role::Owner {
                    actor.require_owner()?;
                }
                sink.write(MemberEvent::MemberReactivated { reason }, self).await;
            }
            MemberCommand::ErasePersonalData { actor, reason, active_owners, owned_zones } => {
                actor.require_admin()?;
                let role = match (self.status, self.role) {
                    (MemberStatus::New, _) | (_, None) => return Err(DomainError::NotFound),
                    (_, Some(role)) => role,
                };
                if self.erased {
                    return Err(DomainError::Rule(ERASED));
                }
                if Some(actor.member_id) == self.id {
                    return Err(DomainError::Forbidden("nobody erases their own personal data: an owner or an admin does"));
                }
                if role == Role::Owner {
                    actor.require_owner()?;
                }
                if self.status != MemberStatus::Removed {
                    let previous = self.status;
                    keep_an_owner(role == Role::Owner && previous == MemberStatus::Active, active_owners)?;
                    if owned_zones > 0 {
                        return Err(DomainError::Rule("reassign the zones this member owns before erasing them"));
                    }
                    sink.write(MemberEvent::MemberRemoved { role, previous, reason: reason.clone() }, self).await;
                }
                sink.write(MemberEvent::MemberPersonalDataErased { reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            MemberEvent::MemberInvited { member_id, email, role, expires_at, site_scope, .. } => {
                self.id = Some(member_id);
                self.site_scope = site_scope;
                self.status = MemberStatus::Invited;
                self.role = Some(role);
                self.email = Some(email);
                self.invitation_expires_at = Some(expires_at);
            }
            MemberEvent::MemberJoined { member_id, email, display_name, role, .. } => {
                self.id = Some(member_id);
                self.status = MemberStatus::Active;
                self.role = Some(role);
                self.email = Some(email);
                self.display_name = Some(display_name);
            }
            MemberEvent::MemberSiteScopeChanged { after, .. } => self.site_scope = after,
            MemberEvent::MemberHomeZoneChanged { after, .. } => self.home_zone = Some(after),
            MemberEvent::MemberProfileChanged { display_name, employee_number, shift } => {
                if let Some(edit) = display_name {
                    self.display_name = Some(edit.after);
                }
                if let Some(edit) = employee_number {
                    self.employee_number = Some(edit.after);
                }
                if let Some(edit) = shift {
                    self.shift = Some(edit.after);
                }
            }
            MemberEvent::MemberSuspended { .. } => self.status = MemberStatus::Suspended,
            MemberEvent::MemberReactivated { .. } => self.status = MemberStatus::Active,
            MemberEvent::MemberRoleChanged { after, .. } => self.role = Some(after),
            MemberEvent::MemberRemoved { .. } => self.status = MemberStatus::Removed,
            MemberEvent::MemberCapabilityGranted { capability, .. } => {
                self.capabilities.insert(capability);
            }
            MemberEvent::MemberCapabilityRevoked { capability, .. } => {
                self.capabilities.remove(&capability);
            }
            MemberEvent::MemberPersonalDataErased { .. } => {
                self.erased = true;
                self.email = None;
                self.display_name = None;
                self.employee_number = None;
            }
        }
    }
}

impl Member {
    /// Owners and Admins grant and revoke capabilities of other active members.
    fn capability_change(&self, actor: &Actor) -> Result<Role, DomainError> {
        actor.require_admin()?;
        let role = self.active_role()?;
        if Some(actor.member_id) == self.id {
            return Err(DomainError::Forbidden("nobody changes their own capabilities"));
        }
        Ok(role)
    }

    /// The capabilities the member holds.
    pub fn capabilities(&self) -> &BTreeSet<Capability> {
        &self.capabilities
    }

    fn active_role(&self) -> Result<Role, DomainError> {
        match (self.status, self.role) {
            (MemberStatus::Active, Some(role)) => Ok(role),
            (MemberStatus::Invited, _) => Err(DomainError::Rule("the member has not joined yet")),
            (MemberStatus::Suspended, _) => Err(DomainError::Rule("the member is suspended")),
            _ => Err(DomainError::NotFound),
        }
    }

    /// A member who joined and is not removed (active or suspended).
    fn current(&self) -> Outcome {
        match self.status {
            MemberStatus::Active | MemberStatus::Suspended => Ok(()),
            MemberStatus::Invited => Err(DomainError::Rule("the member has not joined yet")),
            MemberStatus::New | MemberStatus::Removed => Err(DomainError::NotFound),
        }
    }

    /// The member themself, or an Owner or Admin; Auditors never mutate.
    fn self_or_admin(&self, actor: &Actor) -> Outcome {
        actor.require_mutator()?;
        if Some(actor.member_id) == self.id { Ok(()) } else { actor.require_admin() }
    }

    /// The member's site scope.
    pub fn site_scope(&self) -> &SiteScope {
        &self.site_scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::ReasonCode;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Member>;

    const ME: MemberId = MemberId(Uuid::from_u128(1));
    const OTHER: MemberId = MemberId(Uuid::from_u128(2));

    fn sealed(text: &str) -> Sealed {
        Sealed { key: OTHER, ct: text.to_owned() }
    }
    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).single().unwrap_or_default()
    }
    fn reason() -> Reason {
        Reason { code: ReasonCode::Other, text: "reorganisation".into() }
    }
    fn actor(role: Role) -> Actor {
        Actor { member_id: ME, role }
    }
    fn invited(role: Role) -> MemberEvent {
        MemberEvent::MemberInvited {
            member_id: OTHER,
            invitation_id: InvitationId(Uuid::from_u128(9)),
            email: sealed("e"),
            role,
            invited_by: ME,
            expires_at: at(8),
            site_scope: SiteScope::All,
        }
    }
    fn joined(role: Role) -> MemberEvent {
        MemberEvent::MemberJoined {
            member_id: OTHER,
            account_id: AccountId(Uuid::from_u128(3)),
            email: sealed("e"),
            display_name: sealed("n"),
            role,
            invited: true,
        }
    }
    fn founded() -> MemberEvent {
        match joined(Role::Owner) {
            MemberEvent::MemberJoined { member_id, account_id, email, display_name, role, .. } => {
                MemberEvent::MemberJoined { member_id, account_id, email, display_name, role, invited: false }
            }
            other => other,
        }
    }
    fn removed(role: Role, previous: MemberStatus) -> MemberEvent {
        MemberEvent::MemberRemoved { role, previous, reason: reason() }
    }
    fn invite(actor: Actor, role: Role) -> MemberCommand {
        MemberCommand::Invite {
            actor,
            member_id: OTHER,
            invitation_id: InvitationId(Uuid::from_u128(9)),
            email: sealed("e"),
            role,
            site_scope: SiteScope::All,
            sites_exist: true,
            expires_at: at(8),
        }
    }
    fn accept(now: DateTime<Utc>) -> MemberCommand {
        MemberCommand::AcceptInvitation { account_id: AccountId(Uuid::from_u128(3)), display_name: sealed("n"), now }
    }
    fn change_role(actor: Actor, role: Role, active_owners: u32) -> MemberCommand {
        MemberCommand::ChangeRole { actor, role, reason: reason(), active_owners }
    }
    fn remove(actor: Actor, active_owners: u32, owned_zones: u32) -> MemberCommand {
        MemberCommand::Remove { actor, reason: reason(), active_owners, owned_zones }
    }
    fn forbidden(result: Result<Vec<MemberEvent>, DomainError>) -> bool {
        matches!(result, Err(DomainError::Forbidden(_)))
    }

    #[test]
    fn the_founder_joins_as_owner() {
        Given::with(())
            .given_no_previous_events()
            .when(MemberCommand::Found {
                member_id: OTHER,
                account_id: AccountId(Uuid::from_u128(3)),
                email: sealed("e"),
                display_name: sealed("n"),
            })
            .then_expect_events(vec![founded()]);
    }

    #[test]
    fn an_existing_member_cannot_be_founded_again() {
        Given::with(())
            .given(vec![joined(Role::Owner)])
            .when(MemberCommand::Found {
                member_id: OTHER,
                account_id: AccountId(Uuid::from_u128(3)),
                email: sealed("e"),
                display_name: sealed("n"),
            })
            .then_expect_error(DomainError::Rule("the member already exists"));
    }

    #[test]
    fn an_admin_invites_a_member() {
        Given::with(())
            .given_no_previous_events()
            .when(invite(actor(Role::Admin), Role::Member))
            .then_expect_events(vec![invited(Role::Member)]);
    }

    #[test]
    fn only_an_owner_invites_an_owner() {
        assert!(forbidden(Given::with(()).given_no_previous_events().when(invite(actor(Role::Admin), Role::Owner)).inspect_result()));
        Given::with(())
            .given_no_previous_events()
            .when(invite(actor(Role::Owner), Role::Owner))
            .then_expect_events(vec![invited(Role::Owner)]);
    }

    #[test]
    fn an_invitation_may_limit_the_member_to_existing_sites() {
        let site = SiteId(Uuid::from_u128(40));
        let scoped = |sites: BTreeSet<SiteId>, sites_exist: bool| match invite(actor(Role::Admin), Role::Member) {
            MemberCommand::Invite { actor, member_id, invitation_id, email, role, expires_at, .. } => MemberCommand::Invite {
                actor,
                member_id,
                invitation_id,
                email,
                role,
                site_scope: SiteScope::Sites(sites),
                sites_exist,
                expires_at,
            },
            other => other,
        };
        let events = Given::with(()).given_no_previous_events().when(scoped(BTreeSet::from([site]), true)).inspect_result();
        assert!(
            matches!(events.as_deref(), Ok([MemberEvent::MemberInvited { site_scope: SiteScope::Sites(s), .. }]) if s.contains(&site)),
            "{events:?}"
        );
        for (sites, exist) in [(BTreeSet::new(), true), (BTreeSet::from([site]), false)] {
            let result = Given::with(()).given_no_previous_events().when(scoped(sites, exist)).inspect_result();
            assert!(matches!(result, Err(DomainError::Invalid(_))), "{result:?}");
        }
    }

    #[test]
    fn members_and_auditors_cannot_invite() {
        for role in [Role::Member, Role::Auditor] {
            assert!(forbidden(Given::with(()).given_no_previous_events().when(invite(actor(role), Role::Member)).inspect_result()));
        }
    }

    #[test]
    fn an_invitation_is_accepted_before_it_expires() {
        Given::with(()).given(vec![invited(Role::Auditor)]).when(accept(at(7))).then_expect_events(vec![joined(Role::Auditor)]);
    }

    #[test]
    fn an_expired_invitation_is_refused() {
        Given::with(())
            .given(vec![invited(Role::Member)])
            .when(accept(at(8)))
            .then_expect_error(DomainError::Rule("the invitation has expired"));
    }

    #[test]
    fn an_invitation_is_single_use() {
        Given::with(())
            .given(vec![invited(Role::Member), joined(Role::Member)])
            .when(accept(at(7)))
            .then_expect_error(DomainError::Rule("the invitation is no longer valid"));
    }

    #[test]
    fn accepting_an_unknown_invitation_is_not_found() {
        Given::with(()).given_no_previous_events().when(accept(at(7))).then_expect_error(DomainError::NotFound);
    }

    #[test]
    fn an_admin_changes_a_members_role_with_a_reason() {
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(change_role(actor(Role::Admin), Role::Auditor, 1))
            .then_expect_events(vec![MemberEvent::MemberRoleChanged { before: Role::Member, after: Role::Auditor, reason: reason() }]);
    }

    #[test]
    fn nobody_changes_their_own_role() {
        let me = Actor { member_id: OTHER, role: Role::Owner };
        Given::with(())
            .given(vec![joined(Role::Owner)])
            .when(change_role(me, Role::Admin, 2))
            .then_expect_error(DomainError::Forbidden("nobody changes their own role"));
    }

    #[test]
    fn only_an_owner_grants_or_revokes_owner() {
        assert!(forbidden(
            Given::with(()).given(vec![joined(Role::Member)]).when(change_role(actor(Role::Admin), Role::Owner, 1)).inspect_result()
        ));
        assert!(forbidden(
            Given::with(()).given(vec![joined(Role::Owner)]).when(change_role(actor(Role::Admin), Role::Member, 2)).inspect_result()
        ));
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(change_role(actor(Role::Owner), Role::Owner, 1))
            .then_expect_events(vec![MemberEvent::MemberRoleChanged { before: Role::Member, after: Role::Owner, reason: reason() }]);
    }

    #[test]
    fn the_last_owner_cannot_be_demoted() {
        Given::with(())
            .given(vec![joined(Role::Owner)])
            .when(change_role(actor(Role::Owner), Role::Admin, 1))
            .then_expect_error(DomainError::Rule(LAST_OWNER));
    }

    #[test]
    fn an_owner_is_demoted_while_another_remains() {
        Given::with(())
            .given(vec![joined(Role::Owner)])
            .when(change_role(actor(Role::Owner), Role::Admin, 2))
            .then_expect_events(vec![MemberEvent::MemberRoleChanged { before: Role::Owner, after: Role::Admin, reason: reason() }]);
    }

    #[test]
    fn auditors_and_members_never_change_roles() {
        for role in [Role::Auditor, Role::Member] {
            assert!(forbidden(
                Given::with(()).given(vec![joined(Role::Member)]).when(change_role(actor(role), Role::Admin, 1)).inspect_result()
            ));
        }
    }

    #[test]
    fn the_same_role_again_is_refused() {
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(change_role(actor(Role::Admin), Role::Member, 1))
            .then_expect_error(DomainError::Rule("the member already has this role"));
    }

    #[test]
    fn an_invited_member_has_no_role_to_change_yet() {
        Given::with(())
            .given(vec![invited(Role::Member)])
            .when(change_role(actor(Role::Admin), Role::Admin, 1))
            .then_expect_error(DomainError::Rule("the member has not joined yet"));
    }

    #[test]
    fn a_removed_member_is_not_found() {
        let removed = removed(Role::Member, MemberStatus::Active);
        Given::with(())
            .given(vec![joined(Role::Member), removed.clone()])
            .when(change_role(actor(Role::Admin), Role::Admin, 1))
            .then_expect_error(DomainError::NotFound);
        Given::with(())
            .given(vec![joined(Role::Member), removed])
            .when(remove(actor(Role::Admin), 1, 0))
            .then_expect_error(DomainError::NotFound);
    }

    #[test]
    fn an_admin_removes_a_member() {
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(remove(actor(Role::Admin), 1, 0))
            .then_expect_events(vec![removed(Role::Member, MemberStatus::Active)]);
    }

    #[test]
    fn removing_a_pending_invitation_revokes_it() {
        Given::with(())
            .given(vec![invited(Role::Member)])
            .when(remove(actor(Role::Admin), 1, 0))
            .then_expect_events(vec![removed(Role::Member, MemberStatus::Invited)]);
    }

    #[test]
    fn the_last_owner_cannot_be_removed() {
        Given::with(())
            .given(vec![joined(Role::Owner)])
            .when(remove(actor(Role::Owner), 1, 0))
            .then_expect_error(DomainError::Rule(LAST_OWNER));
    }

    #[test]
    fn only_an_owner_removes_an_owner() {
        assert!(forbidden(Given::with(()).given(vec![joined(Role::Owner)]).when(remove(actor(Role::Admin), 3, 0)).inspect_result()));
    }

    #[test]
    fn members_cannot_remove_themselves() {
        let me = Actor { member_id: OTHER, role: Role::Admin };
        Given::with(())
            .given(vec![joined(Role::Admin)])
            .when(remove(me, 1, 0))
            .then_expect_error(DomainError::Forbidden("members cannot remove themselves"));
    }

    #[test]
    fn a_zone_owner_cannot_be_removed_before_their_zones_are_reassigned() {
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(remove(actor(Role::Admin), 1, 2))
            .then_expect_error(DomainError::Rule("reassign the zones this member owns before removing them"));
    }

    #[test]
    fn auditors_never_remove_members() {
        assert!(forbidden(Given::with(()).given(vec![joined(Role::Member)]).when(remove(actor(Role::Auditor), 1, 0)).inspect_result()));
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;
    use uuid::Uuid;

    fn sealed() -> Sealed {
        Sealed { key: MemberId(Uuid::nil()), ct: "x".into() }
    }

    #[test]
    fn joining_from_an_invitation_changes_the_status_from_invited() {
        let joined = MemberEvent::MemberJoined {
            member_id: MemberId(Uuid::nil()),
            account_id: AccountId(Uuid::nil()),
            email: sealed(),
            display_name: sealed(),
            role: Role::Member,
            invited: true,
        };
        let status = joined.changes().into_iter().find(|c| c.path == "status").map(|c| (c.before, c.after));
        assert_eq!(status, Some((serde_json::json!("INVITED"), serde_json::json!("ACTIVE"))));
    }

    #[test]
    fn revoking_an_invitation_records_the_invited_status_as_before() {
        let removed = MemberEvent::MemberRemoved {
            role: Role::Member,
            previous: MemberStatus::Invited,
            reason: Reason { code: crate::ReasonCode::Other, text: "x".into() },
        };
        assert_eq!(removed.changes()[0].before, serde_json::json!("INVITED"));
    }
}

#[cfg(test)]
mod capability_tests {
    use super::*;
    use crate::values::ReasonCode;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Member>;
    const ME: MemberId = MemberId(Uuid::from_u128(1));
    const OTHER: MemberId = MemberId(Uuid::from_u128(2));

    fn sealed() -> Sealed {
        Sealed { key: OTHER, ct: "x".into() }
    }
    fn joined(role: Role) -> MemberEvent {
        MemberEvent::MemberJoined {
            member_id: OTHER,
            account_id: AccountId(Uuid::nil()),
            email: sealed(),
            display_name: sealed(),
            role,
            invited: true,
        }
    }
    fn reason() -> Reason {
        Reason { code: ReasonCode::Other, text: "trained".into() }
    }
    fn grant(role: Role, member_id: MemberId) -> MemberCommand {
        MemberCommand::GrantCapability { actor: Actor { member_id, role }, capability: Capability::DefectVerifier, reason: reason() }
    }
    fn granted() -> MemberEvent {
        MemberEvent::MemberCapabilityGranted { capability: Capability::DefectVerifier, reason: reason() }
    }

    #[test]
    fn an_admin_grants_a_capability_with_a_reason() {
        Given::with(()).given(vec![joined(Role::Member)]).when(grant(Role::Admin, ME)).then_expect_events(vec![granted()]);
        assert_eq!(granted().changes()[0].path, "capabilities.defect_verifier");
    }

    #[test]
    fn capabilities_are_granted_once_revoked_once_and_never_to_oneself_or_auditors() {
        Given::with(())
            .given(vec![joined(Role::Member), granted()])
            .when(grant(Role::Admin, ME))
            .then_expect_error(DomainError::Rule("the member already holds this capability"));
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(grant(Role::Owner, OTHER))
            .then_expect_error(DomainError::Forbidden("nobody changes their own capabilities"));
        Given::with(())
            .given(vec![joined(Role::Auditor)])
            .when(grant(Role::Owner, ME))
            .then_expect_error(DomainError::Rule("auditors are read-only and hold no capabilities"));
        let revoke = MemberCommand::RevokeCapability {
            actor: Actor { member_id: ME, role: Role::Admin },
            capability: Capability::DefectVerifier,
            reason: reason(),
        };
        Given::with(())
            .given(vec![joined(Role::Member)])
            .when(revoke)
            .then_expect_error(DomainError::Rule("the member does not hold this capability"));
    }

    #[test]
    fn members_and_auditors_grant_nothing() {
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(()).given(vec![joined(Role::Member)]).when(grant(role, ME)).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))));
        }
    }

    #[test]
    fn a_revoked_capability_is_gone() {
        let revoke = MemberCommand::RevokeCapability {
            actor: Actor { member_id: ME, role: Role::Admin },
            capability: Capability::DefectVerifier,
            reason: reason(),
        };
        Given::with(())
            .given(vec![joined(Role::Member), granted()])
            .when(revoke)
            .then_expect_events(vec![MemberEvent::MemberCapabilityRevoked { capability: Capability::DefectVerifier, reason: reason() }]);
    }
}

#[cfg(test)]
#[path = "member_scope_tests.rs"]
mod scope_tests;

#[cfg(test)]
mod owner_property {
    use super::*;
    use crate::values::ReasonCode;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn sealed(i: u128) -> Sealed {
        Sealed { key: MemberId(Uuid::from_u128(i)), ct: "x".into() }
    }

    fn run(member: &mut Member, command: MemberCommand) -> Result<(), DomainError> {
        let sink = EventSink::default();
        let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
        runtime.block_on(member.handle(command, &(), &sink))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// An organisation of four members under random role changes, suspensions,
        /// reactivations and removals, each
        /// decided with the true count of active owners, always keeps an active owner.
        #[test]
        fn an_organisation_always_keeps_an_active_owner(steps in prop::collection::vec((0_usize..4, 0_usize..4, 0_u8..8), 1..60)) {
            let roles = [Role::Owner, Role::Admin, Role::Member, Role::Auditor];
            let mut members: Vec<Member> = (0..4_u128).map(|i| {
                let mut m = Member::default();
                m.apply(MemberEvent::MemberJoined {
                    member_id: MemberId(Uuid::from_u128(i)),
                    account_id: AccountId(Uuid::from_u128(100 + i)),
                    email: sealed(i),
                    display_name: sealed(i),
                    role: if i == 0 { Role::Owner } else { roles[usize::try_from(i).unwrap_or(1) % 4] },
                    invited: i != 0,
                });
                m
            }).collect();
            for (actor_index, target_index, action) in steps {
                let actor_member = &members[actor_index];
                if actor_member.status() != MemberStatus::Active {
                    continue;
                }
                let Some(actor_role) = actor_member.role() else { continue };
                let actor = Actor { member_id: MemberId(Uuid::from_u128(actor_index as u128)), role: actor_role };
                let active_owners = u32::try_from(members.iter().filter(|m| m.status() == MemberStatus::Active && m.role() == Some(Role::Owner)).count()).unwrap_or(0);
                let reason = Reason { code: ReasonCode::Other, text: "x".into() };
                let command = match action {
                    4 => MemberCommand::Remove { actor, reason, active_owners, owned_zones: 0 },
                    5 => MemberCommand::Suspend { actor, reason, active_owners, owned_zones: 0 },
                    6 => MemberCommand::Reactivate { actor, reason },
                    7 => MemberCommand::ErasePersonalData { actor, reason, active_owners, owned_zones: 0 },
                    _ => MemberCommand::ChangeRole { actor, role: roles[usize::from(action)], reason, active_owners },
                };
                let _ = run(&mut members[target_index], command);
                let owners = members.iter().filter(|m| m.status() == MemberStatus::Active && m.role() == Some(Role::Owner)).count();
                prop_assert!(owners >= 1, "no active owner left");
            }
        }
    }
}
