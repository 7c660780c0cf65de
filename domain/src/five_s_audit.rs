//! The FiveSAudit aggregate: one 5S audit of one zone against a pinned template version
//! (reference/domain.md §4.5). Scores are computed here on submit and frozen in the event.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change, SignatureMeaning};
use crate::defect::{AbnormalityType, Priority};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::five_s::{ItemValue, Scores, Section, TemplateDefinition, score};
use crate::ids::{AuditId, MemberId, ZoneId};
use crate::values::{EvidenceRef, LongText, Reason, Role};

/// Who audits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditType {
    /// The zone's own team.
    #[serde(rename = "self")]
    SelfAudit,
    Supervisor,
    CrossFunctional,
    Management,
}

/// Where an audit stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditStatus {
    #[default]
    None,
    InProgress,
    Submitted,
    Cancelled,
    /// Planned with a due date; started later.
    Scheduled,
    /// Not started by its due date (marked by the system).
    Missed,
}

/// The result of one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub value: ItemValue,
    pub comment: Option<LongText>,
    pub evidence: Vec<EvidenceRef>,
}

/// Something the auditors found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub finding_id: String,
    pub item_id: Option<String>,
    pub description: LongText,
    pub suggested_priority: Priority,
    pub raise_defect: bool,
    pub abnormality_type: Option<AbnormalityType>,
}

/// Facts the write side looks up to start an audit.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditStart {
    pub audit_id: AuditId,
    pub zone_id: ZoneId,
    pub zone_active: bool,
    /// The zone's owner (for the independence rule).
    pub zone_owner: Option<MemberId>,
    pub audit_type: AuditType,
    /// The published template version and its checksum.
    pub template: TemplateDefinition,
    pub checksum: String,
    /// Everyone conducting it (the actor is added).
    pub conducted_by: Vec<MemberId>,
    /// The actor holds `five_s_auditor`, or leads the zone (for a self audit).
    pub actor_may_conduct: bool,
    /// An audit of this zone and type is already in progress.
    pub open_audit_exists: bool,
}

/// Facts the write side looks up to schedule an audit.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPlan {
    pub audit_id: AuditId,
    pub zone_id: ZoneId,
    pub zone_active: bool,
    pub audit_type: AuditType,
    pub due_at: DateTime<Utc>,
    /// The actor holds `five_s_auditor`, leads the zone, or is an Owner or Admin.
    pub actor_may_schedule: bool,
}

fn in_progress() -> AuditStatus {
    AuditStatus::InProgress
}

/// Commands on an audit.
#[derive(Clone, Debug)]
pub enum AuditCommand {
    Schedule {
        actor: Actor,
        plan: AuditPlan,
        now: DateTime<Utc>,
    },
    /// The system schedules an audit from its zone's audit plan.
    ScheduleFromPlan {
        plan: AuditPlan,
        now: DateTime<Utc>,
    },
    /// Starts a new audit, or the scheduled one this is.
    Start {
        actor: Actor,
        start: Box<AuditStart>,
        now: DateTime<Utc>,
    },
    ScoreItem {
        actor: Actor,
        item_id: String,
        value: ItemValue,
        comment: Option<LongText>,
        evidence: Vec<EvidenceRef>,
    },
    MarkItemNotApplicable {
        actor: Actor,
        item_id: String,
        comment: LongText,
    },
    /// Attaches a photo or file (by sha256), to an item or to the audit as a whole.
    AttachEvidence {
        actor: Actor,
        item_id: Option<String>,
        evidence: EvidenceRef,
    },
    /// The system (never a person) marks a scheduled audit not started by its due date.
    MarkMissed {
        now: DateTime<Utc>,
    },
    RecordFinding {
        actor: Actor,
        finding: Finding,
    },
    Submit {
        actor: Actor,
        now: DateTime<Utc>,
    },
    CorrectItemScore {
        actor: Actor,
        item_id: String,
        value: ItemValue,
        comment: Option<LongText>,
        reason: Reason,
    },
    Cancel {
        actor: Actor,
        reason: Reason,
    },
}

/// Events of an audit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AuditEvent {
    AuditScheduled {
        audit_id: AuditId,
        zone_id: ZoneId,
        audit_type: AuditType,
        due_at: DateTime<Utc>,
        /// `None` when the zone's audit plan scheduled it.
        scheduled_by: Option<MemberId>,
    },
    AuditMissed {
        due_at: DateTime<Utc>,
    },
    AuditItemMarkedNotApplicable {
        item_id: String,
        section: Section,
        before: Option<ItemValue>,
        comment: LongText,
    },
    AuditEvidenceAttached {
        item_id: Option<String>,
        evidence: EvidenceRef,
    },
    AuditStarted {
        audit_id: AuditId,
        zone_id: ZoneId,
        audit_type: AuditType,
        template: TemplateDefinition,
        checksum: String,
        conducted_by: Vec<MemberId>,
        zone_owner_present: bool,
        started_at: DateTime<Utc>,
        /// It was scheduled before.
        #[serde(default)]
        was_scheduled: bool,
    },
    AuditItemScored {
        item_id: String,
        section: Section,
        before: Option<ItemValue>,
        after: ItemResult,
    },
    AuditFindingRecorded {
        finding: Finding,
    },
    /// Signature meaning `authored`.
    AuditSubmitted {
        scores: Scores,
        item_count: u32,
        na_count: u32,
        finding_count: u32,
        /// Items at or below their auto-finding threshold: the FindingToDefect policy raises defects for them.
        auto_finding_items: Vec<String>,
        /// Who conducted it (for the points policy).
        conducted_by: Vec<MemberId>,
        template_checksum: String,
        submitted_at: DateTime<Utc>,
    },
    AuditScoreCorrected {
        item_id: String,
        before: ItemResult,
        after: ItemResult,
        scores_before: Scores,
        scores_after: Scores,
        reason: Reason,
    },
    AuditCancelled {
        reason: Reason,
        #[serde(default = "in_progress")]
        from: AuditStatus,
    },
}

impl DomainEvent for AuditEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AuditScheduled { .. } => "AuditScheduled",
            Self::AuditMissed { .. } => "AuditMissed",
            Self::AuditItemMarkedNotApplicable { .. } => "AuditItemMarkedNotApplicable",
            Self::AuditEvidenceAttached { .. } => "AuditEvidenceAttached",
            Self::AuditStarted { .. } => "AuditStarted",
            Self::AuditItemScored { .. } => "AuditItemScored",
            Self::AuditFindingRecorded { .. } => "AuditFindingRecorded",
            Self::AuditSubmitted { .. } => "AuditSubmitted",
            Self::AuditScoreCorrected { .. } => "AuditScoreCorrected",
            Self::AuditCancelled { .. } => "AuditCancelled",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for AuditEvent {
    fn changes(&self) -> Vec<Change> {
        use AuditStatus as S;
        match self {
            Self::AuditScheduled { zone_id, audit_type, due_at, .. } => vec![
                Change::created("zoneId", zone_id),
                Change::created("auditType", audit_type),
                Change::created("dueAt", due_at),
                Change::created("status", S::Scheduled),
            ],
            Self::AuditMissed { .. } => vec![Change::new("status", S::Scheduled, S::Missed)],
            Self::AuditItemMarkedNotApplicable { item_id, before, comment, .. } => vec![
                Change::new(&format!("items.{item_id}"), before, ItemValue::NotApplicable),
                Change::created(&format!("items.{item_id}.comment"), comment),
            ],
            Self::AuditEvidenceAttached { item_id, evidence } => {
                let path = match item_id {
                    Some(item) => format!("items.{item}.evidence.{}", evidence.as_str()),
                    None => format!("evidence.{}", evidence.as_str()),
                };
                vec![Change::created(&path, evidence)]
            }
            Self::AuditStarted { zone_id, audit_type, template, checksum, conducted_by, was_scheduled, .. } => {
                let template = serde_json::json!({"id": template.template_id, "version": template.version, "checksum": checksum});
                let mut changes = vec![Change::created("template", template), Change::created("conductedBy", conducted_by)];
                if *was_scheduled {
                    changes.push(Change::new("status", S::Scheduled, S::InProgress));
                } else {
                    changes.splice(0..0, [Change::created("zoneId", zone_id), Change::created("auditType", audit_type)]);
                    changes.push(Change::created("status", S::InProgress));
                }
                changes
            }
            Self::AuditItemScored { item_id, before, after, .. } => vec![Change::new(&format!("items.{item_id}"), before, after.value)],
            Self::AuditFindingRecorded { finding } => vec![Change::created(&format!("findings.{}", finding.finding_id), finding)],
            Self::AuditSubmitted { scores, .. } => vec![
                Change::new("status", S::InProgress, S::Submitted),
                Change::created("scorePct", scores.score_pct),
                Change::created("band", &scores.band),
            ],
            Self::AuditScoreCorrected { item_id, before, after, scores_before, scores_after, .. } => {
                let mut changes = vec![
                    Change::new(&format!("items.{item_id}"), before.value, after.value),
                    Change::new("scorePct", scores_before.score_pct, scores_after.score_pct),
                    Change::new("band", &scores_before.band, &scores_after.band),
                ];
                for (b, a) in scores_before.sections.iter().zip(&scores_after.sections) {
                    if b.pct != a.pct {
                        changes.push(Change::new(
                            &format!("sections.{}", serde_json::to_value(a.section).unwrap_or_default().as_str().unwrap_or_default()),
                            b.pct,
                            a.pct,
                        ));
                    }
                }
                changes
            }
            Self::AuditCancelled { from, .. } => vec![Change::new("status", from, S::Cancelled)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::AuditScoreCorrected { reason, .. } | Self::AuditCancelled { reason, .. } => Some(reason),
            _ => None,
        }
    }
    fn signature(&self) -> Option<SignatureMeaning> {
        matches!(self, Self::AuditSubmitted { .. } | Self::AuditScoreCorrected { .. }).then_some(SignatureMeaning::Authored)
    }
}

/// State of an audit.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FiveSAudit {
    status: AuditStatus,
    zone_id: Option<ZoneId>,
    template: Option<TemplateDefinition>,
    checksum: String,
    conducted_by: Vec<MemberId>,
    results: BTreeMap<String, ItemResult>,
    findings: Vec<Finding>,
    scores: Option<Scores>,
    #[serde(default)]
    audit_type: Option<AuditType>,
    #[serde(default)]
    due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    scheduled_by: Option<MemberId>,
    /// Evidence attached on its own: (item, file).
    #[serde(default)]
    attachments: Vec<(Option<String>, EvidenceRef)>,
}

impl FiveSAudit {
    /// The status.
    pub fn status(&self) -> AuditStatus {
        self.status
    }
    /// The frozen scores, once submitted.
    pub fn scores(&self) -> Option<&Scores> {
        self.scores.as_ref()
    }
    /// The audited zone.
    pub fn zone_id(&self) -> Option<ZoneId> {
        self.zone_id
    }
    /// The results by item.
    pub fn results(&self) -> &BTreeMap<String, ItemResult> {
        &self.results
    }
    /// The pinned template version.
    pub fn template_version(&self) -> Option<(crate::ids::TemplateId, u32)> {
        self.template.as_ref().map(|t| (t.template_id, t.version))
    }
    /// Who conducts it.
    pub fn conducted_by(&self) -> &[MemberId] {
        &self.conducted_by
    }
    /// The findings recorded.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
    /// The audit type.
    pub fn audit_type(&self) -> Option<AuditType> {
        self.audit_type
    }
    /// When a scheduled audit is due.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.due_at
    }
    /// Evidence attached on its own: (item, file).
    pub fn attachments(&self) -> &[(Option<String>, EvidenceRef)] {
        &self.attachments
    }

    fn values(&self) -> BTreeMap<String, ItemValue> {
        self.results.iter().map(|(k, r)| (k.clone(), r.value)).collect()
    }

    fn template(&self) -> Result<&TemplateDefinition, DomainError> {
        self.template.as_ref().ok_or(DomainError::NotFound)
    }

    fn require_in_progress(&self) -> Outcome {
        match self.status {
            AuditStatus::InProgress => Ok(()),
            AuditStatus::None => Err(DomainError::NotFound),
            _ => Err(DomainError::Rule("the audit is not in progress")),
        }
    }

    fn require_conductor(&self, actor: &Actor) -> Outcome {
        actor.require_mutator()?;
        if self.conducted_by.contains(&actor.member_id) {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only the members conducting the audit record it"))
        }
    }

    /// Checks a result against the pinned template.
    fn checked(
        &self,
        item_id: &str,
        value: ItemValue,
        comment: Option<LongText>,
        evidence: Vec<EvidenceRef>,
    ) -> Result<(Section, ItemResult), DomainError> {
        let template = self.template()?;
        let item = template.item(item_id).ok_or_else(|| ValidationError::new("itemId", "is not an item of this template"))?;
        match value {
            ItemValue::NotApplicable => {
                if !item.na_allowed {
                    return Err(ValidationError::new("value", "this item cannot be marked not applicable").into());
                }
                if comment.is_none() {
                    return Err(ValidationError::new("comment", "is required to mark an item not applicable").into());
                }
            }
            ItemValue::Score(v) => {
                if !template.scale.allows(v) {
                    return Err(ValidationError::new("value", "is not on the template's scale").into());
                }
                let attached = self.attachments.iter().any(|(item, _)| item.as_deref() == Some(item_id));
                if item.photo_required_at_or_below.is_some_and(|t| v <= t) && evidence.is_empty() && !attached {
                    return Err(ValidationError::new("evidence", "a photo is required for this score").into());
                }
            }
        }
        Ok((item.section, ItemResult { value, comment, evidence }))
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Aggregate for FiveSAudit {
    const TYPE: &'static str = "FiveSAudit";
    type Command = AuditCommand;
    type Event = AuditEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        let event = match command {
            AuditCommand::Schedule { actor, plan, now } => {
                actor.require_mutator()?;
                if self.status != AuditStatus::None {
                    return Err(DomainError::Rule("the audit already exists"));
                }
                if !plan.zone_active {
                    return Err(ValidationError::new("zoneId", "does not name an active zone").into());
                }
                if !plan.actor_may_schedule {
                    return Err(DomainError::Forbidden(
                        "5S audits are scheduled by five_s_auditors, the zone's leaders, owners and admins",
                    ));
                }
                if plan.due_at <= now {
                    return Err(ValidationError::new("dueAt", "must be in the future").into());
                }
                AuditEvent::AuditScheduled {
                    audit_id: plan.audit_id,
                    zone_id: plan.zone_id,
                    audit_type: plan.audit_type,
                    due_at: plan.due_at,
                    scheduled_by: Some(actor.member_id),
                }
            }
            AuditCommand::ScheduleFromPlan { plan, now } => {
                if self.status != AuditStatus::None {
                    return Err(DomainError::Rule("the audit already exists"));
                }
                if !plan.zone_active {
                    return Err(ValidationError::new("zoneId", "does not name an active zone").into());
                }
                if plan.due_at <= now {
                    return Err(ValidationError::new("dueAt", "must be in the future").into());
                }
                AuditEvent::AuditScheduled {
                    audit_id: plan.audit_id,
                    zone_id: plan.zone_id,
                    audit_type: plan.audit_type,
                    due_at: plan.due_at,
                    scheduled_by: None,
                }
            }
            AuditCommand::MarkMissed { now } => {
                let due_at = match (self.status, self.due_at) {
                    (AuditStatus::None, _) => return Err(DomainError::NotFound),
                    (AuditStatus::Scheduled, Some(due_at)) => due_at,
                    _ => return Err(DomainError::Rule("only a scheduled audit is missed")),
                };
                if now <= due_at {
                    return Err(DomainError::Rule("the audit is not due yet"));
                }
                AuditEvent::AuditMissed { due_at }
            }
            AuditCommand::Start { actor, start, now } => {
                actor.require_mutator()?;
                let was_scheduled = match self.status {
                    AuditStatus::None => false,
                    AuditStatus::Scheduled => true,
                    AuditStatus::Missed => return Err(DomainError::Rule("a missed audit is not started; schedule a new one")),
                    _ => return Err(DomainError::Rule("the audit already exists")),
                };
                let start = *start;
                if was_scheduled && (self.zone_id != Some(start.zone_id) || self.audit_type != Some(start.audit_type)) {
                    return Err(ValidationError::new("auditId", "was scheduled for another zone or audit type").into());
                }
                if !start.zone_active {
                    return Err(ValidationError::new("zoneId", "does not name an active zone").into());
                }
                if !start.actor_may_conduct {
                    return Err(DomainError::Forbidden(
                        "5S audits are conducted by five_s_auditors (self audits also by the zone's leaders)",
                    ));
                }
                if start.open_audit_exists {
                    return Err(DomainError::Rule("an audit of this zone and type is already in progress"));
                }
                let mut conducted_by = start.conducted_by;
                if !conducted_by.contains(&actor.member_id) {
                    conducted_by.insert(0, actor.member_id);
                }
                let owner_conducts = start.zone_owner.is_some_and(|o| conducted_by.contains(&o));
                if start.audit_type != AuditType::SelfAudit && owner_conducts {
                    return Err(DomainError::Rule("the zone's owner does not conduct an independent audit of their own zone"));
                }
                AuditEvent::AuditStarted {
                    audit_id: start.audit_id,
                    zone_id: start.zone_id,
                    audit_type: start.audit_type,
                    template: start.template,
                    checksum: start.checksum,
                    conducted_by,
                    zone_owner_present: owner_conducts,
                    started_at: now,
                    was_scheduled,
                }
            }
            AuditCommand::MarkItemNotApplicable { actor, item_id, comment } => {
                self.require_in_progress()?;
                self.require_conductor(&actor)?;
                let (section, _) = self.checked(&item_id, ItemValue::NotApplicable, Some(comment.clone()), Vec::new())?;
                let before = self.results.get(&item_id).map(|r| r.value);
                if before == Some(ItemValue::NotApplicable) {
                    return Err(DomainError::Rule("the item is already marked not applicable"));
                }
                AuditEvent::AuditItemMarkedNotApplicable { item_id, section, before, comment }
            }
            AuditCommand::AttachEvidence { actor, item_id, evidence } => {
                self.require_in_progress()?;
                self.require_conductor(&actor)?;
                if let Some(item_id) = &item_id {
                    self.template()?.item(item_id).ok_or_else(|| ValidationError::new("itemId", "is not an item of this template"))?;
                }
                let result_has = |r: &ItemResult| r.evidence.contains(&evidence);
                let on_result = item_id.as_ref().and_then(|i| self.results.get(i)).is_some_and(result_has);
                if on_result || self.attachments.iter().any(|(i, e)| *i == item_id && *e == evidence) {
                    return Err(DomainError::Rule("this evidence is already attached"));
                }
                if self.attachments.len() >= 500 {
                    return Err(DomainError::Rule("an audit holds at most 500 files"));
                }
                AuditEvent::AuditEvidenceAttached { item_id, evidence }
            }
            AuditCommand::ScoreItem { actor, item_id, value, comment, evidence } => {
                self.require_in_progress()?;
                self.require_conductor(&actor)?;
                let (section, result) = self.checked(&item_id, value, comment, evidence)?;
                let before = self.results.get(&item_id).map(|r| r.value);
                AuditEvent::AuditItemScored { item_id, section, before, after: result }
            }
            AuditCommand::RecordFinding { actor, finding } => {
                self.require_in_progress()?;
                self.require_conductor(&actor)?;
                if let Some(item_id) = &finding.item_id {
                    self.template()?.item(item_id).ok_or_else(|| ValidationError::new("itemId", "is not an item of this template"))?;
                }
                if self.findings.iter().any(|f| f.finding_id == finding.finding_id) {
                    return Err(DomainError::Rule("the finding is already recorded"));
                }
                AuditEvent::AuditFindingRecorded { finding }
            }
            AuditCommand::Submit { actor, now } => {
                self.require_in_progress()?;
                self.require_conductor(&actor)?;
                let template = self.template()?;
                let missing = template.items.iter().filter(|i| !self.results.contains_key(&i.item_id)).count();
                if missing > 0 {
                    return Err(DomainError::Rule("every item must be scored or marked not applicable before submitting"));
                }
                let values = self.values();
                let auto_finding_items = template
                    .items
                    .iter()
                    .filter(|i| matches!(values.get(&i.item_id), Some(ItemValue::Score(v)) if i.auto_finding_at_or_below.is_some_and(|t| *v <= t)))
                    .map(|i| i.item_id.clone())
                    .collect();
                AuditEvent::AuditSubmitted {
                    scores: score(template, &values),
                    item_count: count(template.items.len()),
                    na_count: count(values.values().filter(|v| **v == ItemValue::NotApplicable).count()),
                    finding_count: count(self.findings.len()),
                    auto_finding_items,
                    conducted_by: self.conducted_by.clone(),
                    template_checksum: self.checksum.clone(),
                    submitted_at: now,
                }
            }
            AuditCommand::CorrectItemScore { actor, item_id, value, comment, reason } => {
                if self.status != AuditStatus::Submitted {
                    return Err(if self.status == AuditStatus::None {
                        DomainError::NotFound
                    } else {
                        DomainError::Rule("only a submitted audit is corrected")
                    });
                }
                if !matches!(actor.role, Role::Owner | Role::Admin) {
                    self.require_conductor(&actor)?;
                }
                actor.require_mutator()?;
                let before =
                    self.results.get(&item_id).cloned().ok_or_else(|| ValidationError::new("itemId", "is not an item of this audit"))?;
                let (_, after) = self.checked(&item_id, value, comment, before.evidence.clone())?;
                if after.value == before.value {
                    return Err(DomainError::Rule("the item already has this value"));
                }
                let template = self.template()?;
                let scores_before = score(template, &self.values());
                let mut values = self.values();
                values.insert(item_id.clone(), after.value);
                let scores_after = score(template, &values);
                AuditEvent::AuditScoreCorrected { item_id, before, after, scores_before, scores_after, reason }
            }
            AuditCommand::Cancel { actor, reason } => {
                let from = self.status;
                match from {
                    AuditStatus::None => return Err(DomainError::NotFound),
                    AuditStatus::Scheduled if self.scheduled_by == Some(actor.member_id) => {}
                    AuditStatus::Scheduled if !matches!(actor.role, Role::Owner | Role::Admin) => {
                        return Err(DomainError::Forbidden("a scheduled audit is cancelled by who scheduled it, owners and admins"));
                    }
                    AuditStatus::Scheduled => {}
                    AuditStatus::InProgress if !matches!(actor.role, Role::Owner | Role::Admin) => self.require_conductor(&actor)?,
                    AuditStatus::InProgress => {}
                    _ => return Err(DomainError::Rule("only a scheduled audit or one in progress is cancelled")),
                }
                actor.require_mutator()?;
                AuditEvent::AuditCancelled { reason, from }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AuditEvent::AuditScheduled { zone_id, audit_type, due_at, scheduled_by, .. } => {
                self.status = AuditStatus::Scheduled;
                self.zone_id = Some(zone_id);
                self.audit_type = Some(audit_type);
                self.due_at = Some(due_at);
                self.scheduled_by = scheduled_by;
            }
            AuditEvent::AuditMissed { .. } => self.status = AuditStatus::Missed,
            AuditEvent::AuditItemMarkedNotApplicable { item_id, comment, .. } => {
                let evidence = self.results.get(&item_id).map(|r| r.evidence.clone()).unwrap_or_default();
                self.results.insert(item_id, ItemResult { value: ItemValue::NotApplicable, comment: Some(comment), evidence });
            }
            AuditEvent::AuditEvidenceAttached { item_id, evidence } => self.attachments.push((item_id, evidence)),
            AuditEvent::AuditStarted { zone_id, template, checksum, conducted_by, audit_type, .. } => {
                self.status = AuditStatus::InProgress;
                self.audit_type = Some(audit_type);
                self.checksum = checksum;
                self.zone_id = Some(zone_id);
                self.template = Some(template);
                self.conducted_by = conducted_by;
            }
            AuditEvent::AuditItemScored { item_id, after, .. } | AuditEvent::AuditScoreCorrected { item_id, after, .. } => {
                if let AuditStatus::Submitted = self.status
                    && let Some(template) = &self.template
                {
                    let mut values = self.values();
                    values.insert(item_id.clone(), after.value);
                    self.scores = Some(score(template, &values));
                }
                self.results.insert(item_id, after);
            }
            AuditEvent::AuditFindingRecorded { finding } => self.findings.push(finding),
            AuditEvent::AuditSubmitted { scores, .. } => {
                self.status = AuditStatus::Submitted;
                self.scores = Some(scores);
            }
            AuditEvent::AuditCancelled { .. } => self.status = AuditStatus::Cancelled,
        }
    }
}

#[cfg(test)]
#[path = "five_s_audit_tests.rs"]
mod tests;
