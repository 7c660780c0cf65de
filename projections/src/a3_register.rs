//! The `a3_register` read model (reference/domain.md §5.4): one row per A3 case with its
//! phase, owner, opening and closing times, last effect check, iteration and whether the
//! standardisation updated documents.
//!
//! The projection is a pure fold ([`fold`]) of a case's events into its row; the projector
//! applies a whole batch with two statements ([`apply_all`]), live and in rebuilds alike.

use chrono::{DateTime, Utc};
use gemba_domain::a3::{A3Event, A3Status};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent, name};
use crate::fold;

/// Every column of a register row (but `org_id`), as the projection folds it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub a3_id: Uuid,
    pub theme: String,
    pub owner_id: Uuid,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub target_met: Option<String>,
    pub iteration: i32,
    pub documents_updated: bool,
}

const COLUMNS: &str = "a3_id, theme, owner_id, status, opened_at, closed_at, target_met, iteration, documents_updated";

/// Folds one A3Case event, recorded at `at`, into the case's row (pure). A case is created by
/// `A3Opened` (once); events of a case without a row change nothing.
pub fn fold(row: &mut Option<Entry>, case: Uuid, event: A3Event, at: DateTime<Utc>) {
    if let A3Event::A3Opened { theme, owner, .. } = event {
        if row.is_none() {
            *row = Some(Entry {
                a3_id: case,
                theme: theme.as_str().to_owned(),
                owner_id: owner.uuid(),
                status: name(&A3Status::Plan),
                opened_at: at,
                closed_at: None,
                target_met: None,
                iteration: 1,
                documents_updated: false,
            });
        }
        return;
    }
    let Some(r) = row.as_mut() else { return };
    match event {
        A3Event::A3PlanApproved { .. } => r.status = name(&A3Status::Do),
        A3Event::A3PhaseAdvanced { to, .. } | A3Event::A3Resumed { to } => r.status = name(&to),
        A3Event::A3PutOnHold { .. } => r.status = name(&A3Status::OnHold),
        A3Event::A3Cancelled { .. } => r.status = name(&A3Status::Cancelled),
        A3Event::A3EffectConfirmed { target_met, .. } => r.target_met = Some(name(&target_met)),
        A3Event::A3IterationStarted { iteration } => {
            r.status = name(&A3Status::Plan);
            r.iteration = i32::try_from(iteration).unwrap_or(i32::MAX);
            r.target_met = None;
        }
        A3Event::A3StandardizationRecorded { documents, .. } => r.documents_updated = !documents.is_empty(),
        A3Event::A3Closed { target_met, .. } => {
            r.status = name(&A3Status::Closed);
            r.closed_at = Some(at);
            if let Some(met) = target_met {
                r.target_met = Some(name(&met));
            }
        }
        A3Event::A3Reopened { .. } => {
            r.status = name(&A3Status::Check);
            r.closed_at = None;
            r.target_met = None;
            r.documents_updated = false;
        }
        A3Event::A3OwnerChanged { after, .. } => r.owner_id = after.uuid(),
        _ => {}
    }
}

/// Applies a batch of A3Case events set-based: one statement reads the rows the batch
/// touches, the events are folded in memory in order, one statement writes the rows back.
pub async fn apply_all(conn: &mut PgConnection, org: Uuid, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
    let (events, ids) = fold::decode::<A3Event>(events)?;
    if ids.is_empty() {
        return Ok(());
    }
    let stored: Vec<Entry> = sqlx::query_as(&format!("select {COLUMNS} from a3_register where org_id = $1 and a3_id = any($2)"))
        .bind(org)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let changed = fold::fold_rows(stored, |r| r.a3_id, events, |row, e| fold(row, e.id, e.event, e.at));
    if changed.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($field:ident) => {
            changed.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(&format!(
        "insert into a3_register (org_id, {COLUMNS})
         select $1, * from unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[],
                                  $9::int[], $10::bool[])
         on conflict (org_id, a3_id) do update set
            theme = excluded.theme, owner_id = excluded.owner_id, status = excluded.status, opened_at = excluded.opened_at,
            closed_at = excluded.closed_at, target_met = excluded.target_met, iteration = excluded.iteration,
            documents_updated = excluded.documents_updated"
    ))
    .bind(org)
    .bind(column!(a3_id))
    .bind(column!(theme))
    .bind(column!(owner_id))
    .bind(column!(status))
    .bind(column!(opened_at))
    .bind(column!(closed_at))
    .bind(column!(target_met))
    .bind(column!(iteration))
    .bind(column!(documents_updated))
    .execute(conn)
    .await?;
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
          where org_id = $1 and ($2::uuid is null or a3_id > $2)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;
    use gemba_domain::a3::A3Event;
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::{Entry, fold};

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
    }

    fn event(value: Value) -> A3Event {
        serde_json::from_value(value).unwrap()
    }

    fn reason(text: &str) -> Value {
        json!({"code": "other", "text": text})
    }

    fn opened(owner: Uuid) -> A3Event {
        event(json!({"A3Opened": {"a3_id": Uuid::nil(), "theme": "Scrap on press 3", "owner": owner, "coach": Uuid::now_v7()}}))
    }

    fn fold_all(row: &mut Option<Entry>, events: Vec<(A3Event, i64)>) {
        for (e, seconds) in events {
            fold(row, Uuid::nil(), e, at(seconds));
        }
    }

    fn advanced(from: &str, to: &str) -> A3Event {
        event(json!({"A3PhaseAdvanced": {"from": from, "to": to}}))
    }

    fn confirmed(target_met: &str) -> A3Event {
        event(json!({"A3EffectConfirmed": {"actuals": [], "target_met": target_met, "checked_by": Uuid::now_v7(), "checked_at": at(0)}}))
    }

    fn closed(target_met: Option<&str>) -> A3Event {
        event(json!({"A3Closed": {"closed_by": Uuid::now_v7(), "target_met": target_met, "owner": null, "team": []}}))
    }

    #[test]
    fn events_before_the_case_is_opened_change_nothing_and_a_second_opening_is_ignored() {
        let owner = Uuid::now_v7();
        let mut row = None;
        fold_all(&mut row, vec![(advanced("DO", "CHECK"), 1)]);
        assert_eq!(row, None);
        fold_all(&mut row, vec![(opened(owner), 5), (opened(Uuid::now_v7()), 9)]);
        assert_eq!(
            row,
            Some(Entry {
                a3_id: Uuid::nil(),
                theme: "Scrap on press 3".to_owned(),
                owner_id: owner,
                status: "PLAN".to_owned(),
                opened_at: at(5),
                closed_at: None,
                target_met: None,
                iteration: 1,
                documents_updated: false,
            })
        );
    }

    #[test]
    fn a_missed_target_starts_a_new_iteration_in_plan_and_forgets_the_effect_check() {
        let mut row = None;
        fold_all(
            &mut row,
            vec![
                (opened(Uuid::now_v7()), 0),
                (event(json!({"A3PlanApproved": {"approved_by": Uuid::now_v7()}})), 1),
                (advanced("DO", "CHECK"), 2),
                (confirmed("no"), 3),
                (event(json!({"A3IterationStarted": {"iteration": 2}})), 3),
            ],
        );
        let r = row.clone().unwrap();
        assert_eq!((r.status.as_str(), r.iteration, r.target_met), ("PLAN", 2, None));
        fold_all(&mut row, vec![(event(json!({"A3PlanApproved": {"approved_by": Uuid::now_v7()}})), 4), (advanced("DO", "CHECK"), 5)]);
        fold_all(&mut row, vec![(confirmed("yes"), 6), (advanced("CHECK", "ACT"), 6)]);
        let r = row.unwrap();
        assert_eq!((r.status.as_str(), r.iteration, r.target_met.as_deref()), ("ACT", 2, Some("yes")));
    }

    #[test]
    fn a_hold_resumes_where_it_was_and_a_reopened_case_goes_back_to_check_without_its_closure() {
        let (owner, successor) = (Uuid::now_v7(), Uuid::now_v7());
        let mut row = None;
        fold_all(
            &mut row,
            vec![
                (opened(owner), 0),
                (event(json!({"A3PutOnHold": {"from": "PLAN", "reason": reason("no budget")}})), 1),
                (event(json!({"A3Resumed": {"to": "PLAN"}})), 2),
                (event(json!({"A3OwnerChanged": {"before": owner, "after": successor, "reason": reason("moved")}})), 3),
                (advanced("CHECK", "ACT"), 4),
                (confirmed("partial"), 5),
                (event(json!({"A3StandardizationRecorded": {"documents": ["WI-17 rev C"], "no_change_justification": null}})), 6),
                (closed(Some("yes")), 7),
            ],
        );
        let r = row.clone().unwrap();
        assert_eq!(r.owner_id, successor);
        assert_eq!(
            (r.status.as_str(), r.closed_at, r.target_met.as_deref(), r.documents_updated),
            ("CLOSED", Some(at(7)), Some("yes"), true),
            "the closure's own target_met wins over the last check"
        );
        fold_all(&mut row, vec![(event(json!({"A3Reopened": {"reason": reason("scrap is back")}})), 8)]);
        let r = row.clone().unwrap();
        assert_eq!((r.status.as_str(), r.closed_at, r.target_met, r.documents_updated), ("CHECK", None, None, false));
        // A closure without a target_met keeps the last effect check; standardising without
        // documents says no document was updated.
        fold_all(
            &mut row,
            vec![
                (confirmed("partial"), 9),
                (event(json!({"A3StandardizationRecorded": {"documents": [], "no_change_justification": "already standard"}})), 10),
                (closed(None), 11),
            ],
        );
        let r = row.unwrap();
        assert_eq!((r.closed_at, r.target_met.as_deref(), r.documents_updated), (Some(at(11)), Some("partial"), false));
    }

    #[test]
    fn a_cancelled_case_keeps_its_other_columns() {
        let mut row = None;
        fold_all(
            &mut row,
            vec![(opened(Uuid::now_v7()), 0), (event(json!({"A3Cancelled": {"from": "PLAN", "reason": reason("duplicate")}})), 1)],
        );
        let r = row.unwrap();
        assert_eq!((r.status.as_str(), r.opened_at, r.closed_at, r.iteration), ("CANCELLED", at(0), None, 1));
    }
}
