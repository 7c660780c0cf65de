//! The Kaizen aggregate: an improvement idea from draft to verified savings
//! (reference/domain.md §4.7).
//!
//! Invariants: a reviewer is never an author; a rejection always carries feedback for the
//! authors; savings are verified by a `savings_verifier` who is neither author, implementer
//! nor reviewer; hard lines need a calculation and evidence, soft lines a calculation; hard
//! and soft amounts are never added together; target lines lock once approved, forecast
//! lines once implemented, actual lines once verified (after which only a reasoned
//! adjustment by a verifier changes them).
//!
//! Authors share the recognition in whole percent that always sum to 100. Adding or removing
//! a co-author resets the shares to an equal split: each author gets `100 / n` and the first
//! author also gets the remainder (three authors: 34, 33, 33). `SetAuthorShares` sets any other
//! split of at least 1 % per author.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change, SignatureMeaning};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::{A3Id, DefectId, KaizenId, MemberId, ZoneId};
use crate::values::{EvidenceRef, LongText, Name, Reason, Role};

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
    Deferred,
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

/// An author and their share of the kaizen's recognition, in whole percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorShare {
    pub member_id: MemberId,
    pub share_pct: u8,
}

/// The most authors a kaizen has (each keeps at least 1 %).
pub const MAX_AUTHORS: usize = 20;

/// An equal split of 100 % between `members`; the remainder goes to the first author.
pub fn equal_shares(members: &[MemberId]) -> Vec<AuthorShare> {
    let count = u8::try_from(members.len()).unwrap_or(u8::MAX).clamp(1, 100);
    let (each, remainder) = (100 / count, 100 % count);
    members
        .iter()
        .enumerate()
        .map(|(i, m)| AuthorShare { member_id: *m, share_pct: if i == 0 { each + remainder } else { each } })
        .collect()
}

/// The description of a kaizen, or the fields a patch changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KaizenContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<KaizenCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<LongText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<LongText>,
}

impl KaizenContent {
    /// The fields of `patch` that differ from `self`: `(before, after)`.
    fn diff(&self, patch: &Self) -> Result<(Self, Self), DomainError> {
        let mut before = Self::default();
        let mut after = Self::default();
        fn pick<T: Clone + PartialEq>(current: &Option<T>, new: &Option<T>, before: &mut Option<T>, after: &mut Option<T>) {
            if let Some(value) = new
                && current.as_ref() != Some(value)
            {
                *before = current.clone();
                *after = Some(value.clone());
            }
        }
        pick(&self.title, &patch.title, &mut before.title, &mut after.title);
        pick(&self.category, &patch.category, &mut before.category, &mut after.category);
        pick(&self.problem, &patch.problem, &mut before.problem, &mut after.problem);
        pick(&self.proposal, &patch.proposal, &mut before.proposal, &mut after.proposal);
        if after == Self::default() {
            return Err(ValidationError::new("patch", "changes nothing").into());
        }
        Ok((before, after))
    }

    fn merge(&mut self, patch: Self) {
        if patch.title.is_some() {
            self.title = patch.title;
        }
        if patch.category.is_some() {
            self.category = patch.category;
        }
        if patch.problem.is_some() {
            self.problem = patch.problem;
        }
        if patch.proposal.is_some() {
            self.proposal = patch.proposal;
        }
    }

    fn changes(before: &Self, after: &Self) -> Vec<Change> {
        let mut changes = Vec::new();
        if after.title.is_some() {
            changes.push(Change::new("title", &before.title, &after.title));
        }
        if after.category.is_some() {
            changes.push(Change::new("category", before.category, after.category));
        }
        if after.problem.is_some() {
            changes.push(Change::new("problem", &before.problem, &after.problem));
        }
        if after.proposal.is_some() {
            changes.push(Change::new("proposal", &before.proposal, &after.proposal));
        }
        changes
    }
}

/// What a savings adjustment changes on a verified actual line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinePatch {
    pub classification: Option<Classification>,
    pub money: Option<Money>,
    pub calculation: Option<LongText>,
    pub evidence: Option<Vec<EvidenceRef>>,
}

impl SavingsTotals {
    /// `after - before` per classification and currency (zero differences left out).
    pub fn delta(before: &Self, after: &Self) -> Self {
        fn diff(before: &BTreeMap<Currency, Decimal>, after: &BTreeMap<Currency, Decimal>) -> BTreeMap<Currency, Decimal> {
            let currencies: std::collections::BTreeSet<&Currency> = before.keys().chain(after.keys()).collect();
            currencies
                .into_iter()
                .filter_map(|c| {
                    let d = after.get(c).copied().unwrap_or_default() - before.get(c).copied().unwrap_or_default();
                    (!d.is_zero()).then(|| (c.clone(), d))
                })
                .collect()
        }
        Self { hard: diff(&before.hard, &after.hard), soft: diff(&before.soft, &after.soft) }
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
    /// `admin_threshold`: the organisation's `verifier_threshold_amount` in its default
    /// currency; annualised hard savings in that currency at or above it are verified by an
    /// Owner or Admin.
    VerifySavings {
        actor: Actor,
        is_savings_verifier: bool,
        admin_threshold: Option<Money>,
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
    /// Changes the description of a draft (an author).
    EditDraft {
        actor: Actor,
        patch: KaizenContent,
    },
    /// Changes the description after submission, with a reason.
    ChangeContent {
        actor: Actor,
        patch: KaizenContent,
        reason: Reason,
    },
    /// `member_active`: the member is active in the organisation.
    AddCoAuthor {
        actor: Actor,
        member: MemberId,
        member_active: bool,
    },
    RemoveCoAuthor {
        actor: Actor,
        member: MemberId,
    },
    SetAuthorShares {
        actor: Actor,
        shares: Vec<AuthorShare>,
    },
    Defer {
        actor: Actor,
        reason: Reason,
    },
    Reactivate {
        actor: Actor,
        may_review: bool,
    },
    ChangeDueDate {
        actor: Actor,
        due_at: DateTime<Utc>,
        reason: Reason,
    },
    RemoveImpactLine {
        actor: Actor,
        line_id: String,
        reason: Reason,
    },
    AdjustSavings {
        actor: Actor,
        is_savings_verifier: bool,
        admin_threshold: Option<Money>,
        line_id: String,
        patch: LinePatch,
        reason: Reason,
        now: DateTime<Utc>,
    },
    Reopen {
        actor: Actor,
        reason: Reason,
    },
    /// Just-do-it: submitted already implemented by its author.
    SubmitAsImplemented {
        actor: Actor,
        now: DateTime<Utc>,
    },
    /// `defect_exists`: the defect exists in the kaizen's organisation.
    LinkToDefect {
        actor: Actor,
        defect_id: DefectId,
        defect_exists: bool,
    },
    /// `a3_exists`: the A3 case exists in the kaizen's organisation.
    LinkToA3 {
        actor: Actor,
        a3_id: A3Id,
        a3_exists: bool,
    },
    /// An Owner or Admin moves an open kaizen to another active zone of the same site (the
    /// write side checks the site), e.g. when its zone is archived.
    TransferZone {
        actor: Actor,
        to_zone: ZoneId,
        to_zone_active: bool,
        reason: Reason,
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
    /// Carries the authors with their shares and the implementers (for the points policy).
    KaizenImplemented {
        implemented_at: DateTime<Utc>,
        #[serde(default)]
        just_do_it: bool,
        #[serde(default)]
        authors: Vec<AuthorShare>,
        #[serde(default)]
        implementers: Vec<MemberId>,
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
        /// The authors with their shares (for the points policy).
        #[serde(default)]
        author_shares: Vec<AuthorShare>,
    },
    KaizenSavingsVerificationDeclined {
        reason: Reason,
    },
    KaizenClosed {
        from: KaizenStatus,
    },
    KaizenDraftEdited {
        before: KaizenContent,
        after: KaizenContent,
    },
    KaizenContentChanged {
        before: KaizenContent,
        after: KaizenContent,
        reason: Reason,
    },
    KaizenAuthorAdded {
        member_id: MemberId,
        before: Vec<AuthorShare>,
        after: Vec<AuthorShare>,
    },
    KaizenAuthorRemoved {
        member_id: MemberId,
        before: Vec<AuthorShare>,
        after: Vec<AuthorShare>,
    },
    KaizenAuthorSharesChanged {
        before: Vec<AuthorShare>,
        after: Vec<AuthorShare>,
    },
    KaizenDeferred {
        reason: Reason,
    },
    KaizenReactivated {
        reviewer_before: Option<MemberId>,
        reviewer: MemberId,
    },
    KaizenDueDateChanged {
        before: Option<DateTime<Utc>>,
        after: DateTime<Utc>,
        reason: Reason,
    },
    KaizenImpactLineRemoved {
        line: ImpactLine,
        reason: Reason,
    },
    /// Signature meaning `verified`: a reversing entry, the earlier verification stays recorded.
    KaizenSavingsAdjusted {
        line_before: ImpactLine,
        line_after: ImpactLine,
        totals_before: SavingsTotals,
        totals_after: SavingsTotals,
        /// `totals_after - totals_before`.
        delta: SavingsTotals,
        verification_version: u32,
        adjusted_by: MemberId,
        adjusted_at: DateTime<Utc>,
        reason: Reason,
    },
    /// Carries the authors and implementers whose recognition the reopening reverses.
    KaizenReopened {
        to: KaizenStatus,
        reason: Reason,
        authors: Vec<AuthorShare>,
        implementers: Vec<MemberId>,
    },
    KaizenLinkedToDefect {
        defect_id: DefectId,
    },
    KaizenLinkedToA3 {
        before: Option<A3Id>,
        after: A3Id,
    },
    /// Moved to another zone of its site.
    KaizenTransferred {
        from: ZoneId,
        to: ZoneId,
        reason: Reason,
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
            Self::KaizenDraftEdited { .. } => "KaizenDraftEdited",
            Self::KaizenContentChanged { .. } => "KaizenContentChanged",
            Self::KaizenAuthorAdded { .. } => "KaizenAuthorAdded",
            Self::KaizenAuthorRemoved { .. } => "KaizenAuthorRemoved",
            Self::KaizenAuthorSharesChanged { .. } => "KaizenAuthorSharesChanged",
            Self::KaizenDeferred { .. } => "KaizenDeferred",
            Self::KaizenReactivated { .. } => "KaizenReactivated",
            Self::KaizenDueDateChanged { .. } => "KaizenDueDateChanged",
            Self::KaizenImpactLineRemoved { .. } => "KaizenImpactLineRemoved",
            Self::KaizenSavingsAdjusted { .. } => "KaizenSavingsAdjusted",
            Self::KaizenReopened { .. } => "KaizenReopened",
            Self::KaizenLinkedToDefect { .. } => "KaizenLinkedToDefect",
            Self::KaizenLinkedToA3 { .. } => "KaizenLinkedToA3",
            Self::KaizenTransferred { .. } => "KaizenTransferred",
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
            Self::KaizenImplemented { implemented_at, just_do_it, implementers, .. } => {
                let mut changes = vec![
                    status(if *just_do_it { S::Submitted } else { S::Implementing }, S::Implemented),
                    Change::created("implementedAt", implemented_at),
                ];
                if *just_do_it {
                    changes.push(Change::created("implementerIds", implementers));
                }
                changes
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
            Self::KaizenDraftEdited { before, after } | Self::KaizenContentChanged { before, after, .. } => {
                KaizenContent::changes(before, after)
            }
            Self::KaizenAuthorAdded { before, after, .. }
            | Self::KaizenAuthorRemoved { before, after, .. }
            | Self::KaizenAuthorSharesChanged { before, after } => vec![Change::new("authors", before, after)],
            Self::KaizenDeferred { .. } => vec![status(S::UnderReview, S::Deferred)],
            Self::KaizenReactivated { reviewer_before, reviewer } => {
                vec![status(S::Deferred, S::UnderReview), Change::new("reviewerId", reviewer_before, reviewer)]
            }
            Self::KaizenDueDateChanged { before, after, .. } => vec![Change::new("dueAt", before, after)],
            Self::KaizenImpactLineRemoved { line, .. } => {
                vec![Change::new(&format!("impactLines.{}", line.line_id), line, Option::<()>::None)]
            }
            Self::KaizenSavingsAdjusted { line_before, line_after, totals_before, totals_after, verification_version, .. } => vec![
                Change::new(&format!("impactLines.{}", line_after.line_id), line_before, line_after),
                Change::new("verifiedTotals", totals_before, totals_after),
                Change::new("verificationVersion", verification_version.saturating_sub(1), verification_version),
            ],
            Self::KaizenReopened { to, .. } => vec![status(S::Closed, *to)],
            Self::KaizenLinkedToDefect { defect_id } => vec![Change::created(&format!("linkedDefectIds.{defect_id}"), defect_id)],
            Self::KaizenLinkedToA3 { before, after } => vec![Change::new("linkedA3Id", before, after)],
            Self::KaizenTransferred { from, to, .. } => vec![Change::new("zoneId", from, to)],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::KaizenWithdrawn { reason, .. }
            | Self::KaizenSavingsVerificationDeclined { reason }
            | Self::KaizenContentChanged { reason, .. }
            | Self::KaizenDeferred { reason }
            | Self::KaizenDueDateChanged { reason, .. }
            | Self::KaizenImpactLineRemoved { reason, .. }
            | Self::KaizenSavingsAdjusted { reason, .. }
            | Self::KaizenReopened { reason, .. }
            | Self::KaizenTransferred { reason, .. } => Some(reason),
            Self::KaizenImpactLineSet { reason, .. } => reason.as_ref(),
            _ => None,
        }
    }
    fn signature(&self) -> Option<SignatureMeaning> {
        match self {
            Self::KaizenSubmitted { .. } => Some(SignatureMeaning::Authored),
            Self::KaizenApproved { .. } => Some(SignatureMeaning::Approved),
            Self::KaizenImpactSubmitted { .. } => Some(SignatureMeaning::Responsible),
            Self::KaizenSavingsVerified { .. } | Self::KaizenSavingsAdjusted { .. } => Some(SignatureMeaning::Verified),
            _ => None,
        }
    }
}

/// State of a kaizen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Kaizen {
    status: KaizenStatus,
    zone_id: Option<ZoneId>,
    content: KaizenContent,
    authors: Vec<AuthorShare>,
    reviewer: Option<MemberId>,
    implementers: Vec<MemberId>,
    due_at: Option<DateTime<Utc>>,
    lines: Vec<ImpactLine>,
    verified: Option<SavingsTotals>,
    verification_version: u32,
    closed_from: Option<KaizenStatus>,
    linked_defects: Vec<DefectId>,
    linked_a3: Option<A3Id>,
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
    /// Title, category, problem and proposal.
    pub fn content(&self) -> &KaizenContent {
        &self.content
    }
    /// The impact lines.
    pub fn lines(&self) -> &[ImpactLine] {
        &self.lines
    }
    /// The verified totals, once verified (after an adjustment, the adjusted totals).
    pub fn verified(&self) -> Option<&SavingsTotals> {
        self.verified.as_ref()
    }
    /// How many times the savings were verified or adjusted.
    pub fn verification_version(&self) -> u32 {
        self.verification_version
    }
    /// Whether the kaizen is still open: neither closed, rejected nor withdrawn.
    pub fn is_open(&self) -> bool {
        self.zone_id.is_some() && !matches!(self.status, KaizenStatus::Closed | KaizenStatus::Rejected | KaizenStatus::Withdrawn)
    }
    /// Authors with their shares (summing to 100).
    pub fn authors(&self) -> &[AuthorShare] {
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
    /// The due date set on approval.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.due_at
    }
    /// Linked defects.
    pub fn linked_defects(&self) -> &[DefectId] {
        &self.linked_defects
    }
    /// The linked A3 case.
    pub fn linked_a3(&self) -> Option<A3Id> {
        self.linked_a3
    }

    fn is_author(&self, member: MemberId) -> bool {
        self.authors.iter().any(|a| a.member_id == member)
    }

    fn author_ids(&self) -> Vec<MemberId> {
        self.authors.iter().map(|a| a.member_id).collect()
    }

    fn is_admin(actor: &Actor) -> bool {
        matches!(actor.role, Role::Owner | Role::Admin)
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
        if self.is_author(actor.member_id) { Ok(()) } else { Err(DomainError::Forbidden("only an author may do this")) }
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
        let involved =
            self.is_author(actor.member_id) || self.implementers.contains(&actor.member_id) || self.reviewer == Some(actor.member_id);
        if involved {
            return Err(DomainError::Forbidden("the savings verifier is not an author, implementer or reviewer of the kaizen"));
        }
        Ok(())
    }

    /// Impact lines and links are kept by the kaizen's authors, reviewer and implementers.
    fn require_involved(&self, actor: &Actor, what: &'static str) -> Outcome {
        actor.require_mutator()?;
        let involved =
            self.is_author(actor.member_id) || self.implementers.contains(&actor.member_id) || self.reviewer == Some(actor.member_id);
        if involved { Ok(()) } else { Err(DomainError::Forbidden(what)) }
    }

    /// Co-authors and shares are changed by an author, an owner or an admin before the
    /// kaizen is implemented (recognition is derived from the implementation).
    fn require_author_change(&self, actor: &Actor) -> Outcome {
        use KaizenStatus as S;
        self.require(
            &[S::Draft, S::Submitted, S::UnderReview, S::Deferred, S::Approved, S::Implementing],
            "authors change only before the kaizen is implemented",
        )?;
        actor.require_mutator()?;
        if self.is_author(actor.member_id) || Self::is_admin(actor) {
            Ok(())
        } else {
            Err(DomainError::Forbidden("only an author, an owner or an admin changes the authors"))
        }
    }

    /// Links are recorded by the kaizen's authors, reviewer, implementers, owners or admins.
    fn require_linkable(&self, actor: &Actor) -> Outcome {
        use KaizenStatus as S;
        match self.status {
            S::None => return Err(DomainError::NotFound),
            S::Rejected | S::Withdrawn => return Err(DomainError::Rule("a rejected or withdrawn kaizen is not linked")),
            _ => {}
        }
        if Self::is_admin(actor) {
            return actor.require_mutator();
        }
        self.require_involved(actor, "links are recorded by the kaizen's authors, reviewer, implementers, owners or admins")
    }

    /// Whether a line of `kind` may still change without a reason.
    fn line_locked(&self, kind: LineKind) -> bool {
        use KaizenStatus as S;
        match kind {
            LineKind::Target => !matches!(self.status, S::Draft | S::Submitted | S::UnderReview | S::Deferred),
            LineKind::Forecast => matches!(self.status, S::Implemented | S::ImpactSubmitted | S::SavingsVerified | S::Closed),
            LineKind::Actual => matches!(self.status, S::SavingsVerified | S::Closed),
        }
    }
}

/// Segregation of duties for large savings (reference/domain.md §4.7): when annualised hard
/// savings in the threshold's currency (the organisation's default) reach it, the verifier
/// must also be an Owner or Admin. Amounts in other currencies are never converted here (no
/// FX rate is known before verification), so they do not count toward it.
fn require_admin_at_threshold(actor: &Actor, threshold: Option<Money>, totals: &[&SavingsTotals]) -> Outcome {
    let Some(threshold) = threshold else { return Ok(()) };
    let reached = totals.iter().any(|t| t.hard.get(&threshold.currency).is_some_and(|amount| *amount >= threshold.amount));
    if reached && !matches!(actor.role, crate::values::Role::Owner | crate::values::Role::Admin) {
        return Err(DomainError::Forbidden("savings at or above the organisation's threshold are verified by an owner or admin"));
    }
    Ok(())
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
                if self.is_author(actor.member_id) {
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
                KaizenEvent::KaizenImplemented {
                    implemented_at: now,
                    just_do_it: false,
                    authors: self.authors.clone(),
                    implementers: self.implementers.clone(),
                }
            }
            KaizenCommand::SetImpactLine { actor, line, reason } => {
                actor.require_mutator()?;
                if matches!(self.status, S::None) {
                    return Err(DomainError::NotFound);
                }
                if matches!(self.status, S::Rejected | S::Withdrawn | S::Closed) {
                    return Err(DomainError::Rule("the kaizen is finished"));
                }
                self.require_involved(&actor, "impact lines are kept by the kaizen's authors, reviewer and implementers")?;
                line.validate()?;
                let before = self.lines.iter().find(|l| l.line_id == line.line_id).cloned();
                if before.as_ref().is_some_and(|b| b.kind != line.kind) {
                    return Err(ValidationError::new("kind", "a line keeps its kind").into());
                }
                if line.kind == LineKind::Actual && self.status == S::ImpactSubmitted {
                    // The verifier verifies what was submitted: no figure moves under them.
                    return Err(DomainError::Rule("submitted actual lines stay until the verification is decided"));
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
                let involved = self.is_author(actor.member_id) || self.implementers.contains(&actor.member_id);
                if !involved {
                    return Err(DomainError::Forbidden("impact is submitted by the kaizen's authors or implementers"));
                }
                if !self.lines.iter().any(|l| l.kind == LineKind::Actual) {
                    return Err(DomainError::Rule("submit at least one actual impact line"));
                }
                KaizenEvent::KaizenImpactSubmitted { actual: SavingsTotals::of(&self.lines, LineKind::Actual) }
            }
            KaizenCommand::VerifySavings { actor, is_savings_verifier, admin_threshold, now } => {
                self.require(&[S::ImpactSubmitted], "only submitted impact is verified")?;
                self.require_independent_verifier(&actor, is_savings_verifier)?;
                let totals = SavingsTotals::of(&self.lines, LineKind::Actual);
                require_admin_at_threshold(&actor, admin_threshold, &[&totals])?;
                KaizenEvent::KaizenSavingsVerified {
                    verified_by: actor.member_id,
                    verified_at: now,
                    totals,
                    verification_version: self.verification_version + 1,
                    authors: self.author_ids(),
                    author_shares: self.authors.clone(),
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
                let may_close = self.reviewer == Some(actor.member_id) || Self::is_admin(&actor);
                if !may_close {
                    return Err(DomainError::Forbidden("the reviewer, owners or admins close a kaizen"));
                }
                KaizenEvent::KaizenClosed { from: self.status }
            }
            KaizenCommand::EditDraft { actor, patch } => {
                self.require(&[S::Draft], "only a draft is edited freely; after submission change the content with a reason")?;
                self.require_author(&actor)?;
                let (before, after) = self.content.diff(&patch)?;
                KaizenEvent::KaizenDraftEdited { before, after }
            }
            KaizenCommand::ChangeContent { actor, patch, reason } => {
                self.require(
                    &[
                        S::Submitted,
                        S::UnderReview,
                        S::Deferred,
                        S::Approved,
                        S::Implementing,
                        S::Implemented,
                        S::ImpactSubmitted,
                        S::SavingsVerified,
                    ],
                    "the content of a draft is edited as a draft; a finished kaizen's content is not changed",
                )?;
                actor.require_mutator()?;
                if !(self.is_author(actor.member_id) || self.reviewer == Some(actor.member_id) || Self::is_admin(&actor)) {
                    return Err(DomainError::Forbidden("the content is changed by an author, the reviewer, an owner or an admin"));
                }
                let (before, after) = self.content.diff(&patch)?;
                KaizenEvent::KaizenContentChanged { before, after, reason }
            }
            KaizenCommand::AddCoAuthor { actor, member, member_active } => {
                self.require_author_change(&actor)?;
                if !member_active {
                    return Err(ValidationError::new("memberId", "does not name an active member").into());
                }
                if self.is_author(member) {
                    return Err(DomainError::Rule("the member is already an author"));
                }
                if self.reviewer == Some(member) {
                    return Err(DomainError::Rule("the reviewer is never an author of the kaizen"));
                }
                if self.authors.len() >= MAX_AUTHORS {
                    return Err(DomainError::Rule("a kaizen has at most 20 authors"));
                }
                let mut ids = self.author_ids();
                ids.push(member);
                KaizenEvent::KaizenAuthorAdded { member_id: member, before: self.authors.clone(), after: equal_shares(&ids) }
            }
            KaizenCommand::RemoveCoAuthor { actor, member } => {
                self.require_author_change(&actor)?;
                if !self.is_author(member) {
                    return Err(ValidationError::new("memberId", "is not an author of the kaizen").into());
                }
                if self.authors.len() == 1 {
                    return Err(DomainError::Rule("a kaizen keeps at least one author"));
                }
                let ids: Vec<MemberId> = self.author_ids().into_iter().filter(|m| *m != member).collect();
                KaizenEvent::KaizenAuthorRemoved { member_id: member, before: self.authors.clone(), after: equal_shares(&ids) }
            }
            KaizenCommand::SetAuthorShares { actor, shares } => {
                self.require_author_change(&actor)?;
                let mut given: Vec<MemberId> = shares.iter().map(|s| s.member_id).collect();
                let mut current = self.author_ids();
                given.sort();
                current.sort();
                if given != current {
                    return Err(ValidationError::new("shares", "name every author exactly once").into());
                }
                if shares.iter().any(|s| s.share_pct == 0) {
                    return Err(ValidationError::new("shares", "each author has at least 1 %").into());
                }
                if shares.iter().map(|s| u32::from(s.share_pct)).sum::<u32>() != 100 {
                    return Err(ValidationError::new("shares", "sum to 100").into());
                }
                // The authors keep their order (the first author takes an equal split's remainder).
                let after: Vec<AuthorShare> =
                    self.authors.iter().filter_map(|a| shares.iter().find(|s| s.member_id == a.member_id).copied()).collect();
                if after == self.authors {
                    return Err(ValidationError::new("shares", "change nothing").into());
                }
                KaizenEvent::KaizenAuthorSharesChanged { before: self.authors.clone(), after }
            }
            KaizenCommand::Defer { actor, reason } => {
                self.require(&[S::UnderReview], "only a kaizen under review is deferred")?;
                self.require_reviewer(&actor)?;
                KaizenEvent::KaizenDeferred { reason }
            }
            KaizenCommand::Reactivate { actor, may_review } => {
                self.require(&[S::Deferred], "only a deferred kaizen is reactivated")?;
                actor.require_mutator()?;
                if !may_review && self.reviewer != Some(actor.member_id) {
                    return Err(DomainError::Forbidden("kaizens are reviewed by the zone's leaders, owners or admins"));
                }
                if self.is_author(actor.member_id) {
                    return Err(DomainError::Forbidden("an author does not review their own kaizen"));
                }
                KaizenEvent::KaizenReactivated { reviewer_before: self.reviewer, reviewer: actor.member_id }
            }
            KaizenCommand::ChangeDueDate { actor, due_at, reason } => {
                self.require(&[S::Approved, S::Implementing], "the due date changes while the kaizen is approved or being implemented")?;
                actor.require_mutator()?;
                if !(self.reviewer == Some(actor.member_id) || Self::is_admin(&actor)) {
                    return Err(DomainError::Forbidden("the reviewer, owners or admins change the due date"));
                }
                if self.due_at == Some(due_at) {
                    return Err(ValidationError::new("dueAt", "is already the due date").into());
                }
                KaizenEvent::KaizenDueDateChanged { before: self.due_at, after: due_at, reason }
            }
            KaizenCommand::RemoveImpactLine { actor, line_id, reason } => {
                actor.require_mutator()?;
                if matches!(self.status, S::None) {
                    return Err(DomainError::NotFound);
                }
                if matches!(self.status, S::Rejected | S::Withdrawn | S::Closed) {
                    return Err(DomainError::Rule("the kaizen is finished"));
                }
                self.require_involved(&actor, "impact lines are kept by the kaizen's authors, reviewer and implementers")?;
                let line = self
                    .lines
                    .iter()
                    .find(|l| l.line_id == line_id)
                    .cloned()
                    .ok_or_else(|| ValidationError::new("lineId", "names no impact line of the kaizen"))?;
                if line.kind == LineKind::Actual && self.line_locked(LineKind::Actual) {
                    return Err(DomainError::Rule("verified actual lines change only through a savings adjustment"));
                }
                if line.kind == LineKind::Actual && self.status == S::ImpactSubmitted {
                    return Err(DomainError::Rule("submitted actual lines stay until the verification is decided"));
                }
                KaizenEvent::KaizenImpactLineRemoved { line, reason }
            }
            KaizenCommand::AdjustSavings { actor, is_savings_verifier, admin_threshold, line_id, patch, reason, now } => {
                self.require(&[S::SavingsVerified], "only verified savings are adjusted")?;
                self.require_independent_verifier(&actor, is_savings_verifier)?;
                let before = self
                    .lines
                    .iter()
                    .find(|l| l.line_id == line_id && l.kind == LineKind::Actual)
                    .cloned()
                    .ok_or_else(|| ValidationError::new("lineId", "names no actual line of the kaizen"))?;
                let mut after = before.clone();
                if let Some(classification) = patch.classification {
                    after.classification = classification;
                }
                if let Some(money) = patch.money {
                    after.money = Some(money);
                }
                if let Some(calculation) = patch.calculation {
                    after.calculation = Some(calculation);
                }
                if let Some(evidence) = patch.evidence {
                    after.evidence = evidence;
                }
                if after == before {
                    return Err(ValidationError::new("patch", "changes nothing").into());
                }
                after.validate()?;
                let totals_before = self.verified.clone().unwrap_or_default();
                let lines = self.lines.iter().map(|l| if l.line_id == line_id { &after } else { l });
                let totals_after = SavingsTotals::of(lines, LineKind::Actual);
                require_admin_at_threshold(&actor, admin_threshold, &[&totals_before, &totals_after])?;
                KaizenEvent::KaizenSavingsAdjusted {
                    delta: SavingsTotals::delta(&totals_before, &totals_after),
                    line_before: before,
                    line_after: after,
                    totals_before,
                    totals_after,
                    verification_version: self.verification_version + 1,
                    adjusted_by: actor.member_id,
                    adjusted_at: now,
                    reason,
                }
            }
            KaizenCommand::Reopen { actor, reason } => {
                self.require(&[S::Closed], "only a closed kaizen is reopened")?;
                actor.require_mutator()?;
                if !(self.reviewer == Some(actor.member_id) || Self::is_admin(&actor)) {
                    return Err(DomainError::Forbidden("the reviewer, owners or admins reopen a kaizen"));
                }
                KaizenEvent::KaizenReopened {
                    to: self.closed_from.unwrap_or(S::Implemented),
                    reason,
                    authors: self.authors.clone(),
                    implementers: self.implementers.clone(),
                }
            }
            KaizenCommand::SubmitAsImplemented { actor, now } => {
                self.require(&[S::Draft], "only a draft is submitted")?;
                self.require_author(&actor)?;
                sink.write(KaizenEvent::KaizenSubmitted { submitted_at: now }, self).await;
                KaizenEvent::KaizenImplemented {
                    implemented_at: now,
                    just_do_it: true,
                    authors: self.authors.clone(),
                    implementers: vec![actor.member_id],
                }
            }
            KaizenCommand::LinkToDefect { actor, defect_id, defect_exists } => {
                self.require_linkable(&actor)?;
                if !defect_exists {
                    return Err(ValidationError::new("defectId", "does not name a defect of this organisation").into());
                }
                if self.linked_defects.contains(&defect_id) {
                    return Err(DomainError::Rule("the defect is already linked"));
                }
                KaizenEvent::KaizenLinkedToDefect { defect_id }
            }
            KaizenCommand::LinkToA3 { actor, a3_id, a3_exists } => {
                self.require_linkable(&actor)?;
                if !a3_exists {
                    return Err(ValidationError::new("a3Id", "does not name an A3 case of this organisation").into());
                }
                if self.linked_a3 == Some(a3_id) {
                    return Err(DomainError::Rule("the A3 case is already linked"));
                }
                KaizenEvent::KaizenLinkedToA3 { before: self.linked_a3, after: a3_id }
            }
            KaizenCommand::TransferZone { actor, to_zone, to_zone_active, reason } => {
                actor.require_admin()?;
                let from = self.zone_id.ok_or(DomainError::NotFound)?;
                if !self.is_open() {
                    return Err(DomainError::Rule("only an open kaizen is transferred"));
                }
                if from == to_zone {
                    return Err(DomainError::Rule("the kaizen is already in this zone"));
                }
                if !to_zone_active {
                    return Err(ValidationError::new("transferToZoneId", "is not an active zone").into());
                }
                KaizenEvent::KaizenTransferred { from, to: to_zone, reason }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use KaizenStatus as S;
        match event {
            KaizenEvent::KaizenDrafted { author, zone_id, title, category, problem, proposal, .. } => {
                self.status = S::Draft;
                self.zone_id = Some(zone_id);
                self.content =
                    KaizenContent { title: Some(title), category: Some(category), problem: Some(problem), proposal: Some(proposal) };
                self.authors = equal_shares(&[author]);
            }
            KaizenEvent::KaizenSubmitted { .. } => self.status = S::Submitted,
            KaizenEvent::KaizenWithdrawn { .. } => self.status = S::Withdrawn,
            KaizenEvent::KaizenReviewStarted { reviewer } => {
                self.status = S::UnderReview;
                self.reviewer = Some(reviewer);
            }
            KaizenEvent::KaizenApproved { implementers, due_at } => {
                self.status = S::Approved;
                self.implementers = implementers;
                self.due_at = due_at;
            }
            KaizenEvent::KaizenRejected { .. } => self.status = S::Rejected,
            KaizenEvent::KaizenImplementationStarted => self.status = S::Implementing,
            KaizenEvent::KaizenImplemented { just_do_it, implementers, .. } => {
                self.status = S::Implemented;
                if just_do_it {
                    self.implementers = implementers;
                }
            }
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
            KaizenEvent::KaizenClosed { from } => {
                self.status = S::Closed;
                self.closed_from = Some(from);
            }
            KaizenEvent::KaizenDraftEdited { after, .. } | KaizenEvent::KaizenContentChanged { after, .. } => self.content.merge(after),
            KaizenEvent::KaizenAuthorAdded { after, .. }
            | KaizenEvent::KaizenAuthorRemoved { after, .. }
            | KaizenEvent::KaizenAuthorSharesChanged { after, .. } => self.authors = after,
            KaizenEvent::KaizenDeferred { .. } => self.status = S::Deferred,
            KaizenEvent::KaizenReactivated { reviewer, .. } => {
                self.status = S::UnderReview;
                self.reviewer = Some(reviewer);
            }
            KaizenEvent::KaizenDueDateChanged { after, .. } => self.due_at = Some(after),
            KaizenEvent::KaizenImpactLineRemoved { line, .. } => self.lines.retain(|l| l.line_id != line.line_id),
            KaizenEvent::KaizenSavingsAdjusted { line_after, totals_after, verification_version, .. } => {
                if let Some(slot) = self.lines.iter_mut().find(|l| l.line_id == line_after.line_id) {
                    *slot = line_after;
                }
                self.verified = Some(totals_after);
                self.verification_version = verification_version;
            }
            KaizenEvent::KaizenReopened { to, .. } => {
                self.status = to;
                self.closed_from = None;
            }
            KaizenEvent::KaizenLinkedToDefect { defect_id } => self.linked_defects.push(defect_id),
            KaizenEvent::KaizenLinkedToA3 { after, .. } => self.linked_a3 = Some(after),
            KaizenEvent::KaizenTransferred { to, .. } => self.zone_id = Some(to),
        }
    }
}

#[cfg(test)]
#[path = "kaizen_tests.rs"]
mod tests;
