//! The Zone aggregate: an area of a site that a zone leader (owner) looks after.
//!
//! Invariants: a zone belongs to exactly one existing site (checked by the write side and
//! passed in as a fact); zone codes are unique per site (registry constraint in the append
//! transaction); the owner is an active member; archived zones refuse changes until restored.

use std::collections::BTreeSet;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome};
use crate::ids::{MemberId, SiteId, ZoneId};
use crate::values::{Code, Name, Reason};

/// Whether a zone is in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ZoneStatus {
    /// In use.
    #[default]
    Active,
    /// Archived: refuses new work and changes until restored.
    Archived,
}

/// State of a zone.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Zone {
    id: Option<ZoneId>,
    name: Option<Name>,
    owner: Option<MemberId>,
    deputies: BTreeSet<MemberId>,
    status: ZoneStatus,
}

/// Commands on a zone.
#[derive(Clone, Debug)]
pub enum ZoneCommand {
    /// An Owner or Admin creates a zone in an existing site.
    Create { actor: Actor, zone_id: ZoneId, site_id: SiteId, site_exists: bool, code: Code, name: Name },
    /// Rename the zone; a reason is optional.
    Rename { actor: Actor, name: Name, reason: Option<Reason> },
    /// Make an active member the zone's owner (zone leader).
    AssignOwner { actor: Actor, owner: MemberId, owner_is_active_member: bool, reason: Option<Reason> },
    /// Make an active member a deputy of the zone leader.
    AddDeputy { actor: Actor, member: MemberId, member_is_active: bool },
    /// Remove a deputy.
    RemoveDeputy { actor: Actor, member: MemberId },
    /// Archive the zone, with a reason.
    Archive { actor: Actor, reason: Reason },
    /// Restore an archived zone, with a reason.
    Restore { actor: Actor, reason: Reason },
}

/// Events of a zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZoneEvent {
    /// The zone exists.
    ZoneCreated { zone_id: ZoneId, site_id: SiteId, code: Code, name: Name },
    /// Its name changed.
    ZoneRenamed { before: Name, after: Name, reason: Option<Reason> },
    /// Its owner changed.
    ZoneOwnerAssigned { before: Option<MemberId>, after: MemberId, reason: Option<Reason> },
    /// A deputy was added.
    ZoneDeputyAdded { member: MemberId },
    /// A deputy was removed.
    ZoneDeputyRemoved { member: MemberId },
    /// It was archived.
    ZoneArchived { reason: Reason },
    /// It was restored.
    ZoneRestored { reason: Reason },
}

impl DomainEvent for ZoneEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ZoneCreated { .. } => "ZoneCreated",
            Self::ZoneRenamed { .. } => "ZoneRenamed",
            Self::ZoneOwnerAssigned { .. } => "ZoneOwnerAssigned",
            Self::ZoneDeputyAdded { .. } => "ZoneDeputyAdded",
            Self::ZoneDeputyRemoved { .. } => "ZoneDeputyRemoved",
            Self::ZoneArchived { .. } => "ZoneArchived",
            Self::ZoneRestored { .. } => "ZoneRestored",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for ZoneEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::ZoneCreated { site_id, code, name, .. } => vec![
                Change::created("siteId", site_id),
                Change::created("code", code),
                Change::created("name", name),
                Change::created("status", ZoneStatus::Active),
            ],
            Self::ZoneRenamed { before, after, .. } => vec![Change::new("name", before, after)],
            Self::ZoneOwnerAssigned { before, after, .. } => vec![Change::new("ownerId", before, after)],
            Self::ZoneDeputyAdded { member } => vec![Change::new(&format!("deputies.{member}"), false, true)],
            Self::ZoneDeputyRemoved { member } => vec![Change::new(&format!("deputies.{member}"), true, false)],
            Self::ZoneArchived { .. } => vec![Change::new("status", ZoneStatus::Active, ZoneStatus::Archived)],
            Self::ZoneRestored { .. } => vec![Change::new("status", ZoneStatus::Archived, ZoneStatus::Active)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::ZoneCreated { .. } | Self::ZoneDeputyAdded { .. } | Self::ZoneDeputyRemoved { .. } => None,
            Self::ZoneRenamed { reason, .. } | Self::ZoneOwnerAssigned { reason, .. } => reason.as_ref(),
            Self::ZoneArchived { reason } | Self::ZoneRestored { reason } => Some(reason),
        }
    }
}

impl Zone {
    fn require_active(&self) -> Outcome {
        match (self.id, self.status) {
            (None, _) => Err(DomainError::NotFound),
            (Some(_), ZoneStatus::Archived) => Err(DomainError::Rule("the zone is archived")),
            (Some(_), ZoneStatus::Active) => Ok(()),
        }
    }
}

impl Aggregate for Zone {
    const TYPE: &'static str = "Zone";
    type Command = ZoneCommand;
    type Event = ZoneEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            ZoneCommand::Create { actor, zone_id, site_id, site_exists, code, name } => {
                actor.require_admin()?;
                if self.id.is_some() {
                    return Err(DomainError::Rule("the zone already exists"));
                }
                if !site_exists {
                    return Err(DomainError::Invalid(crate::ValidationError::new("siteId", "does not name a site")));
                }
                sink.write(ZoneEvent::ZoneCreated { zone_id, site_id, code, name }, self).await;
            }
            ZoneCommand::Rename { actor, name, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                let before = self.name.clone().ok_or(DomainError::NotFound)?;
                if before == name {
                    return Err(DomainError::Rule("the zone already has this name"));
                }
                sink.write(ZoneEvent::ZoneRenamed { before, after: name, reason }, self).await;
            }
            ZoneCommand::AssignOwner { actor, owner, owner_is_active_member, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                if !owner_is_active_member {
                    return Err(DomainError::Invalid(crate::ValidationError::new("memberId", "is not an active member")));
                }
                if self.owner == Some(owner) {
                    return Err(DomainError::Rule("the member already owns this zone"));
                }
                sink.write(ZoneEvent::ZoneOwnerAssigned { before: self.owner, after: owner, reason }, self).await;
            }
            ZoneCommand::AddDeputy { actor, member, member_is_active } => {
                actor.require_admin()?;
                self.require_active()?;
                if !member_is_active {
                    return Err(DomainError::Invalid(crate::ValidationError::new("memberId", "is not an active member")));
                }
                if self.owner == Some(member) {
                    return Err(DomainError::Rule("the zone's owner is not also its deputy"));
                }
                if self.deputies.contains(&member) {
                    return Err(DomainError::Rule("the member is already a deputy of this zone"));
                }
                sink.write(ZoneEvent::ZoneDeputyAdded { member }, self).await;
            }
            ZoneCommand::RemoveDeputy { actor, member } => {
                actor.require_admin()?;
                if self.id.is_none() {
                    return Err(DomainError::NotFound);
                }
                if !self.deputies.contains(&member) {
                    return Err(DomainError::Rule("the member is not a deputy of this zone"));
                }
                sink.write(ZoneEvent::ZoneDeputyRemoved { member }, self).await;
            }
            ZoneCommand::Archive { actor, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                sink.write(ZoneEvent::ZoneArchived { reason }, self).await;
            }
            ZoneCommand::Restore { actor, reason } => {
                actor.require_admin()?;
                if self.id.is_none() {
                    return Err(DomainError::NotFound);
                }
                if self.status == ZoneStatus::Active {
                    return Err(DomainError::Rule("the zone is not archived"));
                }
                sink.write(ZoneEvent::ZoneRestored { reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ZoneEvent::ZoneCreated { zone_id, name, .. } => {
                self.id = Some(zone_id);
                self.name = Some(name);
            }
            ZoneEvent::ZoneRenamed { after, .. } => self.name = Some(after),
            ZoneEvent::ZoneOwnerAssigned { after, .. } => self.owner = Some(after),
            ZoneEvent::ZoneDeputyAdded { member } => {
                self.deputies.insert(member);
            }
            ZoneEvent::ZoneDeputyRemoved { member } => {
                self.deputies.remove(&member);
            }
            ZoneEvent::ZoneArchived { .. } => self.status = ZoneStatus::Archived,
            ZoneEvent::ZoneRestored { .. } => self.status = ZoneStatus::Active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{ReasonCode, Role};
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Zone>;

    const OWNER: MemberId = MemberId(Uuid::from_u128(7));

    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(1)), role }
    }
    fn name(text: &str) -> Name {
        Name::parse("name", text).unwrap_or_else(|e| panic!("{e}"))
    }
    fn code() -> Code {
        Code::parse("code", "P-01").unwrap_or_else(|e| panic!("{e}"))
    }
    fn reason() -> Reason {
        Reason { code: ReasonCode::ScopeChange, text: "line moved".into() }
    }
    fn create(role: Role, site_exists: bool) -> ZoneCommand {
        ZoneCommand::Create {
            actor: actor(role),
            zone_id: ZoneId(Uuid::nil()),
            site_id: SiteId(Uuid::nil()),
            site_exists,
            code: code(),
            name: name("Press 1"),
        }
    }
    fn created() -> ZoneEvent {
        ZoneEvent::ZoneCreated { zone_id: ZoneId(Uuid::nil()), site_id: SiteId(Uuid::nil()), code: code(), name: name("Press 1") }
    }
    fn archived() -> ZoneEvent {
        ZoneEvent::ZoneArchived { reason: reason() }
    }
    fn forbidden(result: Result<Vec<ZoneEvent>, DomainError>) -> bool {
        matches!(result, Err(DomainError::Forbidden(_)))
    }

    #[test]
    fn an_admin_creates_a_zone_in_a_site() {
        Given::with(()).given_no_previous_events().when(create(Role::Admin, true)).then_expect_events(vec![created()]);
    }

    #[test]
    fn a_zone_needs_an_existing_site() {
        let result = Given::with(()).given_no_previous_events().when(create(Role::Admin, false)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "siteId"));
    }

    #[test]
    fn a_zone_is_created_once() {
        Given::with(())
            .given(vec![created()])
            .when(create(Role::Owner, true))
            .then_expect_error(DomainError::Rule("the zone already exists"));
    }

    #[test]
    fn members_and_auditors_cannot_change_zones() {
        for role in [Role::Member, Role::Auditor] {
            assert!(forbidden(Given::with(()).given_no_previous_events().when(create(role, true)).inspect_result()));
            let rename = ZoneCommand::Rename { actor: actor(role), name: name("X"), reason: None };
            assert!(forbidden(Given::with(()).given(vec![created()]).when(rename).inspect_result()));
            let archive = ZoneCommand::Archive { actor: actor(role), reason: reason() };
            assert!(forbidden(Given::with(()).given(vec![created()]).when(archive).inspect_result()));
        }
    }

    #[test]
    fn renaming_records_before_after_and_reason() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::Rename { actor: actor(Role::Admin), name: name("Press 2"), reason: Some(reason()) })
            .then_expect_events(vec![ZoneEvent::ZoneRenamed { before: name("Press 1"), after: name("Press 2"), reason: Some(reason()) }]);
    }

    #[test]
    fn renaming_to_the_same_name_is_refused() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::Rename { actor: actor(Role::Admin), name: name("Press 1"), reason: None })
            .then_expect_error(DomainError::Rule("the zone already has this name"));
    }

    #[test]
    fn renaming_a_missing_zone_is_not_found() {
        Given::with(())
            .given_no_previous_events()
            .when(ZoneCommand::Rename { actor: actor(Role::Admin), name: name("X"), reason: None })
            .then_expect_error(DomainError::NotFound);
    }

    #[test]
    fn an_active_member_is_assigned_as_owner() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::AssignOwner { actor: actor(Role::Owner), owner: OWNER, owner_is_active_member: true, reason: None })
            .then_expect_events(vec![ZoneEvent::ZoneOwnerAssigned { before: None, after: OWNER, reason: None }]);
    }

    #[test]
    fn the_owner_must_be_an_active_member() {
        let result = Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::AssignOwner { actor: actor(Role::Owner), owner: OWNER, owner_is_active_member: false, reason: None })
            .inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "memberId"));
    }

    #[test]
    fn assigning_the_current_owner_again_is_refused() {
        let assigned = ZoneEvent::ZoneOwnerAssigned { before: None, after: OWNER, reason: None };
        Given::with(())
            .given(vec![created(), assigned])
            .when(ZoneCommand::AssignOwner { actor: actor(Role::Owner), owner: OWNER, owner_is_active_member: true, reason: None })
            .then_expect_error(DomainError::Rule("the member already owns this zone"));
    }

    #[test]
    fn a_zone_is_archived_with_a_reason() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::Archive { actor: actor(Role::Admin), reason: reason() })
            .then_expect_events(vec![archived()]);
    }

    #[test]
    fn an_archived_zone_refuses_changes() {
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::Rename { actor: actor(Role::Admin), name: name("X"), reason: None })
            .then_expect_error(DomainError::Rule("the zone is archived"));
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::AssignOwner { actor: actor(Role::Admin), owner: OWNER, owner_is_active_member: true, reason: None })
            .then_expect_error(DomainError::Rule("the zone is archived"));
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::Archive { actor: actor(Role::Admin), reason: reason() })
            .then_expect_error(DomainError::Rule("the zone is archived"));
    }

    #[test]
    fn an_archived_zone_is_restored() {
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::Restore { actor: actor(Role::Admin), reason: reason() })
            .then_expect_events(vec![ZoneEvent::ZoneRestored { reason: reason() }]);
    }

    #[test]
    fn only_an_archived_zone_is_restored() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::Restore { actor: actor(Role::Admin), reason: reason() })
            .then_expect_error(DomainError::Rule("the zone is not archived"));
    }

    #[test]
    fn an_admin_adds_and_removes_a_deputy() {
        let add = |member_is_active| ZoneCommand::AddDeputy { actor: actor(Role::Admin), member: OWNER, member_is_active };
        Given::with(()).given(vec![created()]).when(add(true)).then_expect_events(vec![ZoneEvent::ZoneDeputyAdded { member: OWNER }]);
        let result = Given::with(()).given(vec![created()]).when(add(false)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "memberId"));
        Given::with(())
            .given(vec![created(), ZoneEvent::ZoneDeputyAdded { member: OWNER }])
            .when(add(true))
            .then_expect_error(DomainError::Rule("the member is already a deputy of this zone"));
        Given::with(())
            .given(vec![created(), ZoneEvent::ZoneOwnerAssigned { before: None, after: OWNER, reason: None }])
            .when(add(true))
            .then_expect_error(DomainError::Rule("the zone's owner is not also its deputy"));
        let remove = ZoneCommand::RemoveDeputy { actor: actor(Role::Owner), member: OWNER };
        Given::with(())
            .given(vec![created(), ZoneEvent::ZoneDeputyAdded { member: OWNER }])
            .when(remove)
            .then_expect_events(vec![ZoneEvent::ZoneDeputyRemoved { member: OWNER }]);
        let remove = ZoneCommand::RemoveDeputy { actor: actor(Role::Owner), member: OWNER };
        Given::with(()).given(vec![created()]).when(remove).then_expect_error(DomainError::Rule("the member is not a deputy of this zone"));
        let by_member = ZoneCommand::AddDeputy { actor: actor(Role::Member), member: OWNER, member_is_active: true };
        assert!(forbidden(Given::with(()).given(vec![created()]).when(by_member).inspect_result()));
    }

    #[test]
    fn every_event_states_its_changes() {
        let events = [
            created(),
            archived(),
            ZoneEvent::ZoneRestored { reason: reason() },
            ZoneEvent::ZoneRenamed { before: name("a"), after: name("b"), reason: None },
            ZoneEvent::ZoneOwnerAssigned { before: None, after: OWNER, reason: None },
        ];
        for event in events {
            assert!(!event.changes().is_empty(), "{event:?}");
        }
    }
}
