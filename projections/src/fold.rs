//! The set-based shape every read model shares: a batch of one organisation's events is
//! decoded once ([`decode`]), the rows it touches are read in one statement, each event is
//! folded into its entity's row in memory by a pure function ([`fold_rows`]), and what changed
//! is written back in one statement per table. Live batches and rebuilds run the same code.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::engine::{ProjectionError, StoredEvent};

/// One event of a batch as a fold reads it.
#[derive(Clone, Debug)]
pub(crate) struct Decoded<E> {
    /// The entity (aggregate) it belongs to.
    pub id: Uuid,
    pub event: E,
    /// Its `tenant_seq`.
    pub seq: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Decodes a batch (kept in order) and names the entities it touches (sorted, distinct).
pub(crate) fn decode<E: DeserializeOwned>(events: &[&StoredEvent]) -> Result<(Vec<Decoded<E>>, Vec<Uuid>), ProjectionError> {
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        decoded.push(Decoded { id: event.entity()?, event: event.decode()?, seq: event.tenant_seq, at: event.recorded_at });
    }
    let mut ids: Vec<Uuid> = decoded.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok((decoded, ids))
}

/// Folds `events` in order into the rows of the entities they touch, starting from `stored`
/// (those rows as the database holds them; an entity without one starts from `None`).
/// Returns the rows that are new or differ from the stored ones, by entity id.
pub(crate) fn fold_rows<E, R: Clone + PartialEq>(
    stored: Vec<R>,
    id_of: impl Fn(&R) -> Uuid,
    events: Vec<Decoded<E>>,
    mut fold: impl FnMut(&mut Option<R>, Decoded<E>),
) -> Vec<R> {
    let before: BTreeMap<Uuid, R> = stored.into_iter().map(|row| (id_of(&row), row)).collect();
    let mut rows: BTreeMap<Uuid, Option<R>> = BTreeMap::new();
    for event in events {
        let row = rows.entry(event.id).or_insert_with(|| before.get(&event.id).cloned());
        fold(row, event);
    }
    rows.into_iter().filter_map(|(id, row)| row.filter(|row| before.get(&id) != Some(row))).collect()
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::{Decoded, fold_rows};

    /// A row counting the events folded into it; `0` creates it.
    #[derive(Clone, Debug, PartialEq)]
    struct Row {
        id: Uuid,
        events: u32,
    }

    fn event(id: Uuid, n: u32) -> Decoded<u32> {
        Decoded { id, event: n, seq: 0, at: DateTime::UNIX_EPOCH }
    }

    fn count(row: &mut Option<Row>, e: Decoded<u32>) {
        match (row.as_mut(), e.event) {
            (None, 0) => *row = Some(Row { id: e.id, events: 1 }),
            (Some(r), n) if n > 0 => r.events += 1,
            _ => {}
        }
    }

    #[test]
    fn only_new_and_changed_rows_come_back_in_id_order_and_events_fold_in_their_order() {
        let (stored, untouched, created, orphan) = (Uuid::from_u128(4), Uuid::from_u128(3), Uuid::from_u128(2), Uuid::from_u128(1));
        let rows = vec![Row { id: stored, events: 5 }, Row { id: untouched, events: 1 }];
        let events = vec![event(stored, 1), event(orphan, 1), event(created, 0), event(created, 1), event(stored, 2), event(untouched, 0)];
        assert_eq!(fold_rows(rows, |r| r.id, events, count), [Row { id: created, events: 2 }, Row { id: stored, events: 7 }]);
    }
}
