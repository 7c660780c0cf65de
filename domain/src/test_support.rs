//! Helpers shared by the aggregates' tests.

use crate::actor::Actor;
use crate::ids::MemberId;
use crate::values::{LongText, Role};

/// A member acting in the Member role.
pub fn member(id: MemberId) -> Actor {
    Actor { member_id: id, role: Role::Member }
}

/// A long text that is known to be valid.
pub fn text(t: &str) -> LongText {
    LongText::parse("text", t).unwrap_or_else(|e| panic!("{e}"))
}
