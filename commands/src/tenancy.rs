//! Tenant-scoped transactions.

use gemba_domain::OrgId;
use sqlx::{PgPool, Postgres, Transaction};

/// Begins a transaction whose first statement sets the organisation for row-level
/// security. The setting is transaction-local (`set_config(.., true)`), so a pooled
/// connection never carries one tenant's context into another's work.
pub async fn begin_tenant(pool: &PgPool, org: OrgId) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("select set_config('app.org_id', $1, true)").bind(org.to_string()).execute(&mut *tx).await?;
    Ok(tx)
}

/// The SQLSTATE and constraint name of a database error, for classifying it without
/// looking at message text.
pub fn constraint_violation(error: &sqlx::Error) -> Option<(String, String)> {
    let db = error.as_database_error()?;
    Some((db.code()?.into_owned(), db.constraint().unwrap_or_default().to_owned()))
}
