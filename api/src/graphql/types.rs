//! GraphQL object types. They wrap read rows; personal data is opened before they are built.

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_commands::crypto::Keyring;
use gemba_commands::registry::parse_role;
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::Sealed;
use gemba_projections::registry::{self as reads, MemberRow, OrganizationRow, Page, SiteRow, ZoneRow};
use sqlx::PgConnection;
use uuid::Uuid;

use super::context::{Principal, principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};

/// Roles inside an organisation.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum Role {
    /// Everything, including the Owner role, retention and legal hold.
    Owner,
    /// Settings, plant structure and membership (not Owner).
    Admin,
    /// Lean work.
    Member,
    /// Read-only and export.
    Auditor,
}

impl From<gemba_domain::Role> for Role {
    fn from(role: gemba_domain::Role) -> Self {
        match role {
            gemba_domain::Role::Owner => Self::Owner,
            gemba_domain::Role::Admin => Self::Admin,
            gemba_domain::Role::Member => Self::Member,
            gemba_domain::Role::Auditor => Self::Auditor,
        }
    }
}

impl From<Role> for gemba_domain::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
            Role::Auditor => Self::Auditor,
        }
    }
}

/// Why a change was made.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ReasonCode {
    DataEntryError,
    Reclassification,
    ScopeChange,
    Duplicate,
    CustomerRequest,
    Other,
}

impl From<gemba_domain::ReasonCode> for ReasonCode {
    fn from(code: gemba_domain::ReasonCode) -> Self {
        match code {
            gemba_domain::ReasonCode::DataEntryError => Self::DataEntryError,
            gemba_domain::ReasonCode::Reclassification => Self::Reclassification,
            gemba_domain::ReasonCode::ScopeChange => Self::ScopeChange,
            gemba_domain::ReasonCode::Duplicate => Self::Duplicate,
            gemba_domain::ReasonCode::CustomerRequest => Self::CustomerRequest,
            gemba_domain::ReasonCode::Other => Self::Other,
        }
    }
}

impl From<ReasonCode> for gemba_domain::ReasonCode {
    fn from(code: ReasonCode) -> Self {
        match code {
            ReasonCode::DataEntryError => Self::DataEntryError,
            ReasonCode::Reclassification => Self::Reclassification,
            ReasonCode::ScopeChange => Self::ScopeChange,
            ReasonCode::Duplicate => Self::Duplicate,
            ReasonCode::CustomerRequest => Self::CustomerRequest,
            ReasonCode::Other => Self::Other,
        }
    }
}

/// Capabilities a member may hold besides their role.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
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

impl From<Capability> for gemba_domain::member::Capability {
    fn from(capability: Capability) -> Self {
        match capability {
            Capability::FiveSAuditor => Self::FiveSAuditor,
            Capability::SavingsVerifier => Self::SavingsVerifier,
            Capability::A3Coach => Self::A3Coach,
            Capability::DefectVerifier => Self::DefectVerifier,
        }
    }
}

impl Capability {
    fn parse(stored: &str) -> Option<Self> {
        match stored {
            "five_s_auditor" => Some(Self::FiveSAuditor),
            "savings_verifier" => Some(Self::SavingsVerifier),
            "a3_coach" => Some(Self::A3Coach),
            "defect_verifier" => Some(Self::DefectVerifier),
            _ => None,
        }
    }
}

/// Where a membership stands.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum MemberStatus {
    Invited,
    Active,
    /// Cannot sign in until reactivated.
    Suspended,
    Removed,
}

/// The sites a member works in.
#[derive(Debug, SimpleObject)]
pub struct MemberSiteScope {
    /// True when the member works in every site (then `siteIds` is empty).
    pub all_sites: bool,
    pub site_ids: Vec<ID>,
}

/// Whether a zone is in use.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ZoneStatus {
    Active,
    Archived,
}

/// An organisation (tenant).
#[derive(Debug)]
pub struct Organization(pub OrganizationRow);

#[Object]
impl Organization {
    async fn id(&self) -> ID {
        ID(self.0.org_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Settings that drive KPIs and compliance.
    async fn settings(&self, ctx: &Context<'_>) -> ApiResult<OrganizationSettings> {
        let settings = services(ctx)?.gemba.settings(gemba_domain::OrgId(self.0.org_id)).await?;
        let hours = |d: chrono::Duration| i32::try_from(d.num_hours()).unwrap_or(i32::MAX);
        Ok(OrganizationSettings {
            defect_sla_hours_a: hours(settings.defect_slas.a),
            defect_sla_hours_b: hours(settings.defect_slas.b),
            defect_sla_hours_c: hours(settings.defect_slas.c),
            recurrence_window_days: settings.recurrence_window_days,
            retention_years: settings.retention_years,
            legal_hold: settings.legal_hold,
            default_currency: settings.default_currency.as_str().to_owned(),
            fiscal_year_start_month: settings.fiscal_year_start_month,
            default_timezone: settings.default_timezone.as_str().to_owned(),
            five_s_counted_audit_types: settings.five_s.counted_audit_types.iter().map(|t| (*t).into()).collect(),
            five_s_lookback_days: settings.five_s.lookback_days,
            kaizen_verifier_threshold_amount: settings.kaizen.verifier_threshold_amount,
            red_tag_hold_days: settings.red_tag_hold_days,
            a_ack_minutes: settings.a_ack_minutes,
            reason_codes: settings.reason_codes.iter().map(|c| (*c).into()).collect(),
        })
    }
}

/// An organisation's settings.
#[derive(Debug, SimpleObject)]
pub struct OrganizationSettings {
    pub defect_sla_hours_a: i32,
    pub defect_sla_hours_b: i32,
    pub defect_sla_hours_c: i32,
    /// A reopen within this many days of closing counts as a recurrence.
    pub recurrence_window_days: u32,
    /// Audit-log retention (7 years at least).
    pub retention_years: u32,
    pub legal_hold: bool,
    /// ISO-4217 code amounts default to.
    pub default_currency: String,
    /// The month (1-12) the fiscal year starts in.
    pub fiscal_year_start_month: u32,
    /// IANA time zone of the organisation.
    pub default_timezone: String,
    /// Audit types counted in 5S scores and KPIs.
    pub five_s_counted_audit_types: Vec<super::five_s::AuditType>,
    /// How far back 5S audits count, in days.
    pub five_s_lookback_days: u32,
    /// Savings at or above this amount (default currency) need a savings verifier.
    pub kaizen_verifier_threshold_amount: Option<rust_decimal::Decimal>,
    /// Days a red-tagged item is held before disposition.
    pub red_tag_hold_days: u32,
    /// Priority-A defects are acknowledged within this many minutes.
    pub a_ack_minutes: u32,
    /// Reason codes offered for changes.
    pub reason_codes: Vec<ReasonCode>,
}

/// Shown instead of personal data whose key was shredded.
pub const ERASED: &str = "[erased]";

/// A member of the organisation.
#[derive(Debug, SimpleObject)]
pub struct Member {
    pub id: ID,
    /// `[erased]` after the person's data was erased.
    pub display_name: String,
    /// Visible to Owners, Admins and the member themself; null otherwise.
    pub email: Option<String>,
    pub role: Role,
    pub status: MemberStatus,
    pub joined_at: Option<DateTime<Utc>>,
    pub capabilities: Vec<Capability>,
    /// Points earned (reversed awards excluded).
    pub points: i64,
    pub site_scope: MemberSiteScope,
    pub home_zone_id: Option<ID>,
    /// Visible to Owners, Admins and the member themself; null otherwise or when not set.
    pub employee_number: Option<String>,
    pub shift: Option<String>,
}

fn sealed(value: &serde_json::Value) -> Option<Sealed> {
    serde_json::from_value(value.clone()).ok()
}

/// Opens the personal data of member rows (one key look-up) into GraphQL members.
pub async fn members_view(keyring: &Keyring, viewer: &Principal, conn: &mut PgConnection, rows: Vec<MemberRow>) -> ApiResult<Vec<Member>> {
    let names: Vec<Option<Sealed>> = rows.iter().map(|r| r.display_name.as_ref().and_then(sealed)).collect();
    let emails: Vec<Option<Sealed>> = rows.iter().map(|r| sealed(&r.email)).collect();
    let numbers: Vec<Option<Sealed>> = rows.iter().map(|r| r.employee_number.as_ref().and_then(sealed)).collect();
    let all: Vec<&Sealed> = names.iter().chain(emails.iter()).chain(numbers.iter()).flatten().collect();
    let opened = keyring.open_all(conn, viewer.org, &all).await?;
    let mut opened = opened.into_iter();
    let mut take = |present: bool| if present { opened.next().flatten() } else { None };
    let names: Vec<Option<String>> = names.iter().map(|n| take(n.is_some())).collect();
    let emails: Vec<Option<String>> = emails.iter().map(|e| take(e.is_some())).collect();
    let numbers: Vec<Option<String>> = numbers.iter().map(|e| take(e.is_some()).or_else(|| e.as_ref().map(|_| ERASED.into()))).collect();
    let sees_emails = matches!(viewer.role, gemba_domain::Role::Owner | gemba_domain::Role::Admin);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.member_id).collect();
    let points = reads::points_balances(conn, viewer.org.uuid(), &ids).await?;
    rows.into_iter()
        .zip(names.into_iter().zip(emails).zip(numbers))
        .map(|(row, ((name, email), number))| {
            let role = parse_role(&row.role).ok_or_else(|| ApiError::internal(format!("unknown role {}", row.role)))?;
            let status = match row.status.as_str() {
                "INVITED" => MemberStatus::Invited,
                "ACTIVE" => MemberStatus::Active,
                "SUSPENDED" => MemberStatus::Suspended,
                _ => MemberStatus::Removed,
            };
            let own = row.member_id == viewer.member.uuid();
            Ok(Member {
                id: ID(row.member_id.to_string()),
                display_name: name.unwrap_or_else(|| if row.display_name.is_some() { ERASED.into() } else { String::new() }),
                email: if sees_emails || own { Some(email.unwrap_or_else(|| ERASED.into())) } else { None },
                role: role.into(),
                status,
                joined_at: row.joined_at,
                capabilities: row.capabilities.iter().filter_map(|c| Capability::parse(c)).collect(),
                points: points.get(&row.member_id).copied().unwrap_or(0),
                site_scope: MemberSiteScope {
                    all_sites: row.site_scope.is_none(),
                    site_ids: row.site_scope.iter().flatten().map(|s| ID(s.to_string())).collect(),
                },
                home_zone_id: row.home_zone_id.map(|z| ID(z.to_string())),
                employee_number: if sees_emails || own { number } else { None },
                shift: row.shift,
            })
        })
        .collect()
}

/// One member by id, opened, as `viewer` may see them.
pub async fn member_by_id(keyring: &Keyring, viewer: &Principal, conn: &mut PgConnection, id: Uuid) -> ApiResult<Option<Member>> {
    let Some(row) = reads::member(conn, viewer.org.uuid(), id).await? else {
        return Ok(None);
    };
    Ok(members_view(keyring, viewer, conn, vec![row]).await?.pop())
}

/// One member by id, opened, as the request's principal may see them.
pub async fn member_for(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<Member>> {
    let viewer = principal(ctx)?;
    let gemba = &services(ctx)?.gemba;
    let mut tx = begin_tenant(gemba.pool(), viewer.org).await?;
    member_by_id(gemba.keyring(), viewer, &mut tx, id).await
}

/// A plant site.
#[derive(Debug)]
pub struct Site(pub SiteRow);

#[Object]
impl Site {
    async fn id(&self) -> ID {
        ID(self.0.site_id.to_string())
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// IANA time zone.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    /// The site's zones, in creation order.
    #[graphql(complexity = "usize::try_from(first.unwrap_or(PAGE_DEFAULT)).unwrap_or(0) * child_complexity + 1")]
    async fn zones(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> ApiResult<Connection<OpaqueCursor<Uuid>, Zone>> {
        let page = page(first, after)?;
        let mut tx = tenant_tx(ctx).await?;
        let rows = reads::zones(&mut tx, principal(ctx)?.org.uuid(), Some(self.0.site_id), page).await?;
        Ok(connection(page, rows, |z| z.zone_id, Zone))
    }
}

/// A zone of a site.
#[derive(Debug)]
pub struct Zone(pub ZoneRow);

#[Object]
impl Zone {
    async fn id(&self) -> ID {
        ID(self.0.zone_id.to_string())
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn status(&self) -> ZoneStatus {
        if self.0.status == "ARCHIVED" { ZoneStatus::Archived } else { ZoneStatus::Active }
    }
    async fn site_id(&self) -> ID {
        ID(self.0.site_id.to_string())
    }
    /// The area the zone sits in, if any.
    async fn area_id(&self) -> Option<ID> {
        self.0.area_id.map(|a| ID(a.to_string()))
    }
    /// The headcount override, if set.
    async fn headcount(&self) -> Option<i32> {
        self.0.headcount
    }
    /// The 5S audit plan, if set.
    async fn audit_plan(&self) -> ApiResult<Option<super::plant::ZoneAuditPlan>> {
        self.0.audit_plan.as_ref().map(super::plant::ZoneAuditPlan::from_stored).transpose()
    }
    async fn site(&self, ctx: &Context<'_>) -> ApiResult<Site> {
        let mut tx = tenant_tx(ctx).await?;
        let row = reads::site(&mut tx, principal(ctx)?.org.uuid(), self.0.site_id).await?;
        row.map(Site).ok_or_else(|| ApiError::internal("zone without site"))
    }
    /// The zone leader's deputies.
    async fn deputies(&self, ctx: &Context<'_>) -> ApiResult<Vec<Member>> {
        let viewer = principal(ctx)?;
        let gemba = &services(ctx)?.gemba;
        let mut tx = begin_tenant(gemba.pool(), viewer.org).await?;
        let ids = reads::zone_deputies(&mut tx, viewer.org.uuid(), self.0.zone_id).await?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            rows.extend(reads::member(&mut tx, viewer.org.uuid(), id).await?);
        }
        members_view(gemba.keyring(), viewer, &mut tx, rows).await
    }
    /// The zone leader.
    async fn owner(&self, ctx: &Context<'_>) -> ApiResult<Option<Member>> {
        match self.0.owner_member_id {
            Some(owner) => member_for(ctx, owner).await,
            None => Ok(None),
        }
    }
}

/// Default and largest page size of a connection.
pub const PAGE_DEFAULT: i32 = 50;
pub const PAGE_MAX: i32 = 200;

/// Parses connection arguments.
pub fn page(first: Option<i32>, after: Option<String>) -> ApiResult<Page> {
    let first = first.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&first) {
        return Err(ApiError::Validation { field: "first".into(), message: format!("must be between 1 and {PAGE_MAX}") });
    }
    let after = match after {
        None => None,
        Some(cursor) => Some(
            <OpaqueCursor<Uuid> as async_graphql::connection::CursorType>::decode_cursor(&cursor)
                .map_err(|_| ApiError::Validation { field: "after".into(), message: "is not a cursor of this list".into() })?
                .0,
        ),
    };
    Ok(Page { after, first: i64::from(first) })
}

/// Builds a connection from `page.first + 1` fetched rows.
pub fn connection<R, N: async_graphql::OutputType>(
    page: Page,
    mut rows: Vec<R>,
    id: impl Fn(&R) -> Uuid,
    node: impl Fn(R) -> N,
) -> Connection<OpaqueCursor<Uuid>, N> {
    let has_next = i64::try_from(rows.len()).unwrap_or(i64::MAX) > page.first;
    rows.truncate(usize::try_from(page.first).unwrap_or(0));
    let mut connection = Connection::new(page.after.is_some(), has_next);
    connection.edges.extend(rows.into_iter().map(|row| Edge::new(OpaqueCursor(id(&row)), node(row))));
    connection
}

/// Who did it, as recorded at the time.
#[derive(Debug, SimpleObject)]
pub struct HistoryActor {
    /// Null for the system.
    pub id: Option<ID>,
    /// The display name at the time; `[erased]` after erasure.
    pub display_name: Option<String>,
    pub role: Option<Role>,
}

/// One changed field.
#[derive(Debug, SimpleObject)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Json<serde_json::Value>>,
    pub after: Option<Json<serde_json::Value>>,
}

/// One event in an entity's history: who, when, what, before, after, why.
#[derive(Debug, SimpleObject)]
pub struct HistoryEntry {
    /// The entity (its id; an evidence file's sha256).
    pub entity_id: ID,
    /// The entity's version after this event.
    pub seq: i64,
    /// The event's position in the organisation's stream.
    pub tenant_seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub event_type: String,
    pub entity_type: String,
    pub actor: HistoryActor,
    pub changes: Vec<FieldChange>,
    /// The reason text, where one was given.
    pub reason: Option<String>,
    /// The reason code (snake_case), where a reason was given.
    pub reason_code: Option<String>,
    /// web, api, cli or system.
    pub channel: Option<String>,
    /// For signed acts, what the actor's signature means: authored, approved, reviewed,
    /// responsible or verified.
    pub signature_meaning: Option<String>,
    pub command_id: Option<ID>,
    pub correlation_id: Option<ID>,
}
