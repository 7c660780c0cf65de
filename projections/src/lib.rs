//! Gemba's read side.
//!
//! - [`engine`]: the projector engine: checkpointed, exactly-once projection of each
//!   organisation's events into read models, woken by LISTEN/NOTIFY with a polling fallback.
//! - [`defect_register`], [`five_s_scores`], [`kaizen_register`] (with the savings ledger)
//!   and [`a3_register`]: read models (reference/domain.md §5), each a pure fold applied a
//!   batch at a time (`fold`: the skeleton they share).
//! - [`rebuild`]: zero-downtime rebuilds into shadow tables, swapped in per organisation.
//! - [`leaderboard`]: members and zones ranked by live points in a window.
//! - [`scope_kpis`]: the plant roll-up of one scope and period, in the sites' time zones
//!   ([`period`]).
//! - [`registry`] and [`history`]: reads of the write-side registry tables and of the event
//!   stream itself (per-entity history).
//!
//! Architecture invariant: queries take a connection that is already inside a tenant
//! transaction; they still name `org_id` explicitly (for the indexes), and row-level
//! security guarantees they can never see another organisation's rows.

pub mod a3_register;
pub mod defect_register;
pub mod engine;
pub mod five_s_scores;
mod fold;
pub mod history;
pub mod kaizen_register;
pub mod leaderboard;
pub mod period;
pub mod rebuild;
pub mod registry;
pub mod scope_kpis;
