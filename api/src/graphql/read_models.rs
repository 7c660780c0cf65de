//! Reads of the projected read models, and where the projections stand.

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_commands::service::Gemba;
use gemba_domain::defect as domain;
use gemba_domain::{MemberId, OrgId, ZoneId};
use gemba_projections::defect_register::{self, DefectFilter, DefectRow};
use gemba_projections::engine::Projector;
use gemba_projections::{five_s_scores, leaderboard};
use serde::de::DeserializeOwned;
use sqlx::PgConnection;
use uuid::Uuid;

use super::context::{Principal, principal, services, tenant_tx};
use super::defects::{AbnormalityType, DefectStatus, Priority, TagClass};
use super::errors::{ApiError, ApiResult};
use super::types::{connection, page};

/// A read-model column holding an enum's stored spelling, as the domain enum.
pub(crate) fn stored<D: DeserializeOwned>(text: &str) -> ApiResult<D> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| ApiError::internal(format!("a read-model value: {e}")))
}

/// The stored spelling of a domain enum value.
pub(crate) fn stored_name<D: serde::Serialize>(value: D) -> String {
    gemba_domain::wire_name(&value).unwrap_or_default()
}

/// One defect as the register shows it.
#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub struct DefectRegisterEntry {
    pub defect_id: ID,
    pub zone_id: ID,
    pub status: DefectStatus,
    pub priority: Priority,
    pub abnormality_type: AbnormalityType,
    pub tag_class: TagClass,
    pub title: String,
    pub assignee_id: Option<ID>,
    pub raised_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    /// The first due date ever set (on-time figures are measured against it).
    pub original_due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub escalation_level: i32,
}

impl DefectRegisterEntry {
    /// The entry of a register row.
    pub(crate) fn from_row(r: DefectRow) -> ApiResult<Self> {
        Ok(Self {
            defect_id: ID(r.defect_id.to_string()),
            zone_id: ID(r.zone_id.to_string()),
            status: stored::<domain::DefectStatus>(&r.status)?.into(),
            priority: stored::<domain::Priority>(&r.priority)?.into(),
            abnormality_type: stored::<domain::AbnormalityType>(&r.abnormality_type)?.into(),
            tag_class: stored::<domain::TagClass>(&r.tag_class)?.into(),
            title: r.title,
            assignee_id: r.assignee_id.map(|a| ID(a.to_string())),
            raised_at: r.raised_at,
            due_at: r.due_at,
            original_due_at: r.original_due_at,
            closed_at: r.closed_at,
            reopen_count: r.reopen_count,
            escalation_level: r.escalation_level,
        })
    }
}

/// Where one projection stands for the organisation.
#[derive(Debug, SimpleObject)]
pub struct ProjectionStatus {
    pub projection: String,
    pub version: i32,
    /// The last event (`tenant_seq`) applied.
    pub checkpoint: i64,
    /// The organisation's last event.
    pub head: i64,
    /// Events not yet applied.
    pub lag: i64,
    pub updated_at: Option<DateTime<Utc>>,
    /// Why the projection stopped, if it did (it resumes once the cause is fixed).
    pub last_error: Option<String>,
    /// The event it stopped at.
    pub failed_seq: Option<i64>,
}

impl From<gemba_projections::engine::Status> for ProjectionStatus {
    fn from(s: gemba_projections::engine::Status) -> Self {
        Self {
            lag: s.lag(),
            projection: s.projection.to_owned(),
            version: s.version,
            checkpoint: s.checkpoint,
            head: s.head,
            updated_at: s.updated_at,
            last_error: s.last_error,
            failed_seq: s.failed_seq,
        }
    }
}

/// Filters of the defect register; a missing field matches everything.
#[derive(Debug, Default, InputObject)]
pub struct DefectRegisterFilter {
    pub statuses: Option<Vec<DefectStatus>>,
    pub zone_id: Option<ID>,
    pub site_id: Option<ID>,
    pub priority: Option<Priority>,
    pub abnormality_type: Option<AbnormalityType>,
    pub tag_class: Option<TagClass>,
    pub assignee_id: Option<ID>,
    /// Raised at or after.
    pub raised_from: Option<DateTime<Utc>>,
    /// Raised before.
    pub raised_to: Option<DateTime<Utc>>,
}

/// A zone's current 5S score.
#[derive(Debug, SimpleObject)]
pub struct ZoneFiveSScore {
    pub zone_id: ID,
    pub zone_name: String,
    /// The latest counted audit's score within the look-back; null: not rated (never 0).
    pub score_pct: Option<rust_decimal::Decimal>,
    pub band: Option<String>,
    pub audited_at: Option<DateTime<Utc>>,
}

/// 5S across a site (or the organisation): the unweighted mean of rated zones' current
/// scores, with the coverage that qualifies it.
#[derive(Debug, SimpleObject)]
pub struct FiveSRollup {
    /// Null when no active zone is rated.
    pub average_score_pct: Option<rust_decimal::Decimal>,
    /// Rated active zones / active zones (0 to 1); null without active zones.
    pub coverage: Option<rust_decimal::Decimal>,
    pub zones: Vec<ZoneFiveSScore>,
}

/// A leaderboard window.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum LeaderboardWindow {
    /// The ISO week (Monday start).
    Week,
    Month,
    /// The fiscal quarter.
    Quarter,
    /// The fiscal year to date.
    YearToDate,
}

/// A ranked member.
#[derive(Debug, SimpleObject)]
pub struct LeaderboardEntry {
    /// Dense rank: equal totals share a rank.
    pub rank: u32,
    pub member_id: ID,
    pub points: i64,
}

/// Members ranked by live points earned in a window.
#[derive(Debug, SimpleObject)]
pub struct Leaderboard {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The top of the board (no "bottom" lists).
    pub top: Vec<LeaderboardEntry>,
    /// The viewer's own place, when they have points in the window.
    pub me: Option<LeaderboardEntry>,
}

/// The 5S roll-up of `site` (or the whole organisation) as `conn` (a tenant transaction of
/// `org`) sees it; shared by the query and its subscription.
pub(crate) async fn five_s_rollup_of(gemba: &Gemba, conn: &mut PgConnection, org: OrgId, site: Option<Uuid>) -> ApiResult<FiveSRollup> {
    let settings = gemba.settings(org).await?;
    let counted: Vec<String> = settings.five_s.counted_audit_types.iter().map(stored_name).collect();
    let since = gemba.now() - chrono::Duration::days(i64::from(settings.five_s.lookback_days));
    let zones = five_s_scores::current_scores(conn, org.uuid(), site, &counted, since).await?;
    let (average_score_pct, coverage) = five_s_scores::roll_up(&zones);
    Ok(FiveSRollup {
        average_score_pct,
        coverage,
        zones: zones
            .into_iter()
            .map(|z| ZoneFiveSScore {
                zone_id: ID(z.zone_id.to_string()),
                zone_name: z.zone_name,
                score_pct: z.score_pct,
                band: z.band,
                audited_at: z.audited_at,
            })
            .collect(),
    })
}

/// The checked arguments of a leaderboard.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaderboardRequest {
    pub window: leaderboard::Window,
    pub scope: leaderboard::Scope,
    /// How many of the top to show (1 to 50).
    pub first: usize,
}

impl LeaderboardRequest {
    /// Parses the arguments of `leaderboard` (and of its subscription).
    pub fn parse(window: LeaderboardWindow, site_id: Option<ID>, zone_id: Option<ID>, first: i32) -> ApiResult<Self> {
        if !(1..=50).contains(&first) {
            return Err(ApiError::Validation { field: "first".into(), message: "must be between 1 and 50".into() });
        }
        let scope = leaderboard::Scope {
            site: site_id.map(|s| gemba_domain::SiteId::parse(&s)).transpose()?.map(gemba_domain::SiteId::uuid),
            zone: zone_id.map(|z| ZoneId::parse(&z)).transpose()?.map(ZoneId::uuid),
        };
        let window = match window {
            LeaderboardWindow::Week => leaderboard::Window::Week,
            LeaderboardWindow::Month => leaderboard::Window::Month,
            LeaderboardWindow::Quarter => leaderboard::Window::Quarter,
            LeaderboardWindow::YearToDate => leaderboard::Window::YearToDate,
        };
        Ok(Self { window, scope, first: usize::try_from(first).unwrap_or(10) })
    }
}

/// The leaderboard `viewer` sees, as `conn` (a tenant transaction of the viewer's
/// organisation) sees it; shared by the query and its subscription.
pub(crate) async fn leaderboard_of(
    gemba: &Gemba,
    conn: &mut PgConnection,
    viewer: &Principal,
    request: &LeaderboardRequest,
) -> ApiResult<Leaderboard> {
    let fiscal = gemba.settings(viewer.org).await?.fiscal_year_start_month;
    let tz = leaderboard::scope_time_zone(conn, viewer.org.uuid(), request.scope).await?;
    let (starts_at, ends_at) = gemba_projections::period::bounds_in(request.window, gemba.now(), fiscal, tz);
    let ranked = leaderboard::ranking(conn, viewer.org.uuid(), request.scope, (starts_at, ends_at)).await?;
    let entry = |r: &leaderboard::Ranked| LeaderboardEntry { rank: r.rank, member_id: ID(r.member_id.to_string()), points: r.points };
    let me = ranked.iter().find(|r| r.member_id == viewer.member.uuid()).map(entry);
    let top = ranked.iter().take(request.first).map(entry).collect();
    Ok(Leaderboard { starts_at, ends_at, top, me })
}

/// Read-model queries.
#[derive(Debug, Default)]
pub struct ReadModelQuery;

#[Object]
impl ReadModelQuery {
    /// The defect register (newest last), filtered by status, zone, site, priority, type, tag
    /// class, assignee or the time it was raised.
    async fn defect_register(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DefectRegisterFilter>,
    ) -> ApiResult<Connection<OpaqueCursor<Uuid>, DefectRegisterEntry>> {
        let p = principal(ctx)?;
        let page = page(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = DefectFilter {
            statuses: f.statuses.map(|s| s.into_iter().map(|s| stored_name(domain::DefectStatus::from(s))).collect()),
            zone: f.zone_id.map(|z| ZoneId::parse(&z)).transpose()?.map(ZoneId::uuid),
            site: f.site_id.map(|s| gemba_domain::SiteId::parse(&s)).transpose()?.map(gemba_domain::SiteId::uuid),
            priority: f.priority.map(|p| stored_name(domain::Priority::from(p))),
            abnormality_type: f.abnormality_type.map(|t| stored_name(domain::AbnormalityType::from(t))),
            tag_class: f.tag_class.map(|t| stored_name(domain::TagClass::from(t))),
            assignee: f.assignee_id.map(|a| MemberId::parse(&a)).transpose()?.map(MemberId::uuid),
            raised_from: f.raised_from,
            raised_to: f.raised_to,
        };
        let mut tx = tenant_tx(ctx).await?;
        let rows = defect_register::page(&mut tx, p.org.uuid(), &filter, page.after, page.first).await?;
        tx.commit().await?;
        let entries = rows.into_iter().map(|r| Ok((r.defect_id, DefectRegisterEntry::from_row(r)?))).collect::<ApiResult<Vec<_>>>()?;
        Ok(connection(page, entries, |(id, _)| *id, |(_, entry)| entry))
    }

    /// Current 5S scores of the active zones of a site (or of the organisation) and their
    /// roll-up, under the organisation's counted audit types and look-back.
    async fn five_s_rollup(&self, ctx: &Context<'_>, site_id: Option<ID>) -> ApiResult<FiveSRollup> {
        let p = principal(ctx)?;
        let site = site_id.map(|s| gemba_domain::SiteId::parse(&s)).transpose()?.map(gemba_domain::SiteId::uuid);
        let gemba = &services(ctx)?.gemba;
        let mut tx = tenant_tx(ctx).await?;
        let rollup = five_s_rollup_of(gemba, &mut tx, p.org, site).await?;
        tx.commit().await?;
        Ok(rollup)
    }

    /// The member leaderboard: live points (awards less reversals, plus adjustments) earned in
    /// the window by members whose home zone is in the zone or site (everyone when neither is
    /// given); the top `first` (at most 50) and the viewer's own place. Windows are in the time zone
    /// of the scope's site (UTC for the whole organisation).
    async fn leaderboard(
        &self,
        ctx: &Context<'_>,
        window: LeaderboardWindow,
        site_id: Option<ID>,
        zone_id: Option<ID>,
        #[graphql(default = 10)] first: i32,
    ) -> ApiResult<Leaderboard> {
        let p = principal(ctx)?;
        let request = LeaderboardRequest::parse(window, site_id, zone_id, first)?;
        let gemba = &services(ctx)?.gemba;
        let mut tx = tenant_tx(ctx).await?;
        let board = leaderboard_of(gemba, &mut tx, p, &request).await?;
        tx.commit().await?;
        Ok(board)
    }

    /// Where every projection stands for the organisation: checkpoint, head, lag, last error.
    async fn projection_status(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProjectionStatus>> {
        let p = principal(ctx)?;
        let projector = Projector::new(services(ctx)?.gemba.pool().clone());
        let statuses = projector.status(p.org.uuid()).await.map_err(ApiError::internal)?;
        Ok(statuses.into_iter().map(ProjectionStatus::from).collect())
    }
}
