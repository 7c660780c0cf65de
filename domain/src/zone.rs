//! The Zone aggregate: an area of a site that a zone leader (owner) looks after.
//!
//! Invariants: a zone belongs to exactly one existing site (checked by the write side and
//! passed in as a fact); zone codes are unique per site (registry constraint in the append
//! transaction); the owner is an active member; archived zones refuse changes until restored.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::five_s_audit::AuditType;
use crate::ids::{AreaId, MemberId, SiteId, TemplateId, ZoneId};
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

/// How often a zone is audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Every week.
    Weekly,
    /// Every other week.
    Biweekly,
    /// Every month.
    Monthly,
    /// Every quarter.
    Quarterly,
}

impl Cadence {
    /// The due date one period after `due` (months keep the day of the month where it exists).
    pub fn after(self, due: DateTime<Utc>) -> DateTime<Utc> {
        let months = |n| due.checked_add_months(chrono::Months::new(n)).unwrap_or(due + chrono::Duration::days(31 * i64::from(n)));
        match self {
            Self::Weekly => due + chrono::Duration::weeks(1),
            Self::Biweekly => due + chrono::Duration::weeks(2),
            Self::Monthly => months(1),
            Self::Quarterly => months(3),
        }
    }
}

/// The zone's 5S audit plan: which template, how often, which audit types, next due date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPlan {
    /// The published template audits use.
    pub template_id: TemplateId,
    /// How often.
    pub cadence: Cadence,
    /// Which audit types are planned (at least one).
    pub audit_types: BTreeSet<AuditType>,
    /// When the next audit is due.
    pub next_due_at: DateTime<Utc>,
}

impl AuditPlan {
    /// The plan's fields that differ between `before` and `after`, as audit-log changes.
    fn changes(before: Option<&Self>, after: &Self) -> Vec<Change> {
        fn json<T: Serialize>(value: &T) -> serde_json::Value {
            serde_json::to_value(value).unwrap_or_default()
        }
        let fields = |plan: &Self| {
            [
                ("auditPlan.templateId", json(&plan.template_id)),
                ("auditPlan.cadence", json(&plan.cadence)),
                ("auditPlan.auditTypes", json(&plan.audit_types)),
                ("auditPlan.nextDueAt", json(&plan.next_due_at)),
            ]
        };
        let before = before.map(fields);
        fields(after)
            .into_iter()
            .enumerate()
            .filter_map(|(i, (path, after))| {
                let before = before.as_ref().map(|b| b[i].1.clone());
                (before.as_ref() != Some(&after)).then(|| Change::new(path, before, after))
            })
            .collect()
    }
}

/// State of a zone.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Zone {
    id: Option<ZoneId>,
    site_id: Option<SiteId>,
    area_id: Option<AreaId>,
    name: Option<Name>,
    owner: Option<MemberId>,
    deputies: BTreeSet<MemberId>,
    status: ZoneStatus,
    headcount: Option<u32>,
    audit_plan: Option<AuditPlan>,
}

/// Commands on a zone.
#[derive(Clone, Debug)]
pub enum ZoneCommand {
    /// An Owner or Admin creates a zone in an existing site, optionally in one of its areas
    /// (`area` carries the area's site when the area exists and is active).
    Create {
        actor: Actor,
        zone_id: ZoneId,
        site_id: SiteId,
        site_exists: bool,
        area: Option<(AreaId, Option<SiteId>)>,
        code: Code,
        name: Name,
    },
    /// Move the zone to another area of its site (or out of any area), with a reason.
    Move { actor: Actor, to: Option<(AreaId, Option<SiteId>)>, reason: Reason },
    /// Set (or clear) the zone's headcount override, with a reason.
    SetHeadcount { actor: Actor, headcount: Option<u32>, reason: Reason },
    /// Set the zone's 5S audit plan against a published template; a reason is optional.
    SetAuditPlan { actor: Actor, plan: AuditPlan, template_published: bool, reason: Option<Reason> },
    /// The system moves the plan to its next period once the audits due at `scheduled_due`
    /// are scheduled.
    AdvanceAuditPlan { scheduled_due: DateTime<Utc> },
    /// Rename the zone; a reason is optional.
    Rename { actor: Actor, name: Name, reason: Option<Reason> },
    /// Make an active member the zone's owner (zone leader).
    /// `owner_in_site_scope` says whether the member's site scope includes the zone's site.
    AssignOwner { actor: Actor, owner: MemberId, owner_is_active_member: bool, owner_in_site_scope: bool, reason: Option<Reason> },
    /// Make an active member a deputy of the zone leader.
    AddDeputy { actor: Actor, member: MemberId, member_is_active: bool },
    /// Remove a deputy.
    RemoveDeputy { actor: Actor, member: MemberId },
    /// Archive the zone, with a reason.
    /// Archive the zone, with a reason; `open_work` counts its open defects and kaizens (they
    /// must be transferred to another zone first).
    Archive { actor: Actor, reason: Reason, open_work: u32 },
    /// Restore an archived zone, with a reason.
    Restore { actor: Actor, reason: Reason },
}

/// Events of a zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZoneEvent {
    /// The zone exists.
    ZoneCreated {
        zone_id: ZoneId,
        site_id: SiteId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area_id: Option<AreaId>,
        code: Code,
        name: Name,
    },
    /// It moved between areas of its site.
    ZoneMoved { from_area: Option<AreaId>, to_area: Option<AreaId>, reason: Reason },
    /// Its headcount override changed.
    ZoneHeadcountChanged { before: Option<u32>, after: Option<u32>, reason: Reason },
    /// Its audit plan changed.
    ZoneAuditPlanChanged { before: Option<AuditPlan>, after: AuditPlan, reason: Option<Reason> },
    /// The plan's audits for one period were scheduled; the next period is due at `after`.
    ZoneAuditPlanAdvanced { before: DateTime<Utc>, after: DateTime<Utc> },
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
            Self::ZoneMoved { .. } => "ZoneMoved",
            Self::ZoneHeadcountChanged { .. } => "ZoneHeadcountChanged",
            Self::ZoneAuditPlanChanged { .. } => "ZoneAuditPlanChanged",
            Self::ZoneAuditPlanAdvanced { .. } => "ZoneAuditPlanAdvanced",
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
            Self::ZoneCreated { site_id, area_id, code, name, .. } => {
                let mut changes = vec![
                    Change::created("siteId", site_id),
                    Change::created("code", code),
                    Change::created("name", name),
                    Change::created("status", ZoneStatus::Active),
                ];
                if let Some(area) = area_id {
                    changes.push(Change::created("areaId", area));
                }
                changes
            }
            Self::ZoneMoved { from_area, to_area, .. } => vec![Change::new("areaId", from_area, to_area)],
            Self::ZoneHeadcountChanged { before, after, .. } => vec![Change::new("headcount", before, after)],
            Self::ZoneAuditPlanChanged { before, after, .. } => AuditPlan::changes(before.as_ref(), after),
            Self::ZoneAuditPlanAdvanced { before, after } => vec![Change::new("auditPlan.nextDueAt", before, after)],
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
            Self::ZoneCreated { .. }
            | Self::ZoneDeputyAdded { .. }
            | Self::ZoneDeputyRemoved { .. }
            | Self::ZoneAuditPlanAdvanced { .. } => None,
            Self::ZoneRenamed { reason, .. } | Self::ZoneOwnerAssigned { reason, .. } | Self::ZoneAuditPlanChanged { reason, .. } => {
                reason.as_ref()
            }
            Self::ZoneArchived { reason }
            | Self::ZoneRestored { reason }
            | Self::ZoneMoved { reason, .. }
            | Self::ZoneHeadcountChanged { reason, .. } => Some(reason),
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

    /// The zone's site.
    pub fn site_id(&self) -> Option<SiteId> {
        self.site_id
    }
}

/// Refuses an area that is not active or lies in another site than `site`.
fn check_area(site: SiteId, area: Option<SiteId>) -> Outcome {
    match area {
        None => Err(ValidationError::new("areaId", "does not name an active area").into()),
        Some(other) if other != site => Err(DomainError::Rule("the area belongs to another site")),
        Some(_) => Ok(()),
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
            ZoneCommand::Create { actor, zone_id, site_id, site_exists, area, code, name } => {
                actor.require_admin()?;
                if self.id.is_some() {
                    return Err(DomainError::Rule("the zone already exists"));
                }
                if !site_exists {
                    return Err(DomainError::Invalid(crate::ValidationError::new("siteId", "does not name a site")));
                }
                if let Some((_, area_site)) = area {
                    check_area(site_id, area_site)?;
                }
                sink.write(ZoneEvent::ZoneCreated { zone_id, site_id, area_id: area.map(|(id, _)| id), code, name }, self).await;
            }
            ZoneCommand::Move { actor, to, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                let site = self.site_id.ok_or(DomainError::NotFound)?;
                if let Some((_, area_site)) = to {
                    check_area(site, area_site)?;
                }
                let to_area = to.map(|(id, _)| id);
                if to_area == self.area_id {
                    return Err(DomainError::Rule("the zone is already there"));
                }
                sink.write(ZoneEvent::ZoneMoved { from_area: self.area_id, to_area, reason }, self).await;
            }
            ZoneCommand::SetHeadcount { actor, headcount, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                if headcount.is_some_and(|n| n > 100_000) {
                    return Err(ValidationError::new("headcount", "is at most 100000").into());
                }
                if headcount == self.headcount {
                    return Err(DomainError::Rule("the headcount is unchanged"));
                }
                sink.write(ZoneEvent::ZoneHeadcountChanged { before: self.headcount, after: headcount, reason }, self).await;
            }
            ZoneCommand::SetAuditPlan { actor, plan, template_published, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                if !template_published {
                    return Err(ValidationError::new("templateId", "does not name a published template").into());
                }
                if plan.audit_types.is_empty() {
                    return Err(ValidationError::new("auditTypes", "must name at least one audit type").into());
                }
                if self.audit_plan.as_ref() == Some(&plan) {
                    return Err(DomainError::Rule("the audit plan is unchanged"));
                }
                sink.write(ZoneEvent::ZoneAuditPlanChanged { before: self.audit_plan.clone(), after: plan, reason }, self).await;
            }
            ZoneCommand::AdvanceAuditPlan { scheduled_due } => {
                self.require_active()?;
                let plan = self.audit_plan.as_ref().ok_or(DomainError::Rule("the zone has no audit plan"))?;
                if plan.next_due_at != scheduled_due {
                    return Err(DomainError::Rule("the audit plan has moved on"));
                }
                let after = plan.cadence.after(scheduled_due);
                sink.write(ZoneEvent::ZoneAuditPlanAdvanced { before: scheduled_due, after }, self).await;
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
            ZoneCommand::AssignOwner { actor, owner, owner_is_active_member, owner_in_site_scope, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                if !owner_is_active_member {
                    return Err(DomainError::Invalid(crate::ValidationError::new("memberId", "is not an active member")));
                }
                if !owner_in_site_scope {
                    return Err(DomainError::Rule("the member's site scope does not include this zone's site"));
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
            ZoneCommand::Archive { actor, reason, open_work } => {
                actor.require_admin()?;
                self.require_active()?;
                if open_work > 0 {
                    return Err(DomainError::Rule(
                        "the zone has open defects or kaizens: transfer them to another zone (transferToZoneId) or finish them first",
                    ));
                }
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
            ZoneEvent::ZoneCreated { zone_id, site_id, area_id, name, .. } => {
                self.id = Some(zone_id);
                self.site_id = Some(site_id);
                self.area_id = area_id;
                self.name = Some(name);
            }
            ZoneEvent::ZoneMoved { to_area, .. } => self.area_id = to_area,
            ZoneEvent::ZoneHeadcountChanged { after, .. } => self.headcount = after,
            ZoneEvent::ZoneAuditPlanChanged { after, .. } => self.audit_plan = Some(after),
            ZoneEvent::ZoneAuditPlanAdvanced { after, .. } => {
                if let Some(plan) = self.audit_plan.as_mut() {
                    plan.next_due_at = after;
                }
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
            area: None,
            code: code(),
            name: name("Press 1"),
        }
    }
    fn created() -> ZoneEvent {
        ZoneEvent::ZoneCreated {
            zone_id: ZoneId(Uuid::nil()),
            site_id: SiteId(Uuid::nil()),
            area_id: None,
            code: code(),
            name: name("Press 1"),
        }
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
            let archive = ZoneCommand::Archive { actor: actor(role), reason: reason(), open_work: 0 };
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
            .when(ZoneCommand::AssignOwner {
                actor: actor(Role::Owner),
                owner: OWNER,
                owner_is_active_member: true,
                owner_in_site_scope: true,
                reason: None,
            })
            .then_expect_events(vec![ZoneEvent::ZoneOwnerAssigned { before: None, after: OWNER, reason: None }]);
    }

    #[test]
    fn the_owner_must_be_an_active_member() {
        let result = Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::AssignOwner {
                actor: actor(Role::Owner),
                owner: OWNER,
                owner_is_active_member: false,
                owner_in_site_scope: true,
                reason: None,
            })
            .inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "memberId"));
    }

    #[test]
    fn assigning_the_current_owner_again_is_refused() {
        let assigned = ZoneEvent::ZoneOwnerAssigned { before: None, after: OWNER, reason: None };
        Given::with(())
            .given(vec![created(), assigned])
            .when(ZoneCommand::AssignOwner {
                actor: actor(Role::Owner),
                owner: OWNER,
                owner_is_active_member: true,
                owner_in_site_scope: true,
                reason: None,
            })
            .then_expect_error(DomainError::Rule("the member already owns this zone"));
    }

    #[test]
    fn a_zone_is_archived_with_a_reason() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::Archive { actor: actor(Role::Admin), reason: reason(), open_work: 0 })
            .then_expect_events(vec![archived()]);
    }

    #[test]
    fn a_zone_with_open_work_is_not_archived() {
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::Archive { actor: actor(Role::Admin), reason: reason(), open_work: 2 })
            .then_expect_error(DomainError::Rule(
                "the zone has open defects or kaizens: transfer them to another zone (transferToZoneId) or finish them first",
            ));
    }

    #[test]
    fn an_archived_zone_refuses_changes() {
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::Rename { actor: actor(Role::Admin), name: name("X"), reason: None })
            .then_expect_error(DomainError::Rule("the zone is archived"));
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::AssignOwner {
                actor: actor(Role::Admin),
                owner: OWNER,
                owner_is_active_member: true,
                owner_in_site_scope: true,
                reason: None,
            })
            .then_expect_error(DomainError::Rule("the zone is archived"));
        Given::with(())
            .given(vec![created(), archived()])
            .when(ZoneCommand::Archive { actor: actor(Role::Admin), reason: reason(), open_work: 0 })
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

    const AREA: AreaId = AreaId(Uuid::from_u128(30));
    const OTHER_AREA: AreaId = AreaId(Uuid::from_u128(31));
    const SITE: SiteId = SiteId(Uuid::nil());
    const OTHER_SITE: SiteId = SiteId(Uuid::from_u128(32));

    fn in_area(area: Option<(AreaId, Option<SiteId>)>) -> ZoneCommand {
        ZoneCommand::Create {
            actor: actor(Role::Admin),
            zone_id: ZoneId(Uuid::nil()),
            site_id: SITE,
            site_exists: true,
            area,
            code: code(),
            name: name("Press 1"),
        }
    }
    fn created_in(area: AreaId) -> ZoneEvent {
        ZoneEvent::ZoneCreated { zone_id: ZoneId(Uuid::nil()), site_id: SITE, area_id: Some(area), code: code(), name: name("Press 1") }
    }

    #[test]
    fn a_zone_is_created_in_an_active_area_of_its_site() {
        Given::with(()).given_no_previous_events().when(in_area(Some((AREA, Some(SITE))))).then_expect_events(vec![created_in(AREA)]);
        let result = Given::with(()).given_no_previous_events().when(in_area(Some((AREA, None)))).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "areaId"));
        Given::with(())
            .given_no_previous_events()
            .when(in_area(Some((AREA, Some(OTHER_SITE)))))
            .then_expect_error(DomainError::Rule("the area belongs to another site"));
        assert_eq!(created_in(AREA).changes().last().map(|c| c.path.clone()), Some("areaId".to_owned()));
    }

    #[test]
    fn a_zone_moves_between_areas_of_its_site_only() {
        let move_to = |to| ZoneCommand::Move { actor: actor(Role::Admin), to, reason: reason() };
        Given::with(())
            .given(vec![created_in(AREA)])
            .when(move_to(Some((OTHER_AREA, Some(SITE)))))
            .then_expect_events(vec![ZoneEvent::ZoneMoved { from_area: Some(AREA), to_area: Some(OTHER_AREA), reason: reason() }]);
        Given::with(()).given(vec![created_in(AREA)]).when(move_to(None)).then_expect_events(vec![ZoneEvent::ZoneMoved {
            from_area: Some(AREA),
            to_area: None,
            reason: reason(),
        }]);
        Given::with(())
            .given(vec![created_in(AREA)])
            .when(move_to(Some((OTHER_AREA, Some(OTHER_SITE)))))
            .then_expect_error(DomainError::Rule("the area belongs to another site"));
        Given::with(())
            .given(vec![created_in(AREA)])
            .when(move_to(Some((AREA, Some(SITE)))))
            .then_expect_error(DomainError::Rule("the zone is already there"));
        let result = Given::with(()).given(vec![created()]).when(move_to(Some((AREA, None)))).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "areaId"));
        Given::with(()).given(vec![created(), archived()]).when(move_to(None)).then_expect_error(DomainError::Rule("the zone is archived"));
        let by_member = ZoneCommand::Move { actor: actor(Role::Member), to: None, reason: reason() };
        assert!(forbidden(Given::with(()).given(vec![created_in(AREA)]).when(by_member).inspect_result()));
    }

    #[test]
    fn the_headcount_is_set_and_cleared_with_a_reason() {
        let set = |n| ZoneCommand::SetHeadcount { actor: actor(Role::Admin), headcount: n, reason: reason() };
        let twelve = ZoneEvent::ZoneHeadcountChanged { before: None, after: Some(12), reason: reason() };
        Given::with(()).given(vec![created()]).when(set(Some(12))).then_expect_events(vec![twelve.clone()]);
        Given::with(()).given(vec![created(), twelve.clone()]).when(set(None)).then_expect_events(vec![ZoneEvent::ZoneHeadcountChanged {
            before: Some(12),
            after: None,
            reason: reason(),
        }]);
        Given::with(())
            .given(vec![created(), twelve])
            .when(set(Some(12)))
            .then_expect_error(DomainError::Rule("the headcount is unchanged"));
        let result = Given::with(()).given(vec![created()]).when(set(Some(100_001))).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "headcount"));
        let by_auditor = ZoneCommand::SetHeadcount { actor: actor(Role::Auditor), headcount: Some(3), reason: reason() };
        assert!(forbidden(Given::with(()).given(vec![created()]).when(by_auditor).inspect_result()));
    }

    #[test]
    fn the_system_advances_an_audit_plan_by_its_cadence_once_per_period() {
        use chrono::TimeZone;
        let due = plan(Cadence::Monthly).next_due_at;
        let with_plan = vec![created(), ZoneEvent::ZoneAuditPlanChanged { before: None, after: plan(Cadence::Monthly), reason: None }];
        let next = Utc.with_ymd_and_hms(2027, 1, 1, 8, 0, 0).single().unwrap_or_default();
        Given::with(())
            .given(with_plan.clone())
            .when(ZoneCommand::AdvanceAuditPlan { scheduled_due: due })
            .then_expect_events(vec![ZoneEvent::ZoneAuditPlanAdvanced { before: due, after: next }]);
        let mut advanced = with_plan.clone();
        advanced.push(ZoneEvent::ZoneAuditPlanAdvanced { before: due, after: next });
        Given::with(())
            .given(advanced)
            .when(ZoneCommand::AdvanceAuditPlan { scheduled_due: due })
            .then_expect_error(DomainError::Rule("the audit plan has moved on"));
        Given::with(())
            .given(vec![created()])
            .when(ZoneCommand::AdvanceAuditPlan { scheduled_due: due })
            .then_expect_error(DomainError::Rule("the zone has no audit plan"));
        let jan31 = Utc.with_ymd_and_hms(2027, 1, 31, 8, 0, 0).single().unwrap_or_default();
        assert_eq!(Cadence::Monthly.after(jan31), Utc.with_ymd_and_hms(2027, 2, 28, 8, 0, 0).single().unwrap_or_default());
        assert_eq!(Cadence::Quarterly.after(due), Utc.with_ymd_and_hms(2027, 3, 1, 8, 0, 0).single().unwrap_or_default());
        assert_eq!(Cadence::Biweekly.after(due) - due, chrono::Duration::days(14));
    }

    fn plan(cadence: Cadence) -> AuditPlan {
        use chrono::TimeZone;
        AuditPlan {
            template_id: TemplateId(Uuid::from_u128(40)),
            cadence,
            audit_types: [AuditType::SelfAudit, AuditType::Supervisor].into_iter().collect(),
            next_due_at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).single().unwrap_or_default(),
        }
    }

    #[test]
    fn the_audit_plan_records_only_the_fields_that_changed() {
        let set =
            |plan, template_published| ZoneCommand::SetAuditPlan { actor: actor(Role::Admin), plan, template_published, reason: None };
        let first = ZoneEvent::ZoneAuditPlanChanged { before: None, after: plan(Cadence::Weekly), reason: None };
        Given::with(()).given(vec![created()]).when(set(plan(Cadence::Weekly), true)).then_expect_events(vec![first.clone()]);
        assert_eq!(first.changes().len(), 4);
        let second = ZoneEvent::ZoneAuditPlanChanged { before: Some(plan(Cadence::Weekly)), after: plan(Cadence::Monthly), reason: None };
        Given::with(())
            .given(vec![created(), first.clone()])
            .when(set(plan(Cadence::Monthly), true))
            .then_expect_events(vec![second.clone()]);
        let changes = second.changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].path.as_str(), changes[0].before.clone(), changes[0].after.clone()),
            ("auditPlan.cadence", "weekly".into(), "monthly".into())
        );
        Given::with(())
            .given(vec![created(), first])
            .when(set(plan(Cadence::Weekly), true))
            .then_expect_error(DomainError::Rule("the audit plan is unchanged"));
    }

    #[test]
    fn the_audit_plan_needs_a_published_template_and_an_audit_type() {
        let set =
            |plan, template_published| ZoneCommand::SetAuditPlan { actor: actor(Role::Admin), plan, template_published, reason: None };
        let result = Given::with(()).given(vec![created()]).when(set(plan(Cadence::Weekly), false)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "templateId"));
        let empty = AuditPlan { audit_types: BTreeSet::new(), ..plan(Cadence::Weekly) };
        let result = Given::with(()).given(vec![created()]).when(set(empty, true)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(e)) if e.field == "auditTypes"));
        let by_member =
            ZoneCommand::SetAuditPlan { actor: actor(Role::Member), plan: plan(Cadence::Weekly), template_published: true, reason: None };
        assert!(forbidden(Given::with(()).given(vec![created()]).when(by_member).inspect_result()));
    }

    #[test]
    fn the_owner_works_in_the_zones_site() {
        let assign = ZoneCommand::AssignOwner {
            actor: actor(Role::Admin),
            owner: OWNER,
            owner_is_active_member: true,
            owner_in_site_scope: false,
            reason: None,
        };
        Given::with(())
            .given(vec![created()])
            .when(assign)
            .then_expect_error(DomainError::Rule("the member's site scope does not include this zone's site"));
    }
}
