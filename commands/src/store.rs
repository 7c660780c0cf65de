//! The tenant-scoped event repository.
//!
//! postgres-es cannot set the tenant per transaction, has no commit-ordered position and
//! updates views outside the commit (docs/adr/0001). This repository:
//! - runs every statement in a transaction that first sets `app.org_id` (RLS);
//! - appends a command's events in one INSERT, after locking the organisation's head row,
//!   so `tenant_seq` is gapless and in commit order, and extends the hash chain;
//! - recognises optimistic-concurrency conflicts by SQLSTATE and constraint name;
//! - runs the write-side registry in the same transaction as the append;
//! - reports a database error while streaming as an error item, never as the end.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot};
use futures::TryStreamExt;
use gemba_domain::OrgId;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::chain::{GENESIS, Link};
use crate::registry;
use crate::tenancy::{begin_tenant, constraint_violation};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another command appended to the same aggregate version first.
    #[error("optimistic concurrency conflict")]
    Conflict,
    /// A uniqueness rule of the registry was hit (the message names it for the client).
    #[error("{0}")]
    Constraint(&'static str),
    /// A domain rule re-checked at commit was hit (e.g. at least one owner).
    #[error("{0}")]
    Rule(&'static str),
    /// The database failed.
    #[error(transparent)]
    Database(sqlx::Error),
    /// A stored event does not deserialise.
    #[error("corrupt event: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match constraint_violation(&error) {
            Some((code, constraint)) => match (code.as_str(), constraint.as_str()) {
                ("23505", "events_pkey") => Self::Conflict,
                ("23505", "sites_code_key") => Self::Constraint("a site with this code already exists"),
                ("23505", "zones_code_key") => Self::Constraint("a zone with this code already exists in this site"),
                ("23505", "areas_code_key") => Self::Constraint("an area with this code already exists in this site"),
                ("23505", "credentials_email_key") => Self::Constraint("this e-mail address is already a member"),
                ("23505", "audits_one_in_progress") => Self::Constraint("an audit of this zone and type is already in progress"),
                ("23514", "members_keep_an_owner") => Self::Rule("an organisation needs at least one owner"),
                ("23514", "zones_owned_by_active_members") => Self::Rule("zones must be owned by active members"),
                ("23514", "areas_form_a_tree") => Self::Rule("areas form a tree within one site"),
                ("23514", "zones_owned_within_site_scope") => Self::Rule("zones must be owned by members who work in their site"),
                _ => Self::Database(error),
            },
            None => Self::Database(error),
        }
    }
}

impl From<StoreError> for PersistenceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::OptimisticLockError,
            StoreError::Database(e) => Self::ConnectionError(Box::new(e)),
            StoreError::Corrupt(e) => Self::DeserializationError(e.into()),
            other => Self::UnknownError(Box::new(other)),
        }
    }
}

/// An event as stored: its position in the organisation's stream and its hash.
#[derive(Clone, Debug)]
pub struct Appended {
    pub event: SerializedEvent,
    pub tenant_seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Vec<u8>,
    pub hash: [u8; 32],
}

fn to_i64(value: usize) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt("sequence out of range".into()))
}

/// Appends `events` (of any aggregates of `org`) inside the caller's tenant transaction:
/// locks the organisation's head, assigns `tenant_seq`, chains the hashes, inserts all
/// events in one statement, moves the head, applies the registry, and appends what the
/// transactional policies (points) derive from them. Commit is the caller's. Returns the
/// stored events, derived ones last.
pub async fn append(conn: &mut PgConnection, org: OrgId, events: &[SerializedEvent]) -> Result<Vec<Appended>, StoreError> {
    let mut appended = append_events(conn, org, events).await?;
    let derived = crate::points::derive(conn, org, &appended).await?;
    appended.extend(append_events(conn, org, &derived).await?);
    Ok(appended)
}

/// [`append`] without the policies (derived events derive nothing further).
async fn append_events(conn: &mut PgConnection, org: OrgId, events: &[SerializedEvent]) -> Result<Vec<Appended>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let count = to_i64(events.len())?;
    // Lock (or create) the head: appends of one organisation are serialised from here to
    // commit, which makes tenant_seq commit-ordered and gapless. recorded_at is the
    // server's clock once the lock is held, so it grows with tenant_seq.
    let (first_prev, mut prev_hash, recorded_at): (i64, Vec<u8>, DateTime<Utc>) = sqlx::query_as(
        "insert into org_heads as h (org_id, last_seq, last_hash) values ($1, $2, $3)
         on conflict (org_id) do update set last_seq = h.last_seq + excluded.last_seq
         returning last_seq - $2, last_hash, date_trunc('microseconds', clock_timestamp())",
    )
    .bind(org.uuid())
    .bind(count)
    .bind(GENESIS.as_slice())
    .fetch_one(&mut *conn)
    .await?;

    let mut appended = Vec::with_capacity(events.len());
    for (offset, event) in events.iter().enumerate() {
        let tenant_seq = first_prev + 1 + to_i64(offset)?;
        let link = Link {
            org_id: org,
            tenant_seq,
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: to_i64(event.sequence)?,
            event_type: &event.event_type,
            event_version: &event.event_version,
            payload: &event.payload,
            metadata: &event.metadata,
            recorded_at,
        };
        let hash = link.hash(&prev_hash);
        let previous = std::mem::replace(&mut prev_hash, hash.to_vec());
        appended.push(Appended { event: event.clone(), tenant_seq, recorded_at, prev_hash: previous, hash });
    }

    let column = |f: fn(&Appended) -> String| appended.iter().map(f).collect::<Vec<_>>();
    let sequences: Vec<i64> = appended.iter().map(|a| to_i64(a.event.sequence)).collect::<Result<_, _>>()?;
    let tenant_seqs: Vec<i64> = appended.iter().map(|a| a.tenant_seq).collect();
    let payloads: Vec<Value> = appended.iter().map(|a| a.event.payload.clone()).collect();
    let metadata: Vec<Value> = appended.iter().map(|a| a.event.metadata.clone()).collect();
    let hashes: Vec<Vec<u8>> = appended.iter().map(|a| a.hash.to_vec()).collect();
    let prev_hashes: Vec<Vec<u8>> = appended.iter().map(|a| a.prev_hash.clone()).collect();

    // One statement inserts the events and moves the head, to keep the head lock short; it
    // also notifies the projectors (`gemba_events`, delivered at commit, folded per transaction).
    sqlx::query(
        "with inserted as (
             insert into events (org_id, aggregate_type, aggregate_id, sequence, tenant_seq, event_type,
                                 event_version, payload, metadata, recorded_at, prev_hash, hash)
             select $1, t.a, t.b, t.c, t.d, t.e, t.f, t.g, t.h, $10, p.prev_hash, p.hash
               from unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], $7::text[],
                           $8::jsonb[], $9::jsonb[]) with ordinality as t(a, b, c, d, e, f, g, h, n)
               join unnest($11::bytea[], $12::bytea[]) with ordinality as p(prev_hash, hash, n) using (n)
         )
         update org_heads set last_hash = $13 where org_id = $1 returning pg_notify('gemba_events', $1::text)",
    )
    .bind(org.uuid())
    .bind(column(|a| a.event.aggregate_type.clone()))
    .bind(column(|a| a.event.aggregate_id.clone()))
    .bind(&sequences)
    .bind(&tenant_seqs)
    .bind(column(|a| a.event.event_type.clone()))
    .bind(column(|a| a.event.event_version.clone()))
    .bind(&payloads)
    .bind(&metadata)
    .bind(recorded_at)
    .bind(&prev_hashes)
    .bind(&hashes)
    .bind(prev_hash)
    .execute(&mut *conn)
    .await?;

    for stored in &appended {
        registry::apply(conn, org, stored).await?;
    }
    Ok(appended)
}

/// The snapshot of aggregate `A` `aggregate_id` (its state after its last disposed event,
/// and that event's sequence), if its early events were disposed of. A snapshot that no
/// longer reads as the aggregate is an error, never a silent replay of the remaining events
/// (which would be a wrong state). `conn` must be in a tenant transaction for `org`.
pub async fn snapshot<A: Aggregate>(conn: &mut PgConnection, org: OrgId, aggregate_id: &str) -> Result<Option<(A, i64)>, StoreError> {
    let row: Option<(Value, i64)> =
        sqlx::query_as("select state, sequence from aggregate_snapshots where org_id = $1 and aggregate_type = $2 and aggregate_id = $3")
            .bind(org.uuid())
            .bind(A::TYPE)
            .bind(aggregate_id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(state, sequence)| {
        serde_json::from_value::<A>(state)
            .map(|state| (state, sequence))
            .map_err(|e| StoreError::Corrupt(format!("the snapshot of {} {aggregate_id} does not read: {e}", A::TYPE)))
    })
    .transpose()
}

/// The state of aggregate `A` `aggregate_id` after its event `up_to` (all of them when
/// `None`) and the sequence it stands at: its snapshot, if any, then its later events.
/// `conn` must be in a tenant transaction for `org`; what the transaction wrote is seen.
pub async fn fold<A: Aggregate>(
    conn: &mut PgConnection,
    org: OrgId,
    aggregate_id: &str,
    up_to: Option<i64>,
) -> Result<(A, i64), StoreError> {
    let (mut state, mut sequence) = snapshot::<A>(conn, org, aggregate_id).await?.unwrap_or_default();
    if up_to.is_some_and(|u| u < sequence) {
        return Err(StoreError::Corrupt(format!("{} {aggregate_id} before its sequence {sequence} was disposed of", A::TYPE)));
    }
    let rows: Vec<(i64, String, String, Value)> = sqlx::query_as(
        "select sequence, event_type, event_version, payload from events
          where org_id = $1 and aggregate_type = $2 and aggregate_id = $3 and sequence > $4 and ($5::bigint is null or sequence <= $5)
          order by sequence",
    )
    .bind(org.uuid())
    .bind(A::TYPE)
    .bind(aggregate_id)
    .bind(sequence)
    .bind(up_to)
    .fetch_all(&mut *conn)
    .await?;
    for (seq, event_type, version, payload) in rows {
        let payload = gemba_domain::upcast::upcast(&event_type, &version, payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        state.apply(serde_json::from_value(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        sequence = seq;
    }
    Ok((state, sequence))
}

/// The last sequence of an aggregate: of its events, or of its snapshot when every event
/// was disposed of. The next event of the aggregate gets this plus one.
pub async fn last_sequence(conn: &mut PgConnection, org: OrgId, aggregate_type: &str, aggregate_id: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "select greatest(
             (select coalesce(max(sequence), 0) from events where org_id = $1 and aggregate_type = $2 and aggregate_id = $3),
             (select coalesce(max(sequence), 0) from aggregate_snapshots where org_id = $1 and aggregate_type = $2 and aggregate_id = $3))",
    )
    .bind(org.uuid())
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// The events of one organisation, for cqrs-es: one repository per tenant, cheap to build.
#[derive(Clone, Debug)]
pub struct TenantEventRepository {
    pool: PgPool,
    org: OrgId,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
}

impl EventRow {
    /// cqrs-es types metadata as string → string; nested envelope values are given to it
    /// as their JSON text (aggregates never read metadata).
    fn into_serialized(self) -> Result<SerializedEvent, StoreError> {
        let metadata = match self.metadata {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => (k, Value::String(s)),
                        other => (k, Value::String(other.to_string())),
                    })
                    .collect(),
            ),
            _ => return Err(StoreError::Corrupt("event metadata is not an object".into())),
        };
        // Old shapes are brought to the current one before any aggregate sees them.
        let payload = gemba_domain::upcast::upcast(&self.event_type, &self.event_version, self.payload)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(SerializedEvent {
            aggregate_id: self.aggregate_id,
            sequence: usize::try_from(self.sequence).map_err(|_| StoreError::Corrupt("negative sequence".into()))?,
            aggregate_type: self.aggregate_type,
            event_version: gemba_domain::upcast::current_version(&self.event_type).to_owned(),
            event_type: self.event_type,
            payload,
            metadata,
        })
    }
}

const SELECT_EVENTS: &str = "select aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
                               from events where org_id = $1 and aggregate_type = $2";

impl TenantEventRepository {
    /// The repository of `org`'s events.
    pub fn new(pool: PgPool, org: OrgId) -> Self {
        Self { pool, org }
    }

    /// The organisation this repository is scoped to.
    pub fn org(&self) -> OrgId {
        self.org
    }

    async fn load(&self, aggregate_type: &str, aggregate_id: &str, after: i64) -> Result<Vec<SerializedEvent>, StoreError> {
        let mut tx = begin_tenant(&self.pool, self.org).await?;
        let rows: Vec<EventRow> = sqlx::query_as(&format!("{SELECT_EVENTS} and aggregate_id = $3 and sequence > $4 order by sequence"))
            .bind(self.org.uuid())
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.into_iter().map(EventRow::into_serialized).collect()
    }

    fn stream(&self, aggregate_type: String, aggregate_id: Option<String>) -> ReplayStream {
        let (mut feed, stream) = ReplayStream::new(256);
        let (pool, org) = (self.pool.clone(), self.org);
        tokio::spawn(async move {
            let result: Result<(), StoreError> = async {
                let mut tx = begin_tenant(&pool, org).await?;
                let sql = match aggregate_id {
                    Some(_) => format!("{SELECT_EVENTS} and aggregate_id = $3 order by sequence"),
                    None => format!("{SELECT_EVENTS} order by tenant_seq"),
                };
                let mut query = sqlx::query_as::<_, EventRow>(&sql).bind(org.uuid()).bind(&aggregate_type);
                if let Some(id) = &aggregate_id {
                    query = query.bind(id);
                }
                let mut rows = query.fetch(&mut *tx);
                while let Some(row) = rows.try_next().await? {
                    if feed.push(row.into_serialized().map_err(Into::into)).await.is_err() {
                        return Ok(()); // the reader went away
                    }
                }
                Ok(())
            }
            .await;
            if let Err(error) = result {
                // Never a silent end of stream: the reader sees the failure.
                let _ = feed.push(Err(error.into())).await;
            }
        });
        stream
    }
}

impl PersistedEventRepository for TenantEventRepository {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(self.load(A::TYPE, aggregate_id, 0).await?)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let after = i64::try_from(last_sequence).map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
        Ok(self.load(A::TYPE, aggregate_id, after).await?)
    }

    async fn get_snapshot<A: Aggregate>(&self, aggregate_id: &str) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        // Snapshots exist only for aggregates whose early events were disposed of
        // (retention); the events after the snapshot follow through `get_last_events`.
        let mut tx = begin_tenant(&self.pool, self.org).await.map_err(StoreError::from)?;
        let snapshot = snapshot::<A>(&mut tx, self.org, aggregate_id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let Some((state, sequence)) = snapshot else {
            return Ok(None);
        };
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: serde_json::to_value(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            current_sequence: usize::try_from(sequence).map_err(|_| StoreError::Corrupt("negative sequence".into()))?,
            current_snapshot: 1,
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            // Snapshots are taken only by a disposal (retention), never by cqrs-es.
            return Err(PersistenceError::UnknownError("snapshots are taken by disposals only".into()));
        }
        let mut tx = begin_tenant(&self.pool, self.org).await.map_err(StoreError::from)?;
        append(&mut tx, self.org, events).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        Ok(self.stream(A::TYPE.to_owned(), Some(aggregate_id.to_owned())))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        Ok(self.stream(A::TYPE.to_owned(), None))
    }
}
