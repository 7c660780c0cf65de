//! Signed chain checkpoints and the deployment's public key, for auditors (Owners, Admins
//! and Auditors only).

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_commands::checkpoint;
use gemba_domain::Role;

use super::context::{principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};

/// The chain head of the organisation at some moment, signed with the deployment's key.
#[derive(Debug, SimpleObject)]
pub struct ChainCheckpoint {
    /// The organisation.
    pub org_id: ID,
    /// The position of the chain head.
    pub tenant_seq: i64,
    /// The hash of the event at that position (hex).
    pub hash: String,
    /// When the checkpoint was taken.
    pub recorded_at: DateTime<Utc>,
    /// The id of the signing key.
    pub key_id: String,
    /// Ed25519 signature (base64) of `gemba-checkpoint:v1\n{orgId}\n{tenantSeq}\n{hash}\n{recordedAt, RFC 3339 UTC microseconds}\n{keyId}`.
    pub signature: String,
}

impl From<checkpoint::Checkpoint> for ChainCheckpoint {
    fn from(c: checkpoint::Checkpoint) -> Self {
        Self {
            org_id: ID(c.org_id.to_string()),
            tenant_seq: c.tenant_seq,
            hash: c.hash,
            recorded_at: c.recorded_at,
            key_id: c.key_id,
            signature: c.signature,
        }
    }
}

/// The deployment's public key (to check manifests and checkpoints offline).
#[derive(Debug, SimpleObject)]
pub struct SigningKey {
    /// The key's id: the first 8 bytes of its sha256, hex.
    pub key_id: String,
    /// The Ed25519 public key, base64.
    pub public_key: String,
}

const PAGE_DEFAULT: i32 = 50;
const PAGE_MAX: i32 = 500;

fn require_auditor(role: Role) -> ApiResult<()> {
    match role {
        Role::Member => Err(ApiError::Forbidden("checkpoints are visible to owners, admins and auditors".into())),
        _ => Ok(()),
    }
}

/// Checkpoint queries.
#[derive(Debug, Default)]
pub struct CheckpointQuery;

#[Object]
impl CheckpointQuery {
    /// The organisation's signed chain checkpoints, newest first (taken periodically and by
    /// every export). Owners, Admins and Auditors only.
    async fn chain_checkpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<OpaqueCursor<i64>, ChainCheckpoint>> {
        let p = principal(ctx)?;
        require_auditor(p.role)?;
        let first = first.unwrap_or(PAGE_DEFAULT);
        if !(1..=PAGE_MAX).contains(&first) {
            return Err(ApiError::Validation { field: "first".into(), message: format!("must be between 1 and {PAGE_MAX}") });
        }
        let after = after
            .map(|cursor| {
                <OpaqueCursor<i64> as async_graphql::connection::CursorType>::decode_cursor(&cursor)
                    .map(|c| c.0)
                    .map_err(|_| ApiError::Validation { field: "after".into(), message: "is not a cursor of this list".into() })
            })
            .transpose()?;
        let mut tx = tenant_tx(ctx).await?;
        let mut rows = checkpoint::list(&mut tx, p.org, after, i64::from(first) + 1).await?;
        tx.commit().await?;
        let limit = usize::try_from(first).unwrap_or(0);
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|c| Edge::new(OpaqueCursor(c.tenant_seq), ChainCheckpoint::from(c))));
        Ok(connection)
    }

    /// The deployment's public signing key. Owners, Admins and Auditors only. (An auditor
    /// should also obtain it out of band: `gemba keys public`.)
    async fn signing_key(&self, ctx: &Context<'_>) -> ApiResult<SigningKey> {
        require_auditor(principal(ctx)?.role)?;
        let key = services(ctx)?.signer.public_key();
        Ok(SigningKey { key_id: key.id(), public_key: key.to_base64() })
    }
}
