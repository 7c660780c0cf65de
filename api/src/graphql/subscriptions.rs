//! Live subscriptions (served over WebSocket, see `crate::websocket`): changes of a zone's
//! defects, and fresh 5S roll-up and leaderboard snapshots as the organisation's
//! projections advance.
//!
//! Each subscription listens to the projectors' announcements of committed batches
//! ([`Progress`]) *before* it reads, so nothing committed in between is missed, and reads
//! in one repeatable-read snapshot with the projection's checkpoint, so a position and the
//! state pushed with it agree. Every read goes from the last position pushed, so an
//! announcement that is missed (a lagging listener, a projector in another process) only
//! delays a change: the next read (at the latest after [`QUIET_REREAD`]) brings it.
//!
//! Who may subscribe is decided like the matching query: the session is checked again when
//! the subscription starts, the zone or site must be the caller's organisation's (row-level
//! security on the tenant transaction), and the arguments are validated the same way.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures::stream::{BoxStream, Stream, StreamExt};
use gemba_commands::service::Gemba;
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::{OrgId, SiteId, ZoneId};
use gemba_projections::engine::{self, Progress, Projection};
use gemba_projections::{defect_register, registry};
use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Instant;
use uuid::Uuid;

use super::context::{Principal, request, services};
use super::errors::{ApiError, ApiResult};
use super::read_models::{
    DefectRegisterEntry, FiveSRollup, Leaderboard, LeaderboardRequest, LeaderboardWindow, five_s_rollup_of, leaderboard_of,
};

/// Snapshot subscriptions push at most once per this interval (bursts are coalesced).
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(250);
/// A subscription reads again after this long without an announcement.
pub const QUIET_REREAD: Duration = Duration::from_secs(15);

/// A change of a defect of the zone.
#[derive(Debug, SimpleObject)]
pub struct ZoneDefectChange {
    /// The `tenant_seq` of the defect's latest event in this push (resume after it).
    pub position: i64,
    /// The defect as the register shows it at `position`.
    pub defect: DefectRegisterEntry,
}

/// The 5S roll-up as of a position.
#[derive(Debug, SimpleObject)]
pub struct FiveSRollupSnapshot {
    /// The checkpoint of the 5S scores projection this snapshot reflects.
    pub position: i64,
    pub rollup: FiveSRollup,
}

/// A leaderboard as of a position.
#[derive(Debug, SimpleObject)]
pub struct LeaderboardSnapshot {
    /// The organisation's last event this snapshot reflects (points are exact at commit).
    pub position: i64,
    pub leaderboard: Leaderboard,
}

/// Live subscriptions.
#[derive(Debug, Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Changes of the defects of a zone, after the defect register has committed them.
    ///
    /// With `after`, first replays (in position order) the defects changed after that
    /// position, then continues live, with no gap and no repeat between the two. Each push
    /// is one defect with the position of its latest change at the time of the read: changes
    /// of one defect committed before a read are folded into one message (its latest state).
    /// A defect transferred out of the zone is pushed once more, naming its new zone.
    /// Without `after`, only changes from now on are pushed.
    async fn zone_defects(
        &self,
        ctx: &Context<'_>,
        zone_id: ID,
        after: Option<i64>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<ZoneDefectChange>>> {
        Ok(zone_defects(ctx, zone_id, after).await?.boxed())
    }

    /// The 5S roll-up of a site (as `fiveSRollup` answers it), pushed right away and then
    /// whenever the 5S scores projection has moved past the last snapshot (at most one per
    /// 250 ms). With `after`, snapshots at or before that position are not pushed.
    async fn five_s_rollup_changed(
        &self,
        ctx: &Context<'_>,
        site_id: ID,
        after: Option<i64>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<FiveSRollupSnapshot>>> {
        Ok(five_s_rollup_changed(ctx, site_id, after).await?.boxed())
    }

    /// The member leaderboard (as `leaderboard` answers it), pushed right away and then
    /// whenever the organisation has moved past the last snapshot (at most one per 250 ms).
    /// With `after`, snapshots at or before that position are not pushed.
    async fn leaderboard_changed(
        &self,
        ctx: &Context<'_>,
        window: LeaderboardWindow,
        site_id: Option<ID>,
        zone_id: Option<ID>,
        #[graphql(default = 10)] first: i32,
        after: Option<i64>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<LeaderboardSnapshot>>> {
        let request = LeaderboardRequest::parse(window, site_id, zone_id, first)?;
        Ok(leaderboard_changed(ctx, request, after).await?.boxed())
    }
}

async fn zone_defects(
    ctx: &Context<'_>,
    zone_id: ID,
    after: Option<i64>,
) -> ApiResult<impl Stream<Item = async_graphql::Result<ZoneDefectChange>> + use<>> {
    let caller = Caller::start(ctx).await?;
    let zone = ZoneId::parse(&zone_id)?.uuid();
    let after = position_argument(after)?;
    caller.zone_exists(zone).await?;
    let org = caller.principal.org;
    let mut feed = ZoneFeed { listener: caller.listener, gemba: caller.gemba, org, zone, last: 0, queued: VecDeque::new() };
    match after {
        Some(after) => {
            feed.last = after;
            feed.read().await?;
        }
        None => {
            let mut tx = snapshot_tx(&feed.gemba, org).await?;
            feed.last = engine::checkpoint(&mut tx, org.uuid(), Projection::DefectRegister).await?;
            tx.commit().await?;
        }
    }
    Ok(feed.into_stream())
}

async fn five_s_rollup_changed(
    ctx: &Context<'_>,
    site_id: ID,
    after: Option<i64>,
) -> ApiResult<impl Stream<Item = async_graphql::Result<FiveSRollupSnapshot>> + use<>> {
    let caller = Caller::start(ctx).await?;
    let site = SiteId::parse(&site_id)?.uuid();
    let after = position_argument(after)?;
    caller.site_exists(site).await?;
    let source = RollupSource { org: caller.principal.org, site };
    Ok(SnapshotFeed::new(caller, source, after).into_stream())
}

async fn leaderboard_changed(
    ctx: &Context<'_>,
    request: LeaderboardRequest,
    after: Option<i64>,
) -> ApiResult<impl Stream<Item = async_graphql::Result<LeaderboardSnapshot>> + use<>> {
    let caller = Caller::start(ctx).await?;
    let after = position_argument(after)?;
    if let Some(site) = request.scope.site {
        caller.site_exists(site).await?;
    }
    if let Some(zone) = request.scope.zone {
        caller.zone_exists(zone).await?;
    }
    let source = LeaderboardSource { viewer: caller.principal.clone(), request };
    Ok(SnapshotFeed::new(caller, source, after).into_stream())
}

fn position_argument(after: Option<i64>) -> ApiResult<Option<i64>> {
    match after {
        Some(p) if p < 0 => Err(ApiError::Validation { field: "after".into(), message: "must not be negative".into() }),
        other => Ok(other),
    }
}

/// A read-only transaction of `org` whose statements all see one snapshot.
async fn snapshot_tx(gemba: &Gemba, org: OrgId) -> ApiResult<Transaction<'static, Postgres>> {
    let begin =
        format!("begin isolation level repeatable read, read only; select set_config('app.org_id', '{}', true)", org.uuid().hyphenated());
    Ok(gemba.pool().begin_with(begin).await?)
}

/// Who subscribes, listening already.
struct Caller {
    gemba: Gemba,
    principal: Principal,
    listener: Listener,
}

impl Caller {
    /// Checks the socket's session again (it may have ended or the member been suspended
    /// since the socket was opened) and starts listening to the projectors.
    async fn start(ctx: &Context<'_>) -> ApiResult<Self> {
        let services = services(ctx)?;
        let token = request(ctx)?.token.as_deref().ok_or(ApiError::Unauthenticated)?;
        let principal = crate::app::principal(&services.gemba, token).await?.ok_or(ApiError::Unauthenticated)?;
        let listener = Listener { receiver: services.progress.subscribe(), org: principal.org.uuid() };
        Ok(Self { gemba: services.gemba.clone(), principal, listener })
    }

    async fn zone_exists(&self, zone: Uuid) -> ApiResult<()> {
        let mut tx = begin_tenant(self.gemba.pool(), self.principal.org).await?;
        let found = registry::zone(&mut tx, self.principal.org.uuid(), zone).await?;
        tx.commit().await?;
        found.map(|_| ()).ok_or(ApiError::NotFound)
    }

    async fn site_exists(&self, site: Uuid) -> ApiResult<()> {
        let mut tx = begin_tenant(self.gemba.pool(), self.principal.org).await?;
        let found = registry::site(&mut tx, self.principal.org.uuid(), site).await?;
        tx.commit().await?;
        found.map(|_| ()).ok_or(ApiError::NotFound)
    }
}

/// The projectors' announcements for one organisation.
struct Listener {
    receiver: broadcast::Receiver<Progress>,
    org: Uuid,
}

impl Listener {
    /// Waits until a projection of the organisation has committed past `last` (or
    /// `projection`, when given), or a re-read is due anyway: announcements were lost to lag,
    /// or none came for [`QUIET_REREAD`]. `false` when the server is shutting down.
    async fn advanced(&mut self, last: i64, projection: Option<Projection>) -> bool {
        loop {
            match tokio::time::timeout(QUIET_REREAD, self.receiver.recv()).await {
                Ok(Ok(p)) => {
                    if p.org == self.org && p.checkpoint > last && projection.is_none_or(|wanted| wanted == p.projection) {
                        return true;
                    }
                }
                Ok(Err(RecvError::Lagged(_))) | Err(_) => return true,
                Ok(Err(RecvError::Closed)) => return false,
            }
        }
    }

    /// Drops the announcements already waiting (the next read covers them); `false` when
    /// the server is shutting down.
    fn drain(&mut self) -> bool {
        loop {
            match self.receiver.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Closed) => return false,
            }
        }
    }
}

/// The state of a `zoneDefects` subscription.
struct ZoneFeed {
    listener: Listener,
    gemba: Gemba,
    org: OrgId,
    zone: Uuid,
    /// The register's checkpoint at the last read (everything up to it has been queued).
    last: i64,
    queued: VecDeque<ZoneDefectChange>,
}

impl ZoneFeed {
    /// Queues the zone's changes after `last` up to the register's checkpoint.
    async fn read(&mut self) -> ApiResult<()> {
        let mut tx = snapshot_tx(&self.gemba, self.org).await?;
        let upto = engine::checkpoint(&mut tx, self.org.uuid(), Projection::DefectRegister).await?;
        if upto > self.last {
            let changes = defect_register::zone_changes(&mut tx, self.org.uuid(), self.zone, self.last, upto).await?;
            for change in changes {
                self.queued
                    .push_back(ZoneDefectChange { position: change.position, defect: DefectRegisterEntry::from_row(change.defect)? });
            }
            self.last = upto;
        }
        tx.commit().await?;
        Ok(())
    }

    fn into_stream(self) -> impl Stream<Item = async_graphql::Result<ZoneDefectChange>> {
        futures::stream::unfold(Some(self), |feed| async move {
            let mut feed = feed?;
            loop {
                if let Some(change) = feed.queued.pop_front() {
                    return Some((Ok(change), Some(feed)));
                }
                if !feed.listener.advanced(feed.last, Some(Projection::DefectRegister)).await {
                    return None;
                }
                if let Err(error) = feed.read().await {
                    // The stream ends with the error; the client resumes from its last position.
                    return Some((Err(error.into()), None));
                }
            }
        })
    }
}

/// What a snapshot subscription reads: its position and the snapshot, on a connection in a
/// snapshot transaction of the organisation.
trait SnapshotSource: Send + 'static {
    type Snapshot: Send + 'static;
    fn read(&self, gemba: &Gemba, conn: &mut PgConnection) -> impl Future<Output = ApiResult<(i64, Self::Snapshot)>> + Send;
}

struct RollupSource {
    org: OrgId,
    site: Uuid,
}

impl SnapshotSource for RollupSource {
    type Snapshot = FiveSRollupSnapshot;

    async fn read(&self, gemba: &Gemba, conn: &mut PgConnection) -> ApiResult<(i64, FiveSRollupSnapshot)> {
        let position = engine::checkpoint(conn, self.org.uuid(), Projection::FiveSScores).await?;
        let rollup = five_s_rollup_of(gemba, conn, self.org, Some(self.site)).await?;
        Ok((position, FiveSRollupSnapshot { position, rollup }))
    }
}

struct LeaderboardSource {
    viewer: Principal,
    request: LeaderboardRequest,
}

impl SnapshotSource for LeaderboardSource {
    type Snapshot = LeaderboardSnapshot;

    async fn read(&self, gemba: &Gemba, conn: &mut PgConnection) -> ApiResult<(i64, LeaderboardSnapshot)> {
        let head: Option<i64> = sqlx::query_scalar("select last_seq from org_heads where org_id = $1")
            .bind(self.viewer.org.uuid())
            .fetch_optional(&mut *conn)
            .await?;
        let position = head.unwrap_or(0);
        let leaderboard = leaderboard_of(gemba, conn, &self.viewer, &self.request).await?;
        Ok((position, LeaderboardSnapshot { position, leaderboard }))
    }
}

/// The state of a snapshot subscription.
struct SnapshotFeed<S> {
    listener: Listener,
    gemba: Gemba,
    org: OrgId,
    source: S,
    /// The position of the last snapshot pushed (or `after`).
    last: Option<i64>,
    pushed_at: Option<Instant>,
}

impl<S: SnapshotSource> SnapshotFeed<S> {
    fn new(caller: Caller, source: S, after: Option<i64>) -> Self {
        Self { listener: caller.listener, gemba: caller.gemba, org: caller.principal.org, source, last: after, pushed_at: None }
    }

    /// A snapshot past `last`, if there is one now.
    async fn read(&mut self) -> ApiResult<Option<S::Snapshot>> {
        let mut tx = snapshot_tx(&self.gemba, self.org).await?;
        let (position, snapshot) = self.source.read(&self.gemba, &mut tx).await?;
        tx.commit().await?;
        if self.last.is_some_and(|last| position <= last) {
            return Ok(None);
        }
        self.last = Some(position);
        Ok(Some(snapshot))
    }

    fn into_stream(self) -> impl Stream<Item = async_graphql::Result<S::Snapshot>> {
        futures::stream::unfold((Some(self), true), |(feed, first)| async move {
            let mut feed = feed?;
            let mut wait = !first;
            loop {
                if wait {
                    if !feed.listener.advanced(feed.last.unwrap_or(-1), None).await {
                        return None;
                    }
                    if let Some(pushed_at) = feed.pushed_at {
                        tokio::time::sleep_until(pushed_at + SNAPSHOT_INTERVAL).await;
                    }
                    if !feed.listener.drain() {
                        return None;
                    }
                }
                wait = true;
                match feed.read().await {
                    Ok(Some(snapshot)) => {
                        feed.pushed_at = Some(Instant::now());
                        return Some((Ok(snapshot), (Some(feed), false)));
                    }
                    Ok(None) => {}
                    Err(error) => return Some((Err(error.into()), (None, false))),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    fn progress(org: Uuid, projection: Projection, checkpoint: i64) -> Progress {
        Progress { org, projection, checkpoint }
    }

    #[tokio::test]
    async fn a_listener_wakes_for_its_organisations_progress_and_rereads_after_a_lag() {
        let (sender, receiver) = broadcast::channel(4);
        let (org, other) = (Uuid::now_v7(), Uuid::now_v7());
        let mut listener = Listener { receiver, org };
        let within = |d: u64| Duration::from_millis(d);

        // Announcements were lost (only other organisations' here, but it cannot know): read again.
        for checkpoint in 1..=9 {
            sender.send(progress(other, Projection::DefectRegister, checkpoint)).unwrap();
        }
        assert_eq!(tokio::time::timeout(within(500), listener.advanced(100, None)).await, Ok(true));
        assert!(listener.drain());

        // Other organisations, old positions and other projections do not wake it.
        sender.send(progress(other, Projection::DefectRegister, 200)).unwrap();
        sender.send(progress(org, Projection::DefectRegister, 100)).unwrap();
        assert!(tokio::time::timeout(within(200), listener.advanced(100, None)).await.is_err());
        sender.send(progress(org, Projection::FiveSScores, 101)).unwrap();
        assert!(tokio::time::timeout(within(200), listener.advanced(100, Some(Projection::DefectRegister))).await.is_err());

        // Its organisation's projection past the position does.
        sender.send(progress(org, Projection::DefectRegister, 101)).unwrap();
        assert_eq!(tokio::time::timeout(within(500), listener.advanced(100, Some(Projection::DefectRegister))).await, Ok(true));

        // A burst is drained; a server shutting down ends it.
        sender.send(progress(org, Projection::DefectRegister, 102)).unwrap();
        assert!(listener.drain());
        assert!(tokio::time::timeout(within(200), listener.advanced(101, None)).await.is_err());
        drop(sender);
        assert_eq!(tokio::time::timeout(within(500), listener.advanced(101, None)).await, Ok(false));
    }
}
