//! Gemba's write side.
//!
//! - [`tenancy`]: every statement runs in a transaction that first sets `app.org_id`
//!   (transaction-local), so PostgreSQL row-level security scopes it to one organisation.
//! - [`store`]: the tenant-scoped event repository (cqrs-es `PersistedEventRepository`)
//!   with commit-ordered, gapless `tenant_seq` and a per-organisation sha256 hash chain.
//! - [`chain`]: the canonical bytes of an event and the chain verification.
//! - [`envelope`]: the metadata every event carries (who, channel, ids, reason, changes).
//! - [`crypto`]: envelope encryption of personal data (person key → org key → app key).
//! - [`registry`]: write-side tables kept in the append transaction (uniqueness, owners, auth).
//! - [`bus`]: loads an aggregate, lets it decide, appends its events idempotently.
//! - [`auth`]: passwords (argon2id), session and invitation tokens.
//! - [`service`]: the commands of the product, with the facts they need looked up.
//! - [`defects`]: the commands of abnormality tags (defects).
//! - [`sweeper`]: the system's periodic commands (escalations, missed audits, expired holds).
//! - [`evidence`]: evidence files (content-addressed store, signed expiring download links).
//! - [`members`]: members' site scope, home zone, profile and suspension.
//! - [`plant`]: areas, and zones' areas, headcounts and audit plans.
//! - [`red_tags`]: the commands of red-tagged items (5S Sort).
//! - [`deletions`], [`workspace`]: soft deletion with a recovery window; workspace
//!   cancellation, restore and purge.
//! - [`signing`], [`checkpoint`], [`export`], [`exports`]: the deployment's signing key, signed
//!   chain checkpoints, the export file and its offline verifier, the export commands.
//! - [`retention`]: disposal of events past the retention (snapshots, anchor, `RecordsDisposed`).
//!
//! Architecture invariant: this crate knows no HTTP or GraphQL; errors leave it typed
//! ([`CommandError`]) and are mapped to API codes once, in `gemba-api`.

pub mod advisor;
pub mod auth;
pub mod bus;
pub mod chain;
pub mod checkpoint;
pub mod crypto;
pub mod defects;
pub mod deletions;
pub mod envelope;
pub mod error;
pub mod evidence;
pub mod export;
pub mod exports;
pub mod facts;
pub mod five_s;
pub mod improvement;
pub mod members;
pub mod plant;
pub mod points;
pub mod recognition;
pub mod red_tags;
pub mod registry;
pub mod retention;
pub mod service;
pub mod signing;
pub mod store;
pub mod sweeper;
pub mod tenancy;
pub mod workspace;

pub use error::CommandError;

/// The SQL migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
