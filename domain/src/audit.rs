//! What every event says about itself for the audit log.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::values::Reason;

/// One field changed by an event: creation has `before = null`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Dotted path of the field in the entity, e.g. `name` or `owner.memberId`.
    pub path: String,
    /// Value before the event, `null` when the field did not exist.
    pub before: Value,
    /// Value after the event, `null` when the field was removed.
    pub after: Value,
}

impl Change {
    /// A change from `before` to `after`, both serialised to JSON.
    pub fn new(path: &str, before: impl Serialize, after: impl Serialize) -> Self {
        Self {
            path: path.to_owned(),
            before: serde_json::to_value(before).unwrap_or(Value::Null),
            after: serde_json::to_value(after).unwrap_or(Value::Null),
        }
    }

    /// A field set on creation.
    pub fn created(path: &str, after: impl Serialize) -> Self {
        Self::new(path, Value::Null, after)
    }
}

/// Implemented by every event enum: the before/after and the reason the envelope records.
pub trait Audited {
    /// The fields this event changes; empty only for events that change no state.
    fn changes(&self) -> Vec<Change>;
    /// The reason carried by the event, where one was given or required.
    fn reason(&self) -> Option<&Reason>;
}
