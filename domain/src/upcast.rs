//! Event schema evolution: stored events keep the shape (`event_version`) they were written
//! with; [`upcast`] brings an old shape to the current one. Every read path (aggregate load,
//! projections, rebuilds, registry backfill) reads payloads through it, so the domain only
//! ever deserialises current shapes.
//!
//! Upcasters are pure functions of the stored payload, applied one version step at a time.
//!
//! | event | version | change |
//! |---|---|---|
//! | `DefectEscalated` | 2 | `level` became `to_level`, and `from_level` records the level before (an escalation may skip levels when the sweeper was down). Version 1 never recorded it: the upcaster sets it to null (unknown) rather than guess |

use serde_json::Value;

/// Why a stored event cannot be brought to the current shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event_type} version {version}: {message}")]
pub struct UpcastError {
    pub event_type: String,
    pub version: String,
    pub message: String,
}

/// The current version of `event_type`.
pub fn current_version(event_type: &str) -> &'static str {
    match event_type {
        "DefectEscalated" => "2",
        _ => "1",
    }
}

/// The payload of a stored `event_type` event written as `version`, in the current shape.
/// Payloads are externally tagged (`{"DefectEscalated": {...}}`).
pub fn upcast(event_type: &str, version: &str, payload: Value) -> Result<Value, UpcastError> {
    let error = |message: &str| UpcastError { event_type: event_type.to_owned(), version: version.to_owned(), message: message.to_owned() };
    let mut version: u32 = version.parse().map_err(|_| error("the version is not a number"))?;
    let current: u32 = current_version(event_type).parse().unwrap_or(1);
    if version > current {
        return Err(error("written by a newer release than this one"));
    }
    let mut payload = payload;
    while version < current {
        payload = match (event_type, version) {
            ("DefectEscalated", 1) => defect_escalated_v1_to_v2(payload).ok_or_else(|| error("not a version 1 DefectEscalated"))?,
            _ => return Err(error("no upcaster from this version")),
        };
        version += 1;
    }
    Ok(payload)
}

/// `{"level": n}` → `{"from_level": null, "to_level": n}`.
fn defect_escalated_v1_to_v2(mut payload: Value) -> Option<Value> {
    let body = payload.get_mut("DefectEscalated")?.as_object_mut()?;
    let level = body.remove("level")?.as_u64()?;
    body.insert("from_level".to_owned(), Value::Null);
    body.insert("to_level".to_owned(), Value::from(level));
    Some(payload)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::defect::DefectEvent;

    #[test]
    fn a_version_1_escalation_reads_as_version_2() {
        let stored = json!({"DefectEscalated": {"rule": "priority_a_unassigned", "level": 2, "escalated_at": "2026-11-01T08:00:00Z"}});
        let current = upcast("DefectEscalated", "1", stored).unwrap();
        assert_eq!(current["DefectEscalated"]["from_level"], Value::Null, "version 1 never recorded it");
        assert_eq!(current["DefectEscalated"]["to_level"], 2);
        let event: DefectEvent = serde_json::from_value(current).unwrap();
        assert!(matches!(event, DefectEvent::DefectEscalated { from_level: None, to_level: 2, .. }));
        // Without the upcaster the old shape does not read.
        let stored = json!({"DefectEscalated": {"rule": "priority_a_unassigned", "level": 2, "escalated_at": "2026-11-01T08:00:00Z"}});
        assert!(serde_json::from_value::<DefectEvent>(stored).is_err());
    }

    #[test]
    fn current_shapes_pass_unchanged_and_unknown_versions_are_refused() {
        let raised = json!({"DefectWorkStarted": null});
        assert_eq!(upcast("DefectWorkStarted", "1", raised.clone()).unwrap(), raised);
        let v2 = json!({"DefectEscalated": {"rule": "priority_a_unassigned", "from_level": 0, "to_level": 1, "escalated_at": "2026-11-01T08:00:00Z"}});
        assert_eq!(upcast("DefectEscalated", "2", v2.clone()).unwrap(), v2);
        assert!(upcast("DefectEscalated", "3", v2.clone()).is_err(), "from a newer release");
        assert!(upcast("DefectEscalated", "x", v2).is_err());
        assert!(upcast("DefectEscalated", "1", json!({"DefectEscalated": {}})).is_err(), "a malformed old event is an error, not a guess");
    }
}
