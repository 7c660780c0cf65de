//! Gemba's read side.
//!
//! For the first slice the reads are simple: the write-side registry tables (kept in the
//! append transaction) and the event stream itself (per-entity history). The projector
//! engine with checkpoints, KPIs and roll-ups builds on this (issue 4).
//!
//! Architecture invariant: queries take a connection that is already inside a tenant
//! transaction; they still name `org_id` explicitly (for the indexes), and row-level
//! security guarantees they can never see another organisation's rows.

pub mod history;
pub mod registry;
