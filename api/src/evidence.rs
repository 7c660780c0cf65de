//! Evidence files over HTTP.
//!
//! - `POST /evidence`: the body is the file, `Content-Type` its media type; the caller is
//!   authenticated like `/graphql`. Answers `201` with the file's sha256 (the reference
//!   commands take) and a download link.
//! - `GET /evidence/{org}/{sha256}?expires=…&signature=…`: a signed link, valid until it
//!   expires and only for its organisation and file; needs no session, so it works in an
//!   `<img src>`.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gemba_commands::envelope::{Channel, CommandContext};
use gemba_domain::{Actor, EvidenceRef, OrgId};
use serde::Deserialize;
use tracing::Instrument;
use uuid::Uuid;

use crate::app::{AppState, error_response, principal, token};
use crate::graphql::errors::ApiError;

fn status(error: &ApiError) -> StatusCode {
    match error {
        ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound => StatusCode::NOT_FOUND,
        ApiError::Validation { .. } => StatusCode::BAD_REQUEST,
        ApiError::Conflict(_) | ApiError::LegalHold => StatusCode::CONFLICT,
        ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn fail(error: impl Into<ApiError>) -> Response {
    let error = error.into();
    error_response(status(&error), &error)
}

fn too_large(max: usize) -> Response {
    let error = ApiError::Validation { field: "file".into(), message: format!("is larger than {max} bytes") };
    error_response(StatusCode::PAYLOAD_TOO_LARGE, &error)
}

/// `POST /evidence`.
pub async fn upload(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let Some(token) = token(&headers) else {
        return fail(ApiError::Unauthenticated);
    };
    let principal = match principal(&state.gemba, &token).await {
        Ok(Some(p)) => p,
        Ok(None) => return fail(ApiError::Unauthenticated),
        Err(error) => return fail(error),
    };
    let max = state.gemba.max_evidence_bytes();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(max);
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return fail(ApiError::Validation { field: "Content-Type".into(), message: "is required".into() });
    };
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(bytes) => bytes,
        Err(_) => return too_large(max),
    };
    let mut ctx = CommandContext::new(principal.org, Some(Actor { member_id: principal.member, role: principal.role }), Channel::Web);
    ctx.actor_name = principal.display_name.clone();
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).and_then(|v| Uuid::parse_str(v.trim()).ok()) {
        ctx.command_id = Uuid::new_v5(&key, b"uploadEvidence");
    }
    let span = tracing::info_span!("evidence upload", request.id = %ctx.request_id);
    let stored = match state.gemba.upload_evidence(&ctx, content_type, bytes).instrument(span).await {
        Ok(stored) => stored,
        Err(error) => return fail(error),
    };
    let link = match state.gemba.evidence_link(principal.org, &stored.sha256) {
        Ok(link) => link,
        Err(error) => return fail(error),
    };
    let body = serde_json::json!({
        "sha256": stored.sha256.as_str(),
        "mediaType": stored.media_type.mime(),
        "sizeBytes": stored.size_bytes,
        "uploadedAt": stored.uploaded_at,
        "downloadUrl": link.path,
        "expiresAt": link.expires_at,
    });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// The query of a download link.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    expires: i64,
    signature: String,
}

/// `GET /evidence/{org}/{sha256}`.
pub async fn download(
    State(state): State<AppState>,
    Path((org, sha256)): Path<(String, String)>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let refused = || fail(ApiError::Forbidden("the download link is not valid or has expired".into()));
    let (Ok(org), Ok(sha256), Some(Query(query))) = (OrgId::parse(&org), EvidenceRef::parse("sha256", &sha256), query.ok()) else {
        return refused();
    };
    let download = match state.gemba.open_evidence(org, &sha256, query.expires, &query.signature).await {
        Ok(download) => download,
        Err(error) => return fail(error),
    };
    let file = &download.file;
    let mut response = Response::new(Body::from_stream(download.body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.media_type.mime()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size_bytes));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    let disposition = format!("inline; filename=\"{}.{}\"", file.sha256.as_str(), file.media_type.extension());
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", file.sha256.as_str())) {
        headers.insert(header::ETAG, value);
    }
    response
}
