//! 5S checklists: the versioned AuditTemplate aggregate and the exact scoring formula
//! (reference/domain.md §4.4 and §4.5).

use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::TemplateId;
use crate::values::{LongText, Name, Reason};

/// The sections of a 5S checklist (and the optional safety section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Sort,
    SetInOrder,
    Shine,
    Standardize,
    Sustain,
    Safety,
}

impl Section {
    /// The five sections every published 5S template covers.
    pub const FIVE: [Section; 5] = [Section::Sort, Section::SetInOrder, Section::Shine, Section::Standardize, Section::Sustain];
}

/// The scoring scale, e.g. 0–4 in steps of 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub min: i32,
    pub max: i32,
    pub step: i32,
}

impl Scale {
    /// Checks `min < max`, a positive step that divides the range.
    pub fn parse(min: i32, max: i32, step: i32) -> Result<Self, ValidationError> {
        if min >= max {
            return Err(ValidationError::new("scale", "needs min < max"));
        }
        if step <= 0 || (max - min) % step != 0 {
            return Err(ValidationError::new("scale", "needs a positive step that divides max - min"));
        }
        if max - min > 100 {
            return Err(ValidationError::new("scale", "spans at most 100 points"));
        }
        Ok(Self { min, max, step })
    }

    /// Whether `value` is on the scale.
    pub fn allows(&self, value: i32) -> bool {
        (self.min..=self.max).contains(&value) && (value - self.min) % self.step == 0
    }

    /// Checks that every anchor (the written meaning of a score) names a value on the scale.
    pub fn check_anchors(&self, anchors: &Anchors) -> Result<(), ValidationError> {
        if anchors.keys().any(|v| !self.allows(*v)) {
            return Err(ValidationError::new("anchors", "each anchor names a value on the scale"));
        }
        Ok(())
    }
}

/// The written meaning of scale values, e.g. 0 → "not started", 4 → "sustained".
pub type Anchors = BTreeMap<i32, Name>;

/// One checklist item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateItem {
    /// Stable within the template, e.g. `S1-01`.
    pub item_id: String,
    pub section: Section,
    pub text: Name,
    pub guidance: Option<LongText>,
    /// Positive weight (default 1).
    pub weight: Decimal,
    /// May be marked not applicable (with a comment).
    pub na_allowed: bool,
    /// A score at or below the auto-finding threshold of a critical item raises a defect.
    pub critical: bool,
    /// Scores at or below this raise a finding automatically.
    pub auto_finding_at_or_below: Option<i32>,
    /// Scores at or below this need a photo.
    pub photo_required_at_or_below: Option<i32>,
}

impl TemplateItem {
    /// Checks the item against the scale: its thresholds lie within it.
    pub fn fits(&self, scale: &Scale) -> Result<(), ValidationError> {
        let within = |t: Option<i32>| t.is_none_or(|t| (scale.min..=scale.max).contains(&t));
        if !within(self.auto_finding_at_or_below) {
            return Err(ValidationError::new("autoFindingAtOrBelow", "lies within the template's scale"));
        }
        if !within(self.photo_required_at_or_below) {
            return Err(ValidationError::new("photoRequiredAtOrBelow", "lies within the template's scale"));
        }
        Ok(())
    }

    /// Checks the item id and weight.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let id_ok = !self.item_id.is_empty()
            && self.item_id.len() <= 32
            && self.item_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(ValidationError::new("itemId", "is 1-32 letters, digits, '-', '_' or '.'"));
        }
        if self.weight <= Decimal::ZERO || self.weight > Decimal::from(100) {
            return Err(ValidationError::new("weight", "must be greater than 0 and at most 100"));
        }
        Ok(())
    }
}

/// A score band, e.g. "World class" from 90 %.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    pub label: Name,
    pub min_pct: Decimal,
}

/// A template's content, as frozen when a version is published and pinned by audits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDefinition {
    pub template_id: TemplateId,
    pub name: Name,
    pub version: u32,
    pub scale: Scale,
    pub items: Vec<TemplateItem>,
    /// Sorted by `min_pct`, highest first.
    pub bands: Vec<Band>,
    /// The written meaning of scale values.
    #[serde(default)]
    pub anchors: Anchors,
}

impl TemplateDefinition {
    /// The item with this id.
    pub fn item(&self, item_id: &str) -> Option<&TemplateItem> {
        self.items.iter().find(|i| i.item_id == item_id)
    }

    /// What must hold to publish: every one of the five sections has an item.
    pub fn check_publishable(&self) -> Result<(), DomainError> {
        let covered: BTreeSet<Section> = self.items.iter().map(|i| i.section).collect();
        if Section::FIVE.iter().any(|s| !covered.contains(s)) {
            return Err(DomainError::Rule("every one of the five sections needs at least one item"));
        }
        Ok(())
    }
}

/// How an item was scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemValue {
    Score(i32),
    NotApplicable,
}

/// A section's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionScore {
    pub section: Section,
    pub raw: Decimal,
    pub max: Decimal,
    /// Null when every item of the section is not applicable.
    pub pct: Option<Decimal>,
}

/// An audit's computed scores, frozen on submit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    pub sections: Vec<SectionScore>,
    pub total_raw: Decimal,
    pub total_max: Decimal,
    /// Null when every item is not applicable.
    pub score_pct: Option<Decimal>,
    pub band: Option<String>,
}

fn pct(raw: Decimal, max: Decimal) -> Option<Decimal> {
    (max > Decimal::ZERO).then(|| Decimal::from(100) * raw / max)
}

/// The exact formula: for items I with a value other than N/A,
/// `raw_i = value_i − scale.min`, `max_i = scale.max − scale.min`,
/// `pct = 100 × Σ w_i·raw_i / Σ w_i·max_i` per section and overall (null when the
/// denominator is 0), band = first band (highest first) with `score_pct ≥ min_pct`.
/// Unrounded; values of unknown items are ignored.
pub fn score(definition: &TemplateDefinition, results: &BTreeMap<String, ItemValue>) -> Scores {
    let span = Decimal::from(definition.scale.max - definition.scale.min);
    let mut by_section: BTreeMap<Section, (Decimal, Decimal)> = BTreeMap::new();
    for item in &definition.items {
        let entry = by_section.entry(item.section).or_insert((Decimal::ZERO, Decimal::ZERO));
        if let Some(ItemValue::Score(value)) = results.get(&item.item_id) {
            entry.0 += item.weight * Decimal::from(value - definition.scale.min);
            entry.1 += item.weight * span;
        }
    }
    let sections: Vec<SectionScore> =
        by_section.into_iter().map(|(section, (raw, max))| SectionScore { section, raw, max, pct: pct(raw, max) }).collect();
    let total_raw = sections.iter().map(|s| s.raw).sum();
    let total_max = sections.iter().map(|s| s.max).sum();
    let score_pct = pct(total_raw, total_max);
    let band = score_pct.and_then(|p| definition.bands.iter().find(|b| p >= b.min_pct)).map(|b| b.label.to_string());
    Scores { sections, total_raw, total_max, score_pct, band }
}

/// Where a template stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    #[default]
    None,
    Draft,
    Published,
    Retired,
}

/// The AuditTemplate aggregate: one checklist across its versions.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AuditTemplate {
    status: TemplateStatus,
    definition: Option<TemplateDefinition>,
    published: Option<(TemplateDefinition, String)>,
}

impl AuditTemplate {
    /// The current draft or published content.
    pub fn definition(&self) -> Option<&TemplateDefinition> {
        self.definition.as_ref()
    }
    /// The latest published version and its checksum (what new audits pin).
    pub fn published(&self) -> Option<&(TemplateDefinition, String)> {
        self.published.as_ref()
    }
    /// The status.
    pub fn status(&self) -> TemplateStatus {
        self.status
    }

    fn draft(&self) -> Result<&TemplateDefinition, DomainError> {
        match (self.status, &self.definition) {
            (TemplateStatus::Draft, Some(definition)) => Ok(definition),
            (TemplateStatus::None, _) => Err(DomainError::NotFound),
            _ => Err(DomainError::Rule("only a draft is edited; revise the template to start a new draft")),
        }
    }
}

/// Commands on a template.
#[derive(Clone, Debug)]
pub enum TemplateCommand {
    CreateDraft {
        actor: Actor,
        template_id: TemplateId,
        name: Name,
        scale: Scale,
    },
    /// Starts a new template (version 1, a draft) as a copy of `source`'s scale, anchors,
    /// items and bands; `source` is another template's content, looked up by the write side.
    Clone {
        actor: Actor,
        template_id: TemplateId,
        name: Option<Name>,
        source: Box<TemplateDefinition>,
    },
    AddItem {
        actor: Actor,
        item: TemplateItem,
    },
    ChangeItem {
        actor: Actor,
        item: TemplateItem,
    },
    RemoveItem {
        actor: Actor,
        item_id: String,
    },
    /// `order` lists every item id exactly once.
    ReorderItems {
        actor: Actor,
        order: Vec<String>,
    },
    SetScale {
        actor: Actor,
        scale: Scale,
        anchors: Anchors,
    },
    SetBands {
        actor: Actor,
        bands: Vec<Band>,
    },
    /// `checksum` is the sha256 of the draft's canonical JSON, computed by the write side.
    Publish {
        actor: Actor,
        checksum: String,
    },
    /// Starts the next version as a draft copy of the published one.
    Revise {
        actor: Actor,
    },
    Retire {
        actor: Actor,
        reason: Reason,
    },
}

/// Events of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TemplateEvent {
    AuditTemplateDrafted {
        template_id: TemplateId,
        name: Name,
        version: u32,
        scale: Scale,
        /// A clone's source (its id and version are the source's); the draft copies its
        /// anchors, items and bands.
        #[serde(default)]
        cloned_from: Option<Box<TemplateDefinition>>,
    },
    AuditTemplateItemAdded {
        item: TemplateItem,
    },
    AuditTemplateItemChanged {
        before: TemplateItem,
        after: TemplateItem,
    },
    AuditTemplateItemRemoved {
        item: TemplateItem,
    },
    AuditTemplateItemsReordered {
        before: Vec<String>,
        after: Vec<String>,
    },
    AuditTemplateScaleSet {
        before: Scale,
        after: Scale,
        #[serde(default)]
        anchors_before: Anchors,
        #[serde(default)]
        anchors_after: Anchors,
    },
    AuditTemplateBandsSet {
        before: Vec<Band>,
        after: Vec<Band>,
    },
    AuditTemplatePublished {
        definition: TemplateDefinition,
        checksum: String,
        item_count: u32,
    },
    AuditTemplateRevised {
        version: u32,
    },
    AuditTemplateRetired {
        reason: Reason,
    },
}

impl DomainEvent for TemplateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AuditTemplateDrafted { .. } => "AuditTemplateDrafted",
            Self::AuditTemplateItemAdded { .. } => "AuditTemplateItemAdded",
            Self::AuditTemplateItemChanged { .. } => "AuditTemplateItemChanged",
            Self::AuditTemplateItemRemoved { .. } => "AuditTemplateItemRemoved",
            Self::AuditTemplateItemsReordered { .. } => "AuditTemplateItemsReordered",
            Self::AuditTemplateScaleSet { .. } => "AuditTemplateScaleSet",
            Self::AuditTemplateBandsSet { .. } => "AuditTemplateBandsSet",
            Self::AuditTemplatePublished { .. } => "AuditTemplatePublished",
            Self::AuditTemplateRevised { .. } => "AuditTemplateRevised",
            Self::AuditTemplateRetired { .. } => "AuditTemplateRetired",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for TemplateEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::AuditTemplateDrafted { name, version, scale, cloned_from, .. } => {
                let mut changes = vec![
                    Change::created("name", name),
                    Change::created("version", version),
                    Change::created("scale", scale),
                    Change::created("status", TemplateStatus::Draft),
                ];
                if let Some(source) = cloned_from {
                    changes.push(Change::created("clonedFrom", serde_json::json!({"id": source.template_id, "version": source.version})));
                    changes.push(Change::created("anchors", &source.anchors));
                    changes.push(Change::created("items", &source.items));
                    changes.push(Change::created("bands", &source.bands));
                }
                changes
            }
            Self::AuditTemplateItemAdded { item } => vec![Change::created(&format!("items.{}", item.item_id), item)],
            Self::AuditTemplateItemChanged { before, after } => vec![Change::new(&format!("items.{}", after.item_id), before, after)],
            Self::AuditTemplateItemRemoved { item } => vec![Change::new(&format!("items.{}", item.item_id), item, serde_json::Value::Null)],
            Self::AuditTemplateItemsReordered { before, after } => vec![Change::new("itemOrder", before, after)],
            Self::AuditTemplateScaleSet { before, after, anchors_before, anchors_after } => {
                let mut changes = vec![Change::new("scale", before, after)];
                if anchors_before != anchors_after {
                    changes.push(Change::new("anchors", anchors_before, anchors_after));
                }
                changes
            }
            Self::AuditTemplateBandsSet { before, after } => vec![Change::new("bands", before, after)],
            Self::AuditTemplatePublished { checksum, .. } => {
                vec![Change::new("status", TemplateStatus::Draft, TemplateStatus::Published), Change::created("checksum", checksum)]
            }
            Self::AuditTemplateRevised { version } => {
                vec![
                    Change::new("version", version.saturating_sub(1), version),
                    Change::new("status", TemplateStatus::Published, TemplateStatus::Draft),
                ]
            }
            Self::AuditTemplateRetired { .. } => vec![Change::created("retired", true)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::AuditTemplateRetired { reason } => Some(reason),
            _ => None,
        }
    }
}

impl Aggregate for AuditTemplate {
    const TYPE: &'static str = "AuditTemplate";
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        let event = match command {
            TemplateCommand::CreateDraft { actor, template_id, name, scale } => {
                actor.require_admin()?;
                if self.status != TemplateStatus::None {
                    return Err(DomainError::Rule("the template already exists"));
                }
                TemplateEvent::AuditTemplateDrafted { template_id, name, version: 1, scale, cloned_from: None }
            }
            TemplateCommand::Clone { actor, template_id, name, source } => {
                actor.require_admin()?;
                if self.status != TemplateStatus::None {
                    return Err(DomainError::Rule("the template already exists"));
                }
                if source.template_id == template_id {
                    return Err(ValidationError::new("fromTemplateId", "names the new template itself").into());
                }
                let name = name.unwrap_or_else(|| source.name.clone());
                TemplateEvent::AuditTemplateDrafted { template_id, name, version: 1, scale: source.scale, cloned_from: Some(source) }
            }
            TemplateCommand::AddItem { actor, item } => {
                actor.require_admin()?;
                item.validate()?;
                let draft = self.draft()?;
                item.fits(&draft.scale)?;
                if draft.item(&item.item_id).is_some() {
                    return Err(ValidationError::new("itemId", "is already used in this template").into());
                }
                if draft.items.len() >= 500 {
                    return Err(DomainError::Rule("a template holds at most 500 items"));
                }
                TemplateEvent::AuditTemplateItemAdded { item }
            }
            TemplateCommand::ChangeItem { actor, item } => {
                actor.require_admin()?;
                item.validate()?;
                let draft = self.draft()?;
                item.fits(&draft.scale)?;
                let before = draft.item(&item.item_id).cloned().ok_or(DomainError::NotFound)?;
                if before == item {
                    return Err(DomainError::Rule("the item is unchanged"));
                }
                TemplateEvent::AuditTemplateItemChanged { before, after: item }
            }
            TemplateCommand::RemoveItem { actor, item_id } => {
                actor.require_admin()?;
                let item = self.draft()?.item(&item_id).cloned().ok_or(DomainError::NotFound)?;
                TemplateEvent::AuditTemplateItemRemoved { item }
            }
            TemplateCommand::ReorderItems { actor, order } => {
                actor.require_admin()?;
                let before: Vec<String> = self.draft()?.items.iter().map(|i| i.item_id.clone()).collect();
                let mut sorted_before = before.clone();
                sorted_before.sort();
                let mut sorted_order = order.clone();
                sorted_order.sort();
                if sorted_before != sorted_order {
                    return Err(ValidationError::new("order", "lists every item of the template exactly once").into());
                }
                if before == order {
                    return Err(DomainError::Rule("the items are already in this order"));
                }
                TemplateEvent::AuditTemplateItemsReordered { before, after: order }
            }
            TemplateCommand::SetScale { actor, scale, anchors } => {
                actor.require_admin()?;
                scale.check_anchors(&anchors)?;
                let draft = self.draft()?;
                if draft.scale == scale && draft.anchors == anchors {
                    return Err(DomainError::Rule("the scale is unchanged"));
                }
                if let Some(item) = draft.items.iter().find(|i| i.fits(&scale).is_err()) {
                    return Err(ValidationError::new(
                        "scale",
                        &format!("leaves the thresholds of item {} outside the scale; change the item first", item.item_id),
                    )
                    .into());
                }
                let anchors_before = draft.anchors.clone();
                TemplateEvent::AuditTemplateScaleSet { before: draft.scale, after: scale, anchors_before, anchors_after: anchors }
            }
            TemplateCommand::SetBands { actor, mut bands } => {
                actor.require_admin()?;
                if bands.iter().any(|b| b.min_pct < Decimal::ZERO || b.min_pct > Decimal::from(100)) {
                    return Err(ValidationError::new("bands", "min_pct is between 0 and 100").into());
                }
                bands.sort_by_key(|b| std::cmp::Reverse(b.min_pct));
                let before = self.draft()?.bands.clone();
                TemplateEvent::AuditTemplateBandsSet { before, after: bands }
            }
            TemplateCommand::Publish { actor, checksum } => {
                actor.require_admin()?;
                let draft = self.draft()?.clone();
                draft.check_publishable()?;
                let item_count = u32::try_from(draft.items.len()).unwrap_or(u32::MAX);
                TemplateEvent::AuditTemplatePublished { definition: draft, checksum, item_count }
            }
            TemplateCommand::Revise { actor } => {
                actor.require_admin()?;
                match (self.status, &self.definition) {
                    (TemplateStatus::Published, Some(definition)) => {
                        TemplateEvent::AuditTemplateRevised { version: definition.version + 1 }
                    }
                    (TemplateStatus::None, _) => return Err(DomainError::NotFound),
                    _ => return Err(DomainError::Rule("only a published template is revised")),
                }
            }
            TemplateCommand::Retire { actor, reason } => {
                actor.require_admin()?;
                match self.status {
                    TemplateStatus::None => return Err(DomainError::NotFound),
                    TemplateStatus::Retired => return Err(DomainError::Rule("the template is already retired")),
                    _ => TemplateEvent::AuditTemplateRetired { reason },
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            TemplateEvent::AuditTemplateDrafted { template_id, name, version, scale, cloned_from } => {
                self.status = TemplateStatus::Draft;
                let (items, bands, anchors) = cloned_from.map(|s| (s.items, s.bands, s.anchors)).unwrap_or_default();
                self.definition = Some(TemplateDefinition { template_id, name, version, scale, items, bands, anchors });
            }
            TemplateEvent::AuditTemplateItemAdded { item } => {
                if let Some(d) = self.definition.as_mut() {
                    d.items.push(item);
                }
            }
            TemplateEvent::AuditTemplateItemChanged { after, .. } => {
                if let Some(slot) = self.definition.as_mut().and_then(|d| d.items.iter_mut().find(|i| i.item_id == after.item_id)) {
                    *slot = after;
                }
            }
            TemplateEvent::AuditTemplateItemRemoved { item } => {
                if let Some(d) = self.definition.as_mut() {
                    d.items.retain(|i| i.item_id != item.item_id);
                }
            }
            TemplateEvent::AuditTemplateItemsReordered { after, .. } => {
                if let Some(d) = self.definition.as_mut() {
                    d.items.sort_by_key(|i| after.iter().position(|id| *id == i.item_id).unwrap_or(usize::MAX));
                }
            }
            TemplateEvent::AuditTemplateScaleSet { after, anchors_after, .. } => {
                if let Some(d) = self.definition.as_mut() {
                    d.scale = after;
                    d.anchors = anchors_after;
                }
            }
            TemplateEvent::AuditTemplateBandsSet { after, .. } => {
                if let Some(d) = self.definition.as_mut() {
                    d.bands = after;
                }
            }
            TemplateEvent::AuditTemplatePublished { definition, checksum, .. } => {
                self.status = TemplateStatus::Published;
                self.definition = Some(definition.clone());
                self.published = Some((definition, checksum));
            }
            TemplateEvent::AuditTemplateRevised { version } => {
                self.status = TemplateStatus::Draft;
                if let Some(d) = self.definition.as_mut() {
                    d.version = version;
                }
            }
            TemplateEvent::AuditTemplateRetired { .. } => self.status = TemplateStatus::Retired,
        }
    }
}

#[cfg(test)]
#[path = "five_s_tests.rs"]
mod tests;
