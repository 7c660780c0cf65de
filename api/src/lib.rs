//! The `gemba` binary's library: HTTP/GraphQL server, CLI, embedded PostgreSQL.
//!
//! Architecture invariant: this is the only crate that knows HTTP and GraphQL. It maps
//! typed errors to API codes once (`graphql::errors`), and it never talks to the database
//! as a role that can bypass row-level security (`database::check_app_role`).

pub mod app;
pub mod cli;
pub mod data_export;
pub mod database;
pub mod embedded;
pub mod evidence;
pub mod export;
pub mod export_cli;
pub mod graphql;
pub mod metrics;
pub mod operator;
pub mod rate_limit;
pub mod rebuilds;
pub mod trail;
pub mod websocket;
