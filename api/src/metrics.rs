//! `GET /metrics`: where every projection stands for every organisation, in the Prometheus
//! text format, for operators (bearer token `GEMBA_OPERATOR_TOKEN`; without one configured
//! the endpoint does not exist).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gemba_projections::engine::Status;
use uuid::Uuid;

use crate::app::AppState;

/// A gauge: its name, its help text, and its value for a status.
type Gauge = (&'static str, &'static str, fn(&Status) -> i64);

/// The gauges, in the order they are written.
const GAUGES: [Gauge; 4] = [
    ("gemba_projection_checkpoint", "The last event (tenant_seq) the projection applied.", |s| s.checkpoint),
    ("gemba_projection_head", "The organisation's last event (tenant_seq).", |s| s.head),
    ("gemba_projection_lag", "Events of the organisation the projection has not applied yet.", Status::lag),
    ("gemba_projection_failed", "1 when the projection is stopped at an event it cannot apply.", |s| i64::from(s.failed_seq.is_some())),
];

/// Whether `given` equals `expected`, in time that depends only on `expected`'s length.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (i, byte) in expected.iter().enumerate() {
        difference |= usize::from(given.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

/// Whether the request carries the operator token: `Err` is the answer to give when not
/// (404 without a token configured, 401 with a missing or wrong one).
#[allow(clippy::result_large_err)]
pub(crate) fn operator_authorised(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(expected) = &state.operator_token else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let authorised = given.is_some_and(|given| same_secret(given.trim().as_bytes(), expected.as_bytes()));
    if authorised {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))]).into_response())
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = operator_authorised(&state, &headers) {
        return refused;
    }
    match render(&state).await {
        Ok(text) => ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text).into_response(),
        Err(error) => {
            tracing::warn!(%error, "the metrics could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable").into_response()
        }
    }
}

/// Every organisation's projection statuses as gauges.
async fn render(state: &AppState) -> Result<String, gemba_projections::engine::ProjectionError> {
    // `org_directory` is readable by every tenant and lists only ids; each status is then
    // read in its organisation's tenant transaction.
    let orgs: Vec<Uuid> = sqlx::query_scalar("select org_id from org_directory order by org_id").fetch_all(state.gemba.pool()).await?;
    let mut statuses = Vec::with_capacity(orgs.len());
    for org in orgs {
        statuses.push((org, state.projector.status(org).await?));
    }
    let mut text = String::new();
    for (name, help, value) in GAUGES {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (org, list) in &statuses {
            for status in list {
                let _ = writeln!(text, "{name}{{projection=\"{}\",org=\"{org}\"}} {}", status.projection, value(status));
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret(b"operator-token", b"operator-token"));
        assert!(!same_secret(b"operator-tokem", b"operator-token"));
        assert!(!same_secret(b"operator", b"operator-token"));
        assert!(!same_secret(b"operator-token-and-more", b"operator-token"));
        assert!(!same_secret(b"", b"operator-token"));
    }
}
