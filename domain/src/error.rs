//! Domain errors. Each variant documents the API error code it becomes.

use serde::{Deserialize, Serialize};

/// A value received at the edge does not parse (API code `VALIDATION`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{field} {message}")]
pub struct ValidationError {
    /// The input field, in the API's camelCase.
    pub field: String,
    /// What is wrong with it, safe to show to the client.
    pub message: String,
}

impl ValidationError {
    /// Builds a validation error for `field`.
    pub fn new(field: &str, message: &str) -> Self {
        Self { field: field.to_owned(), message: message.to_owned() }
    }
}

/// Why an aggregate refused a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Input is malformed or missing (API code `VALIDATION`).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The actor's role or relation to the record does not allow it (API code `FORBIDDEN`).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The record does not exist (API code `NOT_FOUND`).
    #[error("not found")]
    NotFound,
    /// The record's current state does not allow it (API code `CONFLICT`).
    #[error("{0}")]
    Rule(&'static str),
    /// The record is deleted: only its recovery is accepted (API code `DELETED`).
    #[error("the record is deleted; recover it first")]
    Deleted,
    /// The recovery window (deleted record) or grace period (cancelled workspace) has ended
    /// (API code `RECOVERY_WINDOW_CLOSED`).
    #[error("the recovery window has ended")]
    RecoveryWindowClosed,
    /// The workspace is cancelled: nothing changes until an Owner restores it (API code
    /// `WORKSPACE_CANCELLED`).
    #[error("the workspace is cancelled; an owner can restore it")]
    WorkspaceCancelled,
}

/// Shorthand for handler results.
pub type Outcome = Result<(), DomainError>;
