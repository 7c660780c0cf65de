//! The A3Case aggregate: PDCA problem solving with gates (reference/domain.md §4.8).
//!
//! Gates: plan → do needs a baseline, a target, a verified cause and countermeasures (each
//! with an owner, a due date and a verified cause) and the coach's approval (the coach is
//! not the owner); do → check needs every countermeasure done or cancelled; check → act
//! needs an actual for every target metric; act → closed needs standardisation (documents
//! or a justification) and a yokoten decision. An effect that was not achieved starts a new
//! iteration back in plan. A case on hold resumes in the phase it left; a closed case is
//! reopened into check and passes check, act and closing again. The coach is never the owner,
//! and neither is a team member.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change, SignatureMeaning};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{A3Id, MemberId};
use crate::values::{LongText, Name, Reason, Role};

/// Where a case stands (its PDCA phase while open).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum A3Status {
    #[default]
    None,
    Plan,
    Do,
    Check,
    Act,
    Closed,
    Cancelled,
    OnHold,
}

/// The 6M cause categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseCategory {
    Man,
    Machine,
    Method,
    Material,
    Measurement,
    MotherNature,
}

/// What is known of a cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseStatus {
    Hypothesis,
    Verified,
    Refuted,
}

/// Where a countermeasure stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountermeasureStatus {
    Planned,
    InProgress,
    Done,
    Cancelled,
}

/// Whether the target was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMet {
    Yes,
    Partial,
    No,
}

/// A cause in the fishbone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub cause_id: String,
    pub category: CauseCategory,
    pub text: LongText,
    pub status: CauseStatus,
    pub iteration: u32,
}

/// A countermeasure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Countermeasure {
    pub cm_id: String,
    pub description: LongText,
    pub addresses: Vec<String>,
    pub owner: MemberId,
    pub due_on: NaiveDate,
    pub status: CountermeasureStatus,
    pub iteration: u32,
}

/// A metric's baseline and target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    pub metric_id: String,
    pub name: Name,
    pub unit: String,
    pub baseline: Option<Decimal>,
    pub target: Option<(Decimal, NaiveDate)>,
}

/// The free-text sections of an A3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum A3Section {
    Background,
    CurrentCondition,
    Target,
    Containment,
    Lessons,
}

/// A five-whys chain ending in a cause of the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhyChain {
    pub chain_id: String,
    pub problem: LongText,
    pub whys: Vec<LongText>,
    pub root_cause_id: String,
    pub iteration: u32,
}

/// The most whys in a chain.
pub const MAX_WHYS: usize = 10;

/// The fields of a countermeasure a change sets (or, in `before`, had).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountermeasurePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LongText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<MemberId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<NaiveDate>,
}

impl CountermeasurePatch {
    /// The fields of `self` that differ from `cm`: `(before, after)`.
    fn diff(&self, cm: &Countermeasure) -> (Self, Self) {
        let mut before = Self::default();
        let mut after = Self::default();
        if let Some(d) = self.description.as_ref().filter(|d| **d != cm.description) {
            before.description = Some(cm.description.clone());
            after.description = Some(d.clone());
        }
        if let Some(a) = self.addresses.as_ref().filter(|a| **a != cm.addresses) {
            before.addresses = Some(cm.addresses.clone());
            after.addresses = Some(a.clone());
        }
        if let Some(o) = self.owner.filter(|o| *o != cm.owner) {
            before.owner = Some(cm.owner);
            after.owner = Some(o);
        }
        if let Some(d) = self.due_on.filter(|d| *d != cm.due_on) {
            before.due_on = Some(cm.due_on);
            after.due_on = Some(d);
        }
        (before, after)
    }

    fn apply_to(self, cm: &mut Countermeasure) {
        if let Some(d) = self.description {
            cm.description = d;
        }
        if let Some(a) = self.addresses {
            cm.addresses = a;
        }
        if let Some(o) = self.owner {
            cm.owner = o;
        }
        if let Some(d) = self.due_on {
            cm.due_on = d;
        }
    }
}

/// Commands on an A3 case.
#[derive(Clone, Debug)]
pub enum A3Command {
    Open {
        actor: Actor,
        a3_id: A3Id,
        theme: LongText,
        owner: MemberId,
        coach: MemberId,
    },
    RecordBaseline {
        actor: Actor,
        metric_id: String,
        name: Name,
        unit: String,
        value: Decimal,
    },
    SetTarget {
        actor: Actor,
        metric_id: String,
        value: Decimal,
        by: NaiveDate,
    },
    AddCause {
        actor: Actor,
        cause_id: String,
        category: CauseCategory,
        text: LongText,
    },
    ChangeCauseStatus {
        actor: Actor,
        cause_id: String,
        status: CauseStatus,
    },
    AddCountermeasure {
        actor: Actor,
        cm_id: String,
        description: LongText,
        addresses: Vec<String>,
        owner: MemberId,
        due_on: NaiveDate,
    },
    SetCountermeasureStatus {
        actor: Actor,
        cm_id: String,
        status: CountermeasureStatus,
        reason: Option<Reason>,
    },
    ApprovePlan {
        actor: Actor,
    },
    AdvanceToCheck {
        actor: Actor,
    },
    ConfirmEffect {
        actor: Actor,
        actuals: Vec<(String, Decimal)>,
        target_met: TargetMet,
        now: DateTime<Utc>,
    },
    RecordStandardization {
        actor: Actor,
        documents: Vec<Name>,
        no_change_justification: Option<LongText>,
    },
    RecordYokoten {
        actor: Actor,
        note: LongText,
    },
    Close {
        actor: Actor,
    },
    Cancel {
        actor: Actor,
        reason: Reason,
    },
    /// A reason is required once the case has left plan.
    EditSection {
        actor: Actor,
        section: A3Section,
        content: LongText,
        reason: Option<Reason>,
    },
    RecordWhyChain {
        actor: Actor,
        chain_id: String,
        problem: LongText,
        whys: Vec<LongText>,
        root_cause_id: String,
    },
    ChangeCountermeasure {
        actor: Actor,
        cm_id: String,
        patch: CountermeasurePatch,
        reason: Reason,
    },
    PutOnHold {
        actor: Actor,
        reason: Reason,
    },
    Resume {
        actor: Actor,
    },
    Reopen {
        actor: Actor,
        reason: Reason,
    },
    /// `member_active`: the new owner is an active member of the organisation.
    ChangeOwner {
        actor: Actor,
        owner: MemberId,
        member_active: bool,
        reason: Reason,
    },
    /// `member_active`: the new coach is an active member of the organisation.
    ChangeCoach {
        actor: Actor,
        coach: MemberId,
        member_active: bool,
        reason: Reason,
    },
    AddTeamMember {
        actor: Actor,
        member: MemberId,
        member_active: bool,
    },
    RemoveTeamMember {
        actor: Actor,
        member: MemberId,
    },
}

/// Events of an A3 case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum A3Event {
    A3Opened {
        a3_id: A3Id,
        theme: LongText,
        owner: MemberId,
        coach: MemberId,
    },
    A3BaselineRecorded {
        metric_id: String,
        name: Name,
        unit: String,
        before: Option<Decimal>,
        after: Decimal,
    },
    A3TargetSet {
        metric_id: String,
        before: Option<(Decimal, NaiveDate)>,
        after: (Decimal, NaiveDate),
    },
    A3CauseAdded {
        cause: Cause,
    },
    A3CauseStatusChanged {
        cause_id: String,
        before: CauseStatus,
        after: CauseStatus,
    },
    A3CountermeasureAdded {
        countermeasure: Countermeasure,
    },
    A3CountermeasureStatusChanged {
        cm_id: String,
        before: CountermeasureStatus,
        after: CountermeasureStatus,
        reason: Option<Reason>,
    },
    /// Signature meaning `approved`; the case moves from plan to do.
    A3PlanApproved {
        approved_by: MemberId,
    },
    A3PhaseAdvanced {
        from: A3Status,
        to: A3Status,
    },
    /// Signature meaning `reviewed`.
    A3EffectConfirmed {
        actuals: Vec<(String, Decimal)>,
        target_met: TargetMet,
        checked_by: MemberId,
        checked_at: DateTime<Utc>,
    },
    A3IterationStarted {
        iteration: u32,
    },
    A3StandardizationRecorded {
        documents: Vec<Name>,
        no_change_justification: Option<LongText>,
    },
    A3YokotenRecorded {
        note: LongText,
    },
    /// Carries the last effect check's `target_met`, the owner and the team (for the points policy).
    A3Closed {
        closed_by: MemberId,
        #[serde(default)]
        target_met: Option<TargetMet>,
        #[serde(default)]
        owner: Option<MemberId>,
        #[serde(default)]
        team: Vec<MemberId>,
    },
    A3Cancelled {
        from: A3Status,
        reason: Reason,
    },
    A3SectionEdited {
        section: A3Section,
        before: Option<LongText>,
        after: LongText,
        reason: Option<Reason>,
    },
    A3WhyChainRecorded {
        chain: WhyChain,
    },
    A3CountermeasureChanged {
        cm_id: String,
        before: CountermeasurePatch,
        after: CountermeasurePatch,
        reason: Reason,
    },
    A3PutOnHold {
        from: A3Status,
        reason: Reason,
    },
    A3Resumed {
        to: A3Status,
    },
    A3Reopened {
        reason: Reason,
    },
    A3OwnerChanged {
        before: MemberId,
        after: MemberId,
        reason: Reason,
    },
    A3CoachChanged {
        before: MemberId,
        after: MemberId,
        reason: Reason,
    },
    A3TeamMemberAdded {
        member_id: MemberId,
    },
    A3TeamMemberRemoved {
        member_id: MemberId,
    },
}

impl DomainEvent for A3Event {
    fn event_type(&self) -> String {
        match self {
            Self::A3Opened { .. } => "A3Opened",
            Self::A3BaselineRecorded { .. } => "A3BaselineRecorded",
            Self::A3TargetSet { .. } => "A3TargetSet",
            Self::A3CauseAdded { .. } => "A3CauseAdded",
            Self::A3CauseStatusChanged { .. } => "A3CauseStatusChanged",
            Self::A3CountermeasureAdded { .. } => "A3CountermeasureAdded",
            Self::A3CountermeasureStatusChanged { .. } => "A3CountermeasureStatusChanged",
            Self::A3PlanApproved { .. } => "A3PlanApproved",
            Self::A3PhaseAdvanced { .. } => "A3PhaseAdvanced",
            Self::A3EffectConfirmed { .. } => "A3EffectConfirmed",
            Self::A3IterationStarted { .. } => "A3IterationStarted",
            Self::A3StandardizationRecorded { .. } => "A3StandardizationRecorded",
            Self::A3YokotenRecorded { .. } => "A3YokotenRecorded",
            Self::A3Closed { .. } => "A3Closed",
            Self::A3Cancelled { .. } => "A3Cancelled",
            Self::A3SectionEdited { .. } => "A3SectionEdited",
            Self::A3WhyChainRecorded { .. } => "A3WhyChainRecorded",
            Self::A3CountermeasureChanged { .. } => "A3CountermeasureChanged",
            Self::A3PutOnHold { .. } => "A3PutOnHold",
            Self::A3Resumed { .. } => "A3Resumed",
            Self::A3Reopened { .. } => "A3Reopened",
            Self::A3OwnerChanged { .. } => "A3OwnerChanged",
            Self::A3CoachChanged { .. } => "A3CoachChanged",
            Self::A3TeamMemberAdded { .. } => "A3TeamMemberAdded",
            Self::A3TeamMemberRemoved { .. } => "A3TeamMemberRemoved",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for A3Event {
    fn changes(&self) -> Vec<Change> {
        use A3Status as S;
        match self {
            Self::A3Opened { theme, owner, coach, .. } => vec![
                Change::created("theme", theme),
                Change::created("ownerId", owner),
                Change::created("coachId", coach),
                Change::created("status", S::Plan),
            ],
            Self::A3BaselineRecorded { metric_id, before, after, .. } => {
                vec![Change::new(&format!("metrics.{metric_id}.baseline"), before, after)]
            }
            Self::A3TargetSet { metric_id, before, after } => vec![Change::new(&format!("metrics.{metric_id}.target"), before, after)],
            Self::A3CauseAdded { cause } => vec![Change::created(&format!("causes.{}", cause.cause_id), cause)],
            Self::A3CauseStatusChanged { cause_id, before, after } => {
                vec![Change::new(&format!("causes.{cause_id}.status"), before, after)]
            }
            Self::A3CountermeasureAdded { countermeasure } => {
                vec![Change::created(&format!("countermeasures.{}", countermeasure.cm_id), countermeasure)]
            }
            Self::A3CountermeasureStatusChanged { cm_id, before, after, .. } => {
                vec![Change::new(&format!("countermeasures.{cm_id}.status"), before, after)]
            }
            Self::A3PlanApproved { approved_by } => vec![Change::created("approvedBy", approved_by), Change::new("status", S::Plan, S::Do)],
            Self::A3PhaseAdvanced { from, to } => vec![Change::new("status", from, to)],
            Self::A3EffectConfirmed { actuals, target_met, .. } => {
                vec![Change::created("effectCheck.actuals", actuals), Change::created("effectCheck.targetMet", target_met)]
            }
            Self::A3IterationStarted { iteration } => {
                vec![Change::new("iteration", iteration.saturating_sub(1), iteration), Change::new("status", S::Check, S::Plan)]
            }
            Self::A3StandardizationRecorded { documents, no_change_justification } => vec![
                Change::created("standardization.documents", documents),
                Change::created("standardization.noChangeJustification", no_change_justification),
            ],
            Self::A3YokotenRecorded { note } => vec![Change::created("yokoten", note)],
            Self::A3Closed { .. } => vec![Change::new("status", S::Act, S::Closed)],
            Self::A3Cancelled { from, .. } => vec![Change::new("status", from, S::Cancelled)],
            Self::A3SectionEdited { section, before, after, .. } => {
                let path = serde_json::to_value(section).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                vec![Change::new(&format!("sections.{path}"), before, after)]
            }
            Self::A3WhyChainRecorded { chain } => vec![Change::created(&format!("whyChains.{}", chain.chain_id), chain)],
            Self::A3CountermeasureChanged { cm_id, before, after, .. } => {
                vec![Change::new(&format!("countermeasures.{cm_id}"), before, after)]
            }
            Self::A3PutOnHold { from, .. } => vec![Change::new("status", from, S::OnHold)],
            Self::A3Resumed { to } => vec![Change::new("status", S::OnHold, to)],
            Self::A3Reopened { .. } => vec![Change::new("status", S::Closed, S::Check)],
            Self::A3OwnerChanged { before, after, .. } => vec![Change::new("ownerId", before, after)],
            Self::A3CoachChanged { before, after, .. } => vec![Change::new("coachId", before, after)],
            Self::A3TeamMemberAdded { member_id } => vec![Change::created(&format!("teamIds.{member_id}"), member_id)],
            Self::A3TeamMemberRemoved { member_id } => vec![Change::new(&format!("teamIds.{member_id}"), member_id, Option::<()>::None)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::A3CountermeasureStatusChanged { reason, .. } => reason.as_ref(),
            Self::A3Cancelled { reason, .. }
            | Self::A3CountermeasureChanged { reason, .. }
            | Self::A3PutOnHold { reason, .. }
            | Self::A3Reopened { reason }
            | Self::A3OwnerChanged { reason, .. }
            | Self::A3CoachChanged { reason, .. } => Some(reason),
            Self::A3SectionEdited { reason, .. } => reason.as_ref(),
            _ => None,
        }
    }
    fn signature(&self) -> Option<SignatureMeaning> {
        match self {
            Self::A3PlanApproved { .. } | Self::A3Closed { .. } => Some(SignatureMeaning::Approved),
            Self::A3EffectConfirmed { .. } => Some(SignatureMeaning::Reviewed),
            _ => None,
        }
    }
}

/// State of an A3 case.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct A3Case {
    status: A3Status,
    owner: Option<MemberId>,
    coach: Option<MemberId>,
    iteration: u32,
    metrics: Vec<Metric>,
    causes: Vec<Cause>,
    countermeasures: Vec<Countermeasure>,
    effect_confirmed: bool,
    standardized: bool,
    yokoten: bool,
    team: Vec<MemberId>,
    sections: BTreeMap<A3Section, LongText>,
    why_chains: Vec<WhyChain>,
    left_plan: bool,
    held_from: Option<A3Status>,
    target_met: Option<TargetMet>,
}

impl A3Case {
    /// The status (PDCA phase).
    pub fn status(&self) -> A3Status {
        self.status
    }
    /// The iteration (1 on opening).
    pub fn iteration(&self) -> u32 {
        self.iteration
    }
    /// Metrics with baselines and targets.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }
    /// Causes.
    pub fn causes(&self) -> &[Cause] {
        &self.causes
    }
    /// Countermeasures.
    pub fn countermeasures(&self) -> &[Countermeasure] {
        &self.countermeasures
    }

    /// The case owner.
    pub fn owner(&self) -> Option<MemberId> {
        self.owner
    }
    /// The coach (approver), never the owner.
    pub fn coach(&self) -> Option<MemberId> {
        self.coach
    }
    /// Team members (neither owner nor coach).
    pub fn team(&self) -> &[MemberId] {
        &self.team
    }
    /// The free-text sections written so far.
    pub fn sections(&self) -> &BTreeMap<A3Section, LongText> {
        &self.sections
    }
    /// Five-whys chains.
    pub fn why_chains(&self) -> &[WhyChain] {
        &self.why_chains
    }
    /// The phase an on-hold case resumes in.
    pub fn held_from(&self) -> Option<A3Status> {
        self.held_from
    }
    /// The last effect check's verdict.
    pub fn target_met(&self) -> Option<TargetMet> {
        self.target_met
    }

    const OPEN: [A3Status; 4] = [A3Status::Plan, A3Status::Do, A3Status::Check, A3Status::Act];
    const OPEN_OR_HELD: [A3Status; 5] = [A3Status::Plan, A3Status::Do, A3Status::Check, A3Status::Act, A3Status::OnHold];

    /// The owner, the coach, team members, owners and admins contribute to the analysis.
    fn require_contributor(&self, actor: &Actor) -> Outcome {
        actor.require_mutator()?;
        if self.team.contains(&actor.member_id) { Ok(()) } else { self.require_team(actor) }
    }

    fn check_new_member(&self, field: &str, member: MemberId, member_active: bool) -> Outcome {
        if !member_active {
            return Err(ValidationError::new(field, "does not name an active member").into());
        }
        if self.owner == Some(member) || self.coach == Some(member) || self.team.contains(&member) {
            return Err(ValidationError::new(field, "already owns, coaches or works on the case").into());
        }
        Ok(())
    }

    fn require(&self, allowed: &[A3Status], what: &'static str) -> Outcome {
        match self.status {
            A3Status::None => Err(DomainError::NotFound),
            s if allowed.contains(&s) => Ok(()),
            _ => Err(DomainError::Rule(what)),
        }
    }

    fn require_team(&self, actor: &Actor) -> Outcome {
        actor.require_mutator()?;
        let team = self.owner == Some(actor.member_id) || self.coach == Some(actor.member_id);
        if team || matches!(actor.role, Role::Owner | Role::Admin) {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only the case owner, the coach, owners or admins edit an A3"))
        }
    }

    fn verified_causes(&self) -> BTreeSet<&str> {
        self.causes.iter().filter(|c| c.status == CauseStatus::Verified).map(|c| c.cause_id.as_str()).collect()
    }

    /// The plan → do gate.
    pub fn plan_gate(&self) -> Outcome {
        if !self.metrics.iter().any(|m| m.baseline.is_some()) {
            return Err(DomainError::Rule("the plan needs a current condition with a baseline metric"));
        }
        if !self.metrics.iter().any(|m| m.target.is_some()) {
            return Err(DomainError::Rule("the plan needs a target metric with a value and a date"));
        }
        let verified = self.verified_causes();
        if verified.is_empty() {
            return Err(DomainError::Rule("the plan needs a verified root cause"));
        }
        let current: Vec<&Countermeasure> =
            self.countermeasures.iter().filter(|c| c.iteration == self.iteration && c.status != CountermeasureStatus::Cancelled).collect();
        if current.is_empty() {
            return Err(DomainError::Rule("the plan needs at least one countermeasure"));
        }
        if current.iter().any(|c| !c.addresses.iter().any(|a| verified.contains(a.as_str()))) {
            return Err(DomainError::Rule("every countermeasure addresses a verified cause"));
        }
        Ok(())
    }
}

impl Aggregate for A3Case {
    const TYPE: &'static str = "A3Case";
    type Command = A3Command;
    type Event = A3Event;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        use A3Status as S;
        let mut events = Vec::new();
        match command {
            A3Command::Open { actor, a3_id, theme, owner, coach } => {
                actor.require_mutator()?;
                if self.status != S::None {
                    return Err(DomainError::Rule("the case already exists"));
                }
                if owner == coach {
                    return Err(ValidationError::new("coachId", "the coach is not the case owner").into());
                }
                events.push(A3Event::A3Opened { a3_id, theme, owner, coach });
            }
            A3Command::RecordBaseline { actor, metric_id, name, unit, value } => {
                self.require(&[S::Plan], "baselines are recorded while planning")?;
                self.require_contributor(&actor)?;
                let before = self.metrics.iter().find(|m| m.metric_id == metric_id).and_then(|m| m.baseline);
                events.push(A3Event::A3BaselineRecorded { metric_id, name, unit, before, after: value });
            }
            A3Command::SetTarget { actor, metric_id, value, by } => {
                self.require(&[S::Plan], "targets are set while planning")?;
                self.require_contributor(&actor)?;
                let metric = self
                    .metrics
                    .iter()
                    .find(|m| m.metric_id == metric_id)
                    .ok_or_else(|| ValidationError::new("metricId", "record its baseline first"))?;
                events.push(A3Event::A3TargetSet { metric_id, before: metric.target, after: (value, by) });
            }
            A3Command::AddCause { actor, cause_id, category, text } => {
                self.require(&[S::Plan], "causes are analysed while planning")?;
                self.require_contributor(&actor)?;
                if self.causes.iter().any(|c| c.cause_id == cause_id) {
                    return Err(ValidationError::new("causeId", "is already used").into());
                }
                events.push(A3Event::A3CauseAdded {
                    cause: Cause { cause_id, category, text, status: CauseStatus::Hypothesis, iteration: self.iteration },
                });
            }
            A3Command::ChangeCauseStatus { actor, cause_id, status } => {
                self.require(&[S::Plan], "causes are verified while planning")?;
                self.require_contributor(&actor)?;
                let before = self.causes.iter().find(|c| c.cause_id == cause_id).map(|c| c.status).ok_or(DomainError::NotFound)?;
                if before == status {
                    return Err(DomainError::Rule("the cause already has this status"));
                }
                events.push(A3Event::A3CauseStatusChanged { cause_id, before, after: status });
            }
            A3Command::AddCountermeasure { actor, cm_id, description, addresses, owner, due_on } => {
                self.require(&[S::Plan], "countermeasures are planned while planning")?;
                self.require_contributor(&actor)?;
                if self.countermeasures.iter().any(|c| c.cm_id == cm_id) {
                    return Err(ValidationError::new("cmId", "is already used").into());
                }
                if addresses.is_empty() || addresses.iter().any(|a| !self.causes.iter().any(|c| &c.cause_id == a)) {
                    return Err(ValidationError::new("addresses", "name at least one cause of this case").into());
                }
                let countermeasure = Countermeasure {
                    cm_id,
                    description,
                    addresses,
                    owner,
                    due_on,
                    status: CountermeasureStatus::Planned,
                    iteration: self.iteration,
                };
                events.push(A3Event::A3CountermeasureAdded { countermeasure });
            }
            A3Command::SetCountermeasureStatus { actor, cm_id, status, reason } => {
                self.require(&[S::Plan, S::Do], "countermeasures change while planning or doing")?;
                actor.require_mutator()?;
                let cm = self.countermeasures.iter().find(|c| c.cm_id == cm_id).ok_or(DomainError::NotFound)?;
                if cm.owner != actor.member_id {
                    self.require_team(&actor)?;
                }
                if status == CountermeasureStatus::Cancelled && reason.is_none() {
                    return Err(ValidationError::new("reason", "is required to cancel a countermeasure").into());
                }
                if cm.status == status {
                    return Err(DomainError::Rule("the countermeasure already has this status"));
                }
                events.push(A3Event::A3CountermeasureStatusChanged { cm_id, before: cm.status, after: status, reason });
            }
            A3Command::ApprovePlan { actor } => {
                self.require(&[S::Plan], "only a plan is approved")?;
                actor.require_mutator()?;
                if self.coach != Some(actor.member_id) {
                    return Err(DomainError::Forbidden("the coach approves the plan"));
                }
                self.plan_gate()?;
                events.push(A3Event::A3PlanApproved { approved_by: actor.member_id });
            }
            A3Command::AdvanceToCheck { actor } => {
                self.require(&[S::Do], "only a case in do advances to check")?;
                self.require_team(&actor)?;
                let open = self.countermeasures.iter().any(|c| {
                    c.iteration == self.iteration && !matches!(c.status, CountermeasureStatus::Done | CountermeasureStatus::Cancelled)
                });
                if open {
                    return Err(DomainError::Rule("every countermeasure is done or cancelled before the check"));
                }
                events.push(A3Event::A3PhaseAdvanced { from: S::Do, to: S::Check });
            }
            A3Command::ConfirmEffect { actor, actuals, target_met, now } => {
                self.require(&[S::Check], "the effect is confirmed in check")?;
                self.require_team(&actor)?;
                let missing = self.metrics.iter().filter(|m| m.target.is_some()).any(|m| !actuals.iter().any(|(id, _)| id == &m.metric_id));
                if missing {
                    return Err(ValidationError::new("actuals", "give an actual for every target metric").into());
                }
                events.push(A3Event::A3EffectConfirmed { actuals, target_met, checked_by: actor.member_id, checked_at: now });
                events.push(match target_met {
                    TargetMet::Yes | TargetMet::Partial => A3Event::A3PhaseAdvanced { from: S::Check, to: S::Act },
                    TargetMet::No => A3Event::A3IterationStarted { iteration: self.iteration + 1 },
                });
            }
            A3Command::RecordStandardization { actor, documents, no_change_justification } => {
                self.require(&[S::Act], "standardisation is recorded in act")?;
                self.require_team(&actor)?;
                if documents.is_empty() && no_change_justification.is_none() {
                    return Err(ValidationError::new("documents", "list the updated documents or justify why none changed").into());
                }
                events.push(A3Event::A3StandardizationRecorded { documents, no_change_justification });
            }
            A3Command::RecordYokoten { actor, note } => {
                self.require(&[S::Act], "yokoten is decided in act")?;
                self.require_team(&actor)?;
                events.push(A3Event::A3YokotenRecorded { note });
            }
            A3Command::Close { actor } => {
                self.require(&[S::Act], "only a case in act is closed")?;
                actor.require_mutator()?;
                if self.coach != Some(actor.member_id) {
                    return Err(DomainError::Forbidden("the coach closes the case"));
                }
                if !self.standardized || !self.yokoten {
                    return Err(DomainError::Rule("standardisation and the yokoten decision come before closing"));
                }
                events.push(A3Event::A3Closed {
                    closed_by: actor.member_id,
                    target_met: self.target_met,
                    owner: self.owner,
                    team: self.team.clone(),
                });
            }
            A3Command::Cancel { actor, reason } => {
                self.require(&Self::OPEN_OR_HELD, "only an open case is cancelled")?;
                self.require_team(&actor)?;
                events.push(A3Event::A3Cancelled { from: self.status, reason });
            }
            A3Command::EditSection { actor, section, content, reason } => {
                self.require(&Self::OPEN, "sections are edited while the case is open and not on hold")?;
                self.require_contributor(&actor)?;
                if self.left_plan && reason.is_none() {
                    return Err(ValidationError::new("reason", "is required once the case has left plan").into());
                }
                let before = self.sections.get(&section).cloned();
                if before.as_ref() == Some(&content) {
                    return Err(ValidationError::new("content", "changes nothing").into());
                }
                events.push(A3Event::A3SectionEdited { section, before, after: content, reason });
            }
            A3Command::RecordWhyChain { actor, chain_id, problem, whys, root_cause_id } => {
                self.require(&[S::Plan], "why chains are recorded while planning")?;
                self.require_contributor(&actor)?;
                if chain_id.trim().is_empty() || self.why_chains.iter().any(|c| c.chain_id == chain_id) {
                    return Err(ValidationError::new("chainId", "is empty or already used").into());
                }
                if whys.is_empty() || whys.len() > MAX_WHYS {
                    return Err(ValidationError::new("whys", "give 1 to 10 whys").into());
                }
                if !self.causes.iter().any(|c| c.cause_id == root_cause_id) {
                    return Err(ValidationError::new("rootCauseId", "names no cause of this case").into());
                }
                events.push(A3Event::A3WhyChainRecorded {
                    chain: WhyChain { chain_id, problem, whys, root_cause_id, iteration: self.iteration },
                });
            }
            A3Command::ChangeCountermeasure { actor, cm_id, patch, reason } => {
                self.require(&[S::Plan, S::Do], "countermeasures change while planning or doing")?;
                self.require_team(&actor)?;
                let cm = self
                    .countermeasures
                    .iter()
                    .find(|c| c.cm_id == cm_id)
                    .ok_or_else(|| ValidationError::new("cmId", "names no countermeasure of this case"))?;
                if matches!(cm.status, CountermeasureStatus::Done | CountermeasureStatus::Cancelled) {
                    return Err(DomainError::Rule("a done or cancelled countermeasure is not changed"));
                }
                if let Some(addresses) = &patch.addresses
                    && (addresses.is_empty() || addresses.iter().any(|a| !self.causes.iter().any(|c| &c.cause_id == a)))
                {
                    return Err(ValidationError::new("addresses", "name at least one cause of this case").into());
                }
                let (before, after) = patch.diff(cm);
                if after == CountermeasurePatch::default() {
                    return Err(ValidationError::new("patch", "changes nothing").into());
                }
                events.push(A3Event::A3CountermeasureChanged { cm_id, before, after, reason });
            }
            A3Command::PutOnHold { actor, reason } => {
                self.require(&Self::OPEN, "only an open case is put on hold")?;
                self.require_team(&actor)?;
                events.push(A3Event::A3PutOnHold { from: self.status, reason });
            }
            A3Command::Resume { actor } => {
                self.require(&[S::OnHold], "only a case on hold is resumed")?;
                self.require_team(&actor)?;
                events.push(A3Event::A3Resumed { to: self.held_from.unwrap_or(S::Plan) });
            }
            A3Command::Reopen { actor, reason } => {
                self.require(&[S::Closed], "only a closed case is reopened")?;
                actor.require_mutator()?;
                if self.coach != Some(actor.member_id) && !matches!(actor.role, Role::Owner | Role::Admin) {
                    return Err(DomainError::Forbidden("the coach, owners or admins reopen a case"));
                }
                events.push(A3Event::A3Reopened { reason });
            }
            A3Command::ChangeOwner { actor, owner, member_active, reason } => {
                self.require(&Self::OPEN_OR_HELD, "only an open case changes owner")?;
                self.require_team(&actor)?;
                if self.coach == Some(owner) {
                    return Err(ValidationError::new("ownerId", "the coach is not the case owner").into());
                }
                self.check_new_member("ownerId", owner, member_active)?;
                let before = self.owner.ok_or(DomainError::NotFound)?;
                events.push(A3Event::A3OwnerChanged { before, after: owner, reason });
            }
            A3Command::ChangeCoach { actor, coach, member_active, reason } => {
                self.require(&Self::OPEN_OR_HELD, "only an open case changes coach")?;
                actor.require_mutator()?;
                if self.coach != Some(actor.member_id) && !matches!(actor.role, Role::Owner | Role::Admin) {
                    return Err(DomainError::Forbidden("the coach, owners or admins change the coach"));
                }
                if self.owner == Some(coach) {
                    return Err(ValidationError::new("coachId", "the coach is not the case owner").into());
                }
                self.check_new_member("coachId", coach, member_active)?;
                let before = self.coach.ok_or(DomainError::NotFound)?;
                events.push(A3Event::A3CoachChanged { before, after: coach, reason });
            }
            A3Command::AddTeamMember { actor, member, member_active } => {
                self.require(&Self::OPEN_OR_HELD, "only an open case changes its team")?;
                self.require_team(&actor)?;
                self.check_new_member("memberId", member, member_active)?;
                events.push(A3Event::A3TeamMemberAdded { member_id: member });
            }
            A3Command::RemoveTeamMember { actor, member } => {
                self.require(&Self::OPEN_OR_HELD, "only an open case changes its team")?;
                self.require_team(&actor)?;
                if !self.team.contains(&member) {
                    return Err(ValidationError::new("memberId", "is not on the team").into());
                }
                events.push(A3Event::A3TeamMemberRemoved { member_id: member });
            }
        }
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use A3Status as S;
        match event {
            A3Event::A3Opened { owner, coach, .. } => {
                self.status = S::Plan;
                self.owner = Some(owner);
                self.coach = Some(coach);
                self.iteration = 1;
            }
            A3Event::A3BaselineRecorded { metric_id, name, unit, after, .. } => {
                match self.metrics.iter_mut().find(|m| m.metric_id == metric_id) {
                    Some(m) => m.baseline = Some(after),
                    None => self.metrics.push(Metric { metric_id, name, unit, baseline: Some(after), target: None }),
                }
            }
            A3Event::A3TargetSet { metric_id, after, .. } => {
                if let Some(m) = self.metrics.iter_mut().find(|m| m.metric_id == metric_id) {
                    m.target = Some(after);
                }
            }
            A3Event::A3CauseAdded { cause } => self.causes.push(cause),
            A3Event::A3CauseStatusChanged { cause_id, after, .. } => {
                if let Some(c) = self.causes.iter_mut().find(|c| c.cause_id == cause_id) {
                    c.status = after;
                }
            }
            A3Event::A3CountermeasureAdded { countermeasure } => self.countermeasures.push(countermeasure),
            A3Event::A3CountermeasureStatusChanged { cm_id, after, .. } => {
                if let Some(c) = self.countermeasures.iter_mut().find(|c| c.cm_id == cm_id) {
                    c.status = after;
                }
            }
            A3Event::A3PlanApproved { .. } => {
                self.status = S::Do;
                self.left_plan = true;
            }
            A3Event::A3PhaseAdvanced { to, .. } => self.status = to,
            A3Event::A3EffectConfirmed { target_met, .. } => {
                self.effect_confirmed = true;
                self.target_met = Some(target_met);
            }
            A3Event::A3IterationStarted { iteration } => {
                self.iteration = iteration;
                self.status = S::Plan;
                self.effect_confirmed = false;
            }
            A3Event::A3StandardizationRecorded { .. } => self.standardized = true,
            A3Event::A3YokotenRecorded { .. } => self.yokoten = true,
            A3Event::A3Closed { .. } => self.status = S::Closed,
            A3Event::A3Cancelled { .. } => self.status = S::Cancelled,
            A3Event::A3SectionEdited { section, after, .. } => {
                self.sections.insert(section, after);
            }
            A3Event::A3WhyChainRecorded { chain } => self.why_chains.push(chain),
            A3Event::A3CountermeasureChanged { cm_id, after, .. } => {
                if let Some(c) = self.countermeasures.iter_mut().find(|c| c.cm_id == cm_id) {
                    after.apply_to(c);
                }
            }
            A3Event::A3PutOnHold { from, .. } => {
                self.held_from = Some(from);
                self.status = S::OnHold;
            }
            A3Event::A3Resumed { to } => {
                self.status = to;
                self.held_from = None;
            }
            A3Event::A3Reopened { .. } => {
                self.status = S::Check;
                self.effect_confirmed = false;
                self.standardized = false;
                self.yokoten = false;
            }
            A3Event::A3OwnerChanged { after, .. } => self.owner = Some(after),
            A3Event::A3CoachChanged { after, .. } => self.coach = Some(after),
            A3Event::A3TeamMemberAdded { member_id } => self.team.push(member_id),
            A3Event::A3TeamMemberRemoved { member_id } => self.team.retain(|m| *m != member_id),
        }
    }
}

#[cfg(test)]
#[path = "a3_tests.rs"]
mod tests;
