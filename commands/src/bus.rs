//! Command dispatch: load, decide, append, idempotently.
//!
//! cqrs-es loads the aggregate (with upcasters) through our repository and the aggregate
//! decides; we serialise its events ourselves because each event gets its own envelope
//! (its own `changes`), which cqrs-es's one-metadata-map-per-command cannot express
//! (docs/adr/0001).

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventStore};
use gemba_domain::{Audited, DomainError};
use sqlx::{PgConnection, PgPool};

use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::store::{StoreError, TenantEventRepository, append};
use crate::tenancy::begin_tenant;

/// How often a command is re-decided on fresh state after losing an optimistic race.
const ATTEMPTS: usize = 3;

/// Where a command's events landed in its organisation's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// `tenant_seq` of its first event.
    pub first_seq: i64,
    /// `tenant_seq` of its last event.
    pub last_seq: i64,
    /// The aggregate the command changed (for a replayed create: the one it created).
    pub aggregate_id: String,
    /// True when the command id had been executed before and nothing new was written.
    pub replayed: bool,
}

/// The states of the workspace and the entity a command may act in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// An active workspace and an entity (and zone) that is not deleted: every ordinary
    /// command.
    Live,
    /// Any: a person's right that deletion or cancellation must not block (erasure of a
    /// deleted member, or of anyone in a cancelled workspace).
    Always,
}

/// Dispatches commands to aggregates.
#[derive(Clone, Debug)]
pub struct CommandBus {
    pool: PgPool,
}

fn aggregate_error(error: AggregateError<DomainError>) -> CommandError {
    match error {
        AggregateError::UserError(e) => CommandError::Domain(e),
        AggregateError::AggregateConflict => CommandError::Conflict("the record was changed by another request; try again"),
        AggregateError::DatabaseConnectionError(e) => CommandError::Internal(format!("database: {e}")),
        AggregateError::DeserializationError(e) => CommandError::Internal(format!("corrupt event: {e}")),
        AggregateError::UnexpectedError(e) => CommandError::Internal(e.to_string()),
    }
}

/// cqrs-es's store over our repository, loading an aggregate from its snapshot (present only
/// when its early events were disposed of) and the events after it. cqrs-es never takes a
/// snapshot itself (the size is never reached, and the bus appends through `append`).
fn snapshot_store<A: Aggregate>(repo: TenantEventRepository) -> PersistedEventStore<TenantEventRepository, A> {
    PersistedEventStore::new_snapshot_store(repo, usize::MAX)
}

impl CommandBus {
    /// A bus over `pool` (connected as the application role).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool commands run on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads the current state of aggregate `A` `aggregate_id` of `org` (for queries and
    /// for finding the facts a command needs).
    pub async fn load<A>(&self, org: gemba_domain::OrgId, aggregate_id: &str) -> Result<A, CommandError>
    where
        A: Aggregate<Error = DomainError>,
    {
        let store = snapshot_store::<A>(TenantEventRepository::new(self.pool.clone(), org));
        Ok(store.load_aggregate(aggregate_id).await.map_err(aggregate_error)?.aggregate)
    }

    /// Loads aggregate `A` `aggregate_id` of `ctx.org` and lets it decide `command`.
    /// Writes nothing; returns the events with their envelopes, ready to append.
    pub async fn decide<A>(
        &self,
        ctx: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
    ) -> Result<Vec<SerializedEvent>, CommandError>
    where
        A: Aggregate<Error = DomainError, Services = ()>,
        A::Event: Audited,
    {
        self.decide_guarded::<A>(ctx, aggregate_id, command, Guard::Live).await
    }

    /// [`Self::decide`] under `guard`.
    async fn decide_guarded<A>(
        &self,
        ctx: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
        guard: Guard,
    ) -> Result<Vec<SerializedEvent>, CommandError>
    where
        A: Aggregate<Error = DomainError, Services = ()>,
        A::Event: Audited,
    {
        if guard == Guard::Live {
            self.refuse_locked(ctx, A::TYPE, aggregate_id).await?;
        }
        let store = snapshot_store::<A>(TenantEventRepository::new(self.pool.clone(), ctx.org));
        let mut context = store.load_aggregate(aggregate_id).await.map_err(aggregate_error)?;
        let sink = EventSink::default();
        context.aggregate.handle(command, &(), &sink).await?;
        let events = sink.collect().await;
        events
            .into_iter()
            .enumerate()
            .map(|(offset, event)| {
                let envelope = ctx.envelope(event.changes(), event.reason().cloned(), event.signature());
                Ok(SerializedEvent {
                    aggregate_id: aggregate_id.to_owned(),
                    sequence: context.current_sequence + offset + 1,
                    aggregate_type: A::TYPE.to_owned(),
                    event_type: event.event_type(),
                    event_version: event.event_version(),
                    payload: serde_json::to_value(&event).map_err(|e| CommandError::Internal(e.to_string()))?,
                    metadata: serde_json::to_value(&envelope).map_err(|e| CommandError::Internal(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Refuses a command on a cancelled (or purged) workspace, on a deleted entity, and on
    /// work in a deleted zone. The workspace's own commands, sign-in records (`Access`),
    /// audit-trail exports (`Export`) and retention disposals (`RecordsDisposal`: the events
    /// outlive the workspace, for their retention period) are never refused here; deletions
    /// decide themselves whether the entity is deleted.
    async fn refuse_locked(&self, ctx: &CommandContext, aggregate_type: &str, aggregate_id: &str) -> Result<(), CommandError> {
        if matches!(aggregate_type, "Workspace" | "Access" | "Export" | "RecordsDisposal") {
            return Ok(());
        }
        let entity = uuid::Uuid::parse_str(aggregate_id).ok().filter(|_| aggregate_type != "Deletion");
        let mut tx = begin_tenant(&self.pool, ctx.org).await?;
        let (status, deleted): (Option<String>, bool) = sqlx::query_as(
            "select (select status from organizations where org_id = $1),
                    $2::uuid is not null and (
                        not gemba_visible($2)
                        or exists(select 1 from defects where org_id = $1 and defect_id = $2 and not gemba_visible(zone_id))
                        or exists(select 1 from kaizens where org_id = $1 and kaizen_id = $2 and not gemba_visible(zone_id))
                        or exists(select 1 from audits where org_id = $1 and audit_id = $2 and not gemba_visible(zone_id)))",
        )
        .bind(ctx.org.uuid())
        .bind(entity)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        match status.as_deref() {
            Some("CANCELLED" | "PURGED") => Err(DomainError::WorkspaceCancelled.into()),
            _ if deleted => Err(DomainError::Deleted.into()),
            _ => Ok(()),
        }
    }

    /// The position of a command id executed before, if it was.
    pub async fn executed_before(&self, conn: &mut PgConnection, ctx: &CommandContext) -> Result<Option<Position>, CommandError> {
        let row: Option<(i64, i64, String)> =
            sqlx::query_as("select first_seq, last_seq, aggregate_id from command_log where org_id = $1 and command_id = $2")
                .bind(ctx.org.uuid())
                .bind(ctx.command_id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(row.map(|(first_seq, last_seq, aggregate_id)| Position { first_seq, last_seq, aggregate_id, replayed: true }))
    }

    /// Appends decided events in the caller's tenant transaction and records the command
    /// id. `Ok(None)` means the command id was already recorded (by a concurrent retry):
    /// the caller must roll back.
    pub async fn append(
        &self,
        conn: &mut PgConnection,
        ctx: &CommandContext,
        events: &[SerializedEvent],
    ) -> Result<Option<Position>, StoreError> {
        let appended = append(conn, ctx.org, events).await?;
        let (Some(first), Some(last)) = (appended.first(), appended.last()) else {
            return Ok(Some(Position { first_seq: 0, last_seq: 0, aggregate_id: String::new(), replayed: false }));
        };
        let recorded = sqlx::query(
            "insert into command_log (org_id, command_id, aggregate_type, aggregate_id, first_seq, last_seq)
             values ($1, $2, $3, $4, $5, $6) on conflict (org_id, command_id) do nothing",
        )
        .bind(ctx.org.uuid())
        .bind(ctx.command_id)
        .bind(&first.event.aggregate_type)
        .bind(&first.event.aggregate_id)
        .bind(first.tenant_seq)
        .bind(last.tenant_seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok((recorded == 1).then(|| Position {
            first_seq: first.tenant_seq,
            last_seq: last.tenant_seq,
            aggregate_id: first.event.aggregate_id.clone(),
            replayed: false,
        }))
    }

    /// A concurrent retry of the same command may have won between our idempotency check and
    /// our decision (which then sees its effect and refuses): report the original result.
    async fn unless_executed_meanwhile(&self, ctx: &CommandContext, refused: CommandError) -> Result<Position, CommandError> {
        let meanwhile = async {
            let mut tx = begin_tenant(&self.pool, ctx.org).await?;
            self.executed_before(&mut tx, ctx).await
        };
        match meanwhile.await {
            Ok(Some(position)) => Ok(position),
            _ => Err(refused),
        }
    }

    /// Executes one command on one aggregate: idempotent per `ctx.command_id`, re-decided
    /// on fresh state when another command won the race for the same version.
    pub async fn execute<A>(&self, ctx: &CommandContext, aggregate_id: &str, command: A::Command) -> Result<Position, CommandError>
    where
        A: Aggregate<Error = DomainError, Services = ()>,
        A::Event: Audited,
        A::Command: Clone,
    {
        self.execute_guarded::<A>(ctx, aggregate_id, command, Guard::Live).await
    }

    /// [`Self::execute`] under `guard`: [`Guard::Always`] for the commands a person's rights
    /// demand whatever the state of the record or the workspace (erasure).
    pub async fn execute_guarded<A>(
        &self,
        ctx: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
        guard: Guard,
    ) -> Result<Position, CommandError>
    where
        A: Aggregate<Error = DomainError, Services = ()>,
        A::Event: Audited,
        A::Command: Clone,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            {
                let mut check = begin_tenant(&self.pool, ctx.org).await?;
                if let Some(done) = self.executed_before(&mut check, ctx).await? {
                    return Ok(done);
                }
                check.commit().await?;
            }
            // Decide before opening the write transaction: a command never holds two
            // pooled connections at once.
            let events = match self.decide_guarded::<A>(ctx, aggregate_id, command.clone(), guard).await {
                Ok(events) => events,
                Err(refused) => return self.unless_executed_meanwhile(ctx, refused).await,
            };
            let mut tx = begin_tenant(&self.pool, ctx.org).await?;
            let outcome = match self.append(&mut tx, ctx, &events).await {
                Ok(Some(position)) => tx.commit().await.map(|()| position).map_err(StoreError::from),
                Ok(None) => {
                    tx.rollback().await?;
                    continue; // a concurrent retry of the same command won: report its result
                }
                Err(error) => Err(error),
            };
            match outcome {
                Err(StoreError::Conflict) if attempt < ATTEMPTS => {
                    tracing::debug!(aggregate.id = aggregate_id, attempt, "optimistic conflict; deciding again");
                }
                other => return other.map_err(CommandError::from),
            }
        }
    }
}
