//! The Area aggregate: an area, production line or cell of a site (ISA-95), grouping zones.
//!
//! Invariants: an area belongs to exactly one existing site; its parent (if any) is an active
//! area of the same site; moves stay inside the site and never make an area its own ancestor;
//! area codes are unique per site (registry constraint in the append transaction); an area is
//! archived only once no active zone and no active child area is left in it. Facts about
//! other areas, sites and zones are looked up by the write side and passed in the command.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{AreaId, SiteId};
use crate::values::{Code, Name, Reason};

/// What an area stands for in the plant hierarchy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    /// An area of the site (ISA-95 Area).
    #[default]
    Area,
    /// A production line.
    Line,
    /// A work cell.
    Cell,
}

/// Whether an area is in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AreaStatus {
    /// In use.
    #[default]
    Active,
    /// Archived: takes no new zones or child areas.
    Archived,
}

/// Facts about a prospective parent area, looked up by the write side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParentFacts {
    /// The parent's site, when the parent exists and is active.
    pub site: Option<SiteId>,
    /// The parent and its ancestors, nearest first.
    pub ancestry: Vec<AreaId>,
}

/// State of an area.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Area {
    id: Option<AreaId>,
    site_id: Option<SiteId>,
    parent: Option<AreaId>,
    name: Option<Name>,
    status: AreaStatus,
}

/// Commands on an area.
#[derive(Clone, Debug)]
pub enum AreaCommand {
    /// An Owner or Admin creates an area in an existing site, optionally under a parent area.
    Create {
        actor: Actor,
        area_id: AreaId,
        site_id: SiteId,
        site_exists: bool,
        kind: AreaKind,
        parent: Option<(AreaId, ParentFacts)>,
        code: Code,
        name: Name,
    },
    /// Rename the area; a reason is optional.
    Rename { actor: Actor, name: Name, reason: Option<Reason> },
    /// Move the area under another parent of the same site (or to the top), with a reason.
    Move { actor: Actor, to: Option<(AreaId, ParentFacts)>, reason: Reason },
    /// Archive the area, with a reason; refused while active zones or child areas remain.
    Archive { actor: Actor, reason: Reason, active_zones: u32, active_children: u32 },
}

/// Events of an area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AreaEvent {
    /// The area exists.
    AreaCreated { area_id: AreaId, site_id: SiteId, kind: AreaKind, parent: Option<AreaId>, code: Code, name: Name },
    /// Its name changed.
    AreaRenamed { before: Name, after: Name, reason: Option<Reason> },
    /// It moved to another parent.
    AreaMoved { from: Option<AreaId>, to: Option<AreaId>, reason: Reason },
    /// It was archived.
    AreaArchived { reason: Reason },
}

impl DomainEvent for AreaEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AreaCreated { .. } => "AreaCreated",
            Self::AreaRenamed { .. } => "AreaRenamed",
            Self::AreaMoved { .. } => "AreaMoved",
            Self::AreaArchived { .. } => "AreaArchived",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for AreaEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::AreaCreated { site_id, kind, parent, code, name, .. } => vec![
                Change::created("siteId", site_id),
                Change::created("kind", kind),
                Change::created("parentAreaId", parent),
                Change::created("code", code),
                Change::created("name", name),
                Change::created("status", AreaStatus::Active),
            ],
            Self::AreaRenamed { before, after, .. } => vec![Change::new("name", before, after)],
            Self::AreaMoved { from, to, .. } => vec![Change::new("parentAreaId", from, to)],
            Self::AreaArchived { .. } => vec![Change::new("status", AreaStatus::Active, AreaStatus::Archived)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::AreaCreated { .. } => None,
            Self::AreaRenamed { reason, .. } => reason.as_ref(),
            Self::AreaMoved { reason, .. } | Self::AreaArchived { reason } => Some(reason),
        }
    }
}

fn check_parent(site: SiteId, parent: &ParentFacts) -> Outcome {
    match parent.site {
        None => Err(ValidationError::new("parentAreaId", "does not name an active area").into()),
        Some(other) if other != site => Err(DomainError::Rule("the parent area belongs to another site")),
        Some(_) => Ok(()),
    }
}

impl Area {
    fn require_active(&self) -> Result<(AreaId, SiteId), DomainError> {
        match (self.id, self.site_id, self.status) {
            (Some(_), Some(_), AreaStatus::Archived) => Err(DomainError::Rule("the area is archived")),
            (Some(id), Some(site), AreaStatus::Active) => Ok((id, site)),
            _ => Err(DomainError::NotFound),
        }
    }

    /// The area's site.
    pub fn site_id(&self) -> Option<SiteId> {
        self.site_id
    }
}

impl Aggregate for Area {
    const TYPE: &'static str = "Area";
    type Command = AreaCommand;
    type Event = AreaEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            AreaCommand::Create { actor, area_id, site_id, site_exists, kind, parent, code, name } => {
                actor.require_admin()?;
                if self.id.is_some() {
                    return Err(DomainError::Rule("the area already exists"));
                }
                if !site_exists {
                    return Err(ValidationError::new("siteId", "does not name a site").into());
                }
                if let Some((_, facts)) = &parent {
                    check_parent(site_id, facts)?;
                }
                let parent = parent.map(|(id, _)| id);
                sink.write(AreaEvent::AreaCreated { area_id, site_id, kind, parent, code, name }, self).await;
            }
            AreaCommand::Rename { actor, name, reason } => {
                actor.require_admin()?;
                self.require_active()?;
                let before = self.name.clone().ok_or(DomainError::NotFound)?;
                if before == name {
                    return Err(DomainError::Rule("the area already has this name"));
                }
                sink.write(AreaEvent::AreaRenamed { before, after: name, reason }, self).await;
            }
            AreaCommand::Move { actor, to, reason } => {
                actor.require_admin()?;
                let (id, site) = self.require_active()?;
                if let Some((target, facts)) = &to {
                    check_parent(site, facts)?;
                    if *target == id || facts.ancestry.contains(&id) {
                        return Err(DomainError::Rule("an area cannot be moved under itself or one of its descendants"));
                    }
                }
                let to = to.map(|(target, _)| target);
                if to == self.parent {
                    return Err(DomainError::Rule("the area is already there"));
                }
                sink.write(AreaEvent::AreaMoved { from: self.parent, to, reason }, self).await;
            }
            AreaCommand::Archive { actor, reason, active_zones, active_children } => {
                actor.require_admin()?;
                self.require_active()?;
                if active_zones > 0 {
                    return Err(DomainError::Rule("move or archive the area's active zones first"));
                }
                if active_children > 0 {
                    return Err(DomainError::Rule("move or archive the area's active child areas first"));
                }
                sink.write(AreaEvent::AreaArchived { reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AreaEvent::AreaCreated { area_id, site_id, parent, name, .. } => {
                self.id = Some(area_id);
                self.site_id = Some(site_id);
                self.parent = parent;
                self.name = Some(name);
            }
            AreaEvent::AreaRenamed { after, .. } => self.name = Some(after),
            AreaEvent::AreaMoved { to, .. } => self.parent = to,
            AreaEvent::AreaArchived { .. } => self.status = AreaStatus::Archived,
        }
    }
}

#[cfg(test)]
#[path = "area_tests.rs"]
mod tests;
