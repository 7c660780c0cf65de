//! The read side's data set: one organisation of realistic shape whose history is `N`
//! events over the past 18 months, generated in bulk.
//!
//! - Structure rows are inserted directly (as the owner role, in a tenant transaction, so the
//!   constraint triggers run): the organisation and its directory entry, one site in
//!   Europe/Berlin, [`ZONES`] zones with a headcount, each owned by a member of it, and
//!   [`MEMBERS`] active members with a home zone and a sealed-looking e-mail (one Owner,
//!   nine Admins, the rest Members).
//! - Events are real domain events (`DefectEvent`, `AuditEvent`, `KaizenEvent`) serialised
//!   from `gemba_domain` types, each with a real envelope (`CommandContext::envelope`: actor,
//!   role, channel, ids, changes, reason, signature) as metadata. Lifecycles are planned per
//!   entity, every event is placed in time, and the whole history is sorted by time: the
//!   gapless `tenant_seq` follows time, each aggregate's `sequence` follows its lifecycle, and
//!   `org_heads.last_seq` is the last `tenant_seq`. Nothing lies in the future.
//! - The hash chain is NOT computed: `prev_hash` and `hash` are 32 zero bytes (the read side
//!   never reads them; `gemba verify` would refuse this organisation).
//! - One `points_awards` row per `DefectClosed` (the resolver's award, reversed when the
//!   defect was reopened afterwards), for the leaderboards.
//! - Write-side registry tables the read queries do not use (`defects`, `kaizens`,
//!   `entity_numbers`, `command_log`) and the derived `PointsAwarded` events are left out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use gemba_commands::envelope::{Channel, CommandContext};
use gemba_domain::defect::{AbnormalityType, CancelReason, DefectEvent, DefectStatus, Origin, Priority, TagClass};
use gemba_domain::five_s::{Scores, Section, SectionScore};
use gemba_domain::five_s_audit::{AuditEvent, AuditType};
use gemba_domain::kaizen::{
    AuthorShare, Classification, Currency, ImpactLine, KaizenCategory, KaizenEvent, LineKind, Money, Period, Recurrence, SavingsTotals,
};
use gemba_domain::{
    Actor, AuditId, Audited, DefectId, EvidenceRef, KaizenId, LongText, MemberId, Name, OrgId, Reason, ReasonCode, Role, Sealed, ZoneId,
};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::stats::Rng;

/// Zones of the site.
pub const ZONES: usize = 100;
/// Active members (one Owner, nine Admins, Members).
pub const MEMBERS: usize = 300;
/// Days of history.
pub const HISTORY_DAYS: i64 = 548;
/// Events per insert statement.
const BATCH: usize = 5_000;
/// The site's time zone.
pub const TIMEZONE: &str = "Europe/Berlin";

const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

/// What was generated.
#[derive(Debug)]
pub struct DataSet {
    pub org: Uuid,
    pub site: Uuid,
    pub zones: Vec<Uuid>,
    pub members: Vec<Uuid>,
    /// Events stored (the organisation's last `tenant_seq`).
    pub events: i64,
    pub defects: usize,
    pub audits: usize,
    pub kaizens: usize,
    pub awards: usize,
    /// Events per event type.
    pub by_type: BTreeMap<String, i64>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Planning and serialising in memory, and the inserts (overlapping).
    pub elapsed: Duration,
    /// Size of the `events` table with its indexes, in bytes.
    pub events_bytes: i64,
}

#[derive(Clone, Copy, Debug)]
enum DefectStep {
    Raised,
    Cancelled,
    Assigned { due: i64 },
    Resolved,
    Closed { original_due: i64 },
    Reopened,
}

#[derive(Clone, Copy, Debug)]
enum AuditStep {
    Scheduled { due: i64 },
    Submitted { score: f64 },
    Missed { due: i64 },
}

#[derive(Clone, Copy, Debug)]
enum KaizenStep {
    Drafted,
    Submitted,
    Rejected,
    Implemented,
    LineSet,
    ImpactSubmitted,
    Verified,
}

#[derive(Clone, Copy, Debug)]
struct DefectPlan {
    priority: Priority,
    tag_class: TagClass,
    abnormality: AbnormalityType,
    origin: Origin,
    finder: usize,
    assignee: usize,
}

#[derive(Clone, Copy, Debug)]
struct KaizenPlan {
    author: usize,
    category: KaizenCategory,
    classification: Classification,
    recurring: bool,
    /// Cents.
    amount: i64,
}

#[derive(Clone, Debug)]
enum Lifecycle {
    Defect(DefectPlan, Vec<(i64, DefectStep)>),
    Audit(Vec<(i64, AuditStep)>),
    Kaizen(KaizenPlan, Vec<(i64, KaizenStep)>),
}

/// One planned entity: its id (a UUIDv7 of its creation time, as the service makes them),
/// its zone and its events' times (microseconds since the epoch).
#[derive(Clone, Debug)]
struct Entity {
    id: Uuid,
    zone: usize,
    lifecycle: Lifecycle,
}

impl Entity {
    fn times(&self) -> Vec<i64> {
        match &self.lifecycle {
            Lifecycle::Defect(_, steps) => steps.iter().map(|s| s.0).collect(),
            Lifecycle::Audit(steps) => steps.iter().map(|s| s.0).collect(),
            Lifecycle::Kaizen(_, steps) => steps.iter().map(|s| s.0).collect(),
        }
    }
}

fn micros(seconds: f64) -> i64 {
    (seconds * 1e6) as i64
}

fn at(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

fn day(micros: i64) -> NaiveDate {
    at(micros).date_naive()
}

fn v7(micros: i64) -> Uuid {
    let secs = u64::try_from(micros.div_euclid(1_000_000)).unwrap_or(0);
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos))
}

/// The members of `zone` (by home zone): `zone`, `zone + ZONES`, ...; the first leads it.
fn zone_member(rng: &mut Rng, zone: usize) -> usize {
    zone + ZONES * rng.below(MEMBERS / ZONES)
}

fn plan_defect(rng: &mut Rng, start: i64, now: i64) -> Entity {
    let zone = rng.below(ZONES);
    let priority = match rng.unit() {
        u if u < 0.10 => Priority::A,
        u if u < 0.50 => Priority::B,
        _ => Priority::C,
    };
    let tag_class = match rng.unit() {
        u if u < 0.60 => TagClass::Operator,
        u if u < 0.95 => TagClass::Maintenance,
        _ => TagClass::Safety,
    };
    use AbnormalityType as T;
    let abnormality = rng.pick(&[
        T::MinorFlaw,
        T::UnfulfilledBasicCondition,
        T::InaccessiblePlace,
        T::ContaminationSource,
        T::QualityDefectSource,
        T::UnnecessaryNonUrgentItem,
        T::UnsafePlace,
        T::Other,
    ]);
    let origin = rng.pick(&[Origin::OperatorReport, Origin::OperatorReport, Origin::AutonomousMaintenance, Origin::GembaWalk, Origin::Lpa]);
    let plan = DefectPlan { priority, tag_class, abnormality, origin, finder: zone_member(rng, zone), assignee: zone_member(rng, zone) };
    let (sla, mean_fix) = match priority {
        Priority::A => (DAY, 0.7 * DAY),
        Priority::B => (7.0 * DAY, 4.0 * DAY),
        Priority::C => (30.0 * DAY, 14.0 * DAY),
    };
    let raised = start + micros(rng.between(0.0, (now - start) as f64 / 1e6));
    let mut steps = vec![(raised, DefectStep::Raised)];
    let mut t = raised;
    let mut next = |seconds: f64| {
        t += micros(seconds.max(60.0));
        t
    };
    if rng.chance(0.06) {
        steps.push((next(rng.between(HOUR, 3.0 * DAY)), DefectStep::Cancelled));
    } else {
        let assigned = next(rng.between(10.0 * 60.0, 2.0 * DAY));
        let due = assigned + micros(sla);
        steps.push((assigned, DefectStep::Assigned { due }));
        let reopens = usize::from(rng.chance(0.04));
        for round in 0..=reopens {
            if round > 0 {
                steps.push((next(rng.between(DAY, 30.0 * DAY)), DefectStep::Reopened));
            }
            steps.push((next(rng.exponential(mean_fix)), DefectStep::Resolved));
            steps.push((next(rng.between(HOUR, 3.0 * DAY)), DefectStep::Closed { original_due: due }));
        }
    }
    steps.retain(|(t, _)| *t < now);
    Entity { id: v7(raised), zone, lifecycle: Lifecycle::Defect(plan, steps) }
}

fn plan_audit(rng: &mut Rng, start: i64, now: i64, zone_quality: &[f64]) -> Entity {
    let zone = rng.below(ZONES);
    let scheduled = start + micros(rng.between(0.0, (now - start) as f64 / 1e6));
    let due = scheduled + micros(7.0 * DAY);
    let mut steps = vec![(scheduled, AuditStep::Scheduled { due })];
    if rng.chance(0.08) {
        steps.push((due, AuditStep::Missed { due }));
    } else {
        // Zones improve over the history, with noise.
        let progress = (scheduled - start) as f64 / (now - start) as f64;
        let score = (zone_quality[zone] + 12.0 * progress + rng.between(-8.0, 8.0)).clamp(5.0, 100.0);
        steps.push((scheduled + micros(rng.between(0.5 * DAY, 8.5 * DAY)), AuditStep::Submitted { score }));
    }
    steps.retain(|(t, _)| *t < now);
    Entity { id: v7(scheduled), zone, lifecycle: Lifecycle::Audit(steps) }
}

fn plan_kaizen(rng: &mut Rng, start: i64, now: i64) -> Entity {
    let author = rng.below(MEMBERS);
    let zone = author % ZONES;
    use KaizenCategory as C;
    let plan = KaizenPlan {
        author,
        category: rng.pick(&[C::Safety, C::Quality, C::Delivery, C::Cost, C::People, C::Environment]),
        classification: if rng.chance(0.7) { Classification::Hard } else { Classification::Soft },
        recurring: rng.chance(0.5),
        amount: i64::try_from(rng.below(195_000)).unwrap_or(0) + 5_000,
    };
    let drafted = start + micros(rng.between(0.0, (now - start) as f64 / 1e6));
    let mut steps = vec![(drafted, KaizenStep::Drafted)];
    let mut t = drafted;
    let mut next = |seconds: f64| {
        t += micros(seconds.max(60.0));
        t
    };
    steps.push((next(rng.between(10.0 * 60.0, 3.0 * DAY)), KaizenStep::Submitted));
    match rng.unit() {
        u if u < 0.70 => {
            steps.push((next(rng.between(DAY, 60.0 * DAY)), KaizenStep::Implemented));
            if rng.chance(0.4) {
                steps.push((next(rng.between(DAY, 20.0 * DAY)), KaizenStep::LineSet));
                steps.push((next(rng.between(HOUR, 5.0 * DAY)), KaizenStep::ImpactSubmitted));
                steps.push((next(rng.between(DAY, 15.0 * DAY)), KaizenStep::Verified));
            }
        }
        u if u < 0.85 => steps.push((next(rng.between(DAY, 14.0 * DAY)), KaizenStep::Rejected)),
        _ => {}
    }
    steps.retain(|(t, _)| *t < now);
    Entity { id: v7(drafted), zone, lifecycle: Lifecycle::Kaizen(plan, steps) }
}

/// Texts reused by the events (parsed once).
struct Texts {
    titles: Vec<Name>,
    description: LongText,
    countermeasure: LongText,
    cancel: LongText,
    feedback: LongText,
    calculation: LongText,
    reopen: Reason,
    evidence: EvidenceRef,
    kaizen_problem: LongText,
    kaizen_proposal: LongText,
}

fn invalid(e: gemba_domain::ValidationError) -> anyhow::Error {
    anyhow!("{e:?}")
}

impl Texts {
    fn new() -> anyhow::Result<Self> {
        let long = |t: &str| LongText::parse("text", t).map_err(invalid);
        Ok(Self {
            titles: [
                "Oil leak under press 3",
                "Missing label on shelf B2",
                "Guard loose on conveyor",
                "Air leak at valve bank",
                "Floor marking worn at aisle",
                "Cracked hose on coolant line",
                "Loose bolt on fixture",
                "Dust build-up on motor",
            ]
            .iter()
            .map(|t| Name::parse("title", t).map_err(invalid))
            .collect::<Result<_, _>>()?,
            description: long("Found during the shift round; photo taken, area cordoned where needed.")?,
            countermeasure: long("Replaced the part and added the check to the daily autonomous maintenance sheet.")?,
            cancel: long("Same finding as an open tag in this zone.")?,
            feedback: long("Thanks: covered by the planned line rebuild.")?,
            calculation: long("Scrap avoided per month times material cost, from the last three months of records.")?,
            reopen: Reason::parse(ReasonCode::Other, "The leak came back within a week.").map_err(invalid)?,
            evidence: EvidenceRef::parse("evidence", &"ab".repeat(32)).map_err(invalid)?,
            kaizen_problem: long("Operators walk to the tool crib several times per shift.")?,
            kaizen_proposal: long("A shadow board at the cell with the tools used every shift.")?,
        })
    }
}

fn scores(score: f64) -> Scores {
    let max = Decimal::from(20);
    let sections: Vec<SectionScore> = Section::FIVE
        .iter()
        .enumerate()
        .map(|(i, section)| {
            let pct = (score + (i as f64 - 2.0) * 3.0).clamp(0.0, 100.0);
            let raw = Decimal::from((pct / 5.0).round() as i64);
            SectionScore { section: *section, raw, max, pct: Some(Decimal::from(100) * raw / max) }
        })
        .collect();
    let total_raw: Decimal = sections.iter().map(|s| s.raw).sum();
    let total_max = max * Decimal::from(sections.len());
    let score_pct = Decimal::from(100) * total_raw / total_max;
    let band = match score_pct {
        p if p >= Decimal::from(85) => "Gold",
        p if p >= Decimal::from(70) => "Silver",
        p if p >= Decimal::from(50) => "Bronze",
        _ => "Red",
    };
    Scores { sections, total_raw, total_max, score_pct: Some(score_pct), band: Some(band.to_owned()) }
}

/// One stored event, ready to insert.
struct Row {
    aggregate_type: &'static str,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: Value,
    metadata: Value,
    recorded_at: DateTime<Utc>,
}

struct Builder {
    org: OrgId,
    zones: Vec<Uuid>,
    members: Vec<Uuid>,
    names: Vec<Sealed>,
    texts: Texts,
}

impl Builder {
    fn role(member: usize) -> Role {
        match member {
            0 => Role::Owner,
            1..=9 => Role::Admin,
            _ => Role::Member,
        }
    }

    fn metadata<E: Audited>(&self, event: &E, actor: Option<usize>) -> anyhow::Result<Value> {
        let mut ctx = match actor {
            Some(m) => {
                CommandContext::new(self.org, Some(Actor { member_id: MemberId(self.members[m]), role: Self::role(m) }), Channel::Web)
            }
            None => CommandContext::new(self.org, None, Channel::System),
        };
        ctx.actor_name = actor.map(|m| self.names[m].clone());
        Ok(serde_json::to_value(ctx.envelope(event.changes(), event.reason().cloned(), event.signature()))?)
    }

    fn member(&self, m: usize) -> MemberId {
        MemberId(self.members[m])
    }

    fn row(&self, entity: &Entity, step: usize, recorded: i64) -> anyhow::Result<Row> {
        let recorded_at = at(recorded);
        let zone_id = ZoneId(self.zones[entity.zone]);
        let leader = entity.zone;
        let sequence = i64::try_from(step)? + 1;
        let aggregate_id = entity.id.to_string();
        use cqrs_es::DomainEvent as _;
        match &entity.lifecycle {
            Lifecycle::Defect(plan, steps) => {
                let (event, actor) = match steps[step].1 {
                    DefectStep::Raised => (
                        DefectEvent::DefectRaised {
                            defect_id: DefectId(entity.id),
                            zone_id,
                            abnormality_type: plan.abnormality,
                            tag_class: plan.tag_class,
                            priority: plan.priority,
                            title: self.texts.titles[entity.id.as_u128() as usize % self.texts.titles.len()].clone(),
                            description: self.texts.description.clone(),
                            origin: plan.origin,
                            evidence_before: vec![],
                            found_by: self.member(plan.finder),
                            found_at: recorded_at,
                        },
                        plan.finder,
                    ),
                    DefectStep::Cancelled => (
                        DefectEvent::DefectCancelled {
                            from: DefectStatus::Open,
                            cancel_reason: CancelReason::Duplicate,
                            duplicate_of: None,
                            text: self.texts.cancel.clone(),
                        },
                        leader,
                    ),
                    DefectStep::Assigned { due } => (
                        DefectEvent::DefectAssigned {
                            assignee: self.member(plan.assignee),
                            due_at: at(due),
                            original_due_at: Some(at(due)),
                        },
                        leader,
                    ),
                    DefectStep::Resolved => (
                        DefectEvent::DefectResolved {
                            from: DefectStatus::Assigned,
                            countermeasure: self.texts.countermeasure.clone(),
                            evidence_after: vec![],
                            resolved_by: self.member(plan.assignee),
                            resolved_at: recorded_at,
                            fixed_on_spot: false,
                        },
                        plan.assignee,
                    ),
                    DefectStep::Closed { original_due } => (
                        DefectEvent::DefectClosed {
                            verified_by: self.member(leader),
                            verified_at: recorded_at,
                            note: None,
                            signature_meaning: "verified".into(),
                            resolved_by: Some(self.member(plan.assignee)),
                            found_by: Some(self.member(plan.finder)),
                            original_due_at: Some(at(original_due)),
                        },
                        leader,
                    ),
                    DefectStep::Reopened => (DefectEvent::DefectReopened { reason: self.texts.reopen.clone(), recurrence: true }, leader),
                };
                Ok(Row {
                    aggregate_type: "Defect",
                    aggregate_id,
                    sequence,
                    event_type: event.event_type(),
                    metadata: self.metadata(&event, Some(actor))?,
                    payload: serde_json::to_value(&event)?,
                    recorded_at,
                })
            }
            Lifecycle::Audit(steps) => {
                let (event, actor) = match steps[step].1 {
                    AuditStep::Scheduled { due } => (
                        AuditEvent::AuditScheduled {
                            audit_id: AuditId(entity.id),
                            zone_id,
                            audit_type: AuditType::Supervisor,
                            due_at: at(due),
                            scheduled_by: None,
                        },
                        None,
                    ),
                    AuditStep::Submitted { score } => (
                        AuditEvent::AuditSubmitted {
                            scores: scores(score),
                            item_count: 20,
                            na_count: 0,
                            finding_count: u32::try_from(entity.id.as_u128() % 4).unwrap_or(0),
                            auto_finding_items: vec![],
                            conducted_by: vec![self.member(leader)],
                            template_checksum: "cd".repeat(32),
                            submitted_at: recorded_at,
                        },
                        Some(leader),
                    ),
                    AuditStep::Missed { due } => (AuditEvent::AuditMissed { due_at: at(due) }, None),
                };
                Ok(Row {
                    aggregate_type: "FiveSAudit",
                    aggregate_id,
                    sequence,
                    event_type: event.event_type(),
                    metadata: self.metadata(&event, actor)?,
                    payload: serde_json::to_value(&event)?,
                    recorded_at,
                })
            }
            Lifecycle::Kaizen(plan, steps) => {
                let author = self.member(plan.author);
                let shares = vec![AuthorShare { member_id: author, share_pct: 100 }];
                let start = steps.iter().find(|s| matches!(s.1, KaizenStep::Implemented)).map_or(recorded, |s| s.0);
                let line = ImpactLine {
                    line_id: "L1".into(),
                    kind: LineKind::Actual,
                    classification: plan.classification,
                    money: Some(Money { amount: Decimal::new(plan.amount, 2), currency: Currency::default() }),
                    recurrence: if plan.recurring {
                        Recurrence::Recurring { period: Period::Month, start_on: day(start), end_on: None }
                    } else {
                        Recurrence::OneTime { realized_on: day(start) }
                    },
                    calculation: Some(self.texts.calculation.clone()),
                    evidence: vec![self.texts.evidence.clone()],
                };
                let totals = SavingsTotals::of([&line], LineKind::Actual);
                let reviewer = 1 + plan.author % 9;
                let (event, actor) = match steps[step].1 {
                    KaizenStep::Drafted => (
                        KaizenEvent::KaizenDrafted {
                            kaizen_id: KaizenId(entity.id),
                            zone_id,
                            title: self.texts.titles[entity.id.as_u128() as usize % self.texts.titles.len()].clone(),
                            category: plan.category,
                            problem: self.texts.kaizen_problem.clone(),
                            proposal: self.texts.kaizen_proposal.clone(),
                            author,
                        },
                        plan.author,
                    ),
                    KaizenStep::Submitted => (KaizenEvent::KaizenSubmitted { submitted_at: recorded_at }, plan.author),
                    KaizenStep::Rejected => (KaizenEvent::KaizenRejected { feedback: self.texts.feedback.clone() }, reviewer),
                    KaizenStep::Implemented => (
                        KaizenEvent::KaizenImplemented {
                            implemented_at: recorded_at,
                            just_do_it: true,
                            authors: shares,
                            implementers: vec![author],
                        },
                        plan.author,
                    ),
                    KaizenStep::LineSet => (KaizenEvent::KaizenImpactLineSet { before: None, after: line, reason: None }, plan.author),
                    KaizenStep::ImpactSubmitted => (KaizenEvent::KaizenImpactSubmitted { actual: totals }, plan.author),
                    KaizenStep::Verified => (
                        KaizenEvent::KaizenSavingsVerified {
                            verified_by: self.member(reviewer),
                            verified_at: recorded_at,
                            totals,
                            verification_version: 1,
                            authors: vec![author],
                            author_shares: shares,
                        },
                        reviewer,
                    ),
                };
                Ok(Row {
                    aggregate_type: "Kaizen",
                    aggregate_id,
                    sequence,
                    event_type: event.event_type(),
                    metadata: self.metadata(&event, Some(actor))?,
                    payload: serde_json::to_value(&event)?,
                    recorded_at,
                })
            }
        }
    }
}

fn sealed_looking(rng: &mut Rng, member: Uuid) -> Sealed {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let ct: String = (0..64).map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())])).collect();
    Sealed { key: MemberId(member), ct }
}

async fn owner_tx(pool: &PgPool, org: Uuid) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin_with(format!("begin; select set_config('app.org_id', '{}', true); set local synchronous_commit = off", org.hyphenated()))
        .await
}

/// Generates and stores the data set of about `target` events through `owner` (a pool of
/// the owner role, bound by row-level security like everyone).
pub async fn generate(owner: &PgPool, target: usize) -> anyhow::Result<DataSet> {
    let started = Instant::now();
    let mut rng = Rng::new(0x6765_6d62_6131);
    let now = Utc::now().timestamp_micros();
    let start = now - HISTORY_DAYS * 86_400_000_000;
    let org = Uuid::now_v7();
    let site = Uuid::now_v7();
    let zones: Vec<Uuid> = (0..ZONES).map(|_| Uuid::now_v7()).collect();
    let members: Vec<Uuid> = (0..MEMBERS).map(|_| Uuid::now_v7()).collect();
    let zone_quality: Vec<f64> = (0..ZONES).map(|_| rng.between(55.0, 80.0)).collect();

    // Plan lifecycles until the history holds the target, then keep the first `target`
    // events in time (a time prefix keeps every lifecycle consistent).
    let mut entities: Vec<Entity> = Vec::new();
    let mut planned = 0;
    while planned < target {
        let entity = match rng.unit() {
            u if u < 0.869 => plan_defect(&mut rng, start, now),
            u if u < 0.927 => plan_audit(&mut rng, start, now, &zone_quality),
            _ => plan_kaizen(&mut rng, start, now),
        };
        planned += entity.times().len();
        entities.push(entity);
    }
    let mut order: Vec<(i64, u32, u8)> = Vec::with_capacity(planned);
    for (index, entity) in entities.iter().enumerate() {
        for (step, time) in entity.times().into_iter().enumerate() {
            order.push((time, u32::try_from(index)?, u8::try_from(step)?));
        }
    }
    order.sort_unstable();
    order.truncate(target);

    // Points: the resolver's award per close, reversed by a later reopening.
    let mut awards: Vec<(String, Uuid, i64, bool)> = Vec::new();
    let mut last_award: BTreeMap<u32, usize> = BTreeMap::new();
    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    let (mut defects, mut audits, mut kaizens) = (0, 0, 0);
    for &(time, index, step) in &order {
        let entity = &entities[index as usize];
        let kind = match &entity.lifecycle {
            Lifecycle::Defect(plan, steps) => {
                let kind = steps[usize::from(step)].1;
                match kind {
                    DefectStep::Raised => defects += 1,
                    DefectStep::Closed { .. } => {
                        last_award.insert(index, awards.len());
                        awards.push((
                            format!("defect_resolved:Defect/{}#{step}:{}", entity.id, members[plan.assignee]),
                            members[plan.assignee],
                            time,
                            false,
                        ));
                    }
                    DefectStep::Reopened => {
                        if let Some(&a) = last_award.get(&index) {
                            awards[a].3 = true;
                        }
                    }
                    _ => {}
                }
                match kind {
                    DefectStep::Raised => "DefectRaised",
                    DefectStep::Cancelled => "DefectCancelled",
                    DefectStep::Assigned { .. } => "DefectAssigned",
                    DefectStep::Resolved => "DefectResolved",
                    DefectStep::Closed { .. } => "DefectClosed",
                    DefectStep::Reopened => "DefectReopened",
                }
            }
            Lifecycle::Audit(steps) => match steps[usize::from(step)].1 {
                AuditStep::Scheduled { .. } => {
                    audits += 1;
                    "AuditScheduled"
                }
                AuditStep::Submitted { .. } => "AuditSubmitted",
                AuditStep::Missed { .. } => "AuditMissed",
            },
            Lifecycle::Kaizen(_, steps) => match steps[usize::from(step)].1 {
                KaizenStep::Drafted => {
                    kaizens += 1;
                    "KaizenDrafted"
                }
                KaizenStep::Submitted => "KaizenSubmitted",
                KaizenStep::Rejected => "KaizenRejected",
                KaizenStep::Implemented => "KaizenImplemented",
                KaizenStep::LineSet => "KaizenImpactLineSet",
                KaizenStep::ImpactSubmitted => "KaizenImpactSubmitted",
                KaizenStep::Verified => "KaizenSavingsVerified",
            },
        };
        *by_type.entry(kind.to_owned()).or_default() += 1;
    }
    let first_at = order.first().map_or_else(Utc::now, |o| at(o.0));
    let last_at = order.last().map_or_else(Utc::now, |o| at(o.0));
    let events = i64::try_from(order.len())?;

    // Structure, in one tenant transaction (the deferred constraint triggers run at commit).
    let names: Vec<Sealed> = members.iter().map(|m| sealed_looking(&mut rng, *m)).collect();
    let emails: Vec<Value> = members.iter().map(|m| serde_json::to_value(sealed_looking(&mut rng, *m))).collect::<Result<_, _>>()?;
    let display: Vec<Value> = names.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
    let roles: Vec<String> = (0..MEMBERS).map(|m| gemba_domain::wire_name(&Builder::role(m)).unwrap_or_default()).collect();
    let home: Vec<Uuid> = (0..MEMBERS).map(|m| zones[m % ZONES]).collect();
    let created = at(start - 86_400_000_000);
    let mut tx = owner_tx(owner, org).await?;
    sqlx::query("insert into organizations (org_id, name, created_at) values ($1, 'Bench Works', $2)")
        .bind(org)
        .bind(created)
        .execute(&mut *tx)
        .await?;
    sqlx::query("insert into org_directory (org_id, created_at) values ($1, $2)").bind(org).bind(created).execute(&mut *tx).await?;
    sqlx::query("insert into sites (org_id, site_id, code, name, timezone) values ($1, $2, 'PLT1', 'Plant 1', $3)")
        .bind(org)
        .bind(site)
        .bind(TIMEZONE)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into members (org_id, member_id, role, status, email, display_name, joined_at, home_zone_id)
         select $1, m, r, 'ACTIVE', e, d, $6, h from unnest($2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[], $7::uuid[]) as t(m, r, e, d, h)",
    )
    .bind(org)
    .bind(&members)
    .bind(&roles)
    .bind(&emails)
    .bind(&display)
    .bind(created)
    .bind(&home)
    .execute(&mut *tx)
    .await?;
    let codes: Vec<String> = (0..ZONES).map(|z| format!("Z{:03}", z + 1)).collect();
    let zone_names: Vec<String> = (0..ZONES).map(|z| format!("Zone {}", z + 1)).collect();
    let owners: Vec<Uuid> = (0..ZONES).map(|z| members[z]).collect();
    sqlx::query(
        "insert into zones (org_id, zone_id, site_id, code, name, owner_member_id, status, headcount)
         select $1, z, $2, c, n, o, 'ACTIVE', $7 from unnest($3::uuid[], $4::text[], $5::text[], $6::uuid[]) as t(z, c, n, o)",
    )
    .bind(org)
    .bind(site)
    .bind(&zones)
    .bind(&codes)
    .bind(&zone_names)
    .bind(&owners)
    .bind(i32::try_from(MEMBERS / ZONES)?)
    .execute(&mut *tx)
    .await?;
    sqlx::query("insert into org_heads (org_id, last_seq, last_hash) values ($1, $2, decode(repeat('00', 32), 'hex'))")
        .bind(org)
        .bind(events)
        .execute(&mut *tx)
        .await?;
    let award_ids: Vec<String> = awards.iter().map(|a| a.0.clone()).collect();
    let award_members: Vec<Uuid> = awards.iter().map(|a| a.1).collect();
    let award_times: Vec<DateTime<Utc>> = awards.iter().map(|a| at(a.2)).collect();
    let award_reversed: Vec<bool> = awards.iter().map(|a| a.3).collect();
    for from in (0..awards.len()).step_by(BATCH * 4) {
        let to = (from + BATCH * 4).min(awards.len());
        sqlx::query(
            "insert into points_awards (org_id, award_id, member_id, rule_id, points, earned_at, reversed, source_ref)
             select $1, a, m, 'defect_resolved', 10, t, r, 'Defect/' || split_part(split_part(a, '/', 2), '#', 1)
               from unnest($2::text[], $3::uuid[], $4::timestamptz[], $5::bool[]) as u(a, m, t, r)",
        )
        .bind(org)
        .bind(&award_ids[from..to])
        .bind(&award_members[from..to])
        .bind(&award_times[from..to])
        .bind(&award_reversed[from..to])
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    // Events: serialised on a blocking thread, inserted here, overlapping.
    let builder = Builder { org: OrgId(org), zones: zones.clone(), members: members.clone(), names, texts: Texts::new()? };
    let (sender, mut receiver) = mpsc::channel::<anyhow::Result<(i64, Vec<Row>)>>(2);
    let producer = tokio::task::spawn_blocking(move || {
        for (chunk_index, chunk) in order.chunks(BATCH).enumerate() {
            let rows: anyhow::Result<Vec<Row>> =
                chunk.iter().map(|&(time, index, step)| builder.row(&entities[index as usize], usize::from(step), time)).collect();
            let first_seq = i64::try_from(chunk_index * BATCH).unwrap_or(i64::MAX) + 1;
            let failed = rows.is_err();
            if sender.blocking_send(rows.map(|r| (first_seq, r))).is_err() || failed {
                return;
            }
        }
    });
    let mut inserted = 0usize;
    while let Some(batch) = receiver.recv().await {
        let (first_seq, rows) = batch?;
        let n = rows.len();
        let seqs: Vec<i64> = (first_seq..first_seq + i64::try_from(n)?).collect();
        let mut tx = owner_tx(owner, org).await?;
        sqlx::query(
            "insert into events (org_id, aggregate_type, aggregate_id, sequence, tenant_seq, event_type, event_version, payload,
                                 metadata, recorded_at, prev_hash, hash)
             select $1, a, b, c, d, e, '1', g, h, i, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex')
               from unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], $7::jsonb[], $8::jsonb[], $9::timestamptz[])
                    as t(a, b, c, d, e, g, h, i)",
        )
        .bind(org)
        .bind(rows.iter().map(|r| r.aggregate_type).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.aggregate_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.sequence).collect::<Vec<_>>())
        .bind(&seqs)
        .bind(rows.iter().map(|r| r.event_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| &r.payload).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| &r.metadata).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.recorded_at).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        inserted += n;
        if (inserted / BATCH).is_multiple_of(40) {
            eprintln!("data set: {inserted} of {events} events stored");
        }
    }
    producer.await?;
    if i64::try_from(inserted)? != events {
        return Err(anyhow!("stored {inserted} events of {events}"));
    }
    let elapsed = started.elapsed();
    // As autovacuum would after a bulk load: statistics and the visibility map.
    sqlx::raw_sql("vacuum (analyze) events").execute(owner).await?;
    sqlx::raw_sql("analyze members; analyze zones; analyze points_awards").execute(owner).await?;
    let events_bytes: i64 = sqlx::query_scalar("select pg_total_relation_size('events')").fetch_one(owner).await?;
    Ok(DataSet {
        org,
        site,
        zones,
        members,
        events,
        defects,
        audits,
        kaizens,
        awards: awards.len(),
        by_type,
        first_at,
        last_at,
        elapsed,
        events_bytes,
    })
}
