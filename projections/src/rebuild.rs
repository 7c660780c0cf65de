//! Zero-downtime rebuilds of a projection (SPEC §3.3, ARCHITECTURE.md "Rebuilds").
//!
//! A rebuild of one projection for one organisation:
//!
//! 1. **Build in the shadow.** The projection's own code (the same as live) applies the
//!    organisation's events from the first one into the shadow tables of schema `rebuild`
//!    (the transaction's `search_path` puts them first), in batches. Each batch moves the
//!    rebuild's own checkpoint (`projection_rebuilds.last_seq`) in the same transaction, so a
//!    killed rebuild resumes where it stood. The live tables keep serving, and the live
//!    projector keeps applying new events to them.
//! 2. **Swap.** Once the shadow has caught up, one transaction locks the live checkpoint
//!    (the live projector skips the organisation meanwhile), applies the last events to the
//!    shadow, replaces the organisation's live rows by the shadow rows, empties the shadow,
//!    and sets the live checkpoint to the rebuild's position and the new version. Readers
//!    see the old rows until the commit and the new rows after it, never a mixture or an
//!    empty table; events after that position are the live projector's again.
//!
//! Nothing of the rebuild needs a privilege beyond the application role's: no DDL, and
//! row-level security holds on the shadow tables too.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::engine::{Progress, Projection, ProjectionError, ensure_checkpoint, head, next_events, refuse_gap, tenant_tx};

/// Where a rebuild stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildState {
    /// Building (or stopped midway; running it again resumes).
    Running,
    /// Stopped at an event that does not apply; running it again retries from there.
    Failed,
    /// Cancelled: the shadow rows are gone, the live rows were never touched.
    Cancelled,
    /// Done: the new rows serve.
    Swapped,
}

impl RebuildState {
    fn parse(text: &str) -> Self {
        match text {
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            "SWAPPED" => Self::Swapped,
            _ => Self::Running,
        }
    }

    /// Its stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Swapped => "SWAPPED",
        }
    }
}

/// The progress of one organisation's rebuild of one projection.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildStatus {
    pub org: Uuid,
    pub projection: Projection,
    /// The version being built.
    pub version: i32,
    pub state: RebuildState,
    /// Events applied to the shadow (the rebuild's checkpoint).
    pub done: i64,
    /// The organisation's last event when this run started or last looked.
    pub total: i64,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The event the rebuild stopped at, and why.
    pub last_error: Option<String>,
    /// Events per second since this run (the last start or resume) began.
    pub rate: Option<f64>,
}

impl RebuildStatus {
    /// Time left at the current rate.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate.filter(|r| *r > 0.0)?;
        #[allow(clippy::cast_precision_loss)]
        let left = (self.total - self.done).max(0) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    projection: String,
    version: i32,
    state: String,
    last_seq: i64,
    head_seq: i64,
    started_at: DateTime<Utc>,
    run_started_at: DateTime<Utc>,
    run_start_seq: i64,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

const COLUMNS: &str =
    "projection, version, state, last_seq, head_seq, started_at, run_started_at, run_start_seq, updated_at, finished_at, last_error";

impl Row {
    fn status(self, org: Uuid, projection: Projection) -> RebuildStatus {
        let state = RebuildState::parse(&self.state);
        #[allow(clippy::cast_precision_loss)]
        let rate = {
            let seconds = (self.updated_at - self.run_started_at).num_milliseconds() as f64 / 1000.0;
            let events = (self.last_seq - self.run_start_seq) as f64;
            (state == RebuildState::Running && seconds > 0.0 && events > 0.0).then(|| events / seconds)
        };
        RebuildStatus {
            org,
            projection,
            version: self.version,
            state,
            done: self.last_seq,
            total: self.head_seq.max(self.last_seq),
            started_at: self.started_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
            last_error: self.last_error,
            rate,
        }
    }
}

/// How a run of a rebuild ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The new rows serve from `checkpoint` on; `events` were applied by this run.
    Swapped { events: i64, checkpoint: i64 },
    /// Someone cancelled it.
    Cancelled,
    /// Another process is running this rebuild; nothing was done.
    Busy,
}

/// Rebuilds projections into their shadow tables and swaps them in.
#[derive(Clone, Debug)]
pub struct Rebuilder {
    pool: PgPool,
    batch_size: i64,
    throttle: Option<Duration>,
    progress: Option<tokio::sync::broadcast::Sender<Progress>>,
}

/// Switches the transaction's unqualified table names to the shadow tables.
async fn use_shadow(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("select set_config('search_path', 'rebuild, public', true)").execute(conn).await.map(|_| ())
}

async fn clear_shadow(conn: &mut PgConnection, org: Uuid, projection: Projection) -> Result<(), sqlx::Error> {
    for table in projection.tables() {
        sqlx::query(&format!("delete from rebuild.{table} where org_id = $1")).bind(org).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Rebuilder {
    /// A rebuilder over `pool` (the application role).
    pub fn new(pool: PgPool) -> Self {
        Self { pool, batch_size: 1000, throttle: None, progress: None }
    }

    /// The same with another batch size (events per transaction).
    pub fn with_batch_size(mut self, batch_size: i64) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The same, pausing `pause` per event applied, after each batch has committed (so a
    /// rebuild leaves the database to live traffic).
    pub fn with_throttle(mut self, pause: Duration) -> Self {
        self.throttle = (!pause.is_zero()).then_some(pause);
        self
    }

    /// The same, announcing each swap on `progress` (live subscriptions refresh).
    pub fn with_progress(mut self, progress: tokio::sync::broadcast::Sender<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Starts a rebuild of `projection` for `org`, or resumes the one that stands (running,
    /// or failed, at the same version); returns where it stands.
    pub async fn start(&self, org: Uuid, projection: Projection) -> Result<RebuildStatus, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        if purged(&mut tx, org).await? {
            return Err(ProjectionError::Purged);
        }
        // A rebuild replays from the first event: impossible once events were disposed of.
        crate::engine::refuse_after_disposal(&mut tx, org).await?;
        let head = head(&mut tx, org).await?;
        let existing: Option<(String, i32)> =
            sqlx::query_as("select state, version from projection_rebuilds where org_id = $1 and projection = $2 for update")
                .bind(org)
                .bind(projection.name())
                .fetch_optional(&mut *tx)
                .await?;
        let resume = existing.is_some_and(|(state, version)| {
            matches!(RebuildState::parse(&state), RebuildState::Running | RebuildState::Failed) && version == projection.version()
        });
        if resume {
            sqlx::query(
                "update projection_rebuilds set state = 'RUNNING', head_seq = $3, run_started_at = now(), run_start_seq = last_seq,
                        updated_at = now() where org_id = $1 and projection = $2",
            )
            .bind(org)
            .bind(projection.name())
            .bind(head)
            .execute(&mut *tx)
            .await?;
        } else {
            clear_shadow(&mut tx, org, projection).await?;
            sqlx::query(
                "insert into projection_rebuilds (org_id, projection, version, state, last_seq, head_seq)
                 values ($1, $2, $3, 'RUNNING', 0, $4)
                 on conflict (org_id, projection) do update
                    set version = excluded.version, state = 'RUNNING', last_seq = 0, head_seq = excluded.head_seq,
                        started_at = now(), run_started_at = now(), run_start_seq = 0, updated_at = now(), finished_at = null,
                        last_error = null",
            )
            .bind(org)
            .bind(projection.name())
            .bind(projection.version())
            .bind(head)
            .execute(&mut *tx)
            .await?;
        }
        let row: Row = sqlx::query_as(&format!("select {COLUMNS} from projection_rebuilds where org_id = $1 and projection = $2"))
            .bind(org)
            .bind(projection.name())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.status(org, projection))
    }

    /// Runs the rebuild of `projection` for `org` (started or resumed first) to its swap, a
    /// cancellation, or an error; `on_batch` hears where it stands after every batch.
    pub async fn run(
        &self,
        org: Uuid,
        projection: Projection,
        mut on_batch: impl FnMut(&RebuildStatus) + Send,
    ) -> Result<Outcome, ProjectionError> {
        let started = self.start(org, projection).await?;
        on_batch(&started);
        let began = Instant::now();
        let mut applied = 0_i64;
        loop {
            let mut tx = tenant_tx(&self.pool, org).await?;
            use_shadow(&mut tx).await?;
            let row: Option<(String, i64)> = sqlx::query_as(
                "select state, last_seq from projection_rebuilds where org_id = $1 and projection = $2 for update skip locked",
            )
            .bind(org)
            .bind(projection.name())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((state, last_seq)) = row else {
                return Ok(Outcome::Busy);
            };
            match RebuildState::parse(&state) {
                RebuildState::Running => {}
                RebuildState::Cancelled | RebuildState::Failed | RebuildState::Swapped => return Ok(Outcome::Cancelled),
            }
            let events = next_events(&mut tx, org, last_seq, self.batch_size).await?;
            if let Err(error) = refuse_gap(&mut tx, org, last_seq, &events).await {
                drop(tx);
                self.record_failure(org, projection, &error).await;
                return Err(error);
            }
            if i64::try_from(events.len()).unwrap_or(i64::MAX) < self.batch_size {
                // Caught up (or nearly): the rest is applied and swapped in one transaction.
                drop(tx);
                let Some((events, checkpoint)) = self.swap(org, projection).await? else {
                    return Ok(Outcome::Cancelled);
                };
                applied += events;
                tracing::info!(org.id = %org, projection = projection.name(), events = applied, checkpoint,
                               seconds = began.elapsed().as_secs_f64(), "projection rebuilt and swapped in");
                if let Ok(status) = self.status_of(org, projection).await {
                    on_batch(&status);
                }
                return Ok(Outcome::Swapped { events: applied, checkpoint });
            }
            let last = events.last().map_or(last_seq, |e| e.tenant_seq);
            if let Err(error) = projection.apply_all(&mut tx, org, &events).await {
                drop(tx);
                self.record_failure(org, projection, &error).await;
                return Err(error);
            }
            let row: Row = sqlx::query_as(&format!(
                "update projection_rebuilds set last_seq = $3, head_seq = greatest(head_seq, $3), updated_at = now(), last_error = null
                  where org_id = $1 and projection = $2 returning {COLUMNS}"
            ))
            .bind(org)
            .bind(projection.name())
            .bind(last)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            applied += i64::try_from(events.len()).unwrap_or(0);
            on_batch(&row.status(org, projection));
            if let Some(pause) = self.throttle {
                tokio::time::sleep(pause.saturating_mul(u32::try_from(events.len()).unwrap_or(u32::MAX))).await;
            }
        }
    }

    /// The swap: under the live checkpoint's lock, applies the events the shadow lacks, then
    /// replaces the organisation's live rows by the shadow's; returns the events applied
    /// and the new live checkpoint; `None` when the rebuild was cancelled meanwhile.
    async fn swap(&self, org: Uuid, projection: Projection) -> Result<Option<(i64, i64)>, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        ensure_checkpoint(&mut tx, org, projection).await?;
        // Waits for a live batch in progress; the live projector skips the organisation
        // until this transaction ends.
        sqlx::query("select 1 from projection_checkpoints where org_id = $1 and projection = $2 for update")
            .bind(org)
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
        let row: Option<(String, i64)> =
            sqlx::query_as("select state, last_seq from projection_rebuilds where org_id = $1 and projection = $2 for update")
                .bind(org)
                .bind(projection.name())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((_, mut last_seq)) = row.filter(|(state, _)| RebuildState::parse(state) == RebuildState::Running) else {
            return Ok(None);
        };
        use_shadow(&mut tx).await?;
        let mut applied = 0;
        loop {
            let events = next_events(&mut tx, org, last_seq, self.batch_size).await?;
            let Some(last) = events.last().map(|e| e.tenant_seq) else { break };
            let batch = async {
                refuse_gap(&mut tx, org, last_seq, &events).await?;
                projection.apply_all(&mut tx, org, &events).await
            }
            .await;
            if let Err(error) = batch {
                drop(tx);
                self.record_failure(org, projection, &error).await;
                return Err(error);
            }
            applied += i64::try_from(events.len()).unwrap_or(0);
            last_seq = last;
        }
        for table in projection.tables() {
            let columns: String = sqlx::query_scalar(
                "select string_agg(quote_ident(column_name), ', ' order by ordinal_position)
                   from information_schema.columns where table_schema = 'public' and table_name = $1",
            )
            .bind(table)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(&format!("delete from public.{table} where org_id = $1")).bind(org).execute(&mut *tx).await?;
            sqlx::query(&format!("insert into public.{table} ({columns}) select {columns} from rebuild.{table} where org_id = $1"))
                .bind(org)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("delete from rebuild.{table} where org_id = $1")).bind(org).execute(&mut *tx).await?;
        }
        sqlx::query(
            "update projection_checkpoints set last_seq = $3, version = $4, updated_at = now(), last_error = null, failed_seq = null
              where org_id = $1 and projection = $2",
        )
        .bind(org)
        .bind(projection.name())
        .bind(last_seq)
        .bind(projection.version())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update projection_rebuilds set state = 'SWAPPED', last_seq = $3, head_seq = $3, updated_at = now(), finished_at = now(),
                    last_error = null where org_id = $1 and projection = $2",
        )
        .bind(org)
        .bind(projection.name())
        .bind(last_seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(progress) = &self.progress {
            // Nobody listening is not an error.
            let _ = progress.send(Progress { org, projection, checkpoint: last_seq });
        }
        Ok(Some((applied, last_seq)))
    }

    async fn record_failure(&self, org: Uuid, projection: Projection, error: &ProjectionError) {
        tracing::error!(%error, org.id = %org, projection = projection.name(), "a rebuild stopped");
        let recorded = async {
            let mut tx = tenant_tx(&self.pool, org).await?;
            sqlx::query(
                "update projection_rebuilds set state = 'FAILED', last_error = $3, updated_at = now()
                  where org_id = $1 and projection = $2 and state = 'RUNNING'",
            )
            .bind(org)
            .bind(projection.name())
            .bind(error.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        };
        if let Err(failure) = recorded.await {
            tracing::error!(error = %failure, org.id = %org, "the rebuild failure could not be recorded");
        }
    }

    /// Cancels the rebuild of `projection` for `org`: waits for its batch in progress, drops
    /// the shadow rows, and marks it cancelled (a running worker stops at its next batch).
    /// Returns whether there was a rebuild to cancel.
    pub async fn cancel(&self, org: Uuid, projection: Projection) -> Result<bool, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        let state: Option<String> =
            sqlx::query_scalar("select state from projection_rebuilds where org_id = $1 and projection = $2 for update")
                .bind(org)
                .bind(projection.name())
                .fetch_optional(&mut *tx)
                .await?;
        let cancellable = state.is_some_and(|s| matches!(RebuildState::parse(&s), RebuildState::Running | RebuildState::Failed));
        if !cancellable {
            return Ok(false);
        }
        clear_shadow(&mut tx, org, projection).await?;
        sqlx::query(
            "update projection_rebuilds set state = 'CANCELLED', updated_at = now(), finished_at = now() where org_id = $1 and projection = $2",
        )
        .bind(org)
        .bind(projection.name())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn status_of(&self, org: Uuid, projection: Projection) -> Result<RebuildStatus, ProjectionError> {
        let all = self.status(org).await?;
        all.into_iter().find(|s| s.projection == projection).ok_or(ProjectionError::Database(sqlx::Error::RowNotFound))
    }

    /// Every rebuild of `org` (running or last finished), per projection.
    pub async fn status(&self, org: Uuid) -> Result<Vec<RebuildStatus>, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        let rows: Vec<Row> = sqlx::query_as(&format!("select {COLUMNS} from projection_rebuilds where org_id = $1 order by projection"))
            .bind(org)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.into_iter().filter_map(|r| Projection::parse(&r.projection).map(|p| r.status(org, p))).collect())
    }

    /// The projections of `org` whose live rows were built by an older version than the one
    /// this code declares (a deployment changed them): they need a rebuild.
    pub async fn outdated(&self, org: Uuid) -> Result<Vec<Projection>, ProjectionError> {
        let mut tx = tenant_tx(&self.pool, org).await?;
        if purged(&mut tx, org).await? {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, i32)> = sqlx::query_as("select projection, version from projection_checkpoints where org_id = $1")
            .bind(org)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.into_iter().filter_map(|(name, version)| Projection::parse(&name).filter(|p| version < p.version())).collect())
    }
}

/// Whether the workspace of `org` was purged (its read models are gone for good).
async fn purged(conn: &mut PgConnection, org: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists(select 1 from organizations where org_id = $1 and status = 'PURGED')").bind(org).fetch_one(conn).await
}
