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

/// What a person's act means when an event records it as a signature (21 CFR 11.50):
/// the envelope names the signer (actor), the time (recorded_at) and this meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMeaning {
    /// "I wrote this": an audit submitted, a kaizen submitted, a score corrected.
    Authored,
    /// "I approve this": a kaizen approved, an A3 plan approved, an A3 case closed.
    Approved,
    /// "I reviewed this": an A3 effect check confirmed.
    Reviewed,
    /// "I am responsible for these figures": a kaizen's actual impact submitted.
    Responsible,
    /// "I verified this": a defect verified, kaizen savings verified or adjusted.
    Verified,
}

/// Implemented by every event enum: the before/after and the reason the envelope records.
pub trait Audited {
    /// The fields this event changes; empty only for events that change no state.
    fn changes(&self) -> Vec<Change>;
    /// The reason carried by the event, where one was given or required.
    fn reason(&self) -> Option<&Reason>;
    /// The meaning of the actor's signature, for events that are signed acts.
    fn signature(&self) -> Option<SignatureMeaning> {
        None
    }
}
