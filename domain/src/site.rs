//! The Site aggregate: a plant. Site codes are unique per organisation (enforced by the
//! write side's registry in the same transaction as the append).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome};
use crate::ids::SiteId;
use crate::values::{Code, Name, Reason, Timezone};

/// State of a site.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Site {
    id: Option<SiteId>,
    name: Option<Name>,
    timezone: Option<Timezone>,
}

/// Commands on a site.
#[derive(Clone, Debug)]
pub enum SiteCommand {
    /// An Owner or Admin creates a site.
    Create { actor: Actor, site_id: SiteId, code: Code, name: Name, timezone: Timezone },
    /// An Owner or Admin renames it.
    Rename { actor: Actor, name: Name },
    /// An Owner or Admin changes its time zone, with a reason (it moves shift and day boundaries).
    ChangeTimezone { actor: Actor, timezone: Timezone, reason: Reason },
}

/// Events of a site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SiteEvent {
    /// The site exists.
    SiteCreated { site_id: SiteId, code: Code, name: Name, timezone: Timezone },
    /// Its name changed.
    SiteRenamed { before: Name, after: Name },
    /// Its time zone changed.
    SiteTimezoneChanged { before: Timezone, after: Timezone, reason: Reason },
}

impl DomainEvent for SiteEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SiteCreated { .. } => "SiteCreated",
            Self::SiteRenamed { .. } => "SiteRenamed",
            Self::SiteTimezoneChanged { .. } => "SiteTimezoneChanged",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for SiteEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::SiteCreated { code, name, timezone, .. } => {
                vec![Change::created("code", code), Change::created("name", name), Change::created("timezone", timezone)]
            }
            Self::SiteRenamed { before, after } => vec![Change::new("name", before, after)],
            Self::SiteTimezoneChanged { before, after, .. } => vec![Change::new("timezone", before, after)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::SiteTimezoneChanged { reason, .. } => Some(reason),
            Self::SiteCreated { .. } | Self::SiteRenamed { .. } => None,
        }
    }
}

impl Aggregate for Site {
    const TYPE: &'static str = "Site";
    type Command = SiteCommand;
    type Event = SiteEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            SiteCommand::Create { actor, site_id, code, name, timezone } => {
                actor.require_admin()?;
                if self.id.is_some() {
                    return Err(DomainError::Rule("the site already exists"));
                }
                sink.write(SiteEvent::SiteCreated { site_id, code, name, timezone }, self).await;
            }
            SiteCommand::Rename { actor, name } => {
                actor.require_admin()?;
                let before = self.name.clone().ok_or(DomainError::NotFound)?;
                if before == name {
                    return Err(DomainError::Rule("the site already has this name"));
                }
                sink.write(SiteEvent::SiteRenamed { before, after: name }, self).await;
            }
            SiteCommand::ChangeTimezone { actor, timezone, reason } => {
                actor.require_admin()?;
                let before = self.timezone.clone().ok_or(DomainError::NotFound)?;
                if before == timezone {
                    return Err(DomainError::Rule("the site already has this time zone"));
                }
                sink.write(SiteEvent::SiteTimezoneChanged { before, after: timezone, reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SiteEvent::SiteCreated { site_id, name, timezone, .. } => {
                self.id = Some(site_id);
                self.name = Some(name);
                self.timezone = Some(timezone);
            }
            SiteEvent::SiteRenamed { after, .. } => self.name = Some(after),
            SiteEvent::SiteTimezoneChanged { after, .. } => self.timezone = Some(after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MemberId;
    use crate::values::Role;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Site>;

    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(1)), role }
    }
    fn name(text: &str) -> Name {
        Name::parse("name", text).unwrap_or_else(|e| panic!("{e}"))
    }
    fn create(role: Role) -> SiteCommand {
        SiteCommand::Create {
            actor: actor(role),
            site_id: SiteId(Uuid::nil()),
            code: Code::parse("code", "DE1").unwrap_or_else(|e| panic!("{e}")),
            name: name("Berlin"),
            timezone: Timezone::parse("timezone", "Europe/Berlin").unwrap_or_else(|e| panic!("{e}")),
        }
    }
    fn created() -> SiteEvent {
        SiteEvent::SiteCreated {
            site_id: SiteId(Uuid::nil()),
            code: Code::parse("code", "DE1").unwrap_or_else(|e| panic!("{e}")),
            name: name("Berlin"),
            timezone: Timezone::parse("timezone", "Europe/Berlin").unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn an_admin_creates_a_site() {
        Given::with(()).given_no_previous_events().when(create(Role::Admin)).then_expect_events(vec![created()]);
    }

    #[test]
    fn members_and_auditors_cannot_create_sites() {
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(()).given_no_previous_events().when(create(role)).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))));
        }
    }

    #[test]
    fn a_site_is_created_once() {
        Given::with(()).given(vec![created()]).when(create(Role::Owner)).then_expect_error(DomainError::Rule("the site already exists"));
    }

    #[test]
    fn an_owner_renames_a_site() {
        Given::with(())
            .given(vec![created()])
            .when(SiteCommand::Rename { actor: actor(Role::Owner), name: name("Berlin-Spandau") })
            .then_expect_events(vec![SiteEvent::SiteRenamed { before: name("Berlin"), after: name("Berlin-Spandau") }]);
    }

    #[test]
    fn renaming_a_missing_site_is_not_found() {
        Given::with(())
            .given_no_previous_events()
            .when(SiteCommand::Rename { actor: actor(Role::Owner), name: name("X") })
            .then_expect_error(DomainError::NotFound);
    }

    #[test]
    fn renaming_to_the_same_name_is_refused() {
        Given::with(())
            .given(vec![created()])
            .when(SiteCommand::Rename { actor: actor(Role::Admin), name: name("Berlin") })
            .then_expect_error(DomainError::Rule("the site already has this name"));
    }

    fn tz(name: &str) -> Timezone {
        Timezone::parse("timezone", name).unwrap_or_else(|e| panic!("{e}"))
    }
    fn reason() -> Reason {
        Reason { code: crate::ReasonCode::Other, text: "plant moved to local time".into() }
    }

    #[test]
    fn an_admin_changes_the_timezone_with_a_reason() {
        let change = SiteCommand::ChangeTimezone { actor: actor(Role::Admin), timezone: tz("Europe/Lisbon"), reason: reason() };
        let changed = SiteEvent::SiteTimezoneChanged { before: tz("Europe/Berlin"), after: tz("Europe/Lisbon"), reason: reason() };
        Given::with(()).given(vec![created()]).when(change).then_expect_events(vec![changed.clone()]);
        assert_eq!(changed.changes()[0].path, "timezone");
        assert_eq!(changed.reason(), Some(&reason()));
    }

    #[test]
    fn a_timezone_change_is_refused_when_unchanged_missing_or_not_an_admins() {
        let change = |role, zone: &str| SiteCommand::ChangeTimezone { actor: actor(role), timezone: tz(zone), reason: reason() };
        Given::with(())
            .given(vec![created()])
            .when(change(Role::Owner, "Europe/Berlin"))
            .then_expect_error(DomainError::Rule("the site already has this time zone"));
        Given::with(()).given_no_previous_events().when(change(Role::Owner, "UTC")).then_expect_error(DomainError::NotFound);
        for role in [Role::Member, Role::Auditor] {
            let result = Given::with(()).given(vec![created()]).when(change(role, "UTC")).inspect_result();
            assert!(matches!(result, Err(DomainError::Forbidden(_))), "{role:?}");
        }
    }
}
