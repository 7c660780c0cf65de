//! The HTTP application: routes, authentication of requests, security headers.

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gemba_commands::crypto::Keyring;
use gemba_commands::evidence::EvidenceConfig;
use gemba_commands::service::{Clock, Gemba};
use gemba_commands::signing::Signer;
use gemba_commands::tenancy::begin_tenant;
use gemba_projections::engine::{Progress, Projector};
use gemba_projections::registry as reads;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;
use uuid::Uuid;

use crate::export::{self, Exporter};
use crate::graphql::context::{Principal, RequestContext, Services};
use crate::graphql::errors::ApiError;
use crate::graphql::{GembaSchema, schema};
use crate::rate_limit::RateLimiter;
use crate::{evidence, metrics, websocket};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How many projector announcements a slow subscriber may fall behind before it re-reads
/// from its last position instead.
pub const PROGRESS_CAPACITY: usize = 1024;

/// Settings of the HTTP application.
#[derive(Clone)]
pub struct AppConfig {
    /// Sign-in / sign-up attempts per client per minute.
    pub auth_attempts_per_minute: u32,
    /// Where evidence files are stored, and their limits.
    pub evidence: EvidenceConfig,
    /// The operators' bearer token for `GET /metrics`; without one the endpoint is off.
    pub operator_token: Option<String>,
    /// Where the projectors of this process announce committed batches (live subscriptions
    /// listen here); [`spawn_projector`] and the router must share it.
    pub progress: tokio::sync::broadcast::Sender<Progress>,
    /// The deployment's Ed25519 key signing chain checkpoints and export manifests.
    /// [`AppConfig::new`] generates a fresh one; `gemba serve` sets the deployment's.
    pub signer: Signer,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("auth_attempts_per_minute", &self.auth_attempts_per_minute)
            .field("evidence", &self.evidence)
            .field("operator_token", &self.operator_token.as_ref().map(|_| "<redacted>"))
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl AppConfig {
    /// The defaults, with evidence files in the local folder `evidence_dir`.
    pub fn new(evidence_dir: &std::path::Path) -> Result<Self, gemba_commands::CommandError> {
        Ok(Self {
            auth_attempts_per_minute: 20,
            evidence: EvidenceConfig::local(evidence_dir)?,
            operator_token: None,
            progress: tokio::sync::broadcast::channel(PROGRESS_CAPACITY).0,
            signer: Signer::from_base64(&Signer::generate_base64()).map_err(|e| gemba_commands::CommandError::Internal(e.to_string()))?,
        })
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub(crate) schema: GembaSchema,
    pub(crate) gemba: Gemba,
    pub(crate) projector: Projector,
    pub(crate) operator_token: Option<Arc<str>>,
    pub(crate) operator: crate::operator::OperatorSchema,
    pub(crate) exporter: Exporter,
}

/// How long a mutation waits for the projections to reach its position (read-your-writes).
pub const READ_YOUR_WRITES_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts the projector worker over `pool` (woken by LISTEN/NOTIFY, polling every `poll`),
/// announcing its commits on `config.progress`; and, beside it, the rebuilds of the
/// projections a new version changed (the old rows serve until each swap).
pub fn spawn_projector(pool: PgPool, poll: std::time::Duration, config: &AppConfig) -> tokio::task::JoinHandle<()> {
    let projector = Projector::new(pool.clone()).with_progress(config.progress.clone());
    let rebuilder = gemba_projections::rebuild::Rebuilder::new(pool.clone()).with_progress(config.progress.clone());
    tokio::spawn(async move {
        tokio::join!(projector.run(poll), crate::rebuilds::rebuild_outdated(rebuilder, pool));
    })
}

/// Builds the router over a pool of the application role.
pub fn router(pool: PgPool, keyring: Keyring, clock: Arc<dyn Clock>, config: &AppConfig) -> Result<Router, gemba_commands::CommandError> {
    let gemba = Gemba::new(pool, keyring, clock, config.evidence.clone())?;
    let services = Services {
        gemba: gemba.clone(),
        limiter: RateLimiter::per_minute(config.auth_attempts_per_minute),
        address_limiter: RateLimiter::per_minute(config.auth_attempts_per_minute.saturating_mul(5)),
        progress: config.progress.clone(),
        signer: config.signer.clone(),
    };
    let projector = Projector::new(gemba.pool().clone()).with_progress(config.progress.clone());
    let operator_token = config.operator_token.as_deref().filter(|t| !t.is_empty()).map(Arc::from);
    let operator = crate::operator::schema(gemba.pool().clone(), config.progress.clone());
    let exporter = Exporter::new(gemba.clone(), config.signer.clone());
    let state = AppState { schema: schema(services), gemba, projector, operator_token, operator, exporter };
    Ok(Router::new()
        .route("/graphql", post(graphql).get(websocket::subscriptions))
        .route("/metrics", get(metrics::metrics))
        .route("/operator/graphql", post(crate::operator::graphql))
        .route("/evidence", post(evidence::upload))
        .route("/evidence/{org}/{sha256}", get(evidence::download))
        .route("/export/events", get(export::export_events))
        .route("/export/events/{export_id}/manifest", get(export::export_manifest))
        .route("/export/people/{member_id}", get(crate::data_export::export_person))
        .route("/export/workspace", get(crate::data_export::export_workspace))
        .route("/export/workspace/{file}", get(crate::data_export::export_workspace_table))
        .route("/graphiql", get(graphiql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, &ApiError::Internal)
        }))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"))))
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

async fn readyz(State(state): State<AppState>) -> Response {
    match sqlx::query("select 1").execute(state.gemba.pool()).await {
        Ok(_) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Whether the request's operation is a mutation.
pub(crate) fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let wanted = request.operation_name.as_deref();
    document.operations.iter().any(|(name, operation)| {
        let selected = wanted.is_none() || name.map(|n| n.as_str()) == wanted;
        selected && operation.node.ty == async_graphql::parser::types::OperationType::Mutation
    })
}

/// Waits for the projections of `org` to reach its head; returns the head and whether it was
/// reached within [`READ_YOUR_WRITES_BOUND`].
async fn read_your_writes(state: &AppState, org: gemba_domain::OrgId) -> Result<(i64, bool), ApiError> {
    let mut tx = begin_tenant(state.gemba.pool(), org).await?;
    let head: Option<i64> =
        sqlx::query_scalar("select last_seq from org_heads where org_id = $1").bind(org.uuid()).fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    let head = head.unwrap_or(0);
    let reached = state.projector.wait_for(org.uuid(), head, READ_YOUR_WRITES_BOUND).await.map_err(ApiError::internal)?;
    Ok((head, reached))
}

/// The session token of a request: `Authorization: Bearer …`, else the session cookie.
pub(crate) fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(bearer.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("gemba_session=").map(str::to_owned))
        .filter(|t| !t.is_empty())
}

/// The member a token acts for, with their current role; `None` for no or a stale session.
pub(crate) async fn principal(gemba: &Gemba, token: &str) -> Result<Option<Principal>, ApiError> {
    let Some((org, member)) = gemba.authenticate(token).await? else {
        return Ok(None);
    };
    let mut tx = begin_tenant(gemba.pool(), org).await?;
    let row = reads::member(&mut tx, org.uuid(), member.uuid()).await?;
    tx.commit().await?;
    Ok(row.filter(|r| r.status == "ACTIVE").and_then(|r| {
        Some(Principal {
            org,
            member,
            role: gemba_commands::registry::parse_role(&r.role)?,
            display_name: r.display_name.and_then(|v| serde_json::from_value(v).ok()),
        })
    }))
}

pub(crate) fn error_response(status: StatusCode, error: &ApiError) -> Response {
    let body = serde_json::json!({"errors": [{"message": error.message(), "extensions": {"code": error.code()}}]});
    (status, axum::Json(body)).into_response()
}

async fn graphql(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Bytes) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        let error = ApiError::Validation { field: "Content-Type".into(), message: "must be application/json".into() };
        return error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error);
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(_) => {
            let error = ApiError::Validation { field: "body".into(), message: "is not a GraphQL request in JSON".into() };
            return error_response(StatusCode::BAD_REQUEST, &error);
        }
    };
    let idempotency_key = match headers.get("idempotency-key").map(|v| v.to_str().ok().and_then(|s| Uuid::parse_str(s.trim()).ok())) {
        None => None,
        Some(Some(key)) => Some(key),
        Some(None) => {
            let error = ApiError::Validation { field: "Idempotency-Key".into(), message: "must be a UUID".into() };
            return error_response(StatusCode::BAD_REQUEST, &error);
        }
    };
    let token = token(&headers);
    let principal = match &token {
        Some(token) => match principal(&state.gemba, token).await {
            Ok(p) => p,
            Err(error) => return error_response(error.status(), &error),
        },
        None => None,
    };
    let request_id = Uuid::now_v7();
    let context = RequestContext { principal, request_id, idempotency_key, client_ip: peer.ip(), token };
    let span = tracing::info_span!("graphql", request.id = %request_id);
    let org = context.principal.as_ref().map(|p| p.org);
    let mutation = is_mutation(&request);
    let mut response = state.schema.execute(request.data(context)).instrument(span).await;
    // Read-your-writes: a mutation answers once the projections have reached its position
    // (bounded); the answer says whether the bound was hit.
    if let (true, Some(org)) = (mutation, org) {
        match read_your_writes(&state, org).await {
            Ok((position, reached)) => {
                let mut value = async_graphql::indexmap::IndexMap::new();
                value.insert(async_graphql::Name::new("position"), async_graphql::Value::from(position));
                value.insert(async_graphql::Name::new("reached"), async_graphql::Value::from(reached));
                response.extensions.insert("readYourWrites".to_owned(), async_graphql::Value::Object(value));
            }
            Err(error) => tracing::warn!(code = error.code(), "read-your-writes could not be checked"),
        }
    }
    code_client_errors(&mut response);
    GraphQLResponse::from(response).into_response()
}

/// Errors raised by the GraphQL layer itself (syntax, unknown fields or enum values, wrong
/// types, limits) are the client's bad input: they get the code `VALIDATION`.
pub(crate) fn code_client_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let coded = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !coded {
            error.extensions.get_or_insert_with(Default::default).set("code", "VALIDATION");
        }
    }
}
