//! Gemba's domain: aggregates, commands, events and value objects.
//!
//! Architecture invariant: this crate knows no database, HTTP, GraphQL, clock or
//! randomness. Everything a command handler needs to decide is in the command
//! (ids, timestamps and looked-up facts are put there by the write side), so
//! `handle` decides and `apply` only evolves state.
//!
//! Every event implements [`Audited`]: it states the `changes` it makes
//! (`path`, `before`, `after`) and the reason it carries, so the event stream
//! can be rendered as a who/what/when/before/after audit log.

pub mod a3;
pub mod access;
pub mod actor;
pub mod area;
pub mod audit;
pub mod defect;
pub mod deletion;
pub mod error;
pub mod evidence;
pub mod export;
pub mod five_s;
pub mod five_s_audit;
pub mod ids;
pub mod kaizen;
pub mod member;
pub mod organization;
pub mod points;
pub mod points_rules;
pub mod red_tag;
pub mod retention;
pub mod site;
#[cfg(test)]
mod test_support;
pub mod upcast;
pub mod values;
pub mod workspace;
pub mod zone;

pub use actor::Actor;
pub use audit::{Audited, Change, SignatureMeaning};
pub use error::{DomainError, ValidationError};
pub use ids::{A3Id, AreaId, KaizenId, RedTagId};
pub use ids::{AccountId, AuditId, DefectId, InvitationId, MemberId, OrgId, SiteId, TemplateId, ZoneId};
pub use values::{Code, DisplayName, Email, EvidenceRef, LongText, Name, Reason, ReasonCode, Role, Sealed, Timezone, wire_name};
