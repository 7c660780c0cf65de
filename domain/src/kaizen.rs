//! The Kaizen aggregate: an improvement idea from draft to verified savings
//! (reference/domain.md §4.7).
//!
//! Invariants: a reviewer is never an author; a rejection always carries feedback for the
//! authors; savings are verified by a `savings_verifier` who is neither author, implementer
//! nor reviewer; hard lines need a calculation and evidence, soft lines a calculation; hard
//! and soft amounts are never added together; target lines lock once approved, forecast
//! lines once implemented, actual lines once verified (after which only a reasoned
//! adjustment by a verifier changes them).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{KaizenId, MemberId, ZoneId};
use crate::values::{EvidenceRef, LongText, Name, Reason};

/// SQDCM+E.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KaizenCategory {
    Safety,
    Quality,
    Delivery,
    Cost,
    People,
    Environment,
}

/// Where an idea stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KaizenStatus {
    #[default]
    None,
    Draft,
    Submitted,
    UnderReview,
    Approved,
    Implementing,
    Implemented,
    ImpactSubmitted,
    SavingsVerified,
    Closed,
    Rejected,
    Withdrawn,
}

/// An ISO-4217 currency code.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Default for Currency {
    /// The euro, until an organisation chooses its currency.
    fn default() -> Self {
        Self("EUR".to_owned())
    }
}

impl Currency {
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Three upper-case letters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err(ValidationError::new("currency", "is not an ISO-4217 code"))
        }
    }
}

/// An amount of money: never a float.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

/// Which estimate a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Target,
    Forecast,
    Actual,
}

/// Finance's view of a line: hard and soft are never netted or summed together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Hard,
    Soft,
    Qualitative,
}

/// How often the saving happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Quarter,
    Year,
}

impl Period {
    fn per_year(self) -> Decimal {
        Decimal::from(match self {
            Self::Month => 12,
            Self::Quarter => 4,
            Self::Year => 1,
        })
    }
}

/// When the saving is realised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recurrence {
    OneTime { realized_on: NaiveDate },
    Recurring { period: Period, start_on: NaiveDate, end_on: Option<NaiveDate> },
}

/// One impact line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactLine {
    pub line_id: String,
    pub kind: LineKind,
    pub classification: Classification,
    /// For one-time lines the amount; for recurring lines the amount per period.
    pub money: Option<Money>,
    pub recurrence: Recurrence,
    pub calculation: Option<LongText>,
    pub evidence: Vec<EvidenceRef>,
}

impl ImpactLine {
    /// Hard lines need a calculation and evidence; soft lines a calculation; quantitative
    /// lines an amount; qualitative lines none.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self.classification {
            Classification::Qualitative if self.money.is_some() => Err(ValidationError::new("amount", "a qualitative line has no amount")),
            Classification::Hard | Classification::Soft if self.money.is_none() => Err(ValidationError::new("amount", "is required")),
            Classification::Hard | Classification::Soft if self.calculation.is_none() => {
                Err(ValidationError::new("calculation", "is required for hard and soft savings"))
            }
            Classification::Hard if self.evidence.is_empty() => Err(ValidationError::new("evidence", "is required for hard savings")),
            _ => Ok(()),
        }
    }

    /// The amount per year (one-time lines count once).
    pub fn annualized(&self) -> Option<Decimal> {
        let money = self.money.as_ref()?;
        Some(match self.recurrence {
            Recurrence::OneTime { .. } => money.amount,
            Recurrence::Recurring { period, .. } => money.amount * period.per_year(),
        })
    }
}

/// Annualised savings per classification and currency: hard and soft never mixed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsTotals {
    pub hard: BTreeMap<Currency, Decimal>,
    pub soft: BTreeMap<Currency, Decimal>,
}

impl SavingsTotals {
    /// The totals of `lines` of `kind`.
    pub fn of<'a>(lines: impl IntoIterator<Item = &'a ImpactLine>, kind: LineKind) -> Self {
        let mut totals = Self::default();
        for line in lines.into_iter().filter(|l| l.kind == kind) {
            let (Some(money), Some(amount)) = (&line.money, line.annualized()) else { continue };
            let bucket = match line.classification {
                Classification::Hard => &mut totals.hard,
                Classification::Soft => &mut totals.soft,
                Classification::Qualitative => continue,
            };
            *bucket.entry(money.currency.clone()).or_default() += amount;
        }
        totals
    }
}

/// Commands on a kaizen.
#[derive(Clone, Debug)]
pub enum KaizenCommand {
    Draft {
        actor: Actor,
        kaizen_id: KaizenId,
        zone_id: ZoneId,
        zone_active: bool,
        title: Name,
        category: KaizenCategory,
        problem: LongText,
        proposal: LongText,
    },
    Submit {
        actor: Actor,
        now: DateTime<Utc>,
    },
    Withdraw {
        actor: Actor,
        reason: Reason,
    },
    /// `may_review`: the actor is an Owner/Admin or leads the zone.
    StartReview {
        actor: Actor,
        may_review: bool,
    },
    Approve {
        actor: Actor,
        implementers: Vec<MemberId>,
        due_at: Option<DateTime<Utc>>,
    },
    Reject {
        actor: Actor,
        feedback: LongText,
    },
    StartImplementation {
        actor: Actor,
    },
    MarkImplemented {
        actor: Actor,
        now: DateTime<Utc>,
    },
    SetImpactLine {
        actor: Actor,
        line: ImpactLine,
        reason: Option<Reason>,
    },
    SubmitImpact {
        actor: Actor,
    },
    /// `is_savings_verifier`: the actor holds the capability.
    VerifySavings {
        actor: Actor,
        is_savings_verifier: bool,
        now: DateTime<Utc>,
    },
    DeclineVerification {
        actor: Actor,
        is_savings_verifier: bool,
        reason: Reason,
    },
    Close {
        actor: Actor,
    },
}

/// Events of a kaizen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KaizenEvent {
    KaizenDrafted {
        kaizen_id: KaizenId,
        zone_id: ZoneId,
        title: Name,
        category: KaizenCategory,
        problem: LongText,
        proposal: LongText,
        author: MemberId,
    },
    KaizenSubmitted {
        submitted_at: DateTime<Utc>,
    },
    KaizenWithdrawn {
        from: KaizenStatus,
        reason: Reason,
    },
    KaizenReviewStarted {
        reviewer: MemberId,
    },
    /// Signature meaning `approved`.
    KaizenApproved {
        implementers: Vec<MemberId>,
        due_at: Option<DateTime<Utc>>,
    },
    KaizenRejected {
        feedback: LongText,
    },
    KaizenImplementationStarted,
    KaizenImplemented {
        implemented_at: DateTime<Utc>,
    },
    KaizenImpactLineSet {
        before: Option<ImpactLine>,
        after: ImpactLine,
        reason: Option<Reason>,
    },
    KaizenImpactSubmitted {
        actual: SavingsTotals,
    },
    /// Signature meaning `verified`.
    KaizenSavingsVerified {
        verified_by: MemberId,
        verified_at: DateTime<Utc>,
        totals: SavingsTotals,
        verification_version: u32,
        /// The authors (for the points policy).
        authors: Vec<MemberId>,
    },
    KaizenSavingsVerificationDeclined {
        reason: Reason,
    },
    KaizenClosed {
        from: KaizenStatus,
    },
}

impl DomainEvent for KaizenEvent {
    fn event_type(&self) -> String {
        match self {
            Self::KaizenDrafted { .. } => "KaizenDrafted",
            Self::KaizenSubmitted { .. } => "KaizenSubmitted",
            Self::KaizenWithdrawn { .. } => "KaizenWithdrawn",
            Self::KaizenReviewStarted { .. } => "KaizenReviewStarted",
            Self::KaizenApproved { .. } => "KaizenApproved",
            Self::KaizenRejected { .. } => "KaizenRejected",
            Self::KaizenImplementationStarted => "KaizenImplementationStarted",
            Self::KaizenImplemented { .. } => "KaizenImplemented",
            Self::KaizenImpactLineSet { .. } => "KaizenImpactLineSet",
            Self::KaizenImpactSubmitted { .. } => "KaizenImpactSubmitted",
            Self::KaizenSavingsVerified { .. } => "KaizenSavingsVerified",
            Self::KaizenSavingsVerificationDeclined { .. } => "KaizenSavingsVerificationDeclined",
            Self::KaizenClosed { .. } => "KaizenClosed",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

fn status(before: KaizenStatus, after: KaizenStatus) -> Change {
    Change::new("status", before, after)
}

impl Audited for KaizenEvent {
    fn changes(&self) -> Vec<Change> {
        use KaizenStatus as S;
        match self {
            Self::KaizenDrafted { zone_id, title, category, problem, proposal, author, .. } => vec![
                Change::created("zoneId", zone_id),
                Change::created("title", title),
                Change::created("category", category),
                Change::created("problem", problem),
                Change::created("proposal", proposal),
                Change::created("authors", [author]),
                Change::created("status", S::Draft),
            ],
            Self::KaizenSubmitted { .. } => vec![status(S::Draft, S::Submitted)],
            Self::KaizenWithdrawn { from, .. } => vec![status(*from, S::Withdrawn)],
            Self::KaizenReviewStarted { reviewer } => vec![status(S::Submitted, S::UnderReview), Change::created("reviewerId", reviewer)],
            Self::KaizenApproved { implementers, due_at } => {
                vec![status(S::UnderReview, S::Approved), Change::created("implementerIds", implementers), Change::created("dueAt", due_at)]
            }
            Self::KaizenRejected { feedback } => vec![status(S::UnderReview, S::Rejected), Change::created("feedback", feedback)],
            Self::KaizenImplementationStarted => vec![status(S::Approved, S::Implementing)],
            Self::KaizenImplemented { implemented_at } => {
                vec![status(S::Implementing, S::Implemented), Change::created("implementedAt", implemented_at)]
            }
            Self::KaizenImpactLineSet { before, after, .. } => vec![Change::new(&format!("impactLines.{}", after.line_id), before, after)],
            Self::KaizenImpactSubmitted { actual } => {
                vec![status(S::Implemented, S::ImpactSubmitted), Change::created("actualTotals", actual)]
            }
            Self::KaizenSavingsVerified { verified_by, totals, .. } => vec![
                status(S::ImpactSubmitted, S::SavingsVerified),
                Change::created("verifiedBy", verified_by),
                Change::created("verifiedTotals", totals),
            ],
            Self::KaizenSavingsVerificationDeclined { .. } => vec![status(S::ImpactSubmitted, S::Implemented)],
            Self::KaizenClosed { from } => vec![status(*from, S::Closed)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::KaizenWithdrawn { reason, .. } | Self::KaizenSavingsVerificationDeclined { reason } => Some(reason),
            Self::KaizenImpactLineSet { reason, .. } => reason.as_ref(),
            _ => None,
        }
    }
}

/// State of a kaizen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Kaizen {
    status: KaizenStatus,
    zone_id: Option<ZoneId>,
    authors: Vec<MemberId>,
    reviewer: Option<MemberId>,
    implementers: Vec<MemberId>,
    lines: Vec<ImpactLine>,
    verified: Option<SavingsTotals>,
    verification_version: u32,
}

impl Kaizen {
    /// The status.
    pub fn status(&self) -> KaizenStatus {
        self.status
    }
    /// The zone it improves.
    pub fn zone_id(&self) -> Option<ZoneId> {
        self.zone_id
    }
    /// The impact lines.
    pub fn lines(&self) -> &[ImpactLine] {
        &self.lines
    }
    /// The verified totals, once verified.
    pub fn verified(&self) -> Option<&SavingsTotals> {
        self.verified.as_ref()
    }
    /// Authors.
    pub fn authors(&self) -> &[MemberId] {
        &self.authors
    }
    /// The reviewer.
    pub fn reviewer(&self) -> Option<MemberId> {
        self.reviewer
    }
    /// Implementers.
    pub fn implementers(&self) -> &[MemberId] {
        &self.implementers
    }

    fn require(&self, allowed: &[KaizenStatus], what: &'static str) -> Outcome {
        match self.status {
            KaizenStatus::None => Err(DomainError::NotFound),
            s if allowed.contains(&s) => Ok(()),
            _ => Err(DomainError::Rule(what)),
        }
    }

    fn require_author(&self, actor: &Actor) -> Outcome {
        actor.require_mutator()?;
        if self.authors.contains(&actor.member_id) { Ok(()) } else { Err(DomainError::Forbidden("only an author may do this")) }
    }

    fn require_reviewer(&self, actor: &Actor) -> Outcome {
        actor.require_mutator()?;
        if self.reviewer == Some(actor.member_id) { Ok(()) } else { Err(DomainError::Forbidden("only the reviewer decides")) }
    }

    fn require_independent_verifier(&self, actor: &Actor, is_savings_verifier: bool) -> Outcome {
        actor.require_mutator()?;
        if !is_savings_verifier {
            return Err(DomainError::Forbidden("savings are verified by a savings_verifier"));
        }
        let involved = self.authors.contains(&actor.member_id)
            || self.implementers.contains(&actor.member_id)
            || self.reviewer == Some(actor.member_id);
        if involved {
            return Err(DomainError::Forbidden("the savings verifier is not an author, implementer or reviewer of the kaizen"));
        }
        Ok(())
    }

    /// Whether a line of `kind` may still change without a reason.
    fn line_locked(&self, kind: LineKind) -> bool {
        use KaizenStatus as S;
        match kind {
            LineKind::Target => !matches!(self.status, S::Draft | S::Submitted | S::UnderReview),
            LineKind::Forecast => matches!(self.status, S::Implemented | S::ImpactSubmitted | S::SavingsVerified | S::Closed),
            LineKind::Actual => matches!(self.status, S::SavingsVerified | S::Closed),
        }
    }
}

impl Aggregate for Kaizen {
    const TYPE: &'static str = "Kaizen";
    type Command = KaizenCommand;
    type Event = KaizenEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        use KaizenStatus as S;
        let event = match command {
            KaizenCommand::Draft { actor, kaizen_id, zone_id, zone_active, title, category, problem, proposal } => {
                actor.require_mutator()?;
                if self.status != S::None {
                    return Err(DomainError::Rule("the kaizen already exists"));
                }
                if !zone_active {
                    return Err(ValidationError::new("zoneId", "does not name an active zone").into());
                }
                KaizenEvent::KaizenDrafted { kaizen_id, zone_id, title, category, problem, proposal, author: actor.member_id }
            }
            KaizenCommand::Submit { actor, now } => {
                self.require(&[S::Draft], "only a draft is submitted")?;
                self.require_author(&actor)?;
                KaizenEvent::KaizenSubmitted { submitted_at: now }
            }
            KaizenCommand::Withdraw { actor, reason } => {
                self.require(&[S::Draft, S::Submitted], "a kaizen under review or decided is not withdrawn")?;
                self.require_author(&actor)?;
                KaizenEvent::KaizenWithdrawn { from: self.status, reason }
            }
            KaizenCommand::StartReview { actor, may_review } => {
                self.require(&[S::Submitted], "only a submitted kaizen is reviewed")?;
                actor.require_mutator()?;
                if !may_review {
                    return Err(DomainError::Forbidden("kaizens are reviewed by the zone's leaders, owners or admins"));
                }
                if self.authors.contains(&actor.member_id) {
                    return Err(DomainError::Forbidden("an author does not review their own kaizen"));
                }
                KaizenEvent::KaizenReviewStarted { reviewer: actor.member_id }
            }
            KaizenCommand::Approve { actor, implementers, due_at } => {
                self.require(&[S::UnderReview], "only a kaizen under review is approved")?;
                self.require_reviewer(&actor)?;
                if implementers.is_empty() {
                    return Err(ValidationError::new("implementerIds", "name at least one implementer").into());
                }
                KaizenEvent::KaizenApproved { implementers, due_at }
            }
            KaizenCommand::Reject { actor, feedback } => {
                self.require(&[S::UnderReview], "only a kaizen under review is rejected")?;
                self.require_reviewer(&actor)?;
                KaizenEvent::KaizenRejected { feedback }
            }
            KaizenCommand::StartImplementation { actor } => {
                self.require(&[S::Approved], "only an approved kaizen is implemented")?;
                actor.require_mutator()?;
                if !self.implementers.contains(&actor.member_id) {
                    return Err(DomainError::Forbidden("only an implementer starts the implementation"));
                }
                KaizenEvent::KaizenImplementationStarted
            }
            KaizenCommand::MarkImplemented { actor, now } => {
                self.require(&[S::Implementing], "only a kaizen being implemented is marked implemented")?;
                actor.require_mutator()?;
                if !self.implementers.contains(&actor.member_id) {
                    return Err(DomainError::Forbidden("only an implementer marks the kaizen implemented"));
                }
                KaizenEvent::KaizenImplemented { implemented_at: now }
            }
            KaizenCommand::SetImpactLine { actor, line, reason } => {
                actor.require_mutator()?;
                if matches!(self.status, S::None) {
                    return Err(DomainError::NotFound);
                }
                if matches!(self.status, S::Rejected | S::Withdrawn | S::Closed) {
                    return Err(DomainError::Rule("the kaizen is finished"));
                }
                let involved = self.authors.contains(&actor.member_id)
                    || self.implementers.contains(&actor.member_id)
                    || self.reviewer == Some(actor.member_id);
                if !involved {
                    return Err(DomainError::Forbidden("impact lines are kept by the kaizen's authors, reviewer and implementers"));
                }
                line.validate()?;
                let before = self.lines.iter().find(|l| l.line_id == line.line_id).cloned();
                if before.as_ref().is_some_and(|b| b.kind != line.kind) {
                    return Err(ValidationError::new("kind", "a line keeps its kind").into());
                }
                if self.line_locked(line.kind) {
                    if line.kind == LineKind::Actual {
                        return Err(DomainError::Rule("verified actual lines change only through a savings adjustment"));
                    }
                    if reason.is_none() {
                        return Err(ValidationError::new("reason", "is required to change a locked line").into());
                    }
                }
                KaizenEvent::KaizenImpactLineSet { before, after: line, reason }
            }
            KaizenCommand::SubmitImpact { actor } => {
                self.require(&[S::Implemented], "impact is submitted for an implemented kaizen")?;
                actor.require_mutator()?;
                let involved = self.authors.contains(&actor.member_id) || self.implementers.contains(&actor.member_id);
                if !involved {
                    return Err(DomainError::Forbidden("impact is submitted by the kaizen's authors or implementers"));
                }
                if !self.lines.iter().any(|l| l.kind == LineKind::Actual) {
                    return Err(DomainError::Rule("submit at least one actual impact line"));
                }
                KaizenEvent::KaizenImpactSubmitted { actual: SavingsTotals::of(&self.lines, LineKind::Actual) }
            }
            KaizenCommand::VerifySavings { actor, is_savings_verifier, now } => {
                self.require(&[S::ImpactSubmitted], "only submitted impact is verified")?;
                self.require_independent_verifier(&actor, is_savings_verifier)?;
                KaizenEvent::KaizenSavingsVerified {
                    verified_by: actor.member_id,
                    verified_at: now,
                    totals: SavingsTotals::of(&self.lines, LineKind::Actual),
                    verification_version: self.verification_version + 1,
                    authors: self.authors.clone(),
                }
            }
            KaizenCommand::DeclineVerification { actor, is_savings_verifier, reason } => {
                self.require(&[S::ImpactSubmitted], "only submitted impact is declined")?;
                self.require_independent_verifier(&actor, is_savings_verifier)?;
                KaizenEvent::KaizenSavingsVerificationDeclined { reason }
            }
            KaizenCommand::Close { actor } => {
                actor.require_mutator()?;
                let quantitative = self.lines.iter().any(|l| l.kind == LineKind::Actual && l.classification != Classification::Qualitative);
                match self.status {
                    S::SavingsVerified => {}
                    S::Implemented if !quantitative => {}
                    S::Implemented => return Err(DomainError::Rule("quantified savings are verified before closing")),
                    S::None => return Err(DomainError::NotFound),
                    _ => return Err(DomainError::Rule("only an implemented or verified kaizen is closed")),
                }
                let may_close =
                    self.reviewer == Some(actor.member_id) || matches!(actor.role, crate::values::Role::Owner | crate::values::Role::Admin);
                if !may_close {
                    return Err(DomainError::Forbidden("the reviewer, owners or admins close a kaizen"));
                }
                KaizenEvent::KaizenClosed { from: self.status }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use KaizenStatus as S;
        match event {
            KaizenEvent::KaizenDrafted { author, zone_id, .. } => {
                self.status = S::Draft;
                self.zone_id = Some(zone_id);
                self.authors = vec![author];
            }
            KaizenEvent::KaizenSubmitted { .. } => self.status = S::Submitted,
            KaizenEvent::KaizenWithdrawn { .. } => self.status = S::Withdrawn,
            KaizenEvent::KaizenReviewStarted { reviewer } => {
                self.status = S::UnderReview;
                self.reviewer = Some(reviewer);
            }
            KaizenEvent::KaizenApproved { implementers, .. } => {
                self.status = S::Approved;
                self.implementers = implementers;
            }
            KaizenEvent::KaizenRejected { .. } => self.status = S::Rejected,
            KaizenEvent::KaizenImplementationStarted => self.status = S::Implementing,
            KaizenEvent::KaizenImplemented { .. } => self.status = S::Implemented,
            KaizenEvent::KaizenImpactLineSet { after, .. } => match self.lines.iter_mut().find(|l| l.line_id == after.line_id) {
                Some(slot) => *slot = after,
                None => self.lines.push(after),
            },
            KaizenEvent::KaizenImpactSubmitted { .. } => self.status = S::ImpactSubmitted,
            KaizenEvent::KaizenSavingsVerified { totals, verification_version, .. } => {
                self.status = S::SavingsVerified;
                self.verified = Some(totals);
                self.verification_version = verification_version;
            }
            KaizenEvent::KaizenSavingsVerificationDeclined { .. } => self.status = S::Implemented,
            KaizenEvent::KaizenClosed { .. } => self.status = S::Closed,
        }
    }
}

#[cfg(test)]
#[path = "kaizen_tests.rs"]
mod tests;
