//! Parsing of input fields shared by the mutations: bad input becomes `VALIDATION`.

use gemba_domain::{LongText, Reason};

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
