//! The envelope (metadata) every event carries: SPEC §3.2.

use gemba_domain::{Actor, Change, MemberId, OrgId, Reason, Role, Sealed, SignatureMeaning};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Through which channel a command arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A dashboard session.
    Web,
    /// An API key.
    Api,
    /// The `gemba` command line.
    Cli,
    /// The platform itself (policies, sign-up bootstrap).
    System,
}

/// Who issued a command, as recorded in its events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorRecord {
    /// The member; `None` for the system.
    pub member_id: Option<MemberId>,
    /// The member's role at the time.
    pub role: Option<Role>,
    /// The member's display name at the time, sealed with the member's key.
    pub display_name: Option<Sealed>,
}

/// The context of one command: who, through what, and its ids.
#[derive(Clone, Debug)]
pub struct CommandContext {
    /// The organisation the command acts in.
    pub org: OrgId,
    /// The acting member, when a member acts.
    pub actor: Option<Actor>,
    /// The acting member's display name at the time (sealed).
    pub actor_name: Option<Sealed>,
    /// The member the actor acts for, if any.
    pub on_behalf_of: Option<MemberId>,
    /// Through which channel.
    pub channel: Channel,
    /// The HTTP request (or CLI run) id.
    pub request_id: Uuid,
    /// Ties together everything one user action caused.
    pub correlation_id: Uuid,
    /// The idempotency key: a retried command with the same id is a no-op.
    pub command_id: Uuid,
}

impl CommandContext {
    /// A context for `actor` in `org`, with fresh ids.
    pub fn new(org: OrgId, actor: Option<Actor>, channel: Channel) -> Self {
        let id = Uuid::now_v7();
        Self { org, actor, actor_name: None, on_behalf_of: None, channel, request_id: id, correlation_id: id, command_id: Uuid::now_v7() }
    }

    /// The actor, or a `FORBIDDEN` error when nobody is signed in.
    pub fn require_actor(&self) -> Result<Actor, gemba_domain::DomainError> {
        self.actor.ok_or(gemba_domain::DomainError::Forbidden("sign in first"))
    }

    /// The envelope for one event of this command.
    pub fn envelope(&self, changes: Vec<Change>, reason: Option<Reason>, signature: Option<SignatureMeaning>) -> Envelope {
        Envelope {
            actor: ActorRecord {
                member_id: self.actor.map(|a| a.member_id),
                role: self.actor.map(|a| a.role),
                display_name: self.actor_name.clone(),
            },
            on_behalf_of: self.on_behalf_of,
            channel: self.channel,
            request_id: self.request_id,
            correlation_id: self.correlation_id,
            causation_id: self.command_id,
            command_id: self.command_id,
            reason,
            signature,
            changes,
        }
    }
}

/// The metadata stored with every event. The server time is the event's `recorded_at`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Who.
    pub actor: ActorRecord,
    /// For whom, when someone acts on another's behalf.
    pub on_behalf_of: Option<MemberId>,
    /// Through what.
    pub channel: Channel,
    /// The request that carried the command.
    pub request_id: Uuid,
    /// The user action this belongs to.
    pub correlation_id: Uuid,
    /// What caused this event: the command id (or an event id, for policies).
    pub causation_id: Uuid,
    /// The command's idempotency key.
    pub command_id: Uuid,
    /// Why, where given or required.
    pub reason: Option<Reason>,
    /// For signed acts, what the actor's signature means (the signer is `actor`, the time
    /// the event's `recorded_at`). Absent from events that are not signed acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureMeaning>,
    /// What changed: before and after per field.
    pub changes: Vec<Change>,
}
