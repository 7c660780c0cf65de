//! Rebuild runs over many organisations and projections, shared by `gemba projections
//! rebuild` and the operator API: organisations run in parallel (a bounded number at once),
//! each projection of an organisation in turn; progress is summed over them all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gemba_projections::engine::{Projection, ProjectionError};
use gemba_projections::rebuild::{Outcome, RebuildState, RebuildStatus, Rebuilder};
use sqlx::PgPool;
use uuid::Uuid;

/// Every organisation (ids only; `org_directory` is readable by the application role).
pub async fn organisations(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select org_id from org_directory order by org_id").fetch_all(pool).await
}

/// The projections a name stands for: one, or `all`.
pub fn projections_named(name: &str) -> Option<Vec<Projection>> {
    if name == "all" { Some(Projection::ALL.to_vec()) } else { Projection::parse(name).map(|p| vec![p]) }
}

/// Progress summed over the rebuilds of a run (or of every rebuild on record).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overall {
    /// Events applied to the shadows, over all rebuilds.
    pub done: i64,
    /// Events to apply, over all rebuilds.
    pub total: i64,
    /// Events per second, summed over the running rebuilds.
    pub rate: Option<f64>,
    /// The organisations being rebuilt now.
    pub current: Vec<Uuid>,
    pub running: usize,
    pub swapped: usize,
    pub cancelled: usize,
    pub failed: usize,
    /// The latest error, with its organisation and projection.
    pub last_error: Option<String>,
}

impl Overall {
    /// Sums `statuses`.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a RebuildStatus>) -> Self {
        let mut overall = Self::default();
        let mut latest_error: Option<&RebuildStatus> = None;
        for status in statuses {
            overall.done += status.done;
            overall.total += status.total;
            match status.state {
                RebuildState::Running => {
                    overall.running += 1;
                    if !overall.current.contains(&status.org) {
                        overall.current.push(status.org);
                    }
                    if let Some(rate) = status.rate {
                        overall.rate = Some(overall.rate.unwrap_or(0.0) + rate);
                    }
                }
                RebuildState::Swapped => overall.swapped += 1,
                RebuildState::Cancelled => overall.cancelled += 1,
                RebuildState::Failed => overall.failed += 1,
            }
            if status.last_error.is_some() && latest_error.is_none_or(|e| e.updated_at < status.updated_at) {
                latest_error = Some(status);
            }
        }
        overall.last_error =
            latest_error.and_then(|s| s.last_error.as_ref().map(|e| format!("{} of organisation {}: {e}", s.projection.name(), s.org)));
        overall
    }

    /// Time left at the current rate.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate.filter(|r| *r > 0.0)?;
        #[allow(clippy::cast_precision_loss)]
        let left = (self.total - self.done).max(0) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }
}

/// How a run ended, per rebuild.
#[derive(Debug, Default)]
pub struct RunReport {
    pub overall: Overall,
    /// Rebuilds another process was running (left to it).
    pub busy: usize,
    /// Rebuilds that stopped on an error, with it.
    pub errors: Vec<(Uuid, Projection, ProjectionError)>,
}

/// Rebuilds `projections` for `orgs`, `parallel` organisations at once; `on_progress` hears
/// the summed progress after every batch of every rebuild.
pub async fn run(
    rebuilder: &Rebuilder,
    orgs: &[Uuid],
    projections: &[Projection],
    parallel: usize,
    on_progress: impl Fn(&Overall) + Send + Sync + 'static,
) -> RunReport {
    let statuses: Arc<Mutex<BTreeMap<(Uuid, &'static str), RebuildStatus>>> = Arc::default();
    let on_progress = Arc::new(on_progress);
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for &org in orgs {
        let rebuilder = rebuilder.clone();
        let projections = projections.to_vec();
        let statuses = Arc::clone(&statuses);
        let on_progress = Arc::clone(&on_progress);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            let Ok(_permit) = permits.acquire_owned().await else { return outcomes };
            for projection in projections {
                let statuses = Arc::clone(&statuses);
                let on_progress = Arc::clone(&on_progress);
                let outcome = rebuilder
                    .run(org, projection, move |status| {
                        let overall = {
                            let mut all = statuses.lock().unwrap_or_else(PoisonError::into_inner);
                            all.insert((status.org, status.projection.name()), status.clone());
                            Overall::of(all.values())
                        };
                        on_progress(&overall);
                    })
                    .await;
                outcomes.push((org, projection, outcome));
            }
            outcomes
        });
    }
    let mut report = RunReport::default();
    while let Some(joined) = tasks.join_next().await {
        let Ok(outcomes) = joined else { continue };
        for (org, projection, outcome) in outcomes {
            match outcome {
                Ok(Outcome::Busy) => report.busy += 1,
                Ok(Outcome::Swapped { .. } | Outcome::Cancelled) => {}
                Err(error) => report.errors.push((org, projection, error)),
            }
        }
    }
    report.overall = Overall::of(statuses.lock().unwrap_or_else(PoisonError::into_inner).values());
    report
}

/// Every rebuild on record for `orgs`.
pub async fn statuses(rebuilder: &Rebuilder, orgs: &[Uuid]) -> Result<Vec<RebuildStatus>, ProjectionError> {
    let mut all = Vec::new();
    for &org in orgs {
        all.extend(rebuilder.status(org).await?);
    }
    Ok(all)
}

/// Schema evolution: rebuilds, in the background of a worker, every projection whose live
/// rows an older version built (its checkpoint's version is below the version this code
/// declares). Runs once, at start; the old rows keep serving until each swap.
pub async fn rebuild_outdated(rebuilder: Rebuilder, pool: PgPool) {
    let orgs = match organisations(&pool).await {
        Ok(orgs) => orgs,
        Err(error) => {
            tracing::warn!(%error, "cannot list organisations to look for outdated projections");
            return;
        }
    };
    for org in orgs {
        let outdated = match rebuilder.outdated(org).await {
            Ok(outdated) => outdated,
            Err(error) => {
                tracing::warn!(%error, org.id = %org, "cannot read the projection versions");
                continue;
            }
        };
        for projection in outdated {
            tracing::info!(org.id = %org, projection = projection.name(), version = projection.version(),
                           "a new projection version was deployed; rebuilding it behind the live one");
            if let Err(error) = rebuilder.run(org, projection, |_| {}).await {
                tracing::warn!(%error, org.id = %org, projection = projection.name(), "the rebuild stopped");
            }
        }
    }
}
