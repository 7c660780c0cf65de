//! Tenant-scoped transactions.

use gemba_domain::OrgId;
use sqlx::{PgPool, Postgres, Transaction};

/// Begins a transaction whose first statement sets the organisation for row-level
/// security. The setting is transaction-local (`set_config(.., true)`), so a pooled
/// connection never carries one tenant's context into another's work.
///
/// `BEGIN` and `set_config` travel in one round trip. Formatting the id into the SQL is
/// safe: an `OrgId` is a UUID and prints only hex digits and hyphens.
pub async fn begin_tenant(pool: &PgPool, org: OrgId) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with(format!("begin; select set_config('app.org_id', '{}', true)", org.uuid().hyphenated())).await
}

/// Begins a read-only, repeatable-read tenant transaction: every statement in it reads the
/// same snapshot (exports of many tables stay consistent with each other).
pub async fn begin_tenant_snapshot(pool: &PgPool, org: OrgId) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with(format!(
        "begin isolation level repeatable read read only; select set_config('app.org_id', '{}', true)",
        org.uuid().hyphenated()
    ))
    .await
}

/// The SQLSTATE and constraint name of a database error, for classifying it without
/// looking at message text.
pub fn constraint_violation(error: &sqlx::Error) -> Option<(String, String)> {
    let db = error.as_database_error()?;
    Some((db.code()?.into_owned(), db.constraint().unwrap_or_default().to_owned()))
}
