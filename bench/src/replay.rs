//! Rebuilding read models the way cqrs-es does it, on the read side's data set, beside
//! Gemba's own rebuild of the same read models in the same run.
//!
//! - Copy (not timed): the organisation's events go into postgres-es's event table
//!   (`es_events`, its schema, in the same database) with one `insert ... select`: the same
//!   aggregate types, ids, sequences, event types, versions and payloads; the metadata is
//!   `{"recorded_at": ...}` (a cqrs-es envelope carries no time, and Gemba's read models
//!   keep some).
//! - Views: for each Gemba projection whose aggregate has events in the data set, a cqrs-es
//!   [`View`] of that aggregate that keeps the fields of Gemba's row (the kaizen view also its
//!   actual lines and savings ledger, which Gemba keeps in two more tables), persisted by
//!   postgres-es's `PostgresViewRepository` through a `GenericQuery`.
//! - Replay (timed): `QueryReplay::replay_all` over postgres-es's `PostgresEventRepository`,
//!   with an upcaster that runs Gemba's [`gemba_domain::upcast`]. Afterwards the events
//!   applied (the views' versions add up to them), the views and their statuses are checked
//!   against the events and against Gemba's read model.
//!
//! The A3 register is left out: the data set has no A3 events.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::persist::{EventUpcaster, GenericQuery, PersistenceError, QueryReplay, SerializedEvent};
use cqrs_es::{Aggregate, EventEnvelope, View};
use gemba_domain::defect::{Defect, DefectEvent};
use gemba_domain::five_s_audit::{AuditEvent, FiveSAudit};
use gemba_domain::kaizen::{ImpactLine, Kaizen, KaizenEvent, KaizenStatus, LineKind};
use gemba_domain::wire_name;
use gemba_projections::engine::{Projection, tenant_tx};
use gemba_projections::kaizen_register::recognition_schedule;
use postgres_es::{PostgresEventRepository, PostgresViewRepository};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::dataset::DataSet;
use crate::read_side::Rebuild;

/// postgres-es's event and snapshot tables here (Gemba's own `events` keeps its name).
const EVENTS: &str = "es_events";
const SNAPSHOTS: &str = "es_snapshots";

/// The stored spelling of a unit enum variant, as Gemba's read models keep it.
fn name(value: &impl Serialize) -> String {
    wire_name(value).unwrap_or_default()
}

/// When the event was recorded, from the metadata the copy gives it.
fn recorded_at<A: Aggregate>(event: &EventEnvelope<A>) -> Option<DateTime<Utc>> {
    event.metadata.get("recorded_at").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Gemba's upcasters as a cqrs-es `EventUpcaster`. A payload that cannot be upcast is left
/// as it is; it then fails to deserialise and the replay's error handler counts it.
struct GembaUpcaster;

impl EventUpcaster for GembaUpcaster {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_version != gemba_domain::upcast::current_version(event_type)
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        match gemba_domain::upcast::upcast(&event.event_type, &event.event_version, event.payload.clone()) {
            Ok(payload) => {
                let event_version = gemba_domain::upcast::current_version(&event.event_type).to_owned();
                SerializedEvent { payload, event_version, ..event }
            }
            Err(_) => event,
        }
    }
}

/// A defect as `defect_register` keeps it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DefectView {
    zone_id: Option<Uuid>,
    status: String,
    priority: String,
    abnormality_type: String,
    tag_class: String,
    origin: String,
    title: String,
    found_by: Option<Uuid>,
    assignee_id: Option<Uuid>,
    raised_at: Option<DateTime<Utc>>,
    first_assigned_at: Option<DateTime<Utc>>,
    due_at: Option<DateTime<Utc>>,
    original_due_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<Uuid>,
    closed_at: Option<DateTime<Utc>>,
    verified_by: Option<Uuid>,
    cancelled_at: Option<DateTime<Utc>>,
    hold_started_at: Option<DateTime<Utc>>,
    hold_seconds: i64,
    reopen_count: i32,
    escalation_level: i32,
}

impl View<Defect> for DefectView {
    fn update(&mut self, event: &EventEnvelope<Defect>) {
        let at = recorded_at(event);
        match &event.payload {
            DefectEvent::DefectRaised { zone_id, abnormality_type, tag_class, priority, title, origin, found_by, found_at, .. } => {
                // As the register's `on conflict do nothing`: a second raise changes nothing.
                if self.status.is_empty() {
                    self.zone_id = Some(zone_id.uuid());
                    self.status = "OPEN".into();
                    self.priority = name(priority);
                    self.abnormality_type = name(abnormality_type);
                    self.tag_class = name(tag_class);
                    self.origin = name(origin);
                    self.title = title.as_str().to_owned();
                    self.found_by = Some(found_by.uuid());
                    self.raised_at = Some(*found_at);
                }
            }
            DefectEvent::DefectAssigned { assignee, due_at, .. } => {
                self.status = "ASSIGNED".into();
                self.assignee_id = Some(assignee.uuid());
                self.due_at = Some(*due_at);
                self.original_due_at = self.original_due_at.or(Some(*due_at));
                self.first_assigned_at = self.first_assigned_at.or(at);
            }
            DefectEvent::DefectReassigned { after, .. } => self.assignee_id = Some(after.uuid()),
            DefectEvent::DefectDueDateChanged { after, .. } => self.due_at = Some(*after),
            DefectEvent::DefectWorkStarted => self.status = "IN_PROGRESS".into(),
            DefectEvent::DefectPutOnHold { .. } => {
                self.status = "ON_HOLD".into();
                self.hold_started_at = at;
            }
            DefectEvent::DefectResumed { to } => {
                if let (Some(start), Some(end)) = (self.hold_started_at.take(), at) {
                    self.hold_seconds += ((end - start).num_milliseconds() + 500).div_euclid(1000);
                }
                self.status = name(to);
            }
            DefectEvent::DefectResolved { resolved_by, resolved_at, .. } => {
                self.status = "RESOLVED".into();
                self.resolved_by = Some(resolved_by.uuid());
                self.resolved_at = Some(*resolved_at);
            }
            DefectEvent::DefectClosed { verified_by, verified_at, .. } => {
                self.status = "CLOSED".into();
                self.verified_by = Some(verified_by.uuid());
                self.closed_at = Some(*verified_at);
            }
            DefectEvent::DefectVerificationFailed { .. } => {
                self.status = "ASSIGNED".into();
                self.resolved_at = None;
                self.resolved_by = None;
            }
            DefectEvent::DefectReopened { .. } => {
                self.status = "ASSIGNED".into();
                self.closed_at = None;
                self.verified_by = None;
                self.resolved_at = None;
                self.resolved_by = None;
                self.reopen_count += 1;
            }
            DefectEvent::DefectCancelled { .. } => {
                self.status = "CANCELLED".into();
                self.cancelled_at = at;
            }
            DefectEvent::DefectEscalated { to_level, .. } => {
                self.escalation_level = self.escalation_level.max(i32::try_from(*to_level).unwrap_or(i32::MAX));
            }
            DefectEvent::DefectSuggestionAccepted { after, .. } => self.abnormality_type = name(after),
            DefectEvent::DefectReclassified { abnormality_type, tag_class, priority, .. } => {
                self.abnormality_type = name(&abnormality_type.1);
                self.tag_class = name(&tag_class.1);
                self.priority = name(&priority.1);
            }
            DefectEvent::DefectTransferred { to, .. } => self.zone_id = Some(to.uuid()),
            DefectEvent::DefectContainmentRecorded { .. }
            | DefectEvent::DefectCountermeasureRecorded { .. }
            | DefectEvent::DefectEvidenceAttached { .. }
            | DefectEvent::DefectCommented { .. }
            | DefectEvent::DefectLinkedToA3 { .. }
            | DefectEvent::DefectLinkedToKaizen { .. }
            | DefectEvent::DefectWorkOrderLinked { .. }
            | DefectEvent::DefectTypeSuggested { .. }
            | DefectEvent::DefectSuggestionRejected { .. } => {}
        }
    }
}

/// An audit as `zone_5s_scores` keeps it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AuditView {
    zone_id: Option<Uuid>,
    audit_type: String,
    status: String,
    due_at: Option<DateTime<Utc>>,
    submitted_at: Option<DateTime<Utc>>,
    score_pct: Option<Decimal>,
    band: Option<String>,
    sections: Option<serde_json::Value>,
    corrected: bool,
}

impl View<FiveSAudit> for AuditView {
    fn update(&mut self, event: &EventEnvelope<FiveSAudit>) {
        let sections = |scores: &gemba_domain::five_s::Scores| serde_json::to_value(&scores.sections).ok();
        match &event.payload {
            AuditEvent::AuditScheduled { zone_id, audit_type, due_at, .. } => {
                if self.status.is_empty() {
                    self.zone_id = Some(zone_id.uuid());
                    self.audit_type = name(audit_type);
                    self.status = "SCHEDULED".into();
                    self.due_at = Some(*due_at);
                }
            }
            AuditEvent::AuditStarted { zone_id, audit_type, .. } => {
                if self.status.is_empty() {
                    self.zone_id = Some(zone_id.uuid());
                    self.audit_type = name(audit_type);
                }
                self.status = "IN_PROGRESS".into();
            }
            AuditEvent::AuditSubmitted { scores, submitted_at, .. } => {
                self.status = "SUBMITTED".into();
                self.submitted_at = Some(*submitted_at);
                self.score_pct = scores.score_pct;
                self.band.clone_from(&scores.band);
                self.sections = sections(scores);
            }
            AuditEvent::AuditScoreCorrected { scores_after, .. } => {
                self.score_pct = scores_after.score_pct;
                self.band.clone_from(&scores_after.band);
                self.sections = sections(scores_after);
                self.corrected = true;
            }
            AuditEvent::AuditCancelled { .. } => self.status = "CANCELLED".into(),
            AuditEvent::AuditMissed { .. } => self.status = "MISSED".into(),
            AuditEvent::AuditItemMarkedNotApplicable { .. }
            | AuditEvent::AuditEvidenceAttached { .. }
            | AuditEvent::AuditItemScored { .. }
            | AuditEvent::AuditFindingRecorded { .. } => {}
        }
    }
}

/// One month of recognition of a verified line, as `kaizen_impact_ledger` keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The event's sequence in its kaizen (Gemba uses its `tenant_seq`).
    entry_seq: usize,
    line_id: String,
    month: NaiveDate,
    classification: String,
    currency: String,
    amount: Decimal,
    verification_version: u32,
    recorded_at: Option<DateTime<Utc>>,
}

/// A kaizen as `kaizen_register` keeps it, with its rows of `kaizen_actual_lines` and
/// `kaizen_impact_ledger`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KaizenView {
    zone_id: Option<Uuid>,
    title: String,
    category: String,
    status: String,
    authors: Vec<Uuid>,
    drafted_at: Option<DateTime<Utc>>,
    submitted_at: Option<DateTime<Utc>>,
    first_response_at: Option<DateTime<Utc>>,
    implemented_at: Option<DateTime<Utc>>,
    just_do_it: bool,
    verified_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    actual_lines: BTreeMap<String, ImpactLine>,
    ledger: Vec<LedgerEntry>,
}

impl KaizenView {
    fn first_response(&mut self, status: &str, at: Option<DateTime<Utc>>) {
        self.status = status.to_owned();
        self.first_response_at = self.first_response_at.or(at);
    }

    fn set_line(&mut self, line: &ImpactLine) {
        if line.kind == LineKind::Actual {
            self.actual_lines.insert(line.line_id.clone(), line.clone());
        } else {
            self.actual_lines.remove(&line.line_id);
        }
    }

    /// Ledger entries for `lines` (each with its sign); an adjustment that reverses and
    /// re-recognises the same month nets in one entry, as in Gemba's ledger.
    fn record(&mut self, seq: usize, at: Option<DateTime<Utc>>, version: u32, lines: &[(&ImpactLine, Decimal)]) {
        let mut entries: BTreeMap<(String, NaiveDate, String, String), Decimal> = BTreeMap::new();
        for (line, sign) in lines {
            let Some(money) = &line.money else { continue };
            if line.kind != LineKind::Actual {
                continue;
            }
            for recognition in recognition_schedule(line) {
                let key = (line.line_id.clone(), recognition.month, name(&line.classification), money.currency.as_str().to_owned());
                *entries.entry(key).or_default() += recognition.amount * *sign;
            }
        }
        for ((line_id, month, classification, currency), amount) in entries {
            self.ledger.push(LedgerEntry {
                entry_seq: seq,
                line_id,
                month,
                classification,
                currency,
                amount,
                verification_version: version,
                recorded_at: at,
            });
        }
    }

    /// Reverses what stands in the ledger, one entry per line and month that is not zero.
    fn reverse(&mut self, seq: usize, at: Option<DateTime<Utc>>) {
        let mut standing: BTreeMap<(String, NaiveDate, String, String), (Decimal, u32)> = BTreeMap::new();
        for e in &self.ledger {
            let entry = standing.entry((e.line_id.clone(), e.month, e.classification.clone(), e.currency.clone())).or_default();
            entry.0 += e.amount;
            entry.1 = entry.1.max(e.verification_version);
        }
        for ((line_id, month, classification, currency), (amount, version)) in standing {
            if !amount.is_zero() {
                self.ledger.push(LedgerEntry {
                    entry_seq: seq,
                    line_id,
                    month,
                    classification,
                    currency,
                    amount: -amount,
                    verification_version: version,
                    recorded_at: at,
                });
            }
        }
    }
}

impl View<Kaizen> for KaizenView {
    fn update(&mut self, event: &EventEnvelope<Kaizen>) {
        let at = recorded_at(event);
        match &event.payload {
            KaizenEvent::KaizenDrafted { zone_id, title, category, author, .. } => {
                if self.status.is_empty() {
                    self.zone_id = Some(zone_id.uuid());
                    self.title = title.as_str().to_owned();
                    self.category = name(category);
                    self.status = "DRAFT".into();
                    self.authors = vec![author.uuid()];
                    self.drafted_at = at;
                }
            }
            KaizenEvent::KaizenSubmitted { submitted_at } => {
                self.status = "SUBMITTED".into();
                self.submitted_at = self.submitted_at.or(Some(*submitted_at));
            }
            KaizenEvent::KaizenDraftEdited { after, .. } | KaizenEvent::KaizenContentChanged { after, .. } => {
                if let Some(title) = &after.title {
                    self.title = title.as_str().to_owned();
                }
                if let Some(category) = &after.category {
                    self.category = name(category);
                }
            }
            KaizenEvent::KaizenReviewStarted { .. } | KaizenEvent::KaizenReactivated { .. } => self.first_response("UNDER_REVIEW", at),
            KaizenEvent::KaizenApproved { .. } => self.first_response("APPROVED", at),
            KaizenEvent::KaizenRejected { .. } => self.first_response("REJECTED", at),
            KaizenEvent::KaizenDeferred { .. } => self.first_response("DEFERRED", at),
            KaizenEvent::KaizenWithdrawn { .. } => self.status = name(&KaizenStatus::Withdrawn),
            KaizenEvent::KaizenImplementationStarted => self.status = name(&KaizenStatus::Implementing),
            KaizenEvent::KaizenImplemented { implemented_at, just_do_it, .. } => {
                self.status = "IMPLEMENTED".into();
                self.implemented_at = self.implemented_at.or(Some(*implemented_at));
                self.just_do_it |= *just_do_it;
            }
            KaizenEvent::KaizenImpactSubmitted { .. } => self.status = name(&KaizenStatus::ImpactSubmitted),
            KaizenEvent::KaizenSavingsVerificationDeclined { .. } => self.status = name(&KaizenStatus::Implemented),
            KaizenEvent::KaizenClosed { .. } => {
                self.status = "CLOSED".into();
                self.closed_at = at;
            }
            KaizenEvent::KaizenAuthorAdded { after, .. }
            | KaizenEvent::KaizenAuthorRemoved { after, .. }
            | KaizenEvent::KaizenAuthorSharesChanged { after, .. } => {
                self.authors = after.iter().map(|a| a.member_id.uuid()).collect();
            }
            KaizenEvent::KaizenTransferred { to, .. } => self.zone_id = Some(to.uuid()),
            KaizenEvent::KaizenImpactLineSet { after, .. } => self.set_line(after),
            KaizenEvent::KaizenImpactLineRemoved { line, .. } => {
                self.actual_lines.remove(&line.line_id);
            }
            KaizenEvent::KaizenSavingsVerified { verified_at, verification_version, .. } => {
                self.status = "SAVINGS_VERIFIED".into();
                self.verified_at = Some(*verified_at);
                let lines: Vec<ImpactLine> = self.actual_lines.values().cloned().collect();
                let signed: Vec<(&ImpactLine, Decimal)> = lines.iter().map(|l| (l, Decimal::ONE)).collect();
                self.record(event.sequence, at, *verification_version, &signed);
            }
            KaizenEvent::KaizenSavingsAdjusted { line_before, line_after, verification_version, .. } => {
                self.set_line(line_after);
                self.record(event.sequence, at, *verification_version, &[(line_before, -Decimal::ONE), (line_after, Decimal::ONE)]);
            }
            KaizenEvent::KaizenReopened { to: KaizenStatus::SavingsVerified, .. } => {
                self.status = "SAVINGS_VERIFIED".into();
                self.closed_at = None;
            }
            KaizenEvent::KaizenReopened { to, .. } => {
                self.reverse(event.sequence, at);
                self.status = name(to);
                self.verified_at = None;
                self.closed_at = None;
            }
            KaizenEvent::KaizenDueDateChanged { .. } | KaizenEvent::KaizenLinkedToDefect { .. } | KaizenEvent::KaizenLinkedToA3 { .. } => {}
        }
    }
}

/// One read model rebuilt both ways.
#[derive(Debug)]
pub struct Replayed {
    pub projection: Projection,
    pub view_table: &'static str,
    /// Events of the projection's aggregate type (what both sides apply).
    pub events: i64,
    /// Gemba: the projection reset and rebuilt alone (read_side), if it was measured.
    pub gemba: Option<Duration>,
    /// cqrs-es: `QueryReplay::replay_all` (stopped at the time budget if it ran longer).
    pub replay: Duration,
    /// Events cqrs-es applied in that time.
    pub applied: i64,
    /// Whether the replay finished within the budget (else its rate is over `applied`
    /// events and the content is not compared).
    pub complete: bool,
    /// Views written (one per aggregate).
    pub views: i64,
    /// Rows of Gemba's read model (its main table).
    pub rows: i64,
    /// Rows per status agree between Gemba's table and the views (and, for kaizens, the
    /// ledger's rows and total).
    pub same_content: bool,
}

/// The replay figures.
#[derive(Debug)]
pub struct Replay {
    /// Events copied into `es_events`, and how long the copy took.
    pub copied: i64,
    pub copy: Duration,
    pub results: Vec<Replayed>,
}

fn per_second(events: i64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

/// Times `QueryReplay::replay_all` of `V` over `A`'s events into `table`; returns its time and
/// the events applied (each dispatch moves the view's version by one).
/// Replays every event of `A` into the views of `table`, for at most `budget`; returns the
/// time taken, the events applied, and whether the replay finished.
async fn replay<A: Aggregate, V: View<A>>(owner: &PgPool, table: &str, budget: Duration) -> anyhow::Result<(Duration, i64, bool)> {
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let handler = || {
        let (errors, first_error) = (errors.clone(), first_error.clone());
        Box::new(move |error: PersistenceError| {
            errors.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = first_error.lock() {
                first.get_or_insert_with(|| error.to_string());
            }
        })
    };
    let mut query = GenericQuery::<PostgresViewRepository<V, A>, V, A>::new(Arc::new(PostgresViewRepository::new(table, owner.clone())));
    query.use_error_handler(handler());
    let events = PostgresEventRepository::new(owner.clone()).with_tables(EVENTS, SNAPSHOTS);
    let mut replay = QueryReplay::<_, _, A>::new(events, query).with_upcasters(vec![Box::new(GembaUpcaster)]);
    replay.use_error_handler(handler());
    let started = Instant::now();
    let complete = match tokio::time::timeout(budget, replay.replay_all()).await {
        Ok(done) => {
            done.map_err(|e| anyhow::anyhow!("replaying {}: {e}", A::TYPE))?;
            true
        }
        Err(_) => false,
    };
    let elapsed = started.elapsed();
    let failed = errors.load(Ordering::Relaxed);
    if failed > 0 {
        let first = first_error.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
        anyhow::bail!("replaying {}: {failed} events failed, the first: {first}", A::TYPE);
    }
    let applied: i64 = sqlx::query_scalar(&format!("select coalesce(sum(version), 0)::bigint from {table}")).fetch_one(owner).await?;
    Ok((elapsed, applied, complete))
}

/// Rows per status of Gemba's `table` and of the views in `view_table`, as `status:count`
/// lists in the same order.
async fn statuses(owner: &PgPool, org: Uuid, table: &str, view_table: &str) -> anyhow::Result<(String, String)> {
    let mut tx = tenant_tx(owner, org).await?;
    let gemba: String = sqlx::query_scalar(&format!(
        "select coalesce(string_agg(status || ':' || n, ' ' order by status), '')
           from (select status, count(*) as n from {table} where org_id = $1 group by status) s"
    ))
    .bind(org)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let views: String = sqlx::query_scalar(&format!(
        "select coalesce(string_agg(status || ':' || n, ' ' order by status), '')
           from (select payload->>'status' as status, count(*) as n from {view_table} group by 1) s"
    ))
    .fetch_one(owner)
    .await?;
    Ok((gemba, views))
}

/// The kaizen ledger's rows and total in Gemba's table and in the views.
async fn ledgers(owner: &PgPool, org: Uuid) -> anyhow::Result<((i64, String), (i64, String))> {
    let mut tx = tenant_tx(owner, org).await?;
    let gemba: (i64, String) =
        sqlx::query_as("select count(*), coalesce(sum(amount), 0)::text from kaizen_impact_ledger where org_id = $1")
            .bind(org)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    let views: (i64, String) = sqlx::query_as(
        "select count(*), coalesce(sum((e->>'amount')::numeric), 0)::text
           from es_kaizen_register v, json_array_elements(v.payload->'ledger') e",
    )
    .fetch_one(owner)
    .await?;
    Ok((gemba, views))
}

/// Copies the data set's events into postgres-es's table and replays each view; `rebuild`
/// (already measured on the same data) gives Gemba's figures. `owner` is the database owner
/// (postgres-es has no tenancy: its tables are the owner's, without row-level security).
pub async fn measure(owner: &PgPool, data: &DataSet, rebuild: &Rebuild, budget: Duration) -> anyhow::Result<Replay> {
    sqlx::raw_sql(include_str!("replay.sql")).execute(owner).await?;
    let started = Instant::now();
    let mut tx = tenant_tx(owner, data.org).await?;
    let copied = sqlx::query(&format!(
        "insert into {EVENTS} (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         select aggregate_type, aggregate_id, sequence, event_type, event_version, payload::json,
                json_build_object('recorded_at', recorded_at)
           from events where org_id = $1"
    ))
    .bind(data.org)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    sqlx::raw_sql(&format!("vacuum analyze {EVENTS}")).execute(owner).await?;
    let copy = started.elapsed();
    let copied = i64::try_from(copied)?;
    eprintln!("copied {copied} events into {EVENTS} in {:.1} s", copy.as_secs_f64());

    let by_type: Vec<(String, i64)> =
        sqlx::query_as(&format!("select aggregate_type, count(*) from {EVENTS} group by aggregate_type")).fetch_all(owner).await?;
    let events_of = |kind: &str| by_type.iter().find(|(t, _)| t == kind).map_or(0, |(_, n)| *n);

    let mut results = Vec::new();
    for (projection, view_table) in [
        (Projection::DefectRegister, "es_defect_register"),
        (Projection::FiveSScores, "es_zone_5s_scores"),
        (Projection::KaizenRegister, "es_kaizen_register"),
    ] {
        let (kind, (elapsed, applied, complete)) = match projection {
            Projection::DefectRegister => (Defect::TYPE, replay::<Defect, DefectView>(owner, view_table, budget).await?),
            Projection::FiveSScores => (FiveSAudit::TYPE, replay::<FiveSAudit, AuditView>(owner, view_table, budget).await?),
            Projection::KaizenRegister | Projection::A3Register => {
                (Kaizen::TYPE, replay::<Kaizen, KaizenView>(owner, view_table, budget).await?)
            }
        };
        let events = events_of(kind);
        anyhow::ensure!(!complete || applied == events, "replaying {kind}: {applied} of its {events} events applied");
        let table = projection.name();
        let views: i64 = sqlx::query_scalar(&format!("select count(*) from {view_table}")).fetch_one(owner).await?;
        let mut tx = tenant_tx(owner, data.org).await?;
        let rows: i64 =
            sqlx::query_scalar(&format!("select count(*) from {table} where org_id = $1")).bind(data.org).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        let (gemba_statuses, view_statuses) = statuses(owner, data.org, table, view_table).await?;
        let mut same_content = rows == views && gemba_statuses == view_statuses;
        if complete && !same_content {
            eprintln!("{table}: Gemba {rows} rows [{gemba_statuses}], cqrs-es {views} views [{view_statuses}]");
        }
        if complete && projection == Projection::KaizenRegister {
            let (gemba_ledger, view_ledger) = ledgers(owner, data.org).await?;
            if gemba_ledger != view_ledger {
                eprintln!("kaizen ledger: Gemba {gemba_ledger:?}, cqrs-es {view_ledger:?}");
                same_content = false;
            }
        }
        let gemba = rebuild.alone(projection).map(|p| p.elapsed);
        eprintln!(
            "{table}: cqrs-es replay of {applied} of {events} events in {:.1} s ({:.0}/s); Gemba alone {}",
            elapsed.as_secs_f64(),
            per_second(applied, elapsed),
            gemba.map_or_else(|| "not measured".to_owned(), |g| format!("{:.1} s ({:.0}/s)", g.as_secs_f64(), per_second(events, g)))
        );
        results.push(Replayed { projection, view_table, events, applied, gemba, replay: elapsed, views, rows, same_content, complete });
    }
    Ok(Replay { copied, copy, results })
}

/// The replay section of the report.
pub fn report(report: &mut String, replay: &Replay, batch_size: i64) -> std::fmt::Result {
    writeln!(report, "## Read side: rebuild rate beside cqrs-es's `QueryReplay`\n")?;
    writeln!(
        report,
        "The same events ({} copied into postgres-es 0.5's `events` schema, as `es_events` in the same database, in {:.1} s, not timed: same aggregate types, ids, sequences, event types, versions and payloads; metadata `{{\"recorded_at\": ...}}`). Gemba: the projection rebuilt alone by the `Rebuilder` (into the shadow tables, then swapped in; batches of {batch_size}) as the application role (RLS), from the rebuild above. cqrs-es: `QueryReplay::replay_all` over `PostgresEventRepository`, with an upcaster running Gemba's, into a `GenericQuery` over `PostgresViewRepository` (a `View` per aggregate with the fields of Gemba's row; the kaizen view also holds its actual lines and savings ledger, which Gemba keeps in two more tables) as the database owner (postgres-es has no tenancy). Rates are events of the aggregate type per second on both sides (what each applies; Gemba's projection also reads past the rest of the stream). Checked after each replay: every event applied once (the views' versions add up to the events), and Gemba's table and the views have the same rows per status (for kaizens also the same ledger rows and total).\n",
        replay.copied,
        replay.copy.as_secs_f64()
    )?;
    writeln!(
        report,
        "| read model | aggregate events | Gemba s | Gemba events/s | cqrs-es events applied | cqrs-es s | cqrs-es events/s | Gemba rows | cqrs-es views | same content |"
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")?;
    for r in &replay.results {
        let (seconds, rate) = r.gemba.map_or_else(
            || ("–".to_owned(), "–".to_owned()),
            |g| (format!("{:.1}", g.as_secs_f64()), format!("{:.0}", per_second(r.events, g))),
        );
        writeln!(
            report,
            "| `{}` / `{}` | {} | {seconds} | {rate} | {}{} | {:.1} | {:.0} | {} | {} | {} |",
            r.projection.name(),
            r.view_table,
            r.events,
            r.applied,
            if r.complete { "" } else { " (stopped at the time budget)" },
            r.replay.as_secs_f64(),
            per_second(r.applied, r.replay),
            r.rows,
            r.views,
            match (r.complete, r.same_content) {
                (false, _) => "not compared (partial)",
                (true, true) => "yes",
                (true, false) => "**no**",
            }
        )?;
    }
    writeln!(
        report,
        "\nNot compared: the A3 register (no A3 events in the data set), and the member leaderboard, which has no rebuild to measure: it is a query over `points_awards`, a write-side registry table filled in the append transaction of each `PointsLedger` event (`commands/src/registry.rs`), with no projection, checkpoint or backfill behind it (the data set inserts its rows directly and has no `PointsLedger` events). The zone boards read `points_awards` and `zone_5s_scores`; the latter is rebuilt above."
    )?;
    Ok(())
}

/// How to read the replay's figures.
pub fn reading(report: &mut String, replay: &Replay) -> std::fmt::Result {
    let ratios: Vec<String> = replay
        .results
        .iter()
        .filter_map(|r| {
            r.gemba.map(|g| {
                format!(
                    "`{}` {:.1}×",
                    r.projection.name(),
                    per_second(r.events, g) / per_second(r.applied, r.replay).max(f64::MIN_POSITIVE)
                )
            })
        })
        .collect();
    writeln!(
        report,
        "- Rebuild beside cqrs-es (Gemba's rate over cqrs-es's: {}). A cqrs-es replay that runs past `--replay-seconds` is stopped there and its rate is taken over the events it applied (each event costs it about the same: a commit). Gemba, per batch of events: one tenant transaction (`set_config`, the checkpoint row locked), one `select` of the next events of the whole stream by `tenant_seq`, then per event of its aggregate type an upcast and a deserialisation; each read model then folds the batch's events into its rows in memory and writes them back set-based (per table one `select` of the rows the batch touches and one `insert … on conflict do update` from arrays; the kaizen register also reads its actual lines, and the ledger's sums for the kaizens the batch reopens, deletes the lines removed and appends its ledger rows with one `insert`); then the checkpoint moved and one commit: one WAL flush per batch. cqrs-es, per replay: one `select` of every event of the aggregate type `order by sequence` (its table has no index for that order: PostgreSQL sorts them all before the first row comes, and the replay then applies each aggregate's first events, then their second, and so on, not one aggregate after another), streamed through a channel; per event an upcast check, a deserialisation of payload and metadata, and `GenericQuery::dispatch`: `select` of the view by id, the whole view deserialised from JSON, `View::update`, the whole view serialised again and an `insert` or a version-checked `update` of the row (two round trips). Each statement runs on the pool outside any transaction, so every event is its own commit and WAL flush (`synchronous_commit` on; the write side's postgres-es baseline above, also one commit per command, shows what a commit costs on this machine), and the view's whole JSON is rewritten every time (a kaizen's grows with its lines and ledger). So Gemba makes a fixed number of round trips per batch whatever its events (two for the defect register, the 5S scores and the A3 register, at most seven for the kaizen register) and shares a commit with the rest of its batch, cqrs-es makes two round trips and one commit per event. cqrs-es's replay has one advantage: it reads only its aggregate's events, where each Gemba projection reads past the whole stream, so the gap is smallest for read models whose events are a small share of it.",
        ratios.join(", ")
    )?;
    Ok(())
}
