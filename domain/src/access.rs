//! The Access aggregate: one stream per session or sign-in attempt, so that sign-ins,
//! failed sign-ins and sign-outs are part of the audit log (SPEC §2) without contending
//! with the member's own stream.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome};
use crate::ids::MemberId;
use crate::values::{Reason, Role};

/// Where a session stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionStatus {
    /// Nothing recorded yet.
    #[default]
    None,
    /// Signed in.
    Active,
    /// Signed out.
    Ended,
    /// A refused attempt.
    Refused,
}

/// State of a session stream.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Access {
    member: Option<MemberId>,
    status: SessionStatus,
}

/// Commands on a session stream.
#[derive(Clone, Debug)]
pub enum AccessCommand {
    /// A member signed in with valid credentials.
    SignIn { member: MemberId, role: Role },
    /// An attempt was refused; `member` is set when the e-mail address named one.
    RefuseSignIn { member: Option<MemberId> },
    /// The session was ended by its member.
    SignOut,
}

/// Events of a session stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AccessEvent {
    /// A session started.
    MemberSignedIn { member_id: MemberId, role: Role },
    /// A sign-in attempt was refused.
    SignInRefused { member_id: Option<MemberId> },
    /// A session ended.
    MemberSignedOut { member_id: MemberId },
}

impl DomainEvent for AccessEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MemberSignedIn { .. } => "MemberSignedIn",
            Self::SignInRefused { .. } => "SignInRefused",
            Self::MemberSignedOut { .. } => "MemberSignedOut",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for AccessEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::MemberSignedIn { .. } => vec![Change::created("session", SessionStatus::Active)],
            Self::SignInRefused { .. } => vec![Change::created("attempt", SessionStatus::Refused)],
            Self::MemberSignedOut { .. } => vec![Change::new("session", SessionStatus::Active, SessionStatus::Ended)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        None
    }
}

impl Aggregate for Access {
    const TYPE: &'static str = "Access";
    type Command = AccessCommand;
    type Event = AccessEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match (command, self.status) {
            (AccessCommand::SignIn { member, role }, SessionStatus::None) => {
                sink.write(AccessEvent::MemberSignedIn { member_id: member, role }, self).await;
            }
            (AccessCommand::RefuseSignIn { member }, SessionStatus::None) => {
                sink.write(AccessEvent::SignInRefused { member_id: member }, self).await;
            }
            (AccessCommand::SignOut, SessionStatus::Active) => {
                let member_id = self.member.ok_or(DomainError::NotFound)?;
                sink.write(AccessEvent::MemberSignedOut { member_id }, self).await;
            }
            (AccessCommand::SignOut, _) => return Err(DomainError::Rule("the session is not active")),
            (_, _) => return Err(DomainError::Rule("the session was already recorded")),
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccessEvent::MemberSignedIn { member_id, .. } => {
                self.member = Some(member_id);
                self.status = SessionStatus::Active;
            }
            AccessEvent::SignInRefused { member_id } => {
                self.member = member_id;
                self.status = SessionStatus::Refused;
            }
            AccessEvent::MemberSignedOut { .. } => self.status = SessionStatus::Ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Access>;
    const ANN: MemberId = MemberId(Uuid::from_u128(1));

    fn signed_in() -> AccessEvent {
        AccessEvent::MemberSignedIn { member_id: ANN, role: Role::Admin }
    }

    #[test]
    fn a_sign_in_starts_a_session() {
        Given::with(())
            .given_no_previous_events()
            .when(AccessCommand::SignIn { member: ANN, role: Role::Admin })
            .then_expect_events(vec![signed_in()]);
    }

    #[test]
    fn a_refused_attempt_is_recorded_with_the_member_it_named() {
        Given::with(())
            .given_no_previous_events()
            .when(AccessCommand::RefuseSignIn { member: Some(ANN) })
            .then_expect_events(vec![AccessEvent::SignInRefused { member_id: Some(ANN) }]);
    }

    #[test]
    fn a_session_ends_once() {
        Given::with(())
            .given(vec![signed_in()])
            .when(AccessCommand::SignOut)
            .then_expect_events(vec![AccessEvent::MemberSignedOut { member_id: ANN }]);
        Given::with(())
            .given(vec![signed_in(), AccessEvent::MemberSignedOut { member_id: ANN }])
            .when(AccessCommand::SignOut)
            .then_expect_error(DomainError::Rule("the session is not active"));
    }

    #[test]
    fn a_session_stream_records_one_sign_in() {
        Given::with(())
            .given(vec![signed_in()])
            .when(AccessCommand::SignIn { member: ANN, role: Role::Admin })
            .then_expect_error(DomainError::Rule("the session was already recorded"));
    }

    #[test]
    fn a_refused_attempt_cannot_be_signed_out() {
        Given::with(())
            .given(vec![AccessEvent::SignInRefused { member_id: None }])
            .when(AccessCommand::SignOut)
            .then_expect_error(DomainError::Rule("the session is not active"));
    }
}
