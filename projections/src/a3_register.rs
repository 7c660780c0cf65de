//! The `a3_register` read model (reference/domain.md §5.4): one row per A3 case with its
//! phase, owner, opening and closing times, last effect check, iteration and whether the
//! standardisation updated documents.

use gemba_domain::a3::{A3Event, A3Status};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};

/// Applies one A3Case event.
pub async fn apply(conn: &mut PgConnection, org: Uuid, event: &StoredEvent) -> Result<(), ProjectionError> {
    let case = event.entity()?;
    let update = |sql: &'static str| sqlx::query(sql).bind(org).bind(case);
    let status = |to: A3Status| update("update a3_register set status = $3 where org_id = $1 and a3_id = $2").bind(name(&to));
    let query = match event.decode::<A3Event>()? {
        A3Event::A3Opened { theme, owner, .. } => sqlx::query(
            "insert into a3_register (org_id, a3_id, theme, owner_id, status, opened_at) values ($1, $2, $3, $4, 'PLAN', $5)
             on conflict (org_id, a3_id) do nothing",
        )
        .bind(org)
        .bind(case)
        .bind(theme.as_str().to_owned())
        .bind(owner.uuid())
        .bind(event.recorded_at),
        A3Event::A3PlanApproved { .. } => status(A3Status::Do),
        A3Event::A3PhaseAdvanced { to, .. } | A3Event::A3Resumed { to } => status(to),
        A3Event::A3PutOnHold { .. } => status(A3Status::OnHold),
        A3Event::A3Cancelled { .. } => status(A3Status::Cancelled),
        A3Event::A3EffectConfirmed { target_met, .. } => {
            update("update a3_register set target_met = $3 where org_id = $1 and a3_id = $2").bind(name(&target_met))
        }
        A3Event::A3IterationStarted { iteration } => {
            update("update a3_register set status = 'PLAN', iteration = $3, target_met = null where org_id = $1 and a3_id = $2")
                .bind(i32::try_from(iteration).unwrap_or(i32::MAX))
        }
        A3Event::A3StandardizationRecorded { documents, .. } => {
            update("update a3_register set documents_updated = $3 where org_id = $1 and a3_id = $2").bind(!documents.is_empty())
        }
        A3Event::A3Closed { target_met, .. } => {
            update("update a3_register set status = 'CLOSED', closed_at = $3, target_met = coalesce($4, target_met) where org_id = $1 and a3_id = $2")
                .bind(event.recorded_at)
                .bind(target_met.map(|t| name(&t)))
        }
        A3Event::A3Reopened { .. } => update(
            "update a3_register set status = 'CHECK', closed_at = null, target_met = null, documents_updated = false
              where org_id = $1 and a3_id = $2",
        ),
        A3Event::A3OwnerChanged { after, .. } => {
            update("update a3_register set owner_id = $3 where org_id = $1 and a3_id = $2").bind(after.uuid())
        }
        _ => return Ok(()),
    };
    query.execute(&mut *conn).await?;
    Ok(())
}

/// One row of the A3 register.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct A3Row {
    pub a3_id: Uuid,
    pub theme: String,
    pub owner_id: Uuid,
    pub status: String,
    pub opened_at: chrono::DateTime<chrono::Utc>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub target_met: Option<String>,
    pub iteration: i32,
    pub documents_updated: bool,
}

/// Filters of the A3 register; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct A3Filter {
    pub statuses: Option<Vec<String>>,
    pub owner: Option<Uuid>,
}

/// A page of the register in creation order (case ids are time-ordered), after `after`.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    filter: &A3Filter,
    after: Option<Uuid>,
    first: i64,
) -> Result<Vec<A3Row>, sqlx::Error> {
    sqlx::query_as(
        "select a3_id, theme, owner_id, status, opened_at, closed_at, target_met, iteration, documents_updated
           from a3_register
          where org_id = $1 and ($2::uuid is null or a3_id > $2) and gemba_visible(a3_id)
            and ($3::text[] is null or status = any($3)) and ($4::uuid is null or owner_id = $4)
          order by a3_id limit $5",
    )
    .bind(org)
    .bind(after)
    .bind(&filter.statuses)
    .bind(filter.owner)
    .bind(first + 1)
    .fetch_all(conn)
    .await
}
