//! Parsing of input fields shared by the mutations: bad input becomes `VALIDATION`.

use async_graphql::Context;
use gemba_domain::{EvidenceRef, LongText, Reason};

use super::context::{principal, services};
use super::errors::ApiResult;
use super::types::ReasonCode;

/// A reason with its code (`OTHER` when none is given).
pub fn reason(code: Option<ReasonCode>, text: &str) -> ApiResult<Reason> {
    Ok(Reason::parse(code.unwrap_or(ReasonCode::Other).into(), text)?)
}

/// An optional reason.
pub fn optional_reason(code: Option<ReasonCode>, text: Option<&str>) -> ApiResult<Option<Reason>> {
    text.map(|t| reason(code, t)).transpose()
}

/// A long free text.
pub fn long_text(field: &str, text: &str) -> ApiResult<LongText> {
    Ok(LongText::parse(field, text)?)
}

/// An optional long free text.
pub fn optional_long_text(field: &str, text: Option<&str>) -> ApiResult<Option<LongText>> {
    text.map(|t| long_text(field, t)).transpose()
}

/// Refuses evidence files that were not uploaded (`POST /evidence`) to the caller's
/// organisation: an event never references bytes its organisation cannot download.
pub async fn require_uploaded(ctx: &Context<'_>, field: &str, files: &[EvidenceRef]) -> ApiResult<()> {
    let p = principal(ctx)?;
    Ok(services(ctx)?.gemba.require_evidence(p.org, field, files).await?)
}
