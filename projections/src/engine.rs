//! The projector engine (SPEC §3.3).
//!
//! For one organisation and one projection, a batch is one transaction: lock the checkpoint
//! row (`for update skip locked`, so a second worker skips an organisation being projected
//! instead of applying its events twice), read the next events in `tenant_seq` order, apply
//! them to the read model, move the checkpoint, commit. A crash anywhere rolls the whole
//! batch back; the next run starts from the checkpoint. A failing event stops its
//! projection for that organisation: the error and the event's `tenant_seq` are recorded on
//! the checkpoint (visible in `projectionStatus` and the log), never skipped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{a3_register, defect_register, five_s_scores, kaizen_register};

/// Why a projection could not advance.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A stored event does not read as its type says.
    #[error("event {tenant_seq} ({event_type}) does not read: {message}")]
    Unreadable { tenant_seq: i64, event_type: String, message: String },
    /// The organisation's workspace was purged: its read models are never built again.
    #[error("the organisation's workspace was purged; its read models are not rebuilt")]
    Purged,
    /// Events this projection has not applied were disposed of (retention): it cannot be
    /// built from the first event any more, and is never built from a gap.
    #[error("the events up to {disposed_up_to} were disposed of (retention); this projection cannot be built from the first event")]
    Disposed { disposed_up_to: i64 },
}

impl ProjectionError {
    /// The event it happened at, when one event is to blame.
    pub fn tenant_seq(&self) -> Option<i64> {
        match self {
            Self::Unreadable { tenant_seq, .. } => Some(*tenant_seq),
            Self::Database(_) | Self::Purged | Self::Disposed { .. } => None,
        }
    }
}

/// An event as projections read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredEvent {
    pub tenant_seq: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    /// The shape the payload was written in; [`StoredEvent::decode`] upcasts it.
    pub event_version: String,
    pub payload: Value,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// The payload as the domain event `E`, brought to its current shape first.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, ProjectionError> {
        let payload = gemba_domain::upcast::upcast(&self.event_type, &self.event_version, self.payload.clone()).map_err(|e| {
            ProjectionError::Unreadable { tenant_seq: self.tenant_seq, event_type: self.event_type.clone(), message: e.to_string() }
        })?;
        serde_json::from_value(payload).map_err(|e| ProjectionError::Unreadable {
            tenant_seq: self.tenant_seq,
            event_type: self.event_type.clone(),
            message: e.to_string(),
        })
    }

    /// The aggregate id as a UUID.
    pub fn entity(&self) -> Result<Uuid, ProjectionError> {
        Uuid::parse_str(&self.aggregate_id).map_err(|e| ProjectionError::Unreadable {
            tenant_seq: self.tenant_seq,
            event_type: self.event_type.clone(),
            message: e.to_string(),
        })
    }
}

/// The stored spelling of a unit enum variant (e.g. `"IN_PROGRESS"`, `"A"`), as read models
/// keep it.
pub(crate) fn name(value: &impl serde::Serialize) -> String {
    gemba_domain::wire_name(value).unwrap_or_default()
}

/// The projections the engine keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    /// `defect_register`: one row per defect (reference/domain.md §5.2).
    DefectRegister,
    /// `zone_5s_scores`: one row per audit with its frozen score (reference/domain.md §5.1).
    FiveSScores,
    /// `kaizen_register` and `kaizen_impact_ledger` (reference/domain.md §5.3).
    KaizenRegister,
    /// `a3_register` (reference/domain.md §5.4).
    A3Register,
}

impl Projection {
    /// Every projection.
    pub const ALL: [Self; 4] = [Self::DefectRegister, Self::FiveSScores, Self::KaizenRegister, Self::A3Register];

    /// Its name, as stored on checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Self::DefectRegister => "defect_register",
            Self::FiveSScores => "zone_5s_scores",
            Self::KaizenRegister => "kaizen_register",
            Self::A3Register => "a3_register",
        }
    }

    /// The version of its schema and rules; a new version is rebuilt from the events.
    pub fn version(self) -> i32 {
        match self {
            Self::DefectRegister | Self::FiveSScores | Self::KaizenRegister | Self::A3Register => 1,
        }
    }

    /// The tables it writes (every one keyed by `org_id`).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Self::DefectRegister => &["defect_register"],
            Self::FiveSScores => &["zone_5s_scores"],
            Self::KaizenRegister => &["kaizen_register", "kaizen_actual_lines", "kaizen_impact_ledger"],
            Self::A3Register => &["a3_register"],
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Applies a batch of events (in `tenant_seq` order) to this projection, set-based: each
    /// read model folds the batch in memory over the rows it touches (see [`crate::fold`]) and
    /// writes them back with one statement per table.
    pub(crate) async fn apply_all(self, conn: &mut PgConnection, org: Uuid, events: &[StoredEvent]) -> Result<(), ProjectionError> {
        let aggregate = match self {
            Self::DefectRegister => "Defect",
            Self::FiveSScores => "FiveSAudit",
            Self::KaizenRegister => "Kaizen",
            Self::A3Register => "A3Case",
        };
        let relevant: Vec<&StoredEvent> = events.iter().filter(|e| e.aggregate_type == aggregate).collect();
        match self {
            Self::DefectRegister => defect_register::apply_all(conn, org, &relevant).await,
            Self::FiveSScores => five_s_scores::apply_all(conn, org, &relevant).await,
            Self::KaizenRegister => kaizen_register::apply_all(conn, org, &relevant).await,
            Self::A3Register => a3_register::apply_all(conn, org, &relevant).await,
        }
    }
}

/// A transaction scoped to one organisation by row-level security.
pub async fn tenant_tx(pool: &PgPool, org: Uuid) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with(format!("begin; select set_config('app.org_id', '{}', true)", org.hyphenated())).await
}

/// The checkpoint of `projection` for `org` as `conn` (a tenant transaction) sees it; 0
/// before its first batch.
pub async fn checkpoint(conn: &mut PgConnection, org: Uuid, projection: Projection) -> Result<i64, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar("select last_seq from projection_checkpoints where org_id = $1 and projection = $2")
        .bind(org)
        .bind(projection.name())
        .fetch_optional(conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// The organisation's last `tenant_seq` (0 before its first event).
pub(crate) async fn head(conn: &mut PgConnection, org: Uuid) -> Result<i64, sqlx::Error> {
    let head: Option<i64> = sqlx::query_scalar("select last_seq from org_heads where org_id = $1").bind(org).fetch_optional(conn).await?;
    Ok(head.unwrap_or(0))
}

/// Up to `limit` of `org`'s events after `after`, in `tenant_seq` order.
pub(crate) async fn next_events(conn: &mut PgConnection, org: Uuid, after: i64, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as(
        "select tenant_seq, aggregate_type, aggregate_id, event_type, event_version, payload, recorded_at from events
          where org_id = $1 and tenant_seq > $2 order by tenant_seq limit $3",
    )
    .bind(org)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The last position of `org` whose events were disposed of (retention), 0 when none were.
pub async fn disposed_up_to(conn: &mut PgConnection, org: Uuid) -> Result<i64, sqlx::Error> {
    let up_to: Option<i64> =
        sqlx::query_scalar("select max(up_to_seq) from retention_disposals where org_id = $1").bind(org).fetch_one(conn).await?;
    Ok(up_to.unwrap_or(0))
}

/// Refuses `events`, read after position `after`, when they do not start right after it:
/// `tenant_seq` is gapless, so a gap means disposed events (retention) that whoever reads
/// from `after` never applied. Stop there, never skip them.
pub(crate) async fn refuse_gap(conn: &mut PgConnection, org: Uuid, after: i64, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    match events.first() {
        Some(first) if first.tenant_seq != after + 1 => Err(ProjectionError::Disposed { disposed_up_to: disposed_up_to(conn, org).await? }),
        _ => Ok(()),
    }
}

/// Refuses to build anything of `org` from its first event once events were disposed of.
pub(crate) async fn refuse_after_disposal(conn: &mut PgConnection, org: Uuid) -> Result<(), ProjectionError> {
    match disposed_up_to(conn, org).await? {
        0 => Ok(()),
        disposed_up_to => Err(ProjectionError::Disposed { disposed_up_to }),
    }
}

/// Creates `projection`'s checkpoint for `org` at the start, at its current version, if it
/// has none yet.
pub(crate) async fn ensure_checkpoint(conn: &mut PgConnection, org: Uuid, projection: Projection) -> Result<(), sqlx::Error> {
    sqlx::query("insert into projection_checkpoints (org_id, projection, version) values ($1, $2, $3) on conflict do nothing")
        .bind(org)
        .bind(projection.name())
        .bind(projection.version())
        .execute(conn)
        .await
        .map(|_| ())
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Events read (applied or not relevant to the projection).
    pub events: usize,
    /// The checkpoint after the batch.
    pub checkpoint: i64,
    /// Another worker held the checkpoint; nothing was done.
    pub busy: bool,
}

/// Where a projection stands for an organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub projection: &'static str,
    pub version: i32,
    /// The last `tenant_seq` applied.
    pub checkpoint: i64,
    /// The organisation's last `tenant_seq`.
    pub head: i64,
    pub updated_at: Option<DateTime<Utc>>,
    /// The error that stopped the projection, if it is stopped.
    pub last_error: Option<String>,
    /// The event it stopped at.
    pub failed_seq: Option<i64>,
}

impl Status {
    /// Events not yet applied.
    pub fn lag(&self) -> i64 {
        (self.head - self.checkpoint).max(0)
    }
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    projection: String,
    version: i32,
    last_seq: i64,
    updated_at: DateTime<Utc>,
    last_error: Option<String>,
    failed_seq: Option<i64>,
}

/// A committed batch: `projection` of `org` now stands at `checkpoint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub org: Uuid,
    pub projection: Projection,
    pub checkpoint: i64,
}

/// Runs projections.
#[derive(Clone, Debug)]
pub struct Projector {
    pool: PgPool,
    batch_size: i64,
    throttle: Option<Duration>,
    progress: Option<tokio::sync::broadcast::Sender<Progress>>,
}

impl Projector {
    /// A projector over `pool` (the application role: it is bound by row-level security).
    pub fn new(pool: PgPool) -> Self {
        Self { pool, batch_size: 500, throttle: None, progress: None }
    }

    /// The same, announcing every committed batch that read events on `progress` (live
    /// subscriptions listen there). Nobody listening is not an error.
    pub fn with_progress(mut self, progress: tokio::sync::broadcast::Sender<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The same with another batch size.
    pub fn with_batch_size(mut self, batch_size: i64) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The same, pausing `pause` after each event (so a catch-up over a long history leaves
    /// the database to live traffic).
    pub fn with_throttle(mut self, pause: Duration) -> Self {
        self.throttle = (!pause.is_zero()).then_some(pause);
        self
    }

    /// Applies the next batch of `org`'s events to `projection`.
    pub async fn run_batch(&self, org: Uuid, projection: Projection) -> Result<Batch, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        ensure_checkpoint(&mut tx, org, projection).await?;
        let checkpoint: Option<(i64, Option<i64>)> = sqlx::query_as(
            "select last_seq, failed_seq from projection_checkpoints where org_id = $1 and projection = $2 for update skip locked",
        )
        .bind(org)
        .bind(projection.name())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((last_seq, _)) = checkpoint else {
            return Ok(Batch { events: 0, checkpoint: 0, busy: true });
        };
        let events = next_events(&mut tx, org, last_seq, self.batch_size).await?;
        let Some(last) = events.last().map(|e| e.tenant_seq) else {
            return Ok(Batch { events: 0, checkpoint: last_seq, busy: false });
        };
        if let Err(error) = refuse_gap(&mut tx, org, last_seq, &events).await {
            tx.rollback().await?;
            self.record_failure(org, projection, last_seq + 1, &error).await;
            return Err(error);
        }
        if let Err(error) = projection.apply_all(&mut tx, org, &events).await {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed batch");
            }
            let at = error.tenant_seq().unwrap_or_else(|| events.first().map_or(last, |e| e.tenant_seq));
            self.record_failure(org, projection, at, &error).await;
            return Err(error);
        }
        if let Some(pause) = self.throttle {
            // Inside the batch's transaction, as the work it stands for.
            tokio::time::sleep(pause.saturating_mul(u32::try_from(events.len()).unwrap_or(u32::MAX))).await;
        }
        sqlx::query(
            "update projection_checkpoints set last_seq = $3, updated_at = now(), last_error = null, failed_seq = null
              where org_id = $1 and projection = $2",
        )
        .bind(org)
        .bind(projection.name())
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(progress) = &self.progress {
            // `send` fails only when no receiver exists; there is nobody to tell then.
            let _ = progress.send(Progress { org, projection, checkpoint: last });
        }
        Ok(Batch { events: events.len(), checkpoint: last, busy: false })
    }

    async fn record_failure(&self, org: Uuid, projection: Projection, tenant_seq: i64, error: &ProjectionError) {
        tracing::error!(%error, org.id = %org, projection = projection.name(), tenant_seq, "a projection stopped at an event");
        let recorded = async {
            let mut tx = tenant_tx(&self.pool, org).await?;
            sqlx::query(
                "update projection_checkpoints set last_error = $3, failed_seq = $4, updated_at = now() where org_id = $1 and projection = $2",
            )
            .bind(org)
            .bind(projection.name())
            .bind(error.to_string())
            .bind(tenant_seq)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        };
        if let Err(failure) = recorded.await {
            tracing::error!(error = %failure, org.id = %org, "the projection failure could not be recorded");
        }
    }

    /// Brings every projection of `org` up to the head it has when the call starts (later
    /// events have notified again); returns the events read.
    pub async fn catch_up(&self, org: Uuid) -> Result<usize, ProjectionError> {
        let target = {
            let mut tx = tenant_tx(&self.pool, org).await?;
            let target = head(&mut tx, org).await?;
            tx.commit().await?;
            target
        };
        // One batch per projection per round, until each has reached the target (or another
        // worker holds it): under sustained writes no projection waits for another one, and
        // none is left behind while the others keep finding new events.
        let mut total = 0;
        let mut pending = Projection::ALL.to_vec();
        while !pending.is_empty() {
            let mut again = Vec::with_capacity(pending.len());
            for projection in pending {
                let batch = self.run_batch(org, projection).await?;
                total += batch.events;
                if !batch.busy && batch.events > 0 && batch.checkpoint < target {
                    again.push(projection);
                }
            }
            pending = again;
        }
        Ok(total)
    }

    /// Brings every organisation up to date (the polling fallback); an organisation that
    /// fails is logged and the others still run.
    pub async fn catch_up_all(&self) -> Result<usize, ProjectionError> {
        let orgs: Vec<Uuid> = sqlx::query_scalar("select org_id from org_directory order by org_id").fetch_all(&self.pool).await?;
        let mut total = 0;
        for org in orgs {
            match self.catch_up(org).await {
                Ok(n) => total += n,
                Err(error) => tracing::warn!(%error, org.id = %org, "an organisation's projections are behind"),
            }
        }
        Ok(total)
    }

    /// Forgets `projection` for `org`: its rows and its checkpoint go, in one transaction, so
    /// the next catch-up rebuilds it from the first event. Refused once events of `org` were
    /// disposed of (retention): the read models keep what those events built.
    pub async fn reset(&self, org: Uuid, projection: Projection) -> Result<(), ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        refuse_after_disposal(&mut tx, org).await?;
        // The checkpoint first, as a batch takes its locks (no deadlock with a live batch).
        sqlx::query("select 1 from projection_checkpoints where org_id = $1 and projection = $2 for update")
            .bind(org)
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
        for table in projection.tables() {
            sqlx::query(&format!("delete from {table} where org_id = $1")).bind(org).execute(&mut *tx).await?;
        }
        sqlx::query("delete from projection_checkpoints where org_id = $1 and projection = $2")
            .bind(org)
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every row of every read model of `org`, as JSON in a stable order: two snapshots are
    /// equal exactly when the read models hold the same rows.
    pub async fn snapshot(&self, org: Uuid) -> Result<Value, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        let mut tables = serde_json::Map::new();
        for projection in Projection::ALL {
            for table in projection.tables() {
                let rows: Value = sqlx::query_scalar(&format!(
                    "select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]'::jsonb) from {table} t where org_id = $1"
                ))
                .bind(org)
                .fetch_one(&mut *tx)
                .await?;
                tables.insert((*table).to_owned(), rows);
            }
        }
        tx.commit().await?;
        Ok(Value::Object(tables))
    }

    /// Where every projection of `org` stands.
    pub async fn status(&self, org: Uuid) -> Result<Vec<Status>, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        let head = head(&mut tx, org).await?;
        let rows: Vec<CheckpointRow> = sqlx::query_as(
            "select projection, version, last_seq, updated_at, last_error, failed_seq from projection_checkpoints where org_id = $1",
        )
        .bind(org)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Projection::ALL
            .into_iter()
            .map(|p| {
                let row = rows.iter().find(|r| r.projection == p.name());
                Status {
                    projection: p.name(),
                    version: row.map_or(p.version(), |r| r.version),
                    checkpoint: row.map_or(0, |r| r.last_seq),
                    head,
                    updated_at: row.map(|r| r.updated_at),
                    last_error: row.and_then(|r| r.last_error.clone()),
                    failed_seq: row.and_then(|r| r.failed_seq),
                }
            })
            .collect())
    }

    /// Read-your-writes: waits until every projection of `org` has reached `position` or
    /// `bound` has passed; returns whether it was reached. Catches up itself meanwhile, so
    /// it never depends on another worker being awake.
    pub async fn wait_for(&self, org: Uuid, position: i64, bound: Duration) -> Result<bool, ProjectionError> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let reached = self.status(org).await?.iter().all(|s| s.checkpoint >= position);
            if reached {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            match tokio::time::timeout_at(deadline, self.catch_up(org)).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, org.id = %org, "read-your-writes could not catch up");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => return Ok(false),
            }
        }
    }

    /// The worker: projects organisations as their events are committed (LISTEN/NOTIFY on
    /// `gemba_events`), and every `poll` anyway (missed notifications, restarts). Runs until
    /// the task is aborted; failures are logged and retried, never fatal.
    pub async fn run(self, poll: Duration) {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&self.pool).await {
            Ok(mut listener) => match listener.listen("gemba_events").await {
                Ok(()) => Some(listener),
                Err(error) => {
                    tracing::warn!(%error, "cannot LISTEN for new events; polling only");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot LISTEN for new events; polling only");
                None
            }
        };
        let mut ticks = tokio::time::interval(poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.try_recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ticks.tick() => {
                    if let Err(error) = self.catch_up_all().await {
                        tracing::warn!(%error, "projection polling failed");
                    }
                }
                received = notified => match received {
                    Ok(Some(notification)) => match Uuid::parse_str(notification.payload()) {
                        Ok(org) => {
                            if let Err(error) = self.catch_up(org).await {
                                tracing::warn!(%error, org.id = %org, "projection failed");
                            }
                        }
                        Err(_) => tracing::warn!(payload = notification.payload(), "an event notification without an organisation"),
                    },
                    Ok(None) => tracing::info!("the event listener reconnected"),
                    Err(error) => {
                        tracing::warn!(%error, "the event listener failed; polling only");
                        listener = None;
                    }
                },
            }
        }
    }
}
