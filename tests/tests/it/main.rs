//! The integration suite: one binary driving the real server and CLI against a private
//! PostgreSQL (one cluster per run, one database per test).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod audit_trail;
mod auth;
mod cli;
mod concurrency;
mod database;
mod defects;
mod deletion;
mod evidence;
mod export;
mod five_s;
mod folds;
mod gdpr;
mod idempotency;
mod improvement;
mod plant;
mod plant_story;
mod points;
mod projections;
mod read_models;
mod rebuild;
mod red_tags;
mod retention;
mod schema;
mod subscriptions;
mod sweeper;
mod tenancy;
mod upcasting;
mod validation;
mod verify;
