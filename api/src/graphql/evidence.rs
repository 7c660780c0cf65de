//! Evidence files in GraphQL: what a file is and a fresh download link for it. Files are
//! uploaded with `POST /evidence` (see `crate::evidence`); commands reference them by sha256.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use gemba_commands::evidence::StoredEvidence;
use gemba_domain::EvidenceRef;

use super::context::{principal, services};
use super::errors::ApiResult;

/// An evidence file of the organisation.
#[derive(Debug)]
pub struct EvidenceFile(StoredEvidence);

#[Object]
impl EvidenceFile {
    /// Its sha256: the reference commands take.
    async fn sha256(&self) -> &str {
        self.0.sha256.as_str()
    }
    /// Its media type, e.g. `image/jpeg`.
    async fn media_type(&self) -> &str {
        self.0.media_type.mime()
    }
    async fn size_bytes(&self) -> u64 {
        self.0.size_bytes
    }
    /// Who uploaded it first.
    async fn uploaded_by_id(&self) -> ID {
        ID(self.0.uploaded_by.to_string())
    }
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.uploaded_at
    }
    /// A new download link. It works without a session (e.g. in an `<img src>`), only for
    /// this file of this organisation, and only until it expires.
    async fn download(&self, ctx: &Context<'_>) -> ApiResult<DownloadLink> {
        let p = principal(ctx)?;
        let link = services(ctx)?.gemba.evidence_link(p.org, &self.0.sha256)?;
        Ok(DownloadLink { url: link.path, expires_at: link.expires_at })
    }
}

/// A signed download link.
#[derive(Debug, SimpleObject)]
pub struct DownloadLink {
    /// Relative to the server.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Evidence queries.
#[derive(Debug, Default)]
pub struct EvidenceQuery;

#[Object]
impl EvidenceQuery {
    /// An evidence file by sha256; null when it was not uploaded to this organisation.
    async fn evidence_file(&self, ctx: &Context<'_>, sha256: String) -> ApiResult<Option<EvidenceFile>> {
        let p = principal(ctx)?;
        let sha256 = EvidenceRef::parse("sha256", &sha256)?;
        Ok(services(ctx)?.gemba.evidence_file(p.org, &sha256).await?.map(EvidenceFile))
    }
}
