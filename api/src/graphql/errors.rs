//! The one place where errors become API errors with a stable `extensions.code`.

use async_graphql::ErrorExtensions;
use gemba_commands::CommandError;
use gemba_domain::{DomainError, ValidationError};

/// An error as the client sees it. The message is safe to show; internals are logged.
/// (Deliberately not `Display`: async-graphql turns any `Display` type into an error with
/// its text, and that must never happen to a database error by accident.)
#[derive(Clone, Debug)]
pub enum ApiError {
    /// `UNAUTHENTICATED`: no valid session or credentials.
    Unauthenticated,
    /// `FORBIDDEN`: the actor may not do this.
    Forbidden(String),
    /// `NOT_FOUND`: no such record in this organisation.
    NotFound,
    /// `VALIDATION`: the input is malformed.
    Validation { field: String, message: String },
    /// `CONFLICT`: the record's state or a uniqueness rule does not allow it.
    Conflict(String),
    /// `RATE_LIMITED`: too many attempts; try later.
    RateLimited,
    /// `DELETED`: the record is deleted; only its recovery is accepted.
    Deleted,
    /// `RECOVERY_WINDOW_CLOSED`: a deleted record's recovery window, or a cancelled
    /// workspace's grace period, has ended.
    RecoveryWindowClosed,
    /// `WORKSPACE_CANCELLED`: the workspace is cancelled; only an Owner reads it or restores it.
    WorkspaceCancelled,
    /// `LEGAL_HOLD`: a legal hold forbids it (disposal of records).
    LegalHold,
    /// `INTERNAL`: our fault; details are in the log.
    Internal,
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Validation { .. } => "VALIDATION",
            Self::Conflict(_) => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::Deleted => "DELETED",
            Self::RecoveryWindowClosed => "RECOVERY_WINDOW_CLOSED",
            Self::WorkspaceCancelled => "WORKSPACE_CANCELLED",
            Self::LegalHold => "LEGAL_HOLD",
            Self::Internal => "INTERNAL",
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated => "not authenticated".into(),
            Self::Forbidden(why) | Self::Conflict(why) => why.clone(),
            Self::NotFound => "not found".into(),
            Self::Validation { field, message } => format!("{field} {message}"),
            Self::RateLimited => "too many attempts; try again later".into(),
            Self::Deleted => DomainError::Deleted.to_string(),
            Self::RecoveryWindowClosed => DomainError::RecoveryWindowClosed.to_string(),
            Self::WorkspaceCancelled => DomainError::WorkspaceCancelled.to_string(),
            Self::LegalHold => "a legal hold is in place: nothing is disposed of".into(),
            Self::Internal => "internal error".into(),
        }
    }

    /// The HTTP status of this error on the plain HTTP endpoints (exports, evidence files).
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::Conflict(_) | Self::Deleted | Self::RecoveryWindowClosed | Self::LegalHold => StatusCode::CONFLICT,
            Self::WorkspaceCancelled => StatusCode::LOCKED,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs an internal failure once, here, and hides it from the client.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::Internal
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code());
            if let Self::Validation { field, .. } = self {
                e.set("field", field.as_str());
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        error.extend()
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::Validation { field: error.field, message: error.message }
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid(e) => e.into(),
            DomainError::Forbidden(why) => Self::Forbidden(why.to_owned()),
            DomainError::NotFound => Self::NotFound,
            DomainError::Rule(why) => Self::Conflict(why.to_owned()),
            DomainError::Deleted => Self::Deleted,
            DomainError::RecoveryWindowClosed => Self::RecoveryWindowClosed,
            DomainError::WorkspaceCancelled => Self::WorkspaceCancelled,
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Domain(e) => e.into(),
            CommandError::Conflict(why) => Self::Conflict(why.to_owned()),
            CommandError::Unauthenticated => Self::Unauthenticated,
            CommandError::RateLimited => Self::RateLimited,
            CommandError::LegalHold => Self::LegalHold,
            CommandError::ProjectionsBehind(names) => {
                Self::Conflict(format!("projections have not yet applied the events to dispose of: {names}"))
            }
            CommandError::Database(e) => Self::internal(e),
            CommandError::Internal(e) => Self::internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}

impl From<gemba_commands::crypto::CryptoError> for ApiError {
    fn from(error: gemba_commands::crypto::CryptoError) -> Self {
        Self::internal(error)
    }
}

/// Result of a resolver.
pub type ApiResult<T> = Result<T, ApiError>;
