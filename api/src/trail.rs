//! Rendering of event envelopes for people: the audit trail (GraphQL) and exports share it.
//! Sealed values (actor names, personal fields) are opened with one key look-up per batch,
//! erased ones shown as erased, e-mail addresses and employee numbers to Owners and Admins
//! only.

use gemba_commands::crypto::Keyring;
use gemba_commands::envelope::Envelope;
use gemba_domain::{OrgId, Role, Sealed};
use serde::Deserialize as _;
use serde_json::Value;
use uuid::Uuid;

use crate::graphql::errors::ApiError;
use crate::graphql::types::ERASED;

/// Shown instead of personal data the reader may not see.
pub const REDACTED: &str = "[redacted]";

/// Whether a field (or a change's path) holds contact or employment data that only Owners
/// and Admins see: e-mail addresses and employee numbers. The audit trail, the event
/// exports and the data exports all redact by this one list.
pub fn is_confidential(field: &str) -> bool {
    matches!(field, "email" | "emailAddress" | "employeeNumber" | "employee_number")
}

/// Who reads the rendering.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    /// The organisation of the events.
    pub org: OrgId,
    /// Owners and Admins (and operators at the command line) see e-mail addresses and
    /// employee numbers ([`is_confidential`]).
    pub sees_emails: bool,
}

impl Viewer {
    /// A member of `org` in `role`.
    pub fn member(org: OrgId, role: Role) -> Self {
        Self { org, sees_emails: matches!(role, Role::Owner | Role::Admin) }
    }
}

/// One change, with personal values opened.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedChange {
    pub path: String,
    /// `None` when the value did not exist.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An envelope as a person reads it.
#[derive(Clone, Debug)]
pub struct RenderedEnvelope {
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub actor_role: Option<Role>,
    pub changes: Vec<RenderedChange>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    pub channel: Option<String>,
    pub signature_meaning: Option<String>,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
}

pub(crate) fn sealed_value(value: &Value) -> Option<Sealed> {
    match value {
        Value::Object(map) if map.len() == 2 && map.contains_key("key") && map.contains_key("ct") => {
            serde_json::from_value(value.clone()).ok()
        }
        _ => None,
    }
}

fn wire(value: impl serde::Serialize) -> Option<String> {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned))
}

/// Renders the envelopes (`metadata`) of events of `viewer.org`, in order. `conn` must be in
/// a tenant transaction for that organisation.
pub async fn render_envelopes(
    keyring: &Keyring,
    conn: &mut sqlx::PgConnection,
    viewer: Viewer,
    metadata: &[&Value],
) -> Result<Vec<RenderedEnvelope>, ApiError> {
    let envelopes: Vec<Envelope> = metadata
        .iter()
        .map(|m| Envelope::deserialize(*m).map_err(|e| ApiError::internal(format!("event envelope: {e}"))))
        .collect::<Result<_, _>>()?;

    let mut sealed: Vec<Sealed> = Vec::new();
    for envelope in &envelopes {
        sealed.extend(envelope.actor.display_name.clone());
        for change in &envelope.changes {
            sealed.extend(sealed_value(&change.before));
            sealed.extend(sealed_value(&change.after));
        }
    }
    let refs: Vec<&Sealed> = sealed.iter().collect();
    let opened = keyring.open_all(conn, viewer.org, &refs).await.map_err(ApiError::internal)?;
    let mut opened = opened.into_iter();
    let mut open = |path: &str, value: &Value| -> Option<Value> {
        match sealed_value(value) {
            Some(_) => {
                let plain = opened.next().flatten().unwrap_or_else(|| ERASED.into());
                let shown = if is_confidential(path) && !viewer.sees_emails { REDACTED.to_owned() } else { plain };
                Some(Value::String(shown))
            }
            None if value.is_null() => None,
            None => Some(value.clone()),
        }
    };
    Ok(envelopes
        .into_iter()
        .map(|envelope| {
            // The display name is sealed: it was pushed first for this envelope.
            let actor_name = envelope
                .actor
                .display_name
                .as_ref()
                .and_then(|name| open("displayName", &serde_json::to_value(name).unwrap_or_default()))
                .and_then(|v| v.as_str().map(str::to_owned));
            RenderedEnvelope {
                actor_id: envelope.actor.member_id.map(|m| m.to_string()),
                actor_name,
                actor_role: envelope.actor.role,
                changes: envelope
                    .changes
                    .iter()
                    .map(|c| RenderedChange { path: c.path.clone(), before: open(&c.path, &c.before), after: open(&c.path, &c.after) })
                    .collect(),
                reason: envelope.reason.as_ref().map(|r| r.text.clone()),
                reason_code: envelope.reason.as_ref().and_then(|r| wire(r.code)),
                channel: wire(envelope.channel),
                signature_meaning: envelope.signature.and_then(wire),
                command_id: envelope.command_id,
                correlation_id: envelope.correlation_id,
            }
        })
        .collect())
}
