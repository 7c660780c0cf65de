//! The Defect aggregate: an abnormality tag (TPM autonomous maintenance) from raising to
//! verified closure (reference/domain.md §4.6).
//!
//! Invariants: the original due date is set once and never moves; due dates, classification
//! and reopening need a reason; resolving needs a countermeasure (and after-evidence for
//! maintenance and safety tags); the verifier is never the resolver; unsafe places are
//! priority A or B when raised; Auditors never mutate.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change, SignatureMeaning};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{A3Id, DefectId, KaizenId, MemberId, ZoneId};
use crate::values::{Code, EvidenceRef, LongText, Name, Reason, Role};

/// The seven TPM abnormality types, and other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbnormalityType {
    MinorFlaw,
    UnfulfilledBasicCondition,
    InaccessiblePlace,
    ContaminationSource,
    QualityDefectSource,
    UnnecessaryNonUrgentItem,
    UnsafePlace,
    Other,
}

/// Who the tag is for (its colour comes from organisation settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagClass {
    Operator,
    Maintenance,
    Safety,
}

/// How urgent: A (24 h by default), B (7 days), C (30 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    A,
    B,
    C,
}

/// Where the defect was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    AutonomousMaintenance,
    FiveSAudit,
    GembaWalk,
    Lpa,
    OperatorReport,
    Other,
}

/// Why work waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    WaitingParts,
    PlannedShutdown,
    AwaitingEngineering,
    Other,
}

/// Why a defect is cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    Duplicate,
    NotADefect,
    OutOfScope,
}

/// Whether evidence shows the abnormality (before) or the fix (after).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidencePhase {
    Before,
    After,
}

/// Why the system escalates a defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationRule {
    /// A priority-A defect is still unassigned `a_ack_minutes` after it was raised.
    PriorityAUnassigned,
}

/// A comment on a defect, kept in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefectComment {
    pub author: MemberId,
    pub text: LongText,
    pub at: DateTime<Utc>,
}

/// Where a defect stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DefectStatus {
    /// Not raised yet.
    #[default]
    None,
    Open,
    Assigned,
    InProgress,
    OnHold,
    Resolved,
    Closed,
    Cancelled,
}

/// Service levels per priority, from the organisation's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrioritySlas {
    pub a: Duration,
    pub b: Duration,
    pub c: Duration,
}

impl Default for PrioritySlas {
    fn default() -> Self {
        Self { a: Duration::hours(24), b: Duration::days(7), c: Duration::days(30) }
    }
}

impl PrioritySlas {
    /// The service level of `priority`.
    pub fn of(&self, priority: Priority) -> Duration {
        match priority {
            Priority::A => self.a,
            Priority::B => self.b,
            Priority::C => self.c,
        }
    }
}

/// What a new defect says.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDefect {
    pub defect_id: DefectId,
    pub zone_id: ZoneId,
    pub abnormality_type: AbnormalityType,
    pub tag_class: TagClass,
    pub priority: Priority,
    pub title: Name,
    pub description: LongText,
    pub origin: Origin,
    pub evidence_before: Vec<EvidenceRef>,
}

/// Facts about the actor and the zone, looked up by the write side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZoneFacts {
    /// The zone exists and is active.
    pub zone_active: bool,
    /// The actor is the zone's owner or a deputy.
    pub actor_leads_zone: bool,
    /// The actor holds the `defect_verifier` capability.
    pub actor_is_defect_verifier: bool,
}

/// Commands on a defect.
#[derive(Clone, Debug)]
pub enum DefectCommand {
    Raise {
        actor: Actor,
        facts: ZoneFacts,
        defect: NewDefect,
        now: DateTime<Utc>,
    },
    RaiseFixedOnSpot {
        actor: Actor,
        facts: ZoneFacts,
        defect: NewDefect,
        countermeasure: LongText,
        evidence_after: Vec<EvidenceRef>,
        now: DateTime<Utc>,
    },
    Assign {
        actor: Actor,
        facts: ZoneFacts,
        assignee: MemberId,
        /// The assignee is an active member whose site scope covers the defect's site.
        assignee_active: bool,
        due_at: Option<DateTime<Utc>>,
        slas: PrioritySlas,
        now: DateTime<Utc>,
    },
    Reassign {
        actor: Actor,
        facts: ZoneFacts,
        assignee: MemberId,
        /// The assignee is an active member whose site scope covers the defect's site.
        assignee_active: bool,
        reason: Reason,
    },
    ChangeDueDate {
        actor: Actor,
        facts: ZoneFacts,
        due_at: DateTime<Utc>,
        reason: Reason,
        now: DateTime<Utc>,
    },
    StartWork {
        actor: Actor,
        facts: ZoneFacts,
    },
    RecordContainment {
        actor: Actor,
        text: LongText,
    },
    PutOnHold {
        actor: Actor,
        facts: ZoneFacts,
        hold_reason: HoldReason,
        text: LongText,
    },
    Resume {
        actor: Actor,
        facts: ZoneFacts,
    },
    RecordCountermeasure {
        actor: Actor,
        countermeasure: LongText,
        root_cause: Option<LongText>,
    },
    /// The assignee, a zone leader, an Owner or an Admin resolves.
    Resolve {
        actor: Actor,
        facts: ZoneFacts,
        countermeasure: LongText,
        evidence_after: Vec<EvidenceRef>,
        now: DateTime<Utc>,
    },
    Verify {
        actor: Actor,
        facts: ZoneFacts,
        note: Option<LongText>,
        now: DateTime<Utc>,
    },
    FailVerification {
        actor: Actor,
        facts: ZoneFacts,
        reason: Reason,
    },
    Reopen {
        actor: Actor,
        facts: ZoneFacts,
        reason: Reason,
        recurrence_window: Duration,
        now: DateTime<Utc>,
    },
    Cancel {
        actor: Actor,
        facts: ZoneFacts,
        cancel_reason: CancelReason,
        duplicate_of: Option<DefectId>,
        text: LongText,
    },
    Reclassify {
        actor: Actor,
        facts: ZoneFacts,
        abnormality_type: AbnormalityType,
        tag_class: TagClass,
        priority: Priority,
        reason: Reason,
    },
    /// An Owner or Admin moves an open defect to another active zone of the same site (the
    /// write side checks the site), e.g. when its zone is archived.
    TransferZone {
        actor: Actor,
        to_zone: ZoneId,
        to_zone_active: bool,
        reason: Reason,
    },
    /// Attaches a photo or file (by sha256) as before- or after-evidence.
    AttachEvidence {
        actor: Actor,
        evidence: EvidenceRef,
        phase: EvidencePhase,
    },
    /// Adds a comment; comments are kept in order with their author and time.
    Comment {
        actor: Actor,
        text: LongText,
        now: DateTime<Utc>,
    },
    /// Links the defect to an A3 case; `a3_exists`: the write side found it in this organisation.
    LinkToA3 {
        actor: Actor,
        facts: ZoneFacts,
        a3_id: A3Id,
        a3_exists: bool,
    },
    /// Links the defect to a kaizen; `kaizen_exists`: the write side found it in this organisation.
    LinkToKaizen {
        actor: Actor,
        facts: ZoneFacts,
        kaizen_id: KaizenId,
        kaizen_exists: bool,
    },
    /// Sets the external (CMMS) work order reference.
    SetWorkOrderRef {
        actor: Actor,
        facts: ZoneFacts,
        work_order_ref: Code,
    },
    /// The system (never a person) flags a defect that breaks an escalation rule; `level`
    /// counts the elapsed acknowledgement periods (1 = first).
    Escalate {
        rule: EscalationRule,
        level: u32,
        a_ack_minutes: u32,
        now: DateTime<Utc>,
    },
    /// An advisor (never a person) suggests an abnormality type; nothing changes until a person accepts.
    RecordSuggestion {
        suggestion_id: String,
        abnormality_type: AbnormalityType,
        source: String,
    },
    /// A person accepts the pending suggestion: the type changes.
    AcceptSuggestion {
        actor: Actor,
        facts: ZoneFacts,
        suggestion_id: String,
    },
    /// A person rejects the pending suggestion.
    RejectSuggestion {
        actor: Actor,
        facts: ZoneFacts,
        suggestion_id: String,
    },
}

/// Events of a defect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DefectEvent {
    DefectRaised {
        defect_id: DefectId,
        zone_id: ZoneId,
        abnormality_type: AbnormalityType,
        tag_class: TagClass,
        priority: Priority,
        title: Name,
        description: LongText,
        origin: Origin,
        evidence_before: Vec<EvidenceRef>,
        found_by: MemberId,
        found_at: DateTime<Utc>,
    },
    DefectAssigned {
        assignee: MemberId,
        due_at: DateTime<Utc>,
        original_due_at: Option<DateTime<Utc>>,
    },
    DefectReassigned {
        before: MemberId,
        after: MemberId,
        reason: Reason,
    },
    DefectDueDateChanged {
        before: Option<DateTime<Utc>>,
        after: DateTime<Utc>,
        reason: Reason,
    },
    DefectWorkStarted,
    DefectContainmentRecorded {
        before: Option<LongText>,
        after: LongText,
    },
    DefectPutOnHold {
        from: DefectStatus,
        hold_reason: HoldReason,
        text: LongText,
    },
    DefectResumed {
        to: DefectStatus,
    },
    DefectCountermeasureRecorded {
        before: Option<LongText>,
        after: LongText,
        root_cause: Option<LongText>,
    },
    DefectResolved {
        from: DefectStatus,
        countermeasure: LongText,
        evidence_after: Vec<EvidenceRef>,
        resolved_by: MemberId,
        resolved_at: DateTime<Utc>,
        fixed_on_spot: bool,
    },
    /// Verified and closed; the signature meaning is `verified`. Carries who resolved and
    /// found it and the original due date, so policies (points) need no other state.
    DefectClosed {
        verified_by: MemberId,
        verified_at: DateTime<Utc>,
        note: Option<LongText>,
        signature_meaning: String,
        resolved_by: Option<MemberId>,
        found_by: Option<MemberId>,
        original_due_at: Option<DateTime<Utc>>,
    },
    DefectVerificationFailed {
        reason: Reason,
    },
    DefectReopened {
        reason: Reason,
        recurrence: bool,
    },
    DefectCancelled {
        from: DefectStatus,
        cancel_reason: CancelReason,
        duplicate_of: Option<DefectId>,
        text: LongText,
    },
    DefectEvidenceAttached {
        evidence: EvidenceRef,
        phase: EvidencePhase,
        attached_by: MemberId,
    },
    DefectCommented {
        comment: DefectComment,
    },
    DefectLinkedToA3 {
        before: Option<A3Id>,
        after: A3Id,
    },
    DefectLinkedToKaizen {
        kaizen_id: KaizenId,
    },
    DefectWorkOrderLinked {
        before: Option<Code>,
        after: Code,
    },
    /// A flag raised by the system, not a state.
    /// Version 2 (see `upcast`): the level before and after (`from_level` is unknown, null,
    /// for events written as version 1).
    DefectEscalated {
        rule: EscalationRule,
        from_level: Option<u32>,
        to_level: u32,
        escalated_at: DateTime<Utc>,
    },
    /// Advisory only: the defect is unchanged.
    DefectTypeSuggested {
        suggestion_id: String,
        abnormality_type: AbnormalityType,
        source: String,
    },
    DefectSuggestionAccepted {
        suggestion_id: String,
        before: AbnormalityType,
        after: AbnormalityType,
    },
    DefectSuggestionRejected {
        suggestion_id: String,
    },
    DefectReclassified {
        abnormality_type: (AbnormalityType, AbnormalityType),
        tag_class: (TagClass, TagClass),
        priority: (Priority, Priority),
        reason: Reason,
    },
    /// Moved to another zone of its site.
    DefectTransferred {
        from: ZoneId,
        to: ZoneId,
        reason: Reason,
    },
}

impl DomainEvent for DefectEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DefectRaised { .. } => "DefectRaised",
            Self::DefectAssigned { .. } => "DefectAssigned",
            Self::DefectReassigned { .. } => "DefectReassigned",
            Self::DefectDueDateChanged { .. } => "DefectDueDateChanged",
            Self::DefectWorkStarted => "DefectWorkStarted",
            Self::DefectContainmentRecorded { .. } => "DefectContainmentRecorded",
            Self::DefectPutOnHold { .. } => "DefectPutOnHold",
            Self::DefectResumed { .. } => "DefectResumed",
            Self::DefectCountermeasureRecorded { .. } => "DefectCountermeasureRecorded",
            Self::DefectResolved { .. } => "DefectResolved",
            Self::DefectClosed { .. } => "DefectClosed",
            Self::DefectVerificationFailed { .. } => "DefectVerificationFailed",
            Self::DefectReopened { .. } => "DefectReopened",
            Self::DefectCancelled { .. } => "DefectCancelled",
            Self::DefectReclassified { .. } => "DefectReclassified",
            Self::DefectTransferred { .. } => "DefectTransferred",
            Self::DefectEvidenceAttached { .. } => "DefectEvidenceAttached",
            Self::DefectCommented { .. } => "DefectCommented",
            Self::DefectLinkedToA3 { .. } => "DefectLinkedToA3",
            Self::DefectLinkedToKaizen { .. } => "DefectLinkedToKaizen",
            Self::DefectWorkOrderLinked { .. } => "DefectWorkOrderLinked",
            Self::DefectEscalated { .. } => "DefectEscalated",
            Self::DefectTypeSuggested { .. } => "DefectTypeSuggested",
            Self::DefectSuggestionAccepted { .. } => "DefectSuggestionAccepted",
            Self::DefectSuggestionRejected { .. } => "DefectSuggestionRejected",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        crate::upcast::current_version(&self.event_type()).to_owned()
    }
}

fn status(before: DefectStatus, after: DefectStatus) -> Change {
    Change::new("status", before, after)
}

impl Audited for DefectEvent {
    fn changes(&self) -> Vec<Change> {
        use DefectStatus as S;
        match self {
            Self::DefectRaised {
                zone_id,
                abnormality_type,
                tag_class,
                priority,
                title,
                description,
                origin,
                evidence_before,
                found_by,
                found_at,
                ..
            } => {
                vec![
                    Change::created("zoneId", zone_id),
                    Change::created("abnormalityType", abnormality_type),
                    Change::created("tagClass", tag_class),
                    Change::created("priority", priority),
                    Change::created("title", title),
                    Change::created("description", description),
                    Change::created("origin", origin),
                    Change::created("evidenceBefore", evidence_before),
                    Change::created("foundBy", found_by),
                    Change::created("foundAt", found_at),
                    Change::created("status", S::Open),
                ]
            }
            Self::DefectAssigned { assignee, due_at, original_due_at } => {
                let mut changes =
                    vec![status(S::Open, S::Assigned), Change::created("assigneeId", assignee), Change::created("dueAt", due_at)];
                if let Some(original) = original_due_at {
                    changes.push(Change::created("originalDueAt", original));
                }
                changes
            }
            Self::DefectReassigned { before, after, .. } => vec![Change::new("assigneeId", before, after)],
            Self::DefectDueDateChanged { before, after, .. } => vec![Change::new("dueAt", before, after)],
            Self::DefectWorkStarted => vec![status(S::Assigned, S::InProgress)],
            Self::DefectContainmentRecorded { before, after } => vec![Change::new("containment", before, after)],
            Self::DefectPutOnHold { from, hold_reason, text } => {
                vec![status(*from, S::OnHold), Change::created("holdReason", hold_reason), Change::created("holdText", text)]
            }
            Self::DefectResumed { to } => vec![status(S::OnHold, *to)],
            Self::DefectCountermeasureRecorded { before, after, root_cause } => {
                vec![Change::new("countermeasure", before, after), Change::created("rootCause", root_cause)]
            }
            Self::DefectResolved { from, countermeasure, evidence_after, resolved_by, resolved_at, fixed_on_spot } => vec![
                status(*from, S::Resolved),
                Change::created("countermeasure", countermeasure),
                Change::created("evidenceAfter", evidence_after),
                Change::created("resolvedBy", resolved_by),
                Change::created("resolvedAt", resolved_at),
                Change::created("fixedOnSpot", fixed_on_spot),
            ],
            Self::DefectClosed { verified_by, verified_at, .. } => {
                vec![status(S::Resolved, S::Closed), Change::created("verifiedBy", verified_by), Change::created("verifiedAt", verified_at)]
            }
            Self::DefectVerificationFailed { .. } => vec![status(S::Resolved, S::Assigned)],
            Self::DefectReopened { recurrence, .. } => vec![status(S::Closed, S::Assigned), Change::created("recurrence", recurrence)],
            Self::DefectCancelled { from, cancel_reason, duplicate_of, .. } => vec![
                status(*from, S::Cancelled),
                Change::created("cancelReason", cancel_reason),
                Change::created("duplicateOf", duplicate_of),
            ],
            Self::DefectEvidenceAttached { evidence, phase, .. } => {
                let path = match phase {
                    EvidencePhase::Before => "evidenceBefore",
                    EvidencePhase::After => "evidenceAfter",
                };
                vec![Change::created(&format!("{path}.{}", evidence.as_str()), evidence)]
            }
            Self::DefectCommented { comment } => vec![Change::created("comments", comment)],
            Self::DefectLinkedToA3 { before, after } => vec![Change::new("linkedA3Id", before, after)],
            Self::DefectLinkedToKaizen { kaizen_id } => vec![Change::created(&format!("linkedKaizenIds.{kaizen_id}"), kaizen_id)],
            Self::DefectWorkOrderLinked { before, after } => vec![Change::new("workOrderRef", before, after)],
            Self::DefectEscalated { rule, from_level, to_level, .. } => vec![Change::new(
                "escalation",
                from_level.map_or(serde_json::Value::Null, |level| serde_json::json!({"level": level})),
                serde_json::json!({"rule": rule, "level": to_level}),
            )],
            Self::DefectTypeSuggested { suggestion_id, abnormality_type, .. } => {
                vec![Change::created(&format!("suggestions.{suggestion_id}"), abnormality_type)]
            }
            Self::DefectSuggestionAccepted { suggestion_id, before, after } => vec![
                Change::new("abnormalityType", before, after),
                Change::new(&format!("suggestions.{suggestion_id}.decision"), serde_json::Value::Null, "accepted"),
            ],
            Self::DefectSuggestionRejected { suggestion_id } => {
                vec![Change::new(&format!("suggestions.{suggestion_id}.decision"), serde_json::Value::Null, "rejected")]
            }
            Self::DefectReclassified { abnormality_type, tag_class, priority, .. } => [
                Change::new("abnormalityType", abnormality_type.0, abnormality_type.1),
                Change::new("tagClass", tag_class.0, tag_class.1),
                Change::new("priority", priority.0, priority.1),
            ]
            .into_iter()
            .filter(|c| c.before != c.after)
            .collect(),
            Self::DefectTransferred { from, to, .. } => vec![Change::new("zoneId", from, to)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::DefectReassigned { reason, .. }
            | Self::DefectDueDateChanged { reason, .. }
            | Self::DefectVerificationFailed { reason }
            | Self::DefectReopened { reason, .. }
            | Self::DefectReclassified { reason, .. }
            | Self::DefectTransferred { reason, .. } => Some(reason),
            _ => None,
        }
    }
    fn signature(&self) -> Option<SignatureMeaning> {
        matches!(self, Self::DefectClosed { .. }).then_some(SignatureMeaning::Verified)
    }
}

/// What is known about a defect: the aggregate's state, readable by queries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DefectState {
    pub id: Option<DefectId>,
    pub zone_id: Option<ZoneId>,
    pub status: DefectStatus,
    pub abnormality_type: Option<AbnormalityType>,
    pub tag_class: Option<TagClass>,
    pub priority: Option<Priority>,
    pub title: Option<Name>,
    pub description: Option<LongText>,
    pub origin: Option<Origin>,
    pub found_by: Option<MemberId>,
    pub found_at: Option<DateTime<Utc>>,
    pub assignee: Option<MemberId>,
    pub due_at: Option<DateTime<Utc>>,
    pub original_due_at: Option<DateTime<Utc>>,
    pub containment: Option<LongText>,
    pub countermeasure: Option<LongText>,
    pub fixed_on_spot: bool,
    pub resolved_by: Option<MemberId>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub verified_by: Option<MemberId>,
    pub closed_at: Option<DateTime<Utc>>,
    pub held_from: Option<DefectStatus>,
    pub reopen_count: u32,
    /// A pending advisory suggestion: (id, type, source).
    pub suggestion: Option<(String, AbnormalityType, String)>,
    #[serde(default)]
    pub evidence_before: Vec<EvidenceRef>,
    #[serde(default)]
    pub evidence_after: Vec<EvidenceRef>,
    /// In the order they were made.
    #[serde(default)]
    pub comments: Vec<DefectComment>,
    #[serde(default)]
    pub linked_a3_id: Option<A3Id>,
    #[serde(default)]
    pub linked_kaizen_ids: Vec<KaizenId>,
    /// The external (CMMS) work order.
    #[serde(default)]
    pub work_order_ref: Option<Code>,
    /// The highest escalation level the system flagged (0: never escalated).
    #[serde(default)]
    pub escalation_level: u32,
}

/// The Defect aggregate. Its state changes only through `apply`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Defect {
    s: DefectState,
}

impl Defect {
    /// Everything known about the defect.
    pub fn state(&self) -> &DefectState {
        &self.s
    }
    /// The current status.
    pub fn status(&self) -> DefectStatus {
        self.s.status
    }
    /// Who resolved it last.
    pub fn resolved_by(&self) -> Option<MemberId> {
        self.s.resolved_by
    }
    /// Who verified (closed) it last.
    pub fn verified_by(&self) -> Option<MemberId> {
        self.s.verified_by
    }
    /// The first due date ever set.
    pub fn original_due_at(&self) -> Option<DateTime<Utc>> {
        self.s.original_due_at
    }
    /// The current due date.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.s.due_at
    }

    fn require_status(&self, allowed: &[DefectStatus], what: &'static str) -> Outcome {
        match self.s.status {
            DefectStatus::None => Err(DomainError::NotFound),
            s if allowed.contains(&s) => Ok(()),
            _ => Err(DomainError::Rule(what)),
        }
    }

    fn require_lead(actor: &Actor, facts: &ZoneFacts) -> Outcome {
        actor.require_mutator()?;
        if matches!(actor.role, Role::Owner | Role::Admin) || facts.actor_leads_zone {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only the zone's owner or deputies, owners and admins may do this"))
        }
    }

    /// Who decides on a suggestion: the finder, the zone's leaders, owners and admins.
    fn require_decider(&self, actor: &Actor, facts: &ZoneFacts) -> Outcome {
        if self.s.found_by == Some(actor.member_id) {
            return actor.require_mutator();
        }
        Self::require_lead(actor, facts)
    }

    fn require_worker(&self, actor: &Actor, facts: &ZoneFacts) -> Outcome {
        if self.s.assignee == Some(actor.member_id) {
            return actor.require_mutator();
        }
        Self::require_lead(actor, facts)
    }

    fn require_verifier(&self, actor: &Actor, facts: &ZoneFacts) -> Outcome {
        actor.require_mutator()?;
        if self.s.resolved_by == Some(actor.member_id) {
            return Err(DomainError::Forbidden("the verifier must not be the person who resolved the defect"));
        }
        if facts.actor_leads_zone || facts.actor_is_defect_verifier || self.s.found_by == Some(actor.member_id) {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only the zone's owner or deputies, the finder or a defect verifier may verify"))
        }
    }

    fn raised(actor: &Actor, facts: &ZoneFacts, defect: NewDefect, now: DateTime<Utc>) -> Result<DefectEvent, DomainError> {
        actor.require_mutator()?;
        if !facts.zone_active {
            return Err(ValidationError::new("zoneId", "does not name an active zone").into());
        }
        if defect.abnormality_type == AbnormalityType::UnsafePlace && defect.priority == Priority::C {
            return Err(
                ValidationError::new("priority", "an unsafe place is priority A or B (reclassify with a reason to lower it)").into()
            );
        }
        Ok(DefectEvent::DefectRaised {
            defect_id: defect.defect_id,
            zone_id: defect.zone_id,
            abnormality_type: defect.abnormality_type,
            tag_class: defect.tag_class,
            priority: defect.priority,
            title: defect.title,
            description: defect.description,
            origin: defect.origin,
            evidence_before: defect.evidence_before,
            found_by: actor.member_id,
            found_at: now,
        })
    }

    fn resolved(
        from: DefectStatus,
        actor: &Actor,
        countermeasure: LongText,
        evidence_after: Vec<EvidenceRef>,
        now: DateTime<Utc>,
        fixed_on_spot: bool,
        tag_class: Option<TagClass>,
    ) -> Result<DefectEvent, DomainError> {
        if matches!(tag_class, Some(TagClass::Maintenance | TagClass::Safety)) && evidence_after.is_empty() {
            return Err(ValidationError::new("evidenceAfter", "is required for maintenance and safety tags").into());
        }
        Ok(DefectEvent::DefectResolved {
            from,
            countermeasure,
            evidence_after,
            resolved_by: actor.member_id,
            resolved_at: now,
            fixed_on_spot,
        })
    }
}

const LIVE: &[DefectStatus] = &[DefectStatus::Open, DefectStatus::Assigned, DefectStatus::InProgress, DefectStatus::OnHold];
const LIVE_OR_RESOLVED: &[DefectStatus] =
    &[DefectStatus::Open, DefectStatus::Assigned, DefectStatus::InProgress, DefectStatus::OnHold, DefectStatus::Resolved];
/// Links (to A3 cases, kaizens) are also made after closure: improvements often follow a recurrence.
const LINKABLE: &[DefectStatus] = &[
    DefectStatus::Open,
    DefectStatus::Assigned,
    DefectStatus::InProgress,
    DefectStatus::OnHold,
    DefectStatus::Resolved,
    DefectStatus::Closed,
];

impl Aggregate for Defect {
    const TYPE: &'static str = "Defect";
    type Command = DefectCommand;
    type Event = DefectEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        use DefectStatus as S;
        if let DefectCommand::Raise { .. } | DefectCommand::RaiseFixedOnSpot { .. } = &command
            && self.s.status != S::None
        {
            return Err(DomainError::Rule("the defect already exists"));
        }
        match command {
            DefectCommand::Raise { actor, facts, defect, now } => {
                sink.write(Self::raised(&actor, &facts, defect, now)?, self).await;
            }
            DefectCommand::RaiseFixedOnSpot { actor, facts, defect, countermeasure, evidence_after, now } => {
                let tag_class = Some(defect.tag_class);
                let raised = Self::raised(&actor, &facts, defect, now)?;
                let resolved = Self::resolved(S::Open, &actor, countermeasure, evidence_after, now, true, tag_class)?;
                sink.write(raised, self).await;
                sink.write(resolved, self).await;
            }
            DefectCommand::Assign { actor, facts, assignee, assignee_active, due_at, slas, now } => {
                Self::require_lead(&actor, &facts)?;
                self.require_status(&[S::Open], "only an open defect is assigned; reassign it instead")?;
                if !assignee_active {
                    return Err(ValidationError::new("assigneeId", "is not an active member working in the defect's site").into());
                }
                let priority = self.s.priority.ok_or(DomainError::NotFound)?;
                let due_at = due_at.unwrap_or(now + slas.of(priority));
                if due_at <= now {
                    return Err(ValidationError::new("dueAt", "must be in the future").into());
                }
                let original_due_at = self.s.original_due_at.is_none().then_some(due_at);
                sink.write(DefectEvent::DefectAssigned { assignee, due_at, original_due_at }, self).await;
            }
            DefectCommand::Reassign { actor, facts, assignee, assignee_active, reason } => {
                Self::require_lead(&actor, &facts)?;
                self.require_status(&[S::Assigned, S::InProgress, S::OnHold], "only an assigned defect is reassigned")?;
                if !assignee_active {
                    return Err(ValidationError::new("assigneeId", "is not an active member working in the defect's site").into());
                }
                let before = self.s.assignee.ok_or(DomainError::NotFound)?;
                if before == assignee {
                    return Err(DomainError::Rule("the defect is already assigned to this member"));
                }
                sink.write(DefectEvent::DefectReassigned { before, after: assignee, reason }, self).await;
            }
            DefectCommand::ChangeDueDate { actor, facts, due_at, reason, now } => {
                Self::require_lead(&actor, &facts)?;
                self.require_status(&[S::Assigned, S::InProgress, S::OnHold], "the due date of a finished or unassigned defect is fixed")?;
                if due_at <= now {
                    return Err(ValidationError::new("dueAt", "must be in the future").into());
                }
                if self.s.due_at == Some(due_at) {
                    return Err(DomainError::Rule("the defect already has this due date"));
                }
                sink.write(DefectEvent::DefectDueDateChanged { before: self.s.due_at, after: due_at, reason }, self).await;
            }
            DefectCommand::StartWork { actor, facts } => {
                self.require_worker(&actor, &facts)?;
                self.require_status(&[S::Assigned], "work starts on an assigned defect")?;
                sink.write(DefectEvent::DefectWorkStarted, self).await;
            }
            DefectCommand::RecordContainment { actor, text } => {
                actor.require_mutator()?;
                self.require_status(LIVE, "containment is recorded while the defect is open")?;
                sink.write(DefectEvent::DefectContainmentRecorded { before: self.s.containment.clone(), after: text }, self).await;
            }
            DefectCommand::PutOnHold { actor, facts, hold_reason, text } => {
                self.require_worker(&actor, &facts)?;
                self.require_status(&[S::Assigned, S::InProgress], "only assigned or in-progress work is put on hold")?;
                sink.write(DefectEvent::DefectPutOnHold { from: self.s.status, hold_reason, text }, self).await;
            }
            DefectCommand::Resume { actor, facts } => {
                self.require_worker(&actor, &facts)?;
                self.require_status(&[S::OnHold], "only a defect on hold is resumed")?;
                let to = self.s.held_from.unwrap_or(S::InProgress);
                sink.write(DefectEvent::DefectResumed { to }, self).await;
            }
            DefectCommand::RecordCountermeasure { actor, countermeasure, root_cause } => {
                actor.require_mutator()?;
                self.require_status(LIVE, "the countermeasure is recorded while the defect is open")?;
                let before = self.s.countermeasure.clone();
                sink.write(DefectEvent::DefectCountermeasureRecorded { before, after: countermeasure, root_cause }, self).await;
            }
            DefectCommand::Resolve { actor, facts, countermeasure, evidence_after, now } => {
                self.require_status(&[S::Assigned, S::InProgress], "only assigned or in-progress work is resolved")?;
                self.require_worker(&actor, &facts)?;
                let event = Self::resolved(self.s.status, &actor, countermeasure, evidence_after, now, false, self.s.tag_class)?;
                sink.write(event, self).await;
            }
            DefectCommand::Verify { actor, facts, note, now } => {
                self.require_status(&[S::Resolved], "only a resolved defect is verified")?;
                self.require_verifier(&actor, &facts)?;
                let event = DefectEvent::DefectClosed {
                    verified_by: actor.member_id,
                    verified_at: now,
                    note,
                    signature_meaning: "verified".into(),
                    resolved_by: self.s.resolved_by,
                    found_by: self.s.found_by,
                    original_due_at: self.s.original_due_at,
                };
                sink.write(event, self).await;
            }
            DefectCommand::FailVerification { actor, facts, reason } => {
                self.require_status(&[S::Resolved], "only a resolved defect fails verification")?;
                self.require_verifier(&actor, &facts)?;
                sink.write(DefectEvent::DefectVerificationFailed { reason }, self).await;
            }
            DefectCommand::Reopen { actor, facts, reason, recurrence_window, now } => {
                Self::require_lead(&actor, &facts)?;
                self.require_status(&[S::Closed], "only a closed defect is reopened")?;
                let recurrence = self.s.closed_at.is_some_and(|closed| now - closed <= recurrence_window);
                sink.write(DefectEvent::DefectReopened { reason, recurrence }, self).await;
            }
            DefectCommand::Cancel { actor, facts, cancel_reason, duplicate_of, text } => {
                Self::require_lead(&actor, &facts)?;
                self.require_status(LIVE, "only an open defect is cancelled")?;
                if (cancel_reason == CancelReason::Duplicate) != duplicate_of.is_some() {
                    return Err(ValidationError::new("duplicateOf", "is given exactly when the reason is duplicate").into());
                }
                if duplicate_of.is_some() && duplicate_of == self.s.id {
                    return Err(ValidationError::new("duplicateOf", "cannot be the defect itself").into());
                }
                sink.write(DefectEvent::DefectCancelled { from: self.s.status, cancel_reason, duplicate_of, text }, self).await;
            }
            DefectCommand::AttachEvidence { actor, evidence, phase } => {
                actor.require_mutator()?;
                self.require_status(
                    &[S::Open, S::Assigned, S::InProgress, S::OnHold, S::Resolved],
                    "evidence is attached until the defect is closed",
                )?;
                let attached = match phase {
                    EvidencePhase::Before => &self.s.evidence_before,
                    EvidencePhase::After => &self.s.evidence_after,
                };
                if attached.contains(&evidence) {
                    return Err(DomainError::Rule("this evidence is already attached"));
                }
                if attached.len() >= 50 {
                    return Err(DomainError::Rule("a defect holds at most 50 files per phase"));
                }
                sink.write(DefectEvent::DefectEvidenceAttached { evidence, phase, attached_by: actor.member_id }, self).await;
            }
            DefectCommand::Comment { actor, text, now } => {
                actor.require_mutator()?;
                self.require_status(
                    &[S::Open, S::Assigned, S::InProgress, S::OnHold, S::Resolved, S::Closed, S::Cancelled],
                    "the defect does not exist",
                )?;
                sink.write(DefectEvent::DefectCommented { comment: DefectComment { author: actor.member_id, text, at: now } }, self).await;
            }
            DefectCommand::LinkToA3 { actor, facts, a3_id, a3_exists } => {
                self.require_worker(&actor, &facts)?;
                self.require_status(LINKABLE, "a cancelled defect is not linked")?;
                if !a3_exists {
                    return Err(ValidationError::new("a3Id", "does not name an A3 case of this organisation").into());
                }
                if self.s.linked_a3_id == Some(a3_id) {
                    return Err(DomainError::Rule("the defect is already linked to this A3 case"));
                }
                sink.write(DefectEvent::DefectLinkedToA3 { before: self.s.linked_a3_id, after: a3_id }, self).await;
            }
            DefectCommand::LinkToKaizen { actor, facts, kaizen_id, kaizen_exists } => {
                self.require_worker(&actor, &facts)?;
                self.require_status(LINKABLE, "a cancelled defect is not linked")?;
                if !kaizen_exists {
                    return Err(ValidationError::new("kaizenId", "does not name a kaizen of this organisation").into());
                }
                if self.s.linked_kaizen_ids.contains(&kaizen_id) {
                    return Err(DomainError::Rule("the defect is already linked to this kaizen"));
                }
                sink.write(DefectEvent::DefectLinkedToKaizen { kaizen_id }, self).await;
            }
            DefectCommand::SetWorkOrderRef { actor, facts, work_order_ref } => {
                self.require_worker(&actor, &facts)?;
                self.require_status(LIVE_OR_RESOLVED, "the work order of a finished defect is fixed")?;
                if self.s.work_order_ref.as_ref() == Some(&work_order_ref) {
                    return Err(DomainError::Rule("the defect already has this work order"));
                }
                sink.write(DefectEvent::DefectWorkOrderLinked { before: self.s.work_order_ref.clone(), after: work_order_ref }, self).await;
            }
            DefectCommand::Escalate { rule, level, a_ack_minutes, now } => {
                self.require_status(LIVE_OR_RESOLVED, "a finished defect is not escalated")?;
                match rule {
                    EscalationRule::PriorityAUnassigned if self.s.priority == Some(Priority::A) && self.s.status == S::Open => {}
                    EscalationRule::PriorityAUnassigned => {
                        return Err(DomainError::Rule("only a priority-A defect that is still unassigned is escalated"));
                    }
                }
                let found_at = self.s.found_at.ok_or(DomainError::NotFound)?;
                let due = i64::from(a_ack_minutes.max(1))
                    .checked_mul(i64::from(level))
                    .and_then(Duration::try_minutes)
                    .and_then(|wait| found_at.checked_add_signed(wait));
                if level == 0 || due.is_none_or(|due| now < due) {
                    return Err(DomainError::Rule("the acknowledgement time of this escalation level has not passed"));
                }
                if level <= self.s.escalation_level {
                    return Err(DomainError::Rule("the defect is already escalated at this level"));
                }
                let from_level = Some(self.s.escalation_level);
                sink.write(DefectEvent::DefectEscalated { rule, from_level, to_level: level, escalated_at: now }, self).await;
            }
            DefectCommand::RecordSuggestion { suggestion_id, abnormality_type, source } => {
                self.require_status(LIVE, "suggestions are made while the defect is open")?;
                if self.s.abnormality_type == Some(abnormality_type) {
                    return Err(DomainError::Rule("the defect already has the suggested type"));
                }
                sink.write(DefectEvent::DefectTypeSuggested { suggestion_id, abnormality_type, source }, self).await;
            }
            DefectCommand::AcceptSuggestion { actor, suggestion_id, .. } | DefectCommand::RejectSuggestion { actor, suggestion_id, .. }
                if self.s.suggestion.as_ref().is_none_or(|(id, _, _)| *id != suggestion_id) =>
            {
                actor.require_mutator()?;
                return Err(if self.s.status == S::None {
                    DomainError::NotFound
                } else {
                    DomainError::Rule("there is no such pending suggestion")
                });
            }
            DefectCommand::AcceptSuggestion { actor, facts, suggestion_id } => {
                self.require_decider(&actor, &facts)?;
                self.require_status(LIVE, "suggestions are decided while the defect is open")?;
                let before = self.s.abnormality_type.ok_or(DomainError::NotFound)?;
                let after = self.s.suggestion.as_ref().map(|(_, t, _)| *t).ok_or(DomainError::NotFound)?;
                sink.write(DefectEvent::DefectSuggestionAccepted { suggestion_id, before, after }, self).await;
            }
            DefectCommand::RejectSuggestion { actor, facts, suggestion_id } => {
                self.require_decider(&actor, &facts)?;
                sink.write(DefectEvent::DefectSuggestionRejected { suggestion_id }, self).await;
            }
            DefectCommand::Reclassify { actor, facts, abnormality_type, tag_class, priority, reason } => {
                Self::require_lead(&actor, &facts)?;
                self.require_status(LIVE, "only an open defect is reclassified")?;
                let (Some(t), Some(c), Some(p)) = (self.s.abnormality_type, self.s.tag_class, self.s.priority) else {
                    return Err(DomainError::NotFound);
                };
                if (t, c, p) == (abnormality_type, tag_class, priority) {
                    return Err(DomainError::Rule("the defect already has this classification"));
                }
                let event = DefectEvent::DefectReclassified {
                    abnormality_type: (t, abnormality_type),
                    tag_class: (c, tag_class),
                    priority: (p, priority),
                    reason,
                };
                sink.write(event, self).await;
            }
            DefectCommand::TransferZone { actor, to_zone, to_zone_active, reason } => {
                actor.require_admin()?;
                self.require_status(LIVE_OR_RESOLVED, "only an open defect is transferred")?;
                let from = self.s.zone_id.ok_or(DomainError::NotFound)?;
                if from == to_zone {
                    return Err(DomainError::Rule("the defect is already in this zone"));
                }
                if !to_zone_active {
                    return Err(ValidationError::new("transferToZoneId", "is not an active zone").into());
                }
                sink.write(DefectEvent::DefectTransferred { from, to: to_zone, reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use DefectStatus as S;
        match event {
            DefectEvent::DefectRaised {
                defect_id,
                zone_id,
                abnormality_type,
                tag_class,
                priority,
                title,
                description,
                origin,
                found_by,
                found_at,
                evidence_before,
            } => {
                self.s.evidence_before = evidence_before;
                self.s.id = Some(defect_id);
                self.s.zone_id = Some(zone_id);
                self.s.title = Some(title);
                self.s.description = Some(description);
                self.s.origin = Some(origin);
                self.s.found_at = Some(found_at);
                self.s.status = S::Open;
                self.s.abnormality_type = Some(abnormality_type);
                self.s.tag_class = Some(tag_class);
                self.s.priority = Some(priority);
                self.s.found_by = Some(found_by);
            }
            DefectEvent::DefectAssigned { assignee, due_at, original_due_at } => {
                self.s.status = S::Assigned;
                self.s.assignee = Some(assignee);
                self.s.due_at = Some(due_at);
                if self.s.original_due_at.is_none() {
                    self.s.original_due_at = original_due_at;
                }
            }
            DefectEvent::DefectReassigned { after, .. } => self.s.assignee = Some(after),
            DefectEvent::DefectDueDateChanged { after, .. } => self.s.due_at = Some(after),
            DefectEvent::DefectWorkStarted => self.s.status = S::InProgress,
            DefectEvent::DefectContainmentRecorded { after, .. } => self.s.containment = Some(after),
            DefectEvent::DefectPutOnHold { from, .. } => {
                self.s.held_from = Some(from);
                self.s.status = S::OnHold;
            }
            DefectEvent::DefectResumed { to } => self.s.status = to,
            DefectEvent::DefectCountermeasureRecorded { after, .. } => self.s.countermeasure = Some(after),
            DefectEvent::DefectResolved { countermeasure, resolved_by, resolved_at, fixed_on_spot, evidence_after, .. } => {
                for evidence in evidence_after {
                    if !self.s.evidence_after.contains(&evidence) {
                        self.s.evidence_after.push(evidence);
                    }
                }
                self.s.status = S::Resolved;
                self.s.resolved_at = Some(resolved_at);
                self.s.fixed_on_spot = fixed_on_spot;
                self.s.countermeasure = Some(countermeasure);
                self.s.resolved_by = Some(resolved_by);
            }
            DefectEvent::DefectClosed { verified_by, verified_at, .. } => {
                self.s.status = S::Closed;
                self.s.verified_by = Some(verified_by);
                self.s.closed_at = Some(verified_at);
            }
            DefectEvent::DefectVerificationFailed { .. } => self.s.status = S::Assigned,
            DefectEvent::DefectReopened { .. } => {
                self.s.status = S::Assigned;
                self.s.reopen_count += 1;
            }
            DefectEvent::DefectCancelled { .. } => self.s.status = S::Cancelled,
            DefectEvent::DefectEvidenceAttached { evidence, phase, .. } => match phase {
                EvidencePhase::Before => self.s.evidence_before.push(evidence),
                EvidencePhase::After => self.s.evidence_after.push(evidence),
            },
            DefectEvent::DefectCommented { comment } => self.s.comments.push(comment),
            DefectEvent::DefectLinkedToA3 { after, .. } => self.s.linked_a3_id = Some(after),
            DefectEvent::DefectLinkedToKaizen { kaizen_id } => self.s.linked_kaizen_ids.push(kaizen_id),
            DefectEvent::DefectWorkOrderLinked { after, .. } => self.s.work_order_ref = Some(after),
            DefectEvent::DefectEscalated { to_level, .. } => self.s.escalation_level = self.s.escalation_level.max(to_level),
            DefectEvent::DefectTypeSuggested { suggestion_id, abnormality_type, source } => {
                self.s.suggestion = Some((suggestion_id, abnormality_type, source));
            }
            DefectEvent::DefectSuggestionAccepted { after, .. } => {
                self.s.abnormality_type = Some(after);
                self.s.suggestion = None;
            }
            DefectEvent::DefectSuggestionRejected { .. } => self.s.suggestion = None,
            DefectEvent::DefectTransferred { to, .. } => self.s.zone_id = Some(to),
            DefectEvent::DefectReclassified { abnormality_type, tag_class, priority, .. } => {
                self.s.abnormality_type = Some(abnormality_type.1);
                self.s.tag_class = Some(tag_class.1);
                self.s.priority = Some(priority.1);
            }
        }
    }
}

#[cfg(test)]
#[path = "defect_tests.rs"]
mod tests;
