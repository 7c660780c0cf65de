//! Streaming audit-trail exports (CSV / NDJSON) with a signed manifest, over HTTP and from
//! the command line. File format and offline verification: `gemba_commands::export`.
//!
//! - `GET /export/events?format=csv|ndjson&from=&to=&entity=&actor=&event_types=A,B`: the
//!   caller is authenticated like `/graphql`; Owners, Admins and Auditors only. The body is
//!   streamed; the header `Gemba-Export-Id` names the export, whose signed manifest is at
//!   `GET /export/events/{export_id}/manifest` once the body has ended.
//!
//! An export (1) reads the chain head `H`, (2) records `ExportRequested` (covering rows up
//! to `H`) through the command bus, before any row leaves, (3) takes a signed checkpoint at
//! `H`, (4) streams the matching rows with `tenant_seq <= H` from a `fetch` stream inside a
//! tenant transaction through a bounded channel (constant memory: one batch of rows in
//! flight), opening sealed values per batch in a second tenant transaction, (5) signs the
//! manifest, records `ExportGenerated` with the file's digest and stores the manifest. The
//! export's own events therefore lie after every row it covers.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use gemba_commands::chain::{CHAINED_COLUMNS, ChainedEvent, GENESIS};
use gemba_commands::checkpoint;
use gemba_commands::envelope::{Channel, CommandContext};
use gemba_commands::export::{ChainHead, ExportRow, GeneratedBy, Manifest, header as file_header};
use gemba_commands::service::Gemba;
use gemba_commands::signing::Signer;
use gemba_commands::tenancy::begin_tenant;
use gemba_domain::export::{ExportCommand, ExportFormat, ExportScope};
use gemba_domain::{Actor, MemberId, OrgId, Role};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::app::{AppState, error_response, principal, token};
use crate::graphql::context::Principal;
use crate::graphql::errors::ApiError;
use crate::trail::{Viewer, render_envelopes};

/// Rows rendered together (one key look-up per batch).
const BATCH: usize = 500;
/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

/// Who asks for an export.
#[derive(Clone, Debug)]
pub enum Requester {
    /// A signed-in member (Owner, Admin or Auditor), over HTTP.
    Member { principal: Principal, request_id: Uuid },
    /// An operator at the command line (holds the database credentials).
    Operator,
}

/// An export that was recorded and may now stream.
#[derive(Debug)]
pub struct Started {
    pub export_id: Uuid,
    pub org: OrgId,
    pub format: ExportFormat,
    pub scope: ExportScope,
    requester: Requester,
    /// The chain head the rows are bounded by (`None`: no events yet).
    pub head: Option<(i64, Vec<u8>)>,
    checkpoint: Option<checkpoint::Checkpoint>,
    /// The signed checkpoint at the retained chain's anchor, after a disposal.
    anchor: Option<checkpoint::Checkpoint>,
}

/// Runs exports of one deployment.
#[derive(Clone, Debug)]
pub struct Exporter {
    pub(crate) gemba: Gemba,
    signer: Signer,
}

/// Sent instead of the rest of the body when an export fails half-way, so the client sees
/// an incomplete transfer rather than a short file.
pub(crate) fn abort_chunk(why: &str) -> std::io::Error {
    std::io::Error::other(format!("the export failed: {why}"))
}

/// Where the export's bytes go: HTTP body or file writer.
pub type Sink = mpsc::Sender<Result<Bytes, std::io::Error>>;

impl Exporter {
    /// An exporter over the write side, signing with `signer`.
    pub fn new(gemba: Gemba, signer: Signer) -> Self {
        Self { gemba, signer }
    }

    pub(crate) fn context(&self, org: OrgId, requester: &Requester) -> CommandContext {
        match requester {
            Requester::Member { principal, request_id } => {
                let mut ctx = CommandContext::new(org, Some(Actor { member_id: principal.member, role: principal.role }), Channel::Web);
                ctx.actor_name = principal.display_name.clone();
                ctx.request_id = *request_id;
                ctx.correlation_id = *request_id;
                ctx
            }
            Requester::Operator => CommandContext::new(org, None, Channel::Cli),
        }
    }

    /// Checks the request and records it (`ExportRequested`), then takes a signed checkpoint
    /// at the chain head. Nothing is written when the request is refused.
    pub async fn start(&self, org: OrgId, requester: Requester, format: ExportFormat, scope: ExportScope) -> Result<Started, ApiError> {
        if let Requester::Member { principal, .. } = &requester
            && principal.role == Role::Member
        {
            return Err(ApiError::Forbidden("exports are for owners, admins and auditors".into()));
        }
        scope.validate().map_err(|e| ApiError::from(gemba_domain::DomainError::Invalid(e)))?;
        let (head, anchor) = {
            let mut tx = begin_tenant(self.gemba.pool(), org).await?;
            let head = checkpoint::head(&mut tx, org).await?;
            let anchor = match gemba_commands::retention::anchor(&mut tx, org).await? {
                Some(anchor) => checkpoint::at(&mut tx, org, anchor.up_to_seq).await?,
                None => None,
            };
            tx.commit().await?;
            (head, anchor)
        };
        let export_id = Uuid::now_v7();
        let actor = match &requester {
            Requester::Member { principal, .. } => Some(Actor { member_id: principal.member, role: principal.role }),
            Requester::Operator => None,
        };
        let up_to_seq = head.as_ref().map_or(0, |h| h.0);
        let command = ExportCommand::Request { requested_by: actor, format, scope: scope.clone(), up_to_seq };
        self.gemba.record_export(&self.context(org, &requester), export_id, command).await?;
        let checkpoint = match &head {
            Some((seq, hash)) => {
                let mut tx = begin_tenant(self.gemba.pool(), org).await?;
                let taken = checkpoint::take_at(&mut tx, org, *seq, hash, &self.signer).await?;
                tx.commit().await?;
                Some(taken)
            }
            None => None,
        };
        Ok(Started { export_id, org, format, scope, requester, head, checkpoint, anchor })
    }

    /// Streams the rows of a started export into `sink`, then signs its manifest, records
    /// `ExportGenerated` and stores the manifest. `on_rows` is told the running row count.
    /// On failure the sink receives an error item (the body or file is incomplete).
    pub async fn run(&self, started: Started, sink: &Sink, on_rows: &(dyn Fn(u64) + Send + Sync)) -> Result<Manifest, ApiError> {
        match self.stream(started, sink, on_rows).await {
            Ok(manifest) => Ok(manifest),
            Err(error) => {
                let _ = sink.send(Err(abort_chunk(&error.message()))).await;
                Err(error)
            }
        }
    }

    async fn stream(&self, started: Started, sink: &Sink, on_rows: &(dyn Fn(u64) + Send + Sync)) -> Result<Manifest, ApiError> {
        let Started { export_id, org, format, scope, requester, head, checkpoint, anchor } = started;
        let viewer = match &requester {
            Requester::Member { principal, .. } => Viewer::member(org, principal.role),
            Requester::Operator => Viewer { org, sees_emails: true },
        };
        let up_to = head.as_ref().map_or(0, |h| h.0);

        // The producer reads the rows in one statement (a server-side portal, fetched as
        // the channel drains); the consumer renders and writes them.
        let (rows_tx, mut rows_rx) = mpsc::channel::<Result<ChainedEvent, sqlx::Error>>(BATCH * 2);
        let producer = {
            let pool = self.gemba.pool().clone();
            let scope = scope.clone();
            tokio::spawn(async move {
                let result: Result<(), sqlx::Error> = async {
                    let mut tx = begin_tenant(&pool, org).await?;
                    let sql = format!(
                        "select {CHAINED_COLUMNS}
                           from events
                          where org_id = $1 and tenant_seq <= $2
                            and ($3::timestamptz is null or recorded_at >= $3) and ($4::timestamptz is null or recorded_at < $4)
                            and ($5::text is null or aggregate_id = $5)
                            and ($6::uuid is null or metadata -> 'actor' ->> 'member_id' = $6::text)
                            and ($7::text[] is null or event_type = any($7))
                          order by tenant_seq"
                    );
                    let mut rows = sqlx::query_as::<_, ChainedEvent>(&sql)
                        .bind(org.uuid())
                        .bind(up_to)
                        .bind(scope.from)
                        .bind(scope.to)
                        .bind(&scope.entity_id)
                        .bind(scope.actor_id.map(MemberId::uuid))
                        .bind(&scope.event_types)
                        .fetch(&mut *tx);
                    while let Some(row) = rows.try_next().await? {
                        if rows_tx.send(Ok(row)).await.is_err() {
                            return Ok(()); // the consumer stopped
                        }
                    }
                    Ok(())
                }
                .await;
                if let Err(error) = result {
                    let _ = rows_tx.send(Err(error)).await;
                }
            })
        };

        let mut digest = Sha256::new();
        let mut buffer = file_header(format);
        let mut count: u64 = 0;
        let mut first: Option<(i64, String)> = None;
        let mut last: Option<i64> = None;
        let mut keys = begin_tenant(self.gemba.pool(), org).await?;
        let mut batch: Vec<ChainedEvent> = Vec::with_capacity(BATCH);
        let outcome: Result<(), ApiError> = async {
            loop {
                batch.clear();
                match rows_rx.recv().await {
                    None => break,
                    Some(row) => batch.push(row?),
                }
                while batch.len() < BATCH {
                    match rows_rx.try_recv() {
                        Ok(row) => batch.push(row?),
                        Err(_) => break,
                    }
                }
                let metadata: Vec<&Value> = batch.iter().map(|r| &r.metadata).collect();
                let rendered = render_envelopes(self.gemba.keyring(), &mut keys, viewer, &metadata).await?;
                for (row, envelope) in batch.iter().zip(rendered) {
                    let export_row = to_export_row(org, row, envelope)?;
                    if first.is_none() {
                        first = Some((row.tenant_seq, export_row.prev_hash.clone()));
                    }
                    last = Some(row.tenant_seq);
                    export_row.write(format, &mut buffer).map_err(ApiError::internal)?;
                    count += 1;
                    if buffer.len() >= CHUNK {
                        send(sink, &mut digest, &mut buffer).await?;
                    }
                }
                on_rows(count);
            }
            send(sink, &mut digest, &mut buffer).await
        }
        .await;
        producer.abort();
        keys.commit().await?;
        outcome?;

        let generated_by = match &requester {
            Requester::Member { principal, .. } => GeneratedBy {
                member_id: Some(principal.member.uuid()),
                role: gemba_domain::wire_name(&principal.role),
                channel: "web".into(),
            },
            Requester::Operator => GeneratedBy { member_id: None, role: None, channel: "cli".into() },
        };
        let file_sha256 = hex::encode(digest.finalize());
        let manifest = Manifest {
            manifest_version: 1,
            export_id,
            org_id: org.uuid(),
            format,
            filtered: scope.is_filtered(),
            scope,
            rows: count,
            first_tenant_seq: first.as_ref().map(|f| f.0),
            last_tenant_seq: last,
            first_prev_hash: first.map(|f| f.1),
            chain_head: head.map(|(tenant_seq, hash)| ChainHead { tenant_seq, hash: hex::encode(hash) }),
            checkpoint,
            anchor,
            file_sha256: file_sha256.clone(),
            generated_by,
            generated_at: Utc::now(),
            public_key_id: String::new(),
            public_key: String::new(),
            signature: String::new(),
        }
        .sign(&self.signer)
        .map_err(ApiError::internal)?;
        let complete = ExportCommand::Complete { rows: count, first_seq: manifest.first_tenant_seq, last_seq: last, sha256: file_sha256 };
        self.gemba.record_export(&self.context(org, &requester), export_id, complete).await?;
        let mut tx = begin_tenant(self.gemba.pool(), org).await?;
        sqlx::query("insert into export_manifests (org_id, export_id, manifest) values ($1, $2, $3)")
            .bind(org.uuid())
            .bind(export_id)
            .bind(serde_json::to_value(&manifest).map_err(ApiError::internal)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(manifest)
    }
}

async fn send(sink: &Sink, digest: &mut Sha256, buffer: &mut Vec<u8>) -> Result<(), ApiError> {
    if buffer.is_empty() {
        return Ok(());
    }
    digest.update(&buffer[..]);
    let chunk = Bytes::from(std::mem::replace(buffer, Vec::with_capacity(CHUNK + 4096)));
    // The reader went away (client disconnected): stop; the request stays on record.
    sink.send(Ok(chunk)).await.map_err(|_| ApiError::Conflict("the export's reader went away".into()))
}

fn to_export_row(org: OrgId, row: &ChainedEvent, envelope: crate::trail::RenderedEnvelope) -> Result<ExportRow, ApiError> {
    let link = String::from_utf8(row.link(org).canonical_bytes()).map_err(ApiError::internal)?;
    let payload = gemba_domain::upcast::upcast(&row.event_type, &row.event_version, row.payload.clone()).map_err(ApiError::internal)?;
    let changes =
        envelope.changes.into_iter().map(|c| serde_json::json!({"path": c.path, "before": c.before, "after": c.after})).collect::<Vec<_>>();
    let prev_hash = if row.prev_hash.is_empty() { GENESIS.to_vec() } else { row.prev_hash.clone() };
    Ok(ExportRow {
        org_id: org.uuid(),
        tenant_seq: row.tenant_seq,
        recorded_at: row.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        entity_type: row.aggregate_type.clone(),
        entity_id: row.aggregate_id.clone(),
        entity_seq: row.sequence,
        event_type: row.event_type.clone(),
        event_version: gemba_domain::upcast::current_version(&row.event_type).to_owned(),
        actor_id: envelope.actor_id,
        actor_name: envelope.actor_name,
        actor_role: envelope.actor_role.and_then(|r| gemba_domain::wire_name(&r)),
        channel: envelope.channel,
        changes: Value::Array(changes),
        reason_code: envelope.reason_code,
        reason: envelope.reason,
        payload,
        prev_hash: hex::encode(prev_hash),
        hash: hex::encode(&row.hash),
        link,
    })
}

/// Parses the export filters of a query string or command line.
pub fn parse_scope(
    from: Option<&str>,
    to: Option<&str>,
    entity: Option<&str>,
    actor: Option<&str>,
    event_types: Option<&str>,
) -> Result<ExportScope, ApiError> {
    let time = |field: &str, text: Option<&str>| {
        text.map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| ApiError::Validation { field: field.into(), message: "must be an RFC 3339 time".into() })
        })
        .transpose()
    };
    let scope = ExportScope {
        from: time("from", from)?,
        to: time("to", to)?,
        entity_id: entity.map(|e| e.trim().to_owned()),
        actor_id: actor.map(MemberId::parse).transpose()?,
        event_types: event_types.map(|t| t.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()),
    };
    scope.validate().map_err(|e| ApiError::from(gemba_domain::DomainError::Invalid(e)))?;
    Ok(scope)
}

pub(crate) fn fail(error: ApiError) -> Response {
    error_response(error.status(), &error)
}

/// The signed-in Owner, Admin or Auditor of a request.
pub(crate) async fn exporter_principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = token(headers).ok_or(ApiError::Unauthenticated)?;
    let principal = principal(&state.gemba, &token).await?.ok_or(ApiError::Unauthenticated)?;
    if principal.role == Role::Member {
        return Err(ApiError::Forbidden("exports are for owners, admins and auditors".into()));
    }
    Ok(principal)
}

const PARAMS: [&str; 6] = ["format", "from", "to", "entity", "actor", "event_types"];

/// `GET /export/events`.
pub async fn export_events(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<HashMap<String, String>>) -> Response {
    let principal = match exporter_principal(&state, &headers).await {
        Ok(p) => p,
        Err(error) => return fail(error),
    };
    if let Some(unknown) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return fail(ApiError::Validation { field: unknown.clone(), message: format!("is not a parameter (use {})", PARAMS.join(", ")) });
    }
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let format = match ExportFormat::parse("format", get("format").unwrap_or("ndjson")) {
        Ok(f) => f,
        Err(e) => return fail(gemba_domain::DomainError::Invalid(e).into()),
    };
    let scope = match parse_scope(get("from"), get("to"), get("entity"), get("actor"), get("event_types")) {
        Ok(s) => s,
        Err(error) => return fail(error),
    };
    let org = principal.org;
    let requester = Requester::Member { principal, request_id: Uuid::now_v7() };
    let started = match state.exporter.start(org, requester, format, scope).await {
        Ok(s) => s,
        Err(error) => return fail(error),
    };
    let export_id = started.export_id;
    let (sink, mut chunks) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let exporter = state.exporter.clone();
    tokio::spawn(async move {
        if let Err(error) = exporter.run(started, &sink, &|_| {}).await {
            tracing::warn!(export.id = %export_id, code = error.code(), "an export stopped before its end");
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| chunks.poll_recv(cx)));
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let pairs = [
        (header::CONTENT_DISPOSITION.as_str(), format!("attachment; filename=\"gemba-export-{export_id}.{extension}\"")),
        ("gemba-export-id", export_id.to_string()),
        ("gemba-export-manifest", format!("/export/events/{export_id}/manifest")),
    ];
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    response
}

/// `GET /export/events/{export_id}/manifest`: the signed manifest of a finished export.
pub async fn export_manifest(State(state): State<AppState>, headers: HeaderMap, Path(export_id): Path<String>) -> Response {
    let principal = match exporter_principal(&state, &headers).await {
        Ok(p) => p,
        Err(error) => return fail(error),
    };
    let Ok(export_id) = Uuid::parse_str(export_id.trim()) else {
        return fail(ApiError::Validation { field: "export_id".into(), message: "must be a UUID".into() });
    };
    let read = async {
        let mut tx = begin_tenant(state.gemba.pool(), principal.org).await?;
        let manifest: Option<Value> = sqlx::query_scalar("select manifest from export_manifests where org_id = $1 and export_id = $2")
            .bind(principal.org.uuid())
            .bind(export_id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, ApiError>(manifest)
    };
    match read.await {
        Ok(Some(manifest)) => axum::Json(manifest).into_response(),
        Ok(None) => fail(ApiError::NotFound),
        Err(error) => fail(error),
    }
}
