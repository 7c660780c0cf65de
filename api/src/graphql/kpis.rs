//! Dashboards in GraphQL: the plant roll-up (`scopeKpis`), the zone leaderboards, and the
//! kaizen, A3 and audit registers.

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, ID, InputObject, Object, OneofObject, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use gemba_domain::a3 as a3_domain;
use gemba_domain::five_s_audit as audit_domain;
use gemba_domain::kaizen as kaizen_domain;
use gemba_domain::{AreaId, KaizenId, MemberId, SiteId, ZoneId};
use gemba_projections::period::{self, Window};
use gemba_projections::scope_kpis::{self, Counts, KpiSettings, Scope};
use gemba_projections::{a3_register, five_s_scores, kaizen_register, leaderboard};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::context::{principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::five_s::{AuditStatus, AuditType};
use super::improvement::{A3Status, KaizenCategory, KaizenStatus, TargetMet};
use super::read_models::{stored, stored_name};
use super::types::{connection, page};

fn id(uuid: Uuid) -> ID {
    ID(uuid.to_string())
}

/// A reporting period, evaluated in the site's time zone.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum KpiWindow {
    /// The ISO week (Monday start).
    Week,
    Month,
    /// The fiscal quarter.
    Quarter,
    /// The fiscal year to date.
    YearToDate,
    /// The last 30 days.
    #[graphql(name = "ROLLING_30")]
    Rolling30,
    /// The last 90 days.
    #[graphql(name = "ROLLING_90")]
    Rolling90,
}

impl From<KpiWindow> for Window {
    fn from(value: KpiWindow) -> Self {
        match value {
            KpiWindow::Week => Self::Week,
            KpiWindow::Month => Self::Month,
            KpiWindow::Quarter => Self::Quarter,
            KpiWindow::YearToDate => Self::YearToDate,
            KpiWindow::Rolling30 => Self::Rolling30,
            KpiWindow::Rolling90 => Self::Rolling90,
        }
    }
}

/// What a roll-up covers: one site, one area (with its sub-areas), or one zone. Without a
/// scope, the whole organisation.
#[derive(Debug, OneofObject)]
pub enum ScopeInput {
    SiteId(ID),
    AreaId(ID),
    ZoneId(ID),
}

/// A count under a key (a type, a priority, a tag class, an age bucket, a phase).
#[derive(Debug, SimpleObject)]
pub struct KeyCount {
    pub key: String,
    pub count: i64,
}

fn key_counts(counts: Counts) -> Vec<KeyCount> {
    counts.into_iter().map(|(key, count)| KeyCount { key, count }).collect()
}

/// An amount in one currency (amounts in different currencies are never added).
#[derive(Debug, SimpleObject)]
pub struct CurrencyAmount {
    pub currency: String,
    pub amount: Decimal,
}

fn currency_amounts(amounts: scope_kpis::Amounts) -> Vec<CurrencyAmount> {
    amounts.into_iter().map(|(currency, amount)| CurrencyAmount { currency, amount: amount.normalize() }).collect()
}

/// Mean, median and 90th percentile, in days.
#[derive(Debug, SimpleObject)]
pub struct DaysSpread {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// The KPIs of one scope over one period (reference/domain.md §5.6). Rates are fractions
/// (0 to 1) and null when their denominator is zero.
#[derive(Debug, SimpleObject)]
pub struct ScopeKpis {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub active_zones: i64,
    /// The unweighted mean of the current scores of rated active zones.
    #[graphql(name = "avg5sScore")]
    pub avg_5s_score: Option<Decimal>,
    /// The mean change of zone period scores against the previous period.
    #[graphql(name = "avg5sDelta")]
    pub avg_5s_delta: Option<Decimal>,
    /// Rated active zones / active zones.
    pub coverage: Option<Decimal>,
    /// Audits submitted by their due date / audits due in the period.
    pub audit_adherence: Option<f64>,
    pub open_defects: i64,
    pub open_by_type: Vec<KeyCount>,
    pub open_by_priority: Vec<KeyCount>,
    pub open_by_tag_class: Vec<KeyCount>,
    /// `0-7`, `8-30`, `31-90` and `>90` days since raised.
    pub open_by_age_bucket: Vec<KeyCount>,
    pub overdue_defects: i64,
    /// Open defects past their original due date.
    pub overdue_vs_original: i64,
    pub raised_in_period: i64,
    pub closed_in_period: i64,
    /// Time from raising to the final close of defects closed in the period.
    pub mttc_days: DaysSpread,
    /// Closed by the original due date / closed in the period.
    pub on_time_closure_rate: Option<f64>,
    /// Closed by the current due date / closed in the period.
    pub on_time_vs_current_due: Option<f64>,
    /// Operator tags / maintenance tags raised in the period.
    pub fm_ratio: Option<f64>,
    pub ideas_submitted: i64,
    /// Active Owners, Admins and Members whose home zone is in the scope.
    pub active_members: i64,
    /// Those of them who authored a kaizen first submitted in the period.
    pub participating_members: i64,
    pub participation_rate: Option<f64>,
    /// Kaizens first submitted in the period and implemented within 30 days of it.
    #[graphql(name = "implementationRate30d")]
    pub implementation_rate_30d: Option<f64>,
    pub verified_hard_savings_ytd: Vec<CurrencyAmount>,
    /// Never added to the hard savings.
    pub verified_soft_savings_ytd: Vec<CurrencyAmount>,
    pub annualized_run_rate_hard: Vec<CurrencyAmount>,
    pub a3_open_by_phase: Vec<KeyCount>,
    pub a3_closed: i64,
    pub a3_effectiveness_rate: Option<f64>,
}

/// A zone ranked by points per head.
#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub struct ZonePointsEntry {
    pub rank: u32,
    pub zone_id: ID,
    pub points: i64,
    pub headcount: i32,
    pub points_per_head: Decimal,
}

/// A zone ranked by the change of its 5S period score.
#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub struct ZoneImprovementEntry {
    pub rank: u32,
    pub zone_id: ID,
    pub period_score: Decimal,
    pub previous_score: Decimal,
    pub delta: Decimal,
}

/// The zone boards of a window.
#[derive(Debug, SimpleObject)]
pub struct ZoneLeaderboard {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Points of the zone's members per head.
    pub by_points_per_head: Vec<ZonePointsEntry>,
    /// The change of the zone's 5S period score against the previous period: improving zones win.
    pub five_s_improvement: Vec<ZoneImprovementEntry>,
}

/// One kaizen as the register shows it.
#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub struct KaizenRegisterEntry {
    pub kaizen_id: ID,
    pub zone_id: ID,
    pub title: String,
    pub category: KaizenCategory,
    pub status: KaizenStatus,
    pub author_ids: Vec<ID>,
    /// The first submission.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The first review start or decision.
    pub first_response_at: Option<DateTime<Utc>>,
    pub implemented_at: Option<DateTime<Utc>>,
    pub just_do_it: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Verified savings recognised in one month.
#[derive(Debug, SimpleObject)]
pub struct RecognisedSavings {
    /// The first day of the month.
    pub month: NaiveDate,
    pub classification: String,
    pub currency: String,
    pub amount: Decimal,
}

/// One A3 case as the register shows it.
#[derive(Debug, SimpleObject)]
pub struct A3RegisterEntry {
    pub a3_id: ID,
    pub theme: String,
    pub owner_id: ID,
    pub status: A3Status,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub target_met: Option<TargetMet>,
    pub iteration: i32,
    /// Whether standardisation updated at least one document.
    pub documents_updated: bool,
}

/// One audit as the register shows it.
#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub struct AuditRegisterEntry {
    pub audit_id: ID,
    pub zone_id: ID,
    pub audit_type: AuditType,
    pub status: AuditStatus,
    pub due_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub score_pct: Option<Decimal>,
    pub band: Option<String>,
    pub corrected: bool,
}

/// Filters of the kaizen register; a missing field matches everything.
#[derive(Debug, Default, InputObject)]
pub struct KaizenRegisterFilter {
    pub statuses: Option<Vec<KaizenStatus>>,
    pub zone_id: Option<ID>,
    pub site_id: Option<ID>,
    pub author_id: Option<ID>,
    /// First submitted at or after.
    pub submitted_from: Option<DateTime<Utc>>,
    /// First submitted before.
    pub submitted_to: Option<DateTime<Utc>>,
}

/// Filters of the A3 register; a missing field matches everything.
#[derive(Debug, Default, InputObject)]
pub struct A3RegisterFilter {
    pub statuses: Option<Vec<A3Status>>,
    pub owner_id: Option<ID>,
}

/// Filters of the audit register; a missing field matches everything.
#[derive(Debug, Default, InputObject)]
pub struct AuditRegisterFilter {
    pub statuses: Option<Vec<AuditStatus>>,
    pub zone_id: Option<ID>,
    /// Due at or after.
    pub due_from: Option<DateTime<Utc>>,
    /// Due before.
    pub due_to: Option<DateTime<Utc>>,
}

/// Dashboard queries.
#[derive(Debug, Default)]
pub struct KpiQuery;

#[Object]
impl KpiQuery {
    /// The roll-up of a scope (the organisation when none is given) over a period, computed
    /// from the leaf facts. Periods are in each site's time zone.
    async fn scope_kpis(&self, ctx: &Context<'_>, scope: Option<ScopeInput>, window: KpiWindow) -> ApiResult<ScopeKpis> {
        let p = principal(ctx)?;
        let scope = match scope {
            None => Scope::Organization,
            Some(ScopeInput::SiteId(s)) => Scope::Site(SiteId::parse(&s)?.uuid()),
            Some(ScopeInput::AreaId(a)) => Scope::Area(AreaId::parse(&a)?.uuid()),
            Some(ScopeInput::ZoneId(z)) => Scope::Zone(ZoneId::parse(&z)?.uuid()),
        };
        let gemba = &services(ctx)?.gemba;
        let settings = gemba.settings(p.org).await?;
        let kpi_settings = KpiSettings {
            fiscal_start_month: settings.fiscal_year_start_month,
            counted_audit_types: settings.five_s.counted_audit_types.iter().map(stored_name).collect(),
            lookback_days: settings.five_s.lookback_days,
        };
        let mut tx = tenant_tx(ctx).await?;
        let kpis = scope_kpis::scope_kpis(&mut tx, p.org.uuid(), scope, window.into(), gemba.now(), &kpi_settings).await?;
        tx.commit().await?;
        let k = kpis.ok_or(ApiError::NotFound)?;
        Ok(ScopeKpis {
            starts_at: k.period.0,
            ends_at: k.period.1,
            active_zones: k.active_zones,
            avg_5s_score: k.avg_5s_score,
            avg_5s_delta: k.avg_5s_delta,
            coverage: k.coverage,
            audit_adherence: k.audit_adherence,
            open_defects: k.open_defects,
            open_by_type: key_counts(k.open_by_type),
            open_by_priority: key_counts(k.open_by_priority),
            open_by_tag_class: key_counts(k.open_by_tag_class),
            open_by_age_bucket: key_counts(k.open_by_age_bucket),
            overdue_defects: k.overdue_defects,
            overdue_vs_original: k.overdue_vs_original,
            raised_in_period: k.raised_in_period,
            closed_in_period: k.closed_in_period,
            mttc_days: DaysSpread { mean: k.mttc_days.mean, median: k.mttc_days.median, p90: k.mttc_days.p90 },
            on_time_closure_rate: k.on_time_closure_rate,
            on_time_vs_current_due: k.on_time_vs_current_due,
            fm_ratio: k.fm_ratio,
            ideas_submitted: k.ideas_submitted,
            active_members: k.active_members,
            participating_members: k.participating_members,
            participation_rate: k.participation_rate,
            implementation_rate_30d: k.implementation_rate_30d,
            verified_hard_savings_ytd: currency_amounts(k.verified_hard_savings_ytd),
            verified_soft_savings_ytd: currency_amounts(k.verified_soft_savings_ytd),
            annualized_run_rate_hard: currency_amounts(k.annualized_run_rate_hard),
            a3_open_by_phase: key_counts(k.a3_open_by_phase),
            a3_closed: k.a3_closed,
            a3_effectiveness_rate: k.a3_effectiveness_rate,
        })
    }

    /// The zone boards of a site (or of the organisation): points per head, and the 5S
    /// improvement board. Periods are in the site's time zone (UTC for the organisation).
    async fn zone_leaderboard(
        &self,
        ctx: &Context<'_>,
        window: KpiWindow,
        site_id: Option<ID>,
        #[graphql(default = 10)] first: i32,
    ) -> ApiResult<ZoneLeaderboard> {
        let p = principal(ctx)?;
        if !(1..=50).contains(&first) {
            return Err(ApiError::Validation { field: "first".into(), message: "must be between 1 and 50".into() });
        }
        let site = site_id.map(|s| SiteId::parse(&s)).transpose()?.map(SiteId::uuid);
        let gemba = &services(ctx)?.gemba;
        let settings = gemba.settings(p.org).await?;
        let counted: Vec<String> = settings.five_s.counted_audit_types.iter().map(stored_name).collect();
        let mut tx = tenant_tx(ctx).await?;
        let tz = match site {
            Some(site) => {
                let timezone: Option<String> = sqlx::query_scalar("select timezone from sites where org_id = $1 and site_id = $2")
                    .bind(p.org.uuid())
                    .bind(site)
                    .fetch_optional(&mut *tx)
                    .await?;
                timezone.ok_or(ApiError::NotFound)?.parse().unwrap_or(chrono_tz::UTC)
            }
            None => chrono_tz::UTC,
        };
        let window = Window::from(window);
        let current = period::bounds_in(window, gemba.now(), settings.fiscal_year_start_month, tz);
        let previous = period::previous_in(window, current, settings.fiscal_year_start_month, tz);
        let points = leaderboard::zone_points(&mut tx, p.org.uuid(), site, current).await?;
        let improvement = leaderboard::zone_improvement(&mut tx, p.org.uuid(), site, &counted, current, previous).await?;
        tx.commit().await?;
        let first = usize::try_from(first).unwrap_or(10);
        Ok(ZoneLeaderboard {
            starts_at: current.0,
            ends_at: current.1,
            by_points_per_head: points
                .into_iter()
                .take(first)
                .map(|z| ZonePointsEntry {
                    rank: z.rank,
                    zone_id: id(z.zone_id),
                    points: z.points,
                    headcount: z.headcount,
                    points_per_head: z.per_head,
                })
                .collect(),
            five_s_improvement: improvement
                .into_iter()
                .take(first)
                .map(|z| ZoneImprovementEntry {
                    rank: z.rank,
                    zone_id: id(z.zone_id),
                    period_score: z.period_score,
                    previous_score: z.previous_score,
                    delta: z.delta,
                })
                .collect(),
        })
    }

    /// The kaizen register (oldest first), filtered by status, zone, site, author or first
    /// submission time.
    async fn kaizen_register(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<KaizenRegisterFilter>,
    ) -> ApiResult<Connection<OpaqueCursor<Uuid>, KaizenRegisterEntry>> {
        let p = principal(ctx)?;
        let page = page(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = kaizen_register::KaizenFilter {
            statuses: f.statuses.map(|s| s.into_iter().map(|s| stored_name(kaizen_domain::KaizenStatus::from(s))).collect()),
            zone: f.zone_id.map(|z| ZoneId::parse(&z)).transpose()?.map(ZoneId::uuid),
            site: f.site_id.map(|s| SiteId::parse(&s)).transpose()?.map(SiteId::uuid),
            author: f.author_id.map(|a| MemberId::parse(&a)).transpose()?.map(MemberId::uuid),
            submitted_from: f.submitted_from,
            submitted_to: f.submitted_to,
        };
        let mut tx = tenant_tx(ctx).await?;
        let rows = kaizen_register::page(&mut tx, p.org.uuid(), &filter, page.after, page.first).await?;
        tx.commit().await?;
        let entries = rows
            .into_iter()
            .map(|r| {
                Ok((
                    r.kaizen_id,
                    KaizenRegisterEntry {
                        kaizen_id: id(r.kaizen_id),
                        zone_id: id(r.zone_id),
                        title: r.title,
                        category: stored::<kaizen_domain::KaizenCategory>(&r.category)?.into(),
                        status: stored::<kaizen_domain::KaizenStatus>(&r.status)?.into(),
                        author_ids: r.authors.into_iter().map(id).collect(),
                        submitted_at: r.submitted_at,
                        first_response_at: r.first_response_at,
                        implemented_at: r.implemented_at,
                        just_do_it: r.just_do_it,
                        verified_at: r.verified_at,
                        closed_at: r.closed_at,
                    },
                ))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(connection(page, entries, |(id, _)| *id, |(_, entry)| entry))
    }

    /// The verified savings of a kaizen by month of recognition (adjustments and reopenings
    /// netted), per classification and currency.
    async fn kaizen_recognised_savings(&self, ctx: &Context<'_>, kaizen_id: ID) -> ApiResult<Vec<RecognisedSavings>> {
        let p = principal(ctx)?;
        let kaizen = KaizenId::parse(&kaizen_id)?;
        let mut tx = tenant_tx(ctx).await?;
        let rows = kaizen_register::recognised(&mut tx, p.org.uuid(), kaizen.uuid()).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(month, classification, currency, amount)| RecognisedSavings { month, classification, currency, amount })
            .collect())
    }

    /// The A3 register (oldest first), filtered by status or owner.
    async fn a3_register(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<A3RegisterFilter>,
    ) -> ApiResult<Connection<OpaqueCursor<Uuid>, A3RegisterEntry>> {
        let p = principal(ctx)?;
        let page = page(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = a3_register::A3Filter {
            statuses: f.statuses.map(|s| s.into_iter().map(|s| stored_name(a3_domain::A3Status::from(s))).collect()),
            owner: f.owner_id.map(|o| MemberId::parse(&o)).transpose()?.map(MemberId::uuid),
        };
        let mut tx = tenant_tx(ctx).await?;
        let rows = a3_register::page(&mut tx, p.org.uuid(), &filter, page.after, page.first).await?;
        tx.commit().await?;
        let entries = rows
            .into_iter()
            .map(|r| {
                Ok((
                    r.a3_id,
                    A3RegisterEntry {
                        a3_id: id(r.a3_id),
                        theme: r.theme,
                        owner_id: id(r.owner_id),
                        status: stored::<a3_domain::A3Status>(&r.status)?.into(),
                        opened_at: r.opened_at,
                        closed_at: r.closed_at,
                        target_met: r.target_met.as_deref().map(stored::<a3_domain::TargetMet>).transpose()?.map(Into::into),
                        iteration: r.iteration,
                        documents_updated: r.documents_updated,
                    },
                ))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(connection(page, entries, |(id, _)| *id, |(_, entry)| entry))
    }

    /// The audit register (oldest first): scheduled, in progress, submitted (with the frozen
    /// score, corrections applied), missed and cancelled audits.
    async fn audit_register(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditRegisterFilter>,
    ) -> ApiResult<Connection<OpaqueCursor<Uuid>, AuditRegisterEntry>> {
        let p = principal(ctx)?;
        let page = page(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = five_s_scores::AuditFilter {
            statuses: f.statuses.map(|s| s.into_iter().map(|s| stored_name(audit_domain::AuditStatus::from(s))).collect()),
            zone: f.zone_id.map(|z| ZoneId::parse(&z)).transpose()?.map(ZoneId::uuid),
            due_from: f.due_from,
            due_to: f.due_to,
        };
        let mut tx = tenant_tx(ctx).await?;
        let rows = five_s_scores::page(&mut tx, p.org.uuid(), &filter, page.after, page.first).await?;
        tx.commit().await?;
        let entries = rows
            .into_iter()
            .map(|r| {
                Ok((
                    r.audit_id,
                    AuditRegisterEntry {
                        audit_id: id(r.audit_id),
                        zone_id: id(r.zone_id),
                        audit_type: stored::<audit_domain::AuditType>(&r.audit_type)?.into(),
                        status: stored::<audit_domain::AuditStatus>(&r.status)?.into(),
                        due_at: r.due_at,
                        submitted_at: r.submitted_at,
                        score_pct: r.score_pct.and_then(|s| s.parse::<Decimal>().ok()).map(|d: Decimal| d.normalize()),
                        band: r.band,
                        corrected: r.corrected,
                    },
                ))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(connection(page, entries, |(id, _)| *id, |(_, entry)| entry))
    }
}
