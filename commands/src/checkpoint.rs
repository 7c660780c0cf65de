//! Signed chain checkpoints: `(org, tenant_seq, hash, recorded_at)` of an organisation's
//! chain head, signed with the deployment's key. A checkpoint handed to an auditor pins the
//! chain: any later export must contain, at that position, the same hash.

use chrono::{DateTime, SecondsFormat, Utc};
use gemba_domain::OrgId;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::signing::{PublicKey, Signer, SigningError};
use crate::tenancy::begin_tenant;

/// One signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The organisation.
    pub org_id: Uuid,
    /// The position of the chain head.
    pub tenant_seq: i64,
    /// The hash of the event at `tenant_seq` (hex).
    pub hash: String,
    /// When the checkpoint was taken (server time, microseconds).
    pub recorded_at: DateTime<Utc>,
    /// The id of the key that signed it.
    pub key_id: String,
    /// Ed25519 signature (base64) of [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes: a purpose label and every field, one per line.
    pub fn message(org_id: Uuid, tenant_seq: i64, hash: &str, recorded_at: DateTime<Utc>, key_id: &str) -> Vec<u8> {
        format!(
            "gemba-checkpoint:v1\n{org_id}\n{tenant_seq}\n{hash}\n{}\n{key_id}",
            recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
        .into_bytes()
    }

    /// Checks the signature with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), SigningError> {
        if self.key_id != key.id() {
            return Err(SigningError::BadSignature);
        }
        key.verify(&Self::message(self.org_id, self.tenant_seq, &self.hash, self.recorded_at, &self.key_id), &self.signature)
    }
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    org_id: Uuid,
    tenant_seq: i64,
    hash: Vec<u8>,
    recorded_at: DateTime<Utc>,
    key_id: String,
    signature: String,
}

impl From<CheckpointRow> for Checkpoint {
    fn from(row: CheckpointRow) -> Self {
        Self {
            org_id: row.org_id,
            tenant_seq: row.tenant_seq,
            hash: hex::encode(row.hash),
            recorded_at: row.recorded_at,
            key_id: row.key_id,
            signature: row.signature,
        }
    }
}

const COLUMNS: &str = "org_id, tenant_seq, hash, recorded_at, key_id, signature";

/// Signs and stores a checkpoint at `(tenant_seq, hash)` unless one exists there; returns
/// the checkpoint at that position. `conn` must be in a tenant transaction for `org`.
pub async fn take_at(
    conn: &mut PgConnection,
    org: OrgId,
    tenant_seq: i64,
    hash: &[u8],
    signer: &Signer,
) -> Result<Checkpoint, sqlx::Error> {
    if let Some(existing) = at(conn, org, tenant_seq).await? {
        return Ok(existing);
    }
    let recorded_at: DateTime<Utc> =
        sqlx::query_scalar("select date_trunc('microseconds', clock_timestamp())").fetch_one(&mut *conn).await?;
    let hash_hex = hex::encode(hash);
    let key_id = signer.key_id();
    let signature = signer.sign(&Checkpoint::message(org.uuid(), tenant_seq, &hash_hex, recorded_at, &key_id));
    sqlx::query(&format!("insert into chain_checkpoints ({COLUMNS}) values ($1, $2, $3, $4, $5, $6) on conflict do nothing"))
        .bind(org.uuid())
        .bind(tenant_seq)
        .bind(hash)
        .bind(recorded_at)
        .bind(&key_id)
        .bind(&signature)
        .execute(&mut *conn)
        .await?;
    // A concurrent taker may have won: report what is stored.
    Ok(at(conn, org, tenant_seq).await?.unwrap_or(Checkpoint {
        org_id: org.uuid(),
        tenant_seq,
        hash: hash_hex,
        recorded_at,
        key_id,
        signature,
    }))
}

/// The checkpoint at `tenant_seq`, if one was taken there.
pub async fn at(conn: &mut PgConnection, org: OrgId, tenant_seq: i64) -> Result<Option<Checkpoint>, sqlx::Error> {
    let row: Option<CheckpointRow> =
        sqlx::query_as(&format!("select {COLUMNS} from chain_checkpoints where org_id = $1 and tenant_seq = $2"))
            .bind(org.uuid())
            .bind(tenant_seq)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(Into::into))
}

/// The organisation's current chain head `(tenant_seq, hash)`, if it has events.
pub async fn head(conn: &mut PgConnection, org: OrgId) -> Result<Option<(i64, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("select last_seq, last_hash from org_heads where org_id = $1 and last_seq > 0")
        .bind(org.uuid())
        .fetch_optional(&mut *conn)
        .await
}

/// Checkpoints of an organisation, newest first, after the position `before` (exclusive).
pub async fn list(conn: &mut PgConnection, org: OrgId, before: Option<i64>, first: i64) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let rows: Vec<CheckpointRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from chain_checkpoints where org_id = $1 and ($2::bigint is null or tenant_seq < $2)
          order by tenant_seq desc limit $3"
    ))
    .bind(org.uuid())
    .bind(before)
    .bind(first)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Takes a checkpoint of every organisation whose head moved since its last checkpoint;
/// returns how many were taken. Failures of one organisation are logged and skipped.
pub async fn take_all(pool: &PgPool, signer: &Signer) -> Result<usize, sqlx::Error> {
    let orgs: Vec<Uuid> = sqlx::query_scalar("select org_id from org_directory order by org_id").fetch_all(pool).await?;
    let mut taken = 0;
    for org in orgs.into_iter().map(OrgId) {
        let result: Result<bool, sqlx::Error> = async {
            let mut tx = begin_tenant(pool, org).await?;
            let Some((seq, hash)) = head(&mut tx, org).await? else {
                return Ok(false);
            };
            let latest: Option<i64> = sqlx::query_scalar("select max(tenant_seq) from chain_checkpoints where org_id = $1")
                .bind(org.uuid())
                .fetch_one(&mut *tx)
                .await?;
            if latest.is_some_and(|l| l >= seq) {
                return Ok(false);
            }
            take_at(&mut tx, org, seq, &hash, signer).await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match result {
            Ok(true) => taken += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(org.id = %org.uuid(), %error, "taking a chain checkpoint failed"),
        }
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_checkpoint_signature_covers_every_field() {
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        let (org, at) = (Uuid::from_u128(1), DateTime::<Utc>::UNIX_EPOCH);
        let hash = "ab".repeat(32);
        let key_id = signer.key_id();
        let checkpoint = Checkpoint {
            org_id: org,
            tenant_seq: 7,
            hash: hash.clone(),
            recorded_at: at,
            signature: signer.sign(&Checkpoint::message(org, 7, &hash, at, &key_id)),
            key_id,
        };
        let key = signer.public_key();
        assert_eq!(checkpoint.verify(&key), Ok(()));
        assert!(Checkpoint { tenant_seq: 8, ..checkpoint.clone() }.verify(&key).is_err());
        assert!(Checkpoint { org_id: Uuid::from_u128(2), ..checkpoint.clone() }.verify(&key).is_err());
        assert!(Checkpoint { hash: "cd".repeat(32), ..checkpoint.clone() }.verify(&key).is_err());
        let other = Signer::from_base64(&Signer::generate_base64()).unwrap();
        assert!(checkpoint.verify(&other.public_key()).is_err());
    }
}
