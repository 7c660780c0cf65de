//! The product's commands: each looks up the facts its aggregate needs, then dispatches.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use gemba_domain::access::{Access, AccessCommand};
use gemba_domain::member::{Capability, Member, MemberCommand};
use gemba_domain::organization::{Organization, OrganizationCommand};
use gemba_domain::site::{Site, SiteCommand};
use gemba_domain::zone::{Zone, ZoneCommand};
use gemba_domain::{
    AccountId, Actor, AreaId, Code, DisplayName, DomainError, Email, InvitationId, MemberId, Name, OrgId, Reason, Role, SiteId, Timezone,
    ZoneId,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{self, IssuedToken, Password, TokenKind};
use crate::bus::{CommandBus, Position};
use crate::crypto::{CryptoError, Keyring};
use crate::envelope::{Channel, CommandContext};
use crate::error::CommandError;
use crate::registry::role_text;
use crate::store::StoreError;
use crate::tenancy::begin_tenant;

/// How long an invitation stays valid.
pub const INVITATION_TTL: Duration = Duration::days(7);
/// How long a session stays valid.
pub const SESSION_TTL: Duration = Duration::days(30);

/// The time source; injected so tests can move time (invitation expiry).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl From<CryptoError> for CommandError {
    fn from(error: CryptoError) -> Self {
        match error {
            CryptoError::Database(e) => Self::Database(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A signed-in session.
#[derive(Debug)]
pub struct SignedIn {
    /// The organisation the session acts in.
    pub org: OrgId,
    /// The member signed in.
    pub member: MemberId,
    /// The bearer token, shown once.
    pub token: String,
}

/// A new invitation.
#[derive(Debug)]
pub struct Invited {
    /// The invitation.
    pub invitation: InvitationId,
    /// The member it will become.
    pub member: MemberId,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The single-use token, shown once.
    pub token: String,
}

/// The write side of Gemba.
#[derive(Clone, Debug)]
pub struct Gemba {
    pub(crate) bus: CommandBus,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    pub(crate) advisor: Arc<dyn crate::advisor::Advisor>,
    pub(crate) evidence: crate::evidence::Evidence,
}

/// At most this many argon2 computations run at once (each takes 19 MiB and a core for
/// tens of milliseconds); further sign-ins wait their turn instead of exhausting the host.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

async fn hash_password(password: Password) -> Result<String, CommandError> {
    let _slot = ARGON2_SLOTS.acquire().await.map_err(|e| CommandError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))?
        .map_err(CommandError::Internal)
}

async fn verify_password(stored: Option<String>, candidate: String) -> Result<bool, CommandError> {
    let _slot = ARGON2_SLOTS.acquire().await.map_err(|e| CommandError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || auth::verify_password(stored.as_deref(), &candidate))
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))
}

fn new_id() -> Uuid {
    Uuid::now_v7()
}

impl Gemba {
    /// The write side over `pool` (the application role), with the application key and
    /// the evidence file store.
    pub fn new(
        pool: PgPool,
        keyring: Keyring,
        clock: Arc<dyn Clock>,
        evidence: crate::evidence::EvidenceConfig,
    ) -> Result<Self, CommandError> {
        let link_key = keyring.derive("evidence download links")?;
        Ok(Self {
            bus: CommandBus::new(pool),
            keyring,
            clock,
            advisor: Arc::new(crate::advisor::KeywordAdvisor),
            evidence: crate::evidence::Evidence::new(evidence, link_key),
        })
    }

    /// Replaces the advisor (the offline keyword advisor by default).
    pub fn with_advisor(mut self, advisor: Arc<dyn crate::advisor::Advisor>) -> Self {
        self.advisor = advisor;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        self.bus.pool()
    }

    /// The application key ring (to open sealed personal data on reads).
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a session for `member` inside `tx` and records it in the audit log.
    async fn start_session(&self, tx: &mut sqlx::PgConnection, org: OrgId, actor: Actor, channel: Channel) -> Result<String, CommandError> {
        let session = Uuid::now_v7();
        let ctx = CommandContext::new(org, Some(actor), channel);
        let events = self
            .bus
            .decide::<Access>(&ctx, &session.to_string(), AccessCommand::SignIn { member: actor.member_id, role: actor.role })
            .await?;
        let IssuedToken { token, hash } = auth::issue(TokenKind::Session, org);
        sqlx::query("insert into sessions (org_id, token_hash, id, member_id, expires_at) values ($1, $2, $3, $4, $5)")
            .bind(org.uuid())
            .bind(hash)
            .bind(session)
            .bind(actor.member_id.uuid())
            .bind(self.now() + SESSION_TTL)
            .execute(&mut *tx)
            .await?;
        self.bus.append(tx, &ctx, &events).await?;
        Ok(token)
    }

    /// Creates an account and a new organisation whose first member is its Owner.
    pub async fn sign_up(
        &self,
        email: Email,
        password: Password,
        display_name: DisplayName,
        organization_name: Name,
        channel: Channel,
    ) -> Result<SignedIn, CommandError> {
        let (org, member, account) = (OrgId(new_id()), MemberId(new_id()), AccountId(new_id()));
        let password_hash = hash_password(password).await?;
        let key = self.keyring.new_person_key(org, member);
        let name = key.seal(display_name.as_str());
        let founder = Actor { member_id: member, role: Role::Owner };
        let mut ctx = CommandContext::new(org, Some(founder), channel);
        ctx.actor_name = Some(name.clone());
        let mut events = self
            .bus
            .decide::<Organization>(
                &ctx,
                &org.to_string(),
                OrganizationCommand::Create { org_id: org, name: organization_name, founder: member },
            )
            .await?;
        let found = MemberCommand::Found { member_id: member, account_id: account, email: key.seal(email.as_str()), display_name: name };
        events.extend(self.bus.decide::<Member>(&ctx, &member.to_string(), found).await?);

        let mut tx = begin_tenant(self.pool(), org).await?;
        key.store(&self.keyring, &mut tx).await?;
        sqlx::query("insert into credentials (org_id, member_id, email, password_hash) values ($1, $2, $3, $4)")
            .bind(org.uuid())
            .bind(member.uuid())
            .bind(email.as_str())
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.bus.append(&mut tx, &ctx, &events).await?;
        let token = self.start_session(&mut tx, org, founder, channel).await?;
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!(org.id = %org, member.id = %member, "organisation signed up");
        Ok(SignedIn { org, member, token })
    }

    /// Signs a member in to one organisation. Refused attempts on an existing
    /// organisation are recorded in its audit log.
    pub async fn log_in(&self, org: OrgId, email: &str, password: String, channel: Channel) -> Result<SignedIn, CommandError> {
        let email = email.trim().to_lowercase();
        let (exists, found) = {
            let mut tx = begin_tenant(self.pool(), org).await?;
            let exists: bool = sqlx::query_scalar("select exists(select 1 from organizations where org_id = $1)")
                .bind(org.uuid())
                .fetch_one(&mut *tx)
                .await?;
            let found: Option<(Uuid, String, String, String)> = sqlx::query_as(
                // A deleted member, and anyone but an Owner of a cancelled workspace, is refused.
                "select c.member_id, c.password_hash, m.role,
                        case when not gemba_visible(m.member_id) then 'DELETED'
                             when o.status <> 'ACTIVE' and m.role <> 'OWNER' then 'LOCKED'
                             else m.status end
                   from credentials c
                   join members m on m.org_id = c.org_id and m.member_id = c.member_id
                   join organizations o on o.org_id = c.org_id
                  where c.org_id = $1 and c.email = $2",
            )
            .bind(org.uuid())
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            (exists, found)
        };
        let named = found.as_ref().map(|(member, ..)| MemberId(*member));
        let (stored, actor) = match found {
            Some((member, hash, role, status)) if status == "ACTIVE" => {
                (Some(hash), crate::registry::parse_role(&role).map(|role| Actor { member_id: MemberId(member), role }))
            }
            _ => (None, None),
        };
        let verified = verify_password(stored, password).await?;
        let mut tx = begin_tenant(self.pool(), org).await?;
        match actor.filter(|_| verified) {
            Some(actor) => {
                let token = self.start_session(&mut tx, org, actor, channel).await?;
                tx.commit().await.map_err(StoreError::from)?;
                Ok(SignedIn { org, member: actor.member_id, token })
            }
            None => {
                tracing::info!(org.id = %org, "sign-in refused");
                if exists {
                    let ctx = CommandContext::new(org, None, channel);
                    let attempt = Uuid::now_v7().to_string();
                    let events = self.bus.decide::<Access>(&ctx, &attempt, AccessCommand::RefuseSignIn { member: named }).await?;
                    self.bus.append(&mut tx, &ctx, &events).await?;
                    tx.commit().await.map_err(StoreError::from)?;
                }
                Err(CommandError::Unauthenticated)
            }
        }
    }

    /// Ends a session (a no-op for a session that already ended).
    pub async fn log_out(&self, token: &str, channel: Channel) -> Result<(), CommandError> {
        let (org, hash) = auth::parse(TokenKind::Session, token).ok_or(CommandError::Unauthenticated)?;
        let session: Option<(Uuid, Uuid)> = {
            let mut tx = begin_tenant(self.pool(), org).await?;
            let row = sqlx::query_as("select id, member_id from sessions where org_id = $1 and token_hash = $2 and revoked_at is null")
                .bind(org.uuid())
                .bind(&hash)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        };
        let Some((session, member)) = session else {
            return Ok(());
        };
        let role = self.role_of(org, MemberId(member)).await?;
        let ctx = CommandContext::new(org, role.map(|role| Actor { member_id: MemberId(member), role }), channel);
        let events = self.bus.decide::<Access>(&ctx, &session.to_string(), AccessCommand::SignOut).await?;
        let mut tx = begin_tenant(self.pool(), org).await?;
        let ended = sqlx::query("update sessions set revoked_at = $3 where org_id = $1 and token_hash = $2 and revoked_at is null")
            .bind(org.uuid())
            .bind(hash)
            .bind(self.now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if ended == 1 {
            self.bus.append(&mut tx, &ctx, &events).await?;
            tx.commit().await.map_err(StoreError::from)?;
        }
        Ok(())
    }

    pub(crate) async fn role_of(&self, org: OrgId, member: MemberId) -> Result<Option<Role>, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let role: Option<String> = sqlx::query_scalar("select role from members where org_id = $1 and member_id = $2")
            .bind(org.uuid())
            .bind(member.uuid())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(role.as_deref().and_then(crate::registry::parse_role))
    }

    /// The organisation and member a session token acts for, if it is valid.
    pub async fn authenticate(&self, token: &str) -> Result<Option<(OrgId, MemberId)>, CommandError> {
        let Some((org, hash)) = auth::parse(TokenKind::Session, token) else {
            return Ok(None);
        };
        let mut tx = begin_tenant(self.pool(), org).await?;
        let session: Option<(Uuid, bool)> = sqlx::query_as(
            "select s.member_id, o.status = 'ACTIVE' or m.role = 'OWNER'
               from sessions s
               join members m on m.org_id = s.org_id and m.member_id = s.member_id
               join organizations o on o.org_id = s.org_id
              where s.org_id = $1 and s.token_hash = $2 and s.revoked_at is null and s.expires_at > $3",
        )
        .bind(org.uuid())
        .bind(hash)
        .bind(self.now())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        match session {
            // A cancelled workspace is readable by its Owners only.
            Some((_, false)) => Err(DomainError::WorkspaceCancelled.into()),
            Some((member, true)) => Ok(Some((org, MemberId(member)))),
            None => Ok(None),
        }
    }

    /// Invites someone by e-mail into the actor's organisation.
    /// Invites someone by e-mail with a role, limited to `sites` (`None`: every site).
    pub async fn invite_member(
        &self,
        ctx: &CommandContext,
        email: Email,
        role: Role,
        sites: Option<Vec<gemba_domain::SiteId>>,
    ) -> Result<Invited, CommandError> {
        let actor = ctx.require_actor()?;
        let (site_scope, sites_exist) = match sites {
            None => (gemba_domain::member::SiteScope::All, true),
            Some(sites) => {
                let ids: Vec<Uuid> = sites.iter().map(|s| s.uuid()).collect();
                let mut tx = begin_tenant(self.pool(), ctx.org).await?;
                let known: i64 = sqlx::query_scalar("select count(*) from sites where org_id = $1 and site_id = any($2)")
                    .bind(ctx.org.uuid())
                    .bind(&ids)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                let scope: std::collections::BTreeSet<_> = sites.into_iter().collect();
                let exist = usize::try_from(known).unwrap_or(0) == scope.len();
                (gemba_domain::member::SiteScope::Sites(scope), exist)
            }
        };
        let (member, invitation) = (MemberId(new_id()), InvitationId(new_id()));
        let expires_at = self.now() + INVITATION_TTL;
        let key = self.keyring.new_person_key(ctx.org, member);
        let command = MemberCommand::Invite {
            actor,
            member_id: member,
            invitation_id: invitation,
            email: key.seal(email.as_str()),
            role,
            site_scope,
            sites_exist,
            expires_at,
        };
        let events = self.bus.decide::<Member>(ctx, &member.to_string(), command).await?;
        let IssuedToken { token, hash } = auth::issue(TokenKind::Invitation, ctx.org);

        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        key.store(&self.keyring, &mut tx).await?;
        if self.bus.append(&mut tx, ctx, &events).await?.is_none() {
            return Err(CommandError::Conflict("this command was already executed"));
        }
        sqlx::query(
            "insert into invitations (org_id, id, token_hash, member_id, email, role, expires_at) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ctx.org.uuid())
        .bind(invitation.uuid())
        .bind(hash)
        .bind(member.uuid())
        .bind(email.as_str())
        .bind(role_text(role))
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Invited { invitation, member, expires_at, token })
    }

    /// Accepts an invitation: creates the login and signs in.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: Password,
        display_name: DisplayName,
        channel: Channel,
    ) -> Result<SignedIn, CommandError> {
        let (org, hash) = auth::parse(TokenKind::Invitation, token).ok_or(CommandError::Unauthenticated)?;
        let (invitation, member, email, role, name) = {
            let mut tx = begin_tenant(self.pool(), org).await?;
            let row: Option<(Uuid, Uuid, String, String)> =
                sqlx::query_as("select id, member_id, email, role from invitations where org_id = $1 and token_hash = $2")
                    .bind(org.uuid())
                    .bind(hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (invitation, member, email, role) = row.ok_or(CommandError::Unauthenticated)?;
            let member = MemberId(member);
            let role = crate::registry::parse_role(&role).ok_or_else(|| CommandError::Internal(format!("invitation with role {role}")))?;
            let name = self
                .keyring
                .seal_for(&mut tx, org, member, display_name.as_str())
                .await?
                .ok_or(DomainError::Rule("the invitation is no longer valid"))?;
            tx.commit().await?;
            (invitation, member, email, role, name)
        };
        let password_hash = hash_password(password).await?;
        // The invitee acts for themself, in the role they were invited to.
        let actor = Actor { member_id: member, role };
        let mut ctx = CommandContext::new(org, Some(actor), channel);
        ctx.actor_name = Some(name.clone());
        let command = MemberCommand::AcceptInvitation { account_id: AccountId(new_id()), display_name: name, now: self.now() };
        let events = self.bus.decide::<Member>(&ctx, &member.to_string(), command).await?;

        let mut tx = begin_tenant(self.pool(), org).await?;
        let claimed = sqlx::query("update invitations set accepted_at = $3 where org_id = $1 and id = $2 and accepted_at is null")
            .bind(org.uuid())
            .bind(invitation)
            .bind(self.now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed != 1 {
            return Err(DomainError::Rule("the invitation is no longer valid").into());
        }
        sqlx::query("insert into credentials (org_id, member_id, email, password_hash) values ($1, $2, $3, $4)")
            .bind(org.uuid())
            .bind(member.uuid())
            .bind(&email)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.bus.append(&mut tx, &ctx, &events).await?;
        let token = self.start_session(&mut tx, org, actor, channel).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(SignedIn { org, member, token })
    }

    pub(crate) async fn count(&self, org: OrgId, sql: &str, id: Option<Uuid>) -> Result<u32, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let n: i64 = sqlx::query_scalar(sql).bind(org.uuid()).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub(crate) async fn active_owners(&self, org: OrgId) -> Result<u32, CommandError> {
        self.count(
            org,
            "select count(*) from members where org_id = $1 and role = 'OWNER' and status = 'ACTIVE' and $2::uuid is null",
            None,
        )
        .await
    }

    /// Changes a member's role, with a reason.
    pub async fn change_member_role(
        &self,
        ctx: &CommandContext,
        member: MemberId,
        role: Role,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let active_owners = self.active_owners(ctx.org).await?;
        let command = MemberCommand::ChangeRole { actor, role, reason, active_owners };
        self.bus.execute::<Member>(ctx, &member.to_string(), command).await
    }

    /// Removes a member (or revokes their pending invitation), with a reason.
    pub async fn remove_member(&self, ctx: &CommandContext, member: MemberId, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let active_owners = self.active_owners(ctx.org).await?;
        let owned_zones = self
            .count(
                ctx.org,
                "select count(*) from zones where org_id = $1 and owner_member_id = $2 and status = 'ACTIVE'",
                Some(member.uuid()),
            )
            .await?;
        let command = MemberCommand::Remove { actor, reason, active_owners, owned_zones };
        self.bus.execute::<Member>(ctx, &member.to_string(), command).await
    }

    /// Grants (`held = true`) or revokes a member's capability, with a reason.
    pub async fn set_capability(
        &self,
        ctx: &CommandContext,
        member: MemberId,
        capability: Capability,
        held: bool,
        reason: Reason,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let command = if held {
            MemberCommand::GrantCapability { actor, capability, reason }
        } else {
            MemberCommand::RevokeCapability { actor, capability, reason }
        };
        self.bus.execute::<Member>(ctx, &member.to_string(), command).await
    }

    /// The organisation's settings.
    pub async fn settings(&self, org: OrgId) -> Result<gemba_domain::organization::Settings, CommandError> {
        Ok(self.bus.load::<Organization>(org, &org.to_string()).await?.settings().clone())
    }

    /// Runs a settings command on the actor's organisation.
    pub async fn on_organization(
        &self,
        ctx: &CommandContext,
        build: impl FnOnce(Actor) -> OrganizationCommand,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Organization>(ctx, &ctx.org.to_string(), build(actor)).await
    }

    /// Renames the organisation.
    pub async fn rename_organization(&self, ctx: &CommandContext, name: Name) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Organization>(ctx, &ctx.org.to_string(), OrganizationCommand::Rename { actor, name }).await
    }

    /// Creates a site.
    pub async fn create_site(&self, ctx: &CommandContext, code: Code, name: Name, timezone: Timezone) -> Result<SiteId, CommandError> {
        let actor = ctx.require_actor()?;
        let site = SiteId(new_id());
        let command = SiteCommand::Create { actor, site_id: site, code, name, timezone };
        let position = self.bus.execute::<Site>(ctx, &site.to_string(), command).await?;
        SiteId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Renames a site.
    pub async fn rename_site(&self, ctx: &CommandContext, site: SiteId, name: Name) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Site>(ctx, &site.to_string(), SiteCommand::Rename { actor, name }).await
    }

    /// Creates a zone in a site, optionally in one of its active areas.
    pub async fn create_zone(
        &self,
        ctx: &CommandContext,
        site: SiteId,
        area: Option<AreaId>,
        code: Code,
        name: Name,
    ) -> Result<ZoneId, CommandError> {
        let actor = ctx.require_actor()?;
        let site_exists =
            self.count(ctx.org, "select count(*) from sites where org_id = $1 and site_id = $2", Some(site.uuid())).await? > 0;
        let area = match area {
            Some(id) => Some((id, self.active_area_site(ctx, id).await?)),
            None => None,
        };
        let zone = ZoneId(new_id());
        let command = ZoneCommand::Create { actor, zone_id: zone, site_id: site, site_exists, area, code, name };
        let position = self.bus.execute::<Zone>(ctx, &zone.to_string(), command).await?;
        ZoneId::parse(&position.aggregate_id).map_err(Into::into)
    }

    /// Renames a zone.
    pub async fn rename_zone(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        name: Name,
        reason: Option<Reason>,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Zone>(ctx, &zone.to_string(), ZoneCommand::Rename { actor, name, reason }).await
    }

    /// Makes an active member the owner (zone leader) of a zone.
    pub async fn assign_zone_owner(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        owner: MemberId,
        reason: Option<Reason>,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let mut tx = begin_tenant(self.pool(), ctx.org).await?;
        let (owner_is_active_member, owner_in_site_scope): (bool, bool) = sqlx::query_as(
            "select exists(select 1 from members where org_id = $1 and member_id = $2 and status = 'ACTIVE' and gemba_visible(member_id)),
                    exists(select 1 from members m
                            where m.org_id = $1 and m.member_id = $2
                              and (m.site_scope is null
                                   or exists(select 1 from zones z where z.org_id = $1 and z.zone_id = $3 and z.site_id = any(m.site_scope))))",
        )
        .bind(ctx.org.uuid())
        .bind(owner.uuid())
        .bind(zone.uuid())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let command = ZoneCommand::AssignOwner { actor, owner, owner_is_active_member, owner_in_site_scope, reason };
        self.bus.execute::<Zone>(ctx, &zone.to_string(), command).await
    }

    /// Makes an active member a deputy of the zone's leader (`add`), or removes them.
    pub async fn set_zone_deputy(&self, ctx: &CommandContext, zone: ZoneId, member: MemberId, add: bool) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        let command = if add {
            let member_is_active = self
                .count(
                    ctx.org,
                    "select count(*) from members where org_id = $1 and member_id = $2 and status = 'ACTIVE' and gemba_visible(member_id)",
                    Some(member.uuid()),
                )
                .await?
                > 0;
            ZoneCommand::AddDeputy { actor, member, member_is_active }
        } else {
            ZoneCommand::RemoveDeputy { actor, member }
        };
        self.bus.execute::<Zone>(ctx, &zone.to_string(), command).await
    }

    /// Archives a zone, with a reason.
    ///
    /// Open defects and kaizens of the zone keep it from being archived; with
    /// `transfer_to` (an active zone of the same site) they are first moved there, each with
    /// its own `…Transferred` event carrying the reason. A retry of the same command moves
    /// nothing twice.
    pub async fn archive_zone(
        &self,
        ctx: &CommandContext,
        zone: ZoneId,
        reason: Reason,
        transfer_to: Option<ZoneId>,
    ) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        actor.require_admin()?;
        if let Some(target) = transfer_to {
            let (defects, kaizens) = self.open_work(ctx.org, zone).await?;
            let target_row: Option<(Uuid, String)> = self.zone_site_and_status(ctx.org, target).await?;
            let source_row: Option<(Uuid, String)> = self.zone_site_and_status(ctx.org, zone).await?;
            let (Some((target_site, target_status)), Some((source_site, _))) = (target_row, source_row) else {
                return Err(gemba_domain::ValidationError::new("transferToZoneId", "is not a zone of this organisation").into());
            };
            if target == zone || target_site != source_site {
                return Err(gemba_domain::ValidationError::new("transferToZoneId", "is another zone of the same site").into());
            }
            let to_zone_active = target_status == "ACTIVE";
            for id in defects {
                let mut step = ctx.clone();
                step.command_id = Uuid::new_v5(&ctx.command_id, id.as_bytes());
                let command =
                    gemba_domain::defect::DefectCommand::TransferZone { actor, to_zone: target, to_zone_active, reason: reason.clone() };
                self.bus.execute::<gemba_domain::defect::Defect>(&step, &id.to_string(), command).await?;
            }
            for id in kaizens {
                let mut step = ctx.clone();
                step.command_id = Uuid::new_v5(&ctx.command_id, id.as_bytes());
                let command =
                    gemba_domain::kaizen::KaizenCommand::TransferZone { actor, to_zone: target, to_zone_active, reason: reason.clone() };
                self.bus.execute::<gemba_domain::kaizen::Kaizen>(&step, &id.to_string(), command).await?;
            }
        }
        let (defects, kaizens) = self.open_work(ctx.org, zone).await?;
        let open_work = u32::try_from(defects.len() + kaizens.len()).unwrap_or(u32::MAX);
        self.bus.execute::<Zone>(ctx, &zone.to_string(), ZoneCommand::Archive { actor, reason, open_work }).await
    }

    /// The open defects and kaizens of a zone.
    async fn open_work(&self, org: OrgId, zone: ZoneId) -> Result<(Vec<Uuid>, Vec<Uuid>), CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let defects: Vec<Uuid> = sqlx::query_scalar(
            "select defect_id from defects where org_id = $1 and zone_id = $2
                and status in ('OPEN', 'ASSIGNED', 'IN_PROGRESS', 'ON_HOLD', 'RESOLVED') order by defect_id",
        )
        .bind(org.uuid())
        .bind(zone.uuid())
        .fetch_all(&mut *tx)
        .await?;
        let kaizens: Vec<Uuid> = sqlx::query_scalar(
            "select kaizen_id from kaizens where org_id = $1 and zone_id = $2
                and status not in ('CLOSED', 'REJECTED', 'WITHDRAWN') order by kaizen_id",
        )
        .bind(org.uuid())
        .bind(zone.uuid())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((defects, kaizens))
    }

    /// A zone's site and status.
    async fn zone_site_and_status(&self, org: OrgId, zone: ZoneId) -> Result<Option<(Uuid, String)>, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let row = sqlx::query_as("select site_id, status from zones where org_id = $1 and zone_id = $2")
            .bind(org.uuid())
            .bind(zone.uuid())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Restores an archived zone, with a reason.
    pub async fn restore_zone(&self, ctx: &CommandContext, zone: ZoneId, reason: Reason) -> Result<Position, CommandError> {
        let actor = ctx.require_actor()?;
        self.bus.execute::<Zone>(ctx, &zone.to_string(), ZoneCommand::Restore { actor, reason }).await
    }
}
