//! Finding, migrating and checking the database.

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

use crate::embedded::{APP_ROLE, DATABASE, Embedded, EmbeddedError, PROJECTOR_ROLE};

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// Connecting or querying failed.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The embedded server failed.
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    /// The service's role could break tenant isolation.
    #[error("refusing to start: {0}")]
    UnsafeRole(String),
}

/// Creates the roles the migrations grant to, when missing (needs CREATEROLE), then
/// applies the migrations. Run as the role that is to own the schema.
pub async fn migrate(pool: &PgPool) -> Result<(), DatabaseError> {
    for role in [APP_ROLE, PROJECTOR_ROLE] {
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_roles where rolname = $1)").bind(role).fetch_one(pool).await?;
        if !exists {
            let created = sqlx::query(&format!("create role {role} nologin nosuperuser nobypassrls")).execute(pool).await;
            match created {
                Ok(_) => {}
                // Another migrator created it meanwhile (duplicate_object / unique_violation).
                Err(e) if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42710" || c == "23505") => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    gemba_commands::MIGRATOR.run(pool).await?;
    Ok(())
}

/// Refuses a service role that could bypass row-level security: a superuser, a role with
/// BYPASSRLS (or one that can become such a role), or one that owns (or can become the
/// owner of) a tenant table; and refuses a schema where a tenant table (any table with an
/// `org_id` column) does not have row-level security enabled and forced (its shadow in schema `rebuild` included).
pub async fn check_app_role(pool: &PgPool) -> Result<(), DatabaseError> {
    let role: String = sqlx::query_scalar("select current_user::text").fetch_one(pool).await?;
    let privileged: Option<String> = sqlx::query_scalar(
        "select rolname::text from pg_roles
          where (rolsuper or rolbypassrls) and pg_has_role(current_user, oid, 'MEMBER')
          limit 1",
    )
    .fetch_optional(pool)
    .await?;
    if let Some(privileged) = privileged {
        return Err(DatabaseError::UnsafeRole(format!(
            "the database role `{role}` is (or can become) `{privileged}`, a superuser or BYPASSRLS role, so row-level \
             security would not isolate tenants; connect as the application role ({APP_ROLE})"
        )));
    }
    let tenant_tables = "from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped
         where n.nspname in (current_schema(), 'rebuild') and c.relkind in ('r', 'p')";
    let owned: Option<String> =
        sqlx::query_scalar(&format!("select c.relname::text {tenant_tables} and pg_has_role(current_user, c.relowner, 'MEMBER') limit 1"))
            .fetch_optional(pool)
            .await?;
    if let Some(table) = owned {
        return Err(DatabaseError::UnsafeRole(format!(
            "the database role `{role}` owns (or can act as the owner of) the tenant table `{table}`; \
             table owners can switch row-level security off. Connect as the application role ({APP_ROLE})"
        )));
    }
    let unprotected: Option<String> =
        sqlx::query_scalar(&format!("select c.relname::text {tenant_tables} and not (c.relrowsecurity and c.relforcerowsecurity) limit 1"))
            .fetch_optional(pool)
            .await?;
    if let Some(table) = unprotected {
        return Err(DatabaseError::UnsafeRole(format!(
            "the tenant table `{table}` does not have row-level security enabled and forced; run the migrations"
        )));
    }
    Ok(())
}

/// Where the database is.
#[derive(Clone, Debug, Default)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: the application role's connection. None: the embedded server.
    pub database_url: Option<String>,
    /// `GEMBA_MIGRATION_DATABASE_URL`: the owner role's connection, to migrate on start.
    pub migration_url: Option<String>,
    /// `GEMBA_DATA_DIR`: where the embedded server and the app key live.
    pub data_dir: std::path::PathBuf,
    /// Pool size.
    pub max_connections: u32,
}

/// The service's database: a pool of the application role.
#[derive(Debug)]
pub struct Database {
    /// The pool (application role).
    pub pool: PgPool,
    /// The embedded server, when no `DATABASE_URL` was given.
    pub embedded: Option<Embedded>,
}

impl Database {
    /// Opens the database the same way for every subcommand: `DATABASE_URL`, else the
    /// embedded server in the data folder (started if needed). Migrates when it can and
    /// checks that the service role cannot bypass row-level security.
    pub async fn open(config: &DatabaseConfig) -> Result<Self, DatabaseError> {
        let (pool, embedded) = match &config.database_url {
            Some(url) => {
                if let Some(owner_url) = &config.migration_url {
                    let owner = PgPoolOptions::new().max_connections(1).connect(owner_url).await?;
                    migrate(&owner).await?;
                    owner.close().await;
                }
                // One direct attempt first, so an unreachable server fails at once with its
                // own error instead of after the pool's acquire timeout.
                sqlx::PgConnection::connect(url).await?.close().await?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                (pool, None)
            }
            None => {
                let embedded = Embedded::start(&config.data_dir.join("postgres")).await?;
                embedded.migrate(DATABASE).await?;
                let pool = embedded.app_pool(DATABASE, config.max_connections).await?;
                (pool, Some(embedded))
            }
        };
        check_app_role(&pool).await?;
        Ok(Self { pool, embedded })
    }

    /// Closes the pool and stops the embedded server if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(embedded) = self.embedded
            && let Err(error) = embedded.stop()
        {
            tracing::warn!(%error, "stopping the embedded PostgreSQL failed");
        }
    }
}

/// Reads the application key from `GEMBA_APP_KEY`, else `<data-dir>/app.key`, creating
/// that file (mode 0600) on first use.
pub fn app_key(configured: Option<&str>, data_dir: &Path) -> Result<gemba_commands::crypto::Keyring, String> {
    use std::os::unix::fs::PermissionsExt;
    let text = match configured {
        Some(text) => text.to_owned(),
        None => {
            let path = data_dir.join("app.key");
            match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(data_dir).map_err(|e| format!("creating {}: {e}", data_dir.display()))?;
                    let key = gemba_commands::crypto::Keyring::generate_base64();
                    std::fs::write(&path, &key).map_err(|e| format!("writing {}: {e}", path.display()))?;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| format!("protecting {}: {e}", path.display()))?;
                    tracing::info!(path = %path.display(), "generated a new application key");
                    key
                }
                Err(e) => return Err(format!("reading {}: {e}", path.display())),
            }
        }
    };
    gemba_commands::crypto::Keyring::from_base64(&text).map_err(|e| e.to_string())
}

/// Reads the deployment's Ed25519 signing key (32-byte seed, base64) from
/// `GEMBA_SIGNING_KEY`, else `<data-dir>/signing.key`, creating that file (mode 0600) on
/// first use. It signs chain checkpoints and export manifests.
pub fn signing_key(configured: Option<&str>, data_dir: &Path) -> Result<gemba_commands::signing::Signer, String> {
    use gemba_commands::signing::Signer;
    use std::os::unix::fs::PermissionsExt;
    let text = match configured {
        Some(text) => text.to_owned(),
        None => {
            let path = data_dir.join("signing.key");
            match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(data_dir).map_err(|e| format!("creating {}: {e}", data_dir.display()))?;
                    let key = Signer::generate_base64();
                    std::fs::write(&path, &key).map_err(|e| format!("writing {}: {e}", path.display()))?;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| format!("protecting {}: {e}", path.display()))?;
                    tracing::info!(path = %path.display(), "generated a new signing key");
                    key
                }
                Err(e) => return Err(format!("reading {}: {e}", path.display())),
            }
        }
    };
    Signer::from_base64(&text).map_err(|e| e.to_string())
}
