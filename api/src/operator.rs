//! The operator API: `POST /operator/graphql`, for platform operators rather than tenants.
//! It is authenticated by the bearer token `GEMBA_OPERATOR_TOKEN` (without one configured the
//! endpoint does not exist), and its schema (`api/operator.graphql`) is apart from the
//! tenants' one: projection status across organisations, rebuilds with their progress,
//! starting and cancelling rebuilds.

use async_graphql::{Context, EmptySubscription, Enum, Object, Schema, SimpleObject};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gemba_projections::engine::{Progress, Projection, Projector};
use gemba_projections::rebuild::{RebuildStatus, Rebuilder};
use sqlx::PgPool;
use uuid::Uuid;

use crate::app::{AppState, error_response};
use crate::graphql::errors::ApiError;
use crate::graphql::read_models::ProjectionStatus;
use crate::metrics::operator_authorised;
use crate::rebuilds::{self, Overall};

/// The operator schema.
pub type OperatorSchema = Schema<OperatorQuery, OperatorMutation, EmptySubscription>;

/// What the operator resolvers need.
struct Operator {
    pool: PgPool,
    progress: tokio::sync::broadcast::Sender<Progress>,
}

/// The operator schema over `pool`; swaps are announced on `progress`.
pub fn schema(pool: PgPool, progress: tokio::sync::broadcast::Sender<Progress>) -> OperatorSchema {
    Schema::build(OperatorQuery, OperatorMutation, EmptySubscription).data(Operator { pool, progress }).finish()
}

/// The operator schema in SDL (committed as `api/operator.graphql`).
pub fn sdl() -> String {
    Schema::build(OperatorQuery, OperatorMutation, EmptySubscription).finish().sdl()
}

/// A projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ProjectionName {
    DefectRegister,
    #[graphql(name = "ZONE_5S_SCORES")]
    Zone5sScores,
    KaizenRegister,
    A3Register,
}

impl From<ProjectionName> for Projection {
    fn from(name: ProjectionName) -> Self {
        match name {
            ProjectionName::DefectRegister => Self::DefectRegister,
            ProjectionName::Zone5sScores => Self::FiveSScores,
            ProjectionName::KaizenRegister => Self::KaizenRegister,
            ProjectionName::A3Register => Self::A3Register,
        }
    }
}

/// One organisation's rebuild of one projection.
#[derive(Debug, SimpleObject)]
pub struct Rebuild {
    pub organization_id: Uuid,
    pub projection: String,
    /// The version being built.
    pub version: i32,
    /// RUNNING, FAILED, CANCELLED or SWAPPED.
    pub state: String,
    /// Events applied to the shadow tables.
    pub done: i64,
    /// Events to apply.
    pub total: i64,
    /// Events per second of the current run.
    pub rate: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl From<RebuildStatus> for Rebuild {
    fn from(s: RebuildStatus) -> Self {
        Self {
            eta_seconds: s.eta().map(|d| d.as_secs_f64()),
            organization_id: s.org,
            projection: s.projection.name().to_owned(),
            version: s.version,
            state: s.state.as_str().to_owned(),
            done: s.done,
            total: s.total,
            rate: s.rate,
            started_at: s.started_at,
            updated_at: s.updated_at,
            finished_at: s.finished_at,
            last_error: s.last_error,
        }
    }
}

/// Rebuilds and their progress summed.
#[derive(Debug, SimpleObject)]
pub struct Rebuilds {
    pub done: i64,
    pub total: i64,
    pub rate: Option<f64>,
    pub eta_seconds: Option<f64>,
    /// The organisations being rebuilt now.
    pub current_organizations: Vec<Uuid>,
    pub running: i32,
    pub swapped: i32,
    pub cancelled: i32,
    pub failed: i32,
    pub last_error: Option<String>,
    pub rebuilds: Vec<Rebuild>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Rebuilds {
    fn of(statuses: Vec<RebuildStatus>) -> Self {
        let overall = Overall::of(&statuses);
        Self {
            done: overall.done,
            total: overall.total,
            rate: overall.rate,
            eta_seconds: overall.eta().map(|d| d.as_secs_f64()),
            current_organizations: overall.current,
            running: count(overall.running),
            swapped: count(overall.swapped),
            cancelled: count(overall.cancelled),
            failed: count(overall.failed),
            last_error: overall.last_error,
            rebuilds: statuses.into_iter().map(Rebuild::from).collect(),
        }
    }
}

/// One organisation's projections.
#[derive(Debug, SimpleObject)]
pub struct OrganizationProjections {
    pub organization_id: Uuid,
    pub projections: Vec<ProjectionStatus>,
}

fn operator<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Operator> {
    ctx.data::<Operator>().map_err(|_| ApiError::Internal.into())
}

/// The organisations an operation covers: one (which must exist) or all.
async fn targets(pool: &PgPool, org: Option<Uuid>) -> Result<Vec<Uuid>, ApiError> {
    let all = rebuilds::organisations(pool).await?;
    match org {
        None => Ok(all),
        Some(org) if all.contains(&org) => Ok(vec![org]),
        Some(_) => Err(ApiError::NotFound),
    }
}

fn selected(projection: Option<ProjectionName>) -> Vec<Projection> {
    projection.map_or_else(|| Projection::ALL.to_vec(), |p| vec![p.into()])
}

/// Operator reads.
#[derive(Debug, Default)]
pub struct OperatorQuery;

#[Object]
impl OperatorQuery {
    /// Where every projection stands, per organisation (one, or every one).
    async fn projections(&self, ctx: &Context<'_>, organization_id: Option<Uuid>) -> async_graphql::Result<Vec<OrganizationProjections>> {
        let operator = operator(ctx)?;
        let projector = Projector::new(operator.pool.clone());
        let mut out = Vec::new();
        for org in targets(&operator.pool, organization_id).await? {
            let statuses = projector.status(org).await.map_err(ApiError::internal)?;
            out.push(OrganizationProjections {
                organization_id: org,
                projections: statuses.into_iter().map(ProjectionStatus::from).collect(),
            });
        }
        Ok(out)
    }

    /// Rebuilds on record (running, or the last one of each organisation and projection),
    /// with their progress summed.
    async fn rebuilds(
        &self,
        ctx: &Context<'_>,
        projection: Option<ProjectionName>,
        organization_id: Option<Uuid>,
    ) -> async_graphql::Result<Rebuilds> {
        let operator = operator(ctx)?;
        let orgs = targets(&operator.pool, organization_id).await?;
        let wanted = selected(projection);
        let statuses = rebuilds::statuses(&Rebuilder::new(operator.pool.clone()), &orgs).await.map_err(ApiError::internal)?;
        Ok(Rebuilds::of(statuses.into_iter().filter(|s| wanted.contains(&s.projection)).collect()))
    }
}

/// Operator commands.
#[derive(Debug, Default)]
pub struct OperatorMutation;

#[Object]
impl OperatorMutation {
    /// Starts rebuilding a projection (or every one) for an organisation (or every one) in
    /// the background of this server, and answers at once with the rebuilds as they stand
    /// (follow them with `rebuilds`). A rebuild that stands (stopped or failed) resumes.
    async fn rebuild_projections(
        &self,
        ctx: &Context<'_>,
        projection: Option<ProjectionName>,
        organization_id: Option<Uuid>,
        #[graphql(default = 1000, validator(minimum = 1, maximum = 100000))] batch_size: i64,
        #[graphql(default = 0, validator(minimum = 0, maximum = 10000))] throttle_ms: u64,
        #[graphql(default = 2, validator(minimum = 1, maximum = 64))] parallel: usize,
    ) -> async_graphql::Result<Rebuilds> {
        let operator = operator(ctx)?;
        let orgs = targets(&operator.pool, organization_id).await?;
        let projections = selected(projection);
        let rebuilder = Rebuilder::new(operator.pool.clone())
            .with_batch_size(batch_size)
            .with_throttle(std::time::Duration::from_millis(throttle_ms))
            .with_progress(operator.progress.clone());
        for &org in &orgs {
            for &p in &projections {
                rebuilder.start(org, p).await.map_err(ApiError::internal)?;
            }
        }
        let background = rebuilder.clone();
        let run_orgs = orgs.clone();
        let run_projections = projections.clone();
        tokio::spawn(async move {
            let report = rebuilds::run(&background, &run_orgs, &run_projections, parallel, |_| {}).await;
            for (org, projection, error) in report.errors {
                tracing::warn!(%error, org.id = %org, projection = projection.name(), "a rebuild stopped");
            }
            tracing::info!(swapped = report.overall.swapped, events = report.overall.done, "rebuilds finished");
        });
        let statuses = rebuilds::statuses(&rebuilder, &orgs).await.map_err(ApiError::internal)?;
        Ok(Rebuilds::of(statuses.into_iter().filter(|s| projections.contains(&s.projection)).collect()))
    }

    /// Cancels rebuilds: their shadow rows go, the live rows were never touched. Answers
    /// the number cancelled.
    async fn cancel_rebuilds(
        &self,
        ctx: &Context<'_>,
        projection: Option<ProjectionName>,
        organization_id: Option<Uuid>,
    ) -> async_graphql::Result<i32> {
        let operator = operator(ctx)?;
        let rebuilder = Rebuilder::new(operator.pool.clone());
        let mut cancelled = 0;
        for org in targets(&operator.pool, organization_id).await? {
            for p in selected(projection) {
                cancelled += i32::from(rebuilder.cancel(org, p).await.map_err(ApiError::internal)?);
            }
        }
        Ok(cancelled)
    }
}

/// `POST /operator/graphql`.
pub(crate) async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = operator_authorised(&state, &headers) {
        return refused;
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(_) => {
            let error = ApiError::Validation { field: "body".into(), message: "is not a GraphQL request in JSON".into() };
            return error_response(StatusCode::BAD_REQUEST, &error);
        }
    };
    axum::Json(state.operator.execute(request).await).into_response()
}
