//! The RedTagItem aggregate: an item red-tagged during 5S Sort, held for a while, then
//! dispositioned (reference/domain.md §4.5b).
//!
//! Invariants: items are tagged only in active zones, in a positive quantity;
//! `hold_until = tagged_at + hold days`; a hold is extended only forward and with a reason;
//! the disposition is decided once, by the zone's owner or a deputy, an Owner or an Admin;
//! only the system expires a hold, and only once it has ended; Auditors never mutate.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{MemberId, RedTagId, ZoneId};
use crate::values::{LongText, Name, Reason, Role};

/// Why an item was red-tagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedTagReason {
    NotNeeded,
    Defective,
    Excess,
    Unknown,
}

/// What became of a red-tagged item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Disposition {
    /// Back in use, at a (new) location.
    ReturnedToUse {
        location: Name,
    },
    /// Moved to another zone.
    Relocated {
        zone_id: ZoneId,
    },
    Sold,
    Scrapped,
    Recycled,
    Donated,
}

/// Where a red-tagged item stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedTagStatus {
    /// Not tagged yet.
    #[default]
    None,
    /// Tagged and held until `hold_until`.
    Held,
    /// The hold ended without a decision.
    HoldExpired,
    /// Decided.
    Dispositioned,
}

/// What a new red tag says.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRedTag {
    pub red_tag_id: RedTagId,
    pub zone_id: ZoneId,
    pub description: LongText,
    pub qty: u32,
    pub location: Name,
    pub reason: RedTagReason,
}

/// Commands on a red-tagged item.
#[derive(Clone, Debug)]
pub enum RedTagCommand {
    /// `hold_days` comes from the organisation; `zone_active` is looked up by the write side.
    Tag { actor: Actor, zone_active: bool, item: NewRedTag, hold_days: u32, now: DateTime<Utc> },
    /// `actor_leads_zone`: the actor is the zone's owner or a deputy.
    ExtendHold { actor: Actor, actor_leads_zone: bool, until: DateTime<Utc>, reason: Reason, now: DateTime<Utc> },
    /// `target_zone_active`: for a relocation, the target zone exists and is active.
    Disposition { actor: Actor, actor_leads_zone: bool, disposition: Disposition, target_zone_active: bool, now: DateTime<Utc> },
    /// The system (never a person) records that a hold ended without a decision.
    ExpireHold { now: DateTime<Utc> },
}

/// Events of a red-tagged item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RedTagEvent {
    RedTagItemTagged {
        red_tag_id: RedTagId,
        zone_id: ZoneId,
        description: LongText,
        qty: u32,
        location: Name,
        reason: RedTagReason,
        tagged_by: MemberId,
        tagged_at: DateTime<Utc>,
        hold_until: DateTime<Utc>,
    },
    RedTagItemHoldExtended {
        /// Held, or HoldExpired (an extension holds the item again).
        from: RedTagStatus,
        before: DateTime<Utc>,
        after: DateTime<Utc>,
        reason: Reason,
    },
    RedTagItemDispositioned {
        from: RedTagStatus,
        disposition: Disposition,
        decided_by: MemberId,
        decided_at: DateTime<Utc>,
    },
    RedTagItemHoldExpired {
        hold_until: DateTime<Utc>,
    },
}

impl DomainEvent for RedTagEvent {
    fn event_type(&self) -> String {
        match self {
            Self::RedTagItemTagged { .. } => "RedTagItemTagged",
            Self::RedTagItemHoldExtended { .. } => "RedTagItemHoldExtended",
            Self::RedTagItemDispositioned { .. } => "RedTagItemDispositioned",
            Self::RedTagItemHoldExpired { .. } => "RedTagItemHoldExpired",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for RedTagEvent {
    fn changes(&self) -> Vec<Change> {
        use RedTagStatus as S;
        match self {
            Self::RedTagItemTagged { zone_id, description, qty, location, reason, tagged_by, tagged_at, hold_until, .. } => vec![
                Change::created("zoneId", zone_id),
                Change::created("description", description),
                Change::created("qty", qty),
                Change::created("location", location),
                Change::created("reason", reason),
                Change::created("taggedBy", tagged_by),
                Change::created("taggedAt", tagged_at),
                Change::created("holdUntil", hold_until),
                Change::created("status", S::Held),
            ],
            Self::RedTagItemHoldExtended { from, before, after, .. } => {
                let mut changes = vec![Change::new("holdUntil", before, after)];
                if *from != S::Held {
                    changes.push(Change::new("status", from, S::Held));
                }
                changes
            }
            Self::RedTagItemDispositioned { from, disposition, decided_by, .. } => vec![
                Change::new("status", from, S::Dispositioned),
                Change::created("disposition", disposition),
                Change::created("decidedBy", decided_by),
            ],
            Self::RedTagItemHoldExpired { .. } => vec![Change::new("status", S::Held, S::HoldExpired)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::RedTagItemHoldExtended { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// What is known about a red-tagged item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RedTagState {
    pub id: Option<RedTagId>,
    pub zone_id: Option<ZoneId>,
    pub status: RedTagStatus,
    pub description: Option<LongText>,
    pub qty: u32,
    pub location: Option<Name>,
    pub reason: Option<RedTagReason>,
    pub tagged_by: Option<MemberId>,
    pub tagged_at: Option<DateTime<Utc>>,
    pub hold_until: Option<DateTime<Utc>>,
    pub disposition: Option<Disposition>,
    pub decided_by: Option<MemberId>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// The RedTagItem aggregate.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RedTagItem {
    s: RedTagState,
}

impl RedTagItem {
    /// Everything known about the item.
    pub fn state(&self) -> &RedTagState {
        &self.s
    }

    fn require_undecided(&self) -> Outcome {
        match self.s.status {
            RedTagStatus::None => Err(DomainError::NotFound),
            RedTagStatus::Held | RedTagStatus::HoldExpired => Ok(()),
            RedTagStatus::Dispositioned => Err(DomainError::Rule("the item's disposition is already decided")),
        }
    }

    fn require_decider(actor: &Actor, actor_leads_zone: bool) -> Outcome {
        actor.require_mutator()?;
        if actor_leads_zone || matches!(actor.role, Role::Owner | Role::Admin) {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only the zone's owner or deputies, owners and admins decide on red-tagged items"))
        }
    }
}

impl Aggregate for RedTagItem {
    const TYPE: &'static str = "RedTagItem";
    type Command = RedTagCommand;
    type Event = RedTagEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        let event = match command {
            RedTagCommand::Tag { actor, zone_active, item, hold_days, now } => {
                actor.require_mutator()?;
                if self.s.status != RedTagStatus::None {
                    return Err(DomainError::Rule("the item is already tagged"));
                }
                if !zone_active {
                    return Err(ValidationError::new("zoneId", "does not name an active zone").into());
                }
                if item.qty == 0 {
                    return Err(ValidationError::new("qty", "must be at least 1").into());
                }
                let hold_until = Duration::try_days(i64::from(hold_days.max(1)))
                    .and_then(|hold| now.checked_add_signed(hold))
                    .ok_or_else(|| ValidationError::new("holdDays", "is too long"))?;
                RedTagEvent::RedTagItemTagged {
                    red_tag_id: item.red_tag_id,
                    zone_id: item.zone_id,
                    description: item.description,
                    qty: item.qty,
                    location: item.location,
                    reason: item.reason,
                    tagged_by: actor.member_id,
                    tagged_at: now,
                    hold_until,
                }
            }
            RedTagCommand::ExtendHold { actor, actor_leads_zone, until, reason, now } => {
                Self::require_decider(&actor, actor_leads_zone)?;
                self.require_undecided()?;
                let before = self.s.hold_until.ok_or(DomainError::NotFound)?;
                if until <= before || until <= now {
                    return Err(ValidationError::new("until", "must be later than the current hold and than now").into());
                }
                RedTagEvent::RedTagItemHoldExtended { from: self.s.status, before, after: until, reason }
            }
            RedTagCommand::Disposition { actor, actor_leads_zone, disposition, target_zone_active, now } => {
                Self::require_decider(&actor, actor_leads_zone)?;
                self.require_undecided()?;
                if let Disposition::Relocated { zone_id } = &disposition
                    && (!target_zone_active || self.s.zone_id == Some(*zone_id))
                {
                    return Err(ValidationError::new("zoneId", "names another active zone").into());
                }
                RedTagEvent::RedTagItemDispositioned { from: self.s.status, disposition, decided_by: actor.member_id, decided_at: now }
            }
            RedTagCommand::ExpireHold { now } => {
                match self.s.status {
                    RedTagStatus::None => return Err(DomainError::NotFound),
                    RedTagStatus::Held => {}
                    _ => return Err(DomainError::Rule("only a held item's hold expires")),
                }
                let hold_until = self.s.hold_until.ok_or(DomainError::NotFound)?;
                if now < hold_until {
                    return Err(DomainError::Rule("the hold has not ended yet"));
                }
                RedTagEvent::RedTagItemHoldExpired { hold_until }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RedTagEvent::RedTagItemTagged { red_tag_id, zone_id, description, qty, location, reason, tagged_by, tagged_at, hold_until } => {
                self.s = RedTagState {
                    id: Some(red_tag_id),
                    zone_id: Some(zone_id),
                    status: RedTagStatus::Held,
                    description: Some(description),
                    qty,
                    location: Some(location),
                    reason: Some(reason),
                    tagged_by: Some(tagged_by),
                    tagged_at: Some(tagged_at),
                    hold_until: Some(hold_until),
                    ..RedTagState::default()
                };
            }
            RedTagEvent::RedTagItemHoldExtended { after, .. } => {
                self.s.hold_until = Some(after);
                self.s.status = RedTagStatus::Held;
            }
            RedTagEvent::RedTagItemDispositioned { disposition, decided_by, decided_at, .. } => {
                self.s.status = RedTagStatus::Dispositioned;
                self.s.disposition = Some(disposition);
                self.s.decided_by = Some(decided_by);
                self.s.decided_at = Some(decided_at);
            }
            RedTagEvent::RedTagItemHoldExpired { .. } => self.s.status = RedTagStatus::HoldExpired,
        }
    }
}

#[cfg(test)]
#[path = "red_tag_tests.rs"]
mod tests;
