//! Evidence files: uploaded over HTTP, stored content-addressed (sha256) through
//! `object_store` under `orgs/<org>/<sha256>`, recorded as an `EvidenceUploaded` event, and
//! downloaded through links that name their organisation, expire, and are signed with a
//! key derived from the application key (so a link cannot be moved to another
//! organisation, file or expiry).

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{BoxStream, StreamExt};
use gemba_domain::evidence::{EvidenceCommand, EvidenceFile, MediaType};
use gemba_domain::{DomainError, EvidenceRef, MemberId, OrgId, ValidationError};
use hmac::{Hmac, Mac};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use sha2::{Digest, Sha256};

use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::tenancy::begin_tenant;

/// Where evidence files go and the limits on them.
#[derive(Clone, Debug)]
pub struct EvidenceConfig {
    /// The object store (a local folder by default).
    pub store: Arc<dyn ObjectStore>,
    /// Largest accepted file.
    pub max_bytes: usize,
    /// How long a download link stays valid.
    pub link_ttl: Duration,
}

/// Default largest file: 25 MiB (a phone photo or a short PDF report).
pub const DEFAULT_MAX_BYTES: usize = 25 * 1024 * 1024;
/// Default lifetime of a download link.
pub const DEFAULT_LINK_TTL: Duration = Duration::minutes(15);

impl EvidenceConfig {
    /// Files in the local folder `dir` (created if missing), with the default limits.
    pub fn local(dir: &std::path::Path) -> Result<Self, CommandError> {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::Internal(format!("creating {}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| CommandError::Internal(format!("opening the evidence folder {}: {e}", dir.display())))?;
        Ok(Self { store: Arc::new(store), max_bytes: DEFAULT_MAX_BYTES, link_ttl: DEFAULT_LINK_TTL })
    }
}

/// The evidence part of the write side.
#[derive(Clone, Debug)]
pub(crate) struct Evidence {
    config: EvidenceConfig,
    link_key: [u8; 32],
}

impl Evidence {
    pub(crate) fn new(config: EvidenceConfig, link_key: [u8; 32]) -> Self {
        Self { config, link_key }
    }

    fn signature(&self, org: OrgId, file: &EvidenceRef, expires: i64) -> Result<Hmac<Sha256>, CommandError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.link_key).map_err(|e| CommandError::Internal(e.to_string()))?;
        mac.update(format!("evidence-link:{org}:{}:{expires}", file.as_str()).as_bytes());
        Ok(mac)
    }
}

fn object_path(org: OrgId, file: &EvidenceRef) -> StorePath {
    StorePath::from(format!("orgs/{org}/{}", file.as_str()))
}

/// A stored file as the organisation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvidence {
    /// Its sha256, the reference events carry.
    pub sha256: EvidenceRef,
    /// Its media type.
    pub media_type: MediaType,
    /// Its size.
    pub size_bytes: u64,
    /// Who uploaded it first.
    pub uploaded_by: MemberId,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// A download link: a path relative to the server, valid until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceLink {
    /// `/evidence/<org>/<sha256>?expires=<unix seconds>&signature=<hex>`.
    pub path: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// A file being downloaded.
pub struct Download {
    /// What it is.
    pub file: StoredEvidence,
    /// Its bytes, streamed from the store.
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download").field("file", &self.file).finish_non_exhaustive()
    }
}

const LINK_REFUSED: DomainError = DomainError::Forbidden("the download link is not valid or has expired");

impl Gemba {
    /// The largest evidence file accepted.
    pub fn max_evidence_bytes(&self) -> usize {
        self.evidence.config.max_bytes
    }

    /// Stores an uploaded file and records its upload. The declared `content_type` must be
    /// an accepted type and match the bytes; uploading the same bytes again returns the
    /// same file without a new event.
    pub async fn upload_evidence(&self, ctx: &CommandContext, content_type: &str, bytes: Bytes) -> Result<StoredEvidence, CommandError> {
        let actor = ctx.require_actor()?;
        actor.require_mutator()?;
        let media_type = MediaType::parse("Content-Type", content_type)?;
        if bytes.is_empty() {
            return Err(ValidationError::new("file", "is empty").into());
        }
        if bytes.len() > self.evidence.config.max_bytes {
            return Err(ValidationError::new("file", &format!("is larger than {} bytes", self.evidence.config.max_bytes)).into());
        }
        if !media_type.matches(&bytes) {
            return Err(ValidationError::new("file", &format!("is not a {} file", media_type.mime())).into());
        }
        let sha256 = EvidenceRef::parse("file", &hex::encode(Sha256::digest(&bytes)))?;
        let size_bytes = bytes.len() as u64;
        // Store first: an event must never reference bytes that are not there. A failure
        // after this leaves an unreferenced object, which a retry of the upload reuses.
        self.evidence
            .config
            .store
            .put(&object_path(ctx.org, &sha256), bytes.into())
            .await
            .map_err(|e| CommandError::Internal(format!("storing an evidence file: {e}")))?;
        let command = EvidenceCommand::RecordUpload { actor, sha256: sha256.clone(), media_type, size_bytes };
        // The command id names the file too: an idempotency key reused for other bytes is
        // another upload, not a replay of the first.
        let mut ctx = ctx.clone();
        ctx.command_id = uuid::Uuid::new_v5(&ctx.command_id, sha256.as_str().as_bytes());
        self.bus.execute::<EvidenceFile>(&ctx, sha256.as_str(), command).await?;
        self.evidence_file(ctx.org, &sha256).await?.ok_or(CommandError::Internal("an uploaded file was not recorded".into()))
    }

    /// A file uploaded to `org`.
    pub async fn evidence_file(&self, org: OrgId, sha256: &EvidenceRef) -> Result<Option<StoredEvidence>, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let row: Option<(String, i64, uuid::Uuid, DateTime<Utc>)> =
            sqlx::query_as("select media_type, size_bytes, uploaded_by, uploaded_at from evidence_files where org_id = $1 and sha256 = $2")
                .bind(org.uuid())
                .bind(sha256.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        row.map(|(media_type, size_bytes, uploaded_by, uploaded_at)| {
            Ok(StoredEvidence {
                sha256: sha256.clone(),
                media_type: MediaType::parse("media_type", &media_type).map_err(|e| CommandError::Internal(e.to_string()))?,
                size_bytes: u64::try_from(size_bytes).unwrap_or_default(),
                uploaded_by: MemberId(uploaded_by),
                uploaded_at,
            })
        })
        .transpose()
    }

    /// Refuses `files` unless every one was uploaded to the command's organisation.
    pub async fn require_evidence(&self, org: OrgId, field: &str, files: &[EvidenceRef]) -> Result<(), CommandError> {
        if files.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&str> = files.iter().map(EvidenceRef::as_str).collect();
        let mut tx = begin_tenant(self.pool(), org).await?;
        let found: Vec<String> = sqlx::query_scalar("select sha256 from evidence_files where org_id = $1 and sha256 = any($2)")
            .bind(org.uuid())
            .bind(&wanted)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        match wanted.iter().find(|w| !found.iter().any(|f| f == *w)) {
            Some(missing) => Err(ValidationError::new(field, &format!("{missing} was not uploaded to this organisation")).into()),
            None => Ok(()),
        }
    }

    /// A download link for a file known to belong to `org`, valid for the configured time
    /// from now.
    pub fn evidence_link(&self, org: OrgId, sha256: &EvidenceRef) -> Result<EvidenceLink, CommandError> {
        let expires_at = self.now() + self.evidence.config.link_ttl;
        let expires = expires_at.timestamp();
        let signature = hex::encode(self.evidence.signature(org, sha256, expires)?.finalize().into_bytes());
        let path = format!("/evidence/{org}/{}?expires={expires}&signature={signature}", sha256.as_str());
        Ok(EvidenceLink { path, expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at) })
    }

    /// Opens a file through a download link: the signature must match the organisation,
    /// file and expiry, the link must not have expired, and the file must belong to `org`.
    pub async fn open_evidence(&self, org: OrgId, sha256: &EvidenceRef, expires: i64, signature: &str) -> Result<Download, CommandError> {
        let given = hex::decode(signature).map_err(|_| LINK_REFUSED)?;
        self.evidence.signature(org, sha256, expires)?.verify_slice(&given).map_err(|_| LINK_REFUSED)?;
        if self.now().timestamp() >= expires {
            return Err(LINK_REFUSED.into());
        }
        let file = self.evidence_file(org, sha256).await?.ok_or(DomainError::NotFound)?;
        let object = self
            .evidence
            .config
            .store
            .get(&object_path(org, sha256))
            .await
            .map_err(|e| CommandError::Internal(format!("reading an evidence file: {e}")))?;
        let body = object.into_stream().map(|chunk| chunk.map_err(std::io::Error::other)).boxed();
        Ok(Download { file, body })
    }
}

impl Gemba {
    /// Deletes every stored evidence file of `org` (the workspace purge); returns how many.
    pub(crate) async fn delete_all_evidence(&self, org: OrgId) -> Result<u64, CommandError> {
        let store = &self.evidence.config.store;
        let prefix = StorePath::from(format!("orgs/{org}"));
        let paths: Vec<StorePath> = store
            .list(Some(&prefix))
            .map(|meta| meta.map(|m| m.location))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| CommandError::Internal(format!("listing evidence files: {e}")))?;
        let mut deleted = 0;
        for path in paths {
            store.delete(&path).await.map_err(|e| CommandError::Internal(format!("deleting an evidence file: {e}")))?;
            deleted += 1;
        }
        Ok(deleted)
    }
}
