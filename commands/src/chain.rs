//! The per-organisation hash chain.
//!
//! `hash = sha256(prev_hash || canonical_bytes(event))`, where the first event of an
//! organisation has `prev_hash` = 32 zero bytes and `canonical_bytes` is the canonical JSON
//! (object keys sorted, no insignificant white space) of
//! `{aggregate_id, aggregate_type, event_type, event_version, metadata, org_id, payload,
//! recorded_at, sequence, tenant_seq}` with `recorded_at` in RFC 3339, UTC, microseconds.
//! Personal data is sealed before hashing, so shredding a key never breaks the chain.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use gemba_domain::OrgId;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// `prev_hash` of an organisation's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields of an event that the chain covers.
#[derive(Clone, Copy, Debug)]
pub struct Link<'a> {
    pub org_id: OrgId,
    pub tenant_seq: i64,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub recorded_at: DateTime<Utc>,
}

impl Link<'_> {
    /// The canonical bytes the hash covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let document = serde_json::json!({
            "aggregate_id": self.aggregate_id,
            "aggregate_type": self.aggregate_type,
            "event_type": self.event_type,
            "event_version": self.event_version,
            "metadata": self.metadata,
            "org_id": self.org_id.to_string(),
            "payload": self.payload,
            "recorded_at": self.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "sequence": self.sequence,
            "tenant_seq": self.tenant_seq,
        });
        let mut out = Vec::with_capacity(256);
        write_canonical(&document, &mut out);
        out
    }

    /// This event's hash given the previous one.
    pub fn hash(&self, prev_hash: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(prev_hash);
        hasher.update(self.canonical_bytes());
        hasher.finalize().into()
    }
}

/// Writes `value` as canonical JSON: object keys sorted by their UTF-8 bytes, compact.
/// (Independent of serde_json's `preserve_order` feature.)
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Serialising a scalar JSON value into a Vec cannot fail.
    out.extend_from_slice(value.to_string().as_bytes());
}

/// The outcome of verifying an organisation's chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds; this many events were checked.
    Intact { events: u64 },
    /// The first link that does not hold, and why.
    Broken { tenant_seq: i64, problem: String },
}

/// A stored event with what its link covers and its stored link, as read with
/// [`CHAINED_COLUMNS`] (the chain's verifier, exports, tools that re-link a chain).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChainedEvent {
    pub tenant_seq: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The columns of `events` a [`ChainedEvent`] reads.
pub const CHAINED_COLUMNS: &str =
    "tenant_seq, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, prev_hash, hash";

impl ChainedEvent {
    /// What the chain covers of this event of `org`.
    pub fn link(&self, org: OrgId) -> Link<'_> {
        Link {
            org_id: org,
            tenant_seq: self.tenant_seq,
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at: self.recorded_at,
        }
    }
}

/// Recomputes every link of an organisation's chain, in `tenant_seq` order, streaming.
/// Detects edited events (hash mismatch), deleted or inserted events (sequence gap or
/// `prev_hash` mismatch) and a truncated tail (the head in `org_heads` disagrees). After a
/// disposal (retention) the chain is checked from its anchor, which must match the signed
/// checkpoint at the last disposed position.
/// `conn` must be inside a tenant transaction for `org`.
pub async fn verify(conn: &mut PgConnection, org: OrgId) -> Result<Verdict, sqlx::Error> {
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("select last_seq, last_hash from org_heads where org_id = $1").bind(org.uuid()).fetch_optional(&mut *conn).await?;
    // After a disposal the retained chain starts from its anchor: the hash of the last
    // disposed event, pinned by the signed checkpoint taken there.
    let (mut prev_hash, mut expected_seq) = match crate::retention::anchor(conn, org).await? {
        None => (GENESIS.to_vec(), 1_i64),
        Some(anchor) => {
            let pinned: Option<Vec<u8>> = sqlx::query_scalar("select hash from chain_checkpoints where org_id = $1 and tenant_seq = $2")
                .bind(org.uuid())
                .bind(anchor.up_to_seq)
                .fetch_optional(&mut *conn)
                .await?;
            if pinned.as_ref() != Some(&anchor.anchor_hash) {
                return Ok(Verdict::Broken {
                    tenant_seq: anchor.up_to_seq,
                    problem: "the disposal anchor does not match the signed checkpoint at its position".into(),
                });
            }
            (anchor.anchor_hash, anchor.up_to_seq + 1)
        }
    };
    let first_seq = expected_seq;
    let sql = format!("select {CHAINED_COLUMNS} from events where org_id = $1 order by tenant_seq");
    {
        let mut rows = sqlx::query_as::<_, ChainedEvent>(&sql).bind(org.uuid()).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            if row.tenant_seq != expected_seq {
                return Ok(Verdict::Broken {
                    tenant_seq: expected_seq,
                    problem: format!("event {expected_seq} is missing (next is {})", row.tenant_seq),
                });
            }
            if row.prev_hash != prev_hash {
                return Ok(Verdict::Broken {
                    tenant_seq: row.tenant_seq,
                    problem: "prev_hash does not match the previous event's hash".into(),
                });
            }
            if row.link(org).hash(&prev_hash)[..] != row.hash[..] {
                return Ok(Verdict::Broken { tenant_seq: row.tenant_seq, problem: "content does not match its hash (edited)".into() });
            }
            prev_hash = row.hash;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    match head {
        Some((last_seq, last_hash)) if last_seq != last || last_hash != prev_hash => Ok(Verdict::Broken {
            tenant_seq: last + 1,
            problem: format!("the chain head is event {last_seq} but the stream ends at {last}"),
        }),
        None if last > 0 => Ok(Verdict::Broken { tenant_seq: 1, problem: "events exist without a chain head".into() }),
        _ => Ok(Verdict::Intact { events: u64::try_from(expected_seq - first_seq).unwrap_or_default() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = Vec::new();
        write_canonical(&json!({"b": 1, "a": {"z": [true, null, "x"], "c": -2.5}}), &mut out);
        assert_eq!(String::from_utf8_lossy(&out), r#"{"a":{"c":-2.5,"z":[true,null,"x"]},"b":1}"#);
    }

    #[test]
    fn canonical_json_escapes_strings() {
        let mut out = Vec::new();
        write_canonical(&json!({"k\"": "line\nbreak"}), &mut out);
        assert_eq!(String::from_utf8_lossy(&out), r#"{"k\"":"line\nbreak"}"#);
    }

    #[test]
    fn any_changed_field_changes_the_hash() {
        let payload = json!({"name": "Press 1"});
        let metadata = json!({"actor": null});
        let base = Link {
            org_id: OrgId(uuid::Uuid::nil()),
            tenant_seq: 1,
            aggregate_type: "Zone",
            aggregate_id: "z",
            sequence: 1,
            event_type: "ZoneCreated",
            event_version: "1",
            payload: &payload,
            metadata: &metadata,
            recorded_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let other_payload = json!({"name": "Press 2"});
        let h = base.hash(&GENESIS);
        assert_ne!(h, Link { payload: &other_payload, ..base }.hash(&GENESIS));
        assert_ne!(h, Link { tenant_seq: 2, ..base }.hash(&GENESIS));
        assert_ne!(h, base.hash(&[1; 32]));
        assert_eq!(h, base.hash(&GENESIS));
    }
}
