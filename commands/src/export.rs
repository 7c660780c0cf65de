//! The audit-trail export file (CSV or NDJSON), its signed manifest, and the offline
//! verifier. Nothing here touches a database: `gemba verify --export` runs on an auditor's
//! machine with the file, the manifest and the deployment's public key.
//!
//! **Hash input.** Each row carries, in the `link` column, the exact canonical bytes the
//! chain hash covers ([`crate::chain::Link::canonical_bytes`]: stored payload and envelope,
//! personal data sealed, the *stored* event version). The verifier recomputes
//! `hash = sha256(prev_hash || link)` from the text of that column, then checks that every
//! readable column (ids, position, time, type, actor id and role, channel, reason, the
//! change paths and the values that are not sealed, and `payload` = the upcast of the stored
//! payload) agrees with it. The human columns show payloads in the current shape (through
//! `upcast`) and sealed values opened; those opened values are covered by the file digest in
//! the signed manifest, not by the chain.
//!
//! **CSV formula injection.** A cell starting with `=`, `+`, `-`, `@`, tab, carriage return
//! or `'` is written with a leading `'` so spreadsheets show it as text; a reader (and this
//! verifier) removes exactly one leading `'`. The `link` column starts with `{` and is never
//! altered, so the hash input is the cell's text as written.
//!
//! **What an export proves.** A range export (whole stream or a time range) has consecutive
//! rows: each row's `prev_hash` is the previous row's `hash`, the first row's `prev_hash` is
//! the manifest's, a missing, inserted, reordered or edited row breaks the chain at that row.
//! A filtered export (entity, person or event types) has gaps: each row is checked on its
//! own (its hash from its own `prev_hash`) and rows must increase in `tenant_seq`; that each
//! row is a genuine event of the chain is pinned by the signed manifest (row count, digest);
//! that no matching row was left out is asserted by the signed manifest, not recomputable
//! from the file.

use std::io::{BufRead, Read};

use chrono::{DateTime, Utc};
use gemba_domain::export::{ExportFormat, ExportScope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::chain::{GENESIS, write_canonical};
use crate::checkpoint::Checkpoint;
use crate::signing::{PublicKey, Signer, SigningError};

/// The columns of an export, in file order (CSV header, NDJSON key order).
pub const COLUMNS: [&str; 19] = [
    "org_id",
    "tenant_seq",
    "recorded_at",
    "entity_type",
    "entity_id",
    "entity_seq",
    "event_type",
    "event_version",
    "actor_id",
    "actor_name",
    "actor_role",
    "channel",
    "changes",
    "reason_code",
    "reason",
    "payload",
    "prev_hash",
    "hash",
    "link",
];

/// One row of an export: one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportRow {
    pub org_id: Uuid,
    pub tenant_seq: i64,
    /// RFC 3339, UTC, microseconds (as in the hash input).
    pub recorded_at: String,
    pub entity_type: String,
    pub entity_id: String,
    pub entity_seq: i64,
    pub event_type: String,
    /// The current version of the event type (the payload is shown in that shape).
    pub event_version: String,
    pub actor_id: Option<String>,
    /// The actor's display name at the time, opened (or `[erased]`).
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub channel: Option<String>,
    /// `[{path, before, after}]`, sealed values opened.
    pub changes: Value,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// The payload in the current shape.
    pub payload: Value,
    /// Hex.
    pub prev_hash: String,
    /// Hex.
    pub hash: String,
    /// The canonical JSON the hash covers (stored bytes).
    pub link: String,
}

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Neutralises a CSV cell against formula injection (see the module docs).
pub fn escape_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if FORMULA_TRIGGERS.contains(&c) || c == '\'' => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// Undoes [`escape_cell`].
pub fn unescape_cell(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

fn push_csv_cell(out: &mut Vec<u8>, cell: &str) {
    let cell = escape_cell(cell);
    if cell.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(cell.as_bytes());
    }
}

/// Appends one CSV record (RFC 4180, cells neutralised by [`escape_cell`]) to `out`.
pub fn push_csv_record<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_csv_cell(out, cell);
    }
    out.extend_from_slice(b"\r\n");
}

/// The header line of a format (CSV only; NDJSON has none).
pub fn header(format: ExportFormat) -> Vec<u8> {
    let mut out = Vec::new();
    if format == ExportFormat::Csv {
        push_csv_record(&mut out, COLUMNS);
    }
    out
}

fn json_text(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

impl ExportRow {
    /// Appends the row in `format` to `out`.
    pub fn write(&self, format: ExportFormat, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match format {
            ExportFormat::Ndjson => {
                serde_json::to_writer(&mut *out, self)?;
                out.push(b'\n');
            }
            ExportFormat::Csv => {
                let (seq, entity_seq) = (self.tenant_seq.to_string(), self.entity_seq.to_string());
                let (changes, payload) = (json_text(&self.changes), json_text(&self.payload));
                let org = self.org_id.to_string();
                let text = |v: &Option<String>| v.clone().unwrap_or_default();
                let cells: [String; 19] = [
                    org,
                    seq,
                    self.recorded_at.clone(),
                    self.entity_type.clone(),
                    self.entity_id.clone(),
                    entity_seq,
                    self.event_type.clone(),
                    self.event_version.clone(),
                    text(&self.actor_id),
                    text(&self.actor_name),
                    text(&self.actor_role),
                    text(&self.channel),
                    changes,
                    text(&self.reason_code),
                    text(&self.reason),
                    payload,
                    self.prev_hash.clone(),
                    self.hash.clone(),
                    self.link.clone(),
                ];
                push_csv_record(out, cells.iter().map(String::as_str));
            }
        }
        Ok(())
    }

    fn from_csv(cells: &[String]) -> Result<Self, String> {
        if cells.len() != COLUMNS.len() {
            return Err(format!("has {} cells, expected {}", cells.len(), COLUMNS.len()));
        }
        let cell = |i: usize| unescape_cell(&cells[i]).to_owned();
        let optional = |i: usize| Some(cell(i)).filter(|c| !c.is_empty());
        let number = |i: usize| cell(i).parse::<i64>().map_err(|_| format!("{} is not a number", COLUMNS[i]));
        let json = |i: usize| serde_json::from_str::<Value>(&cell(i)).map_err(|_| format!("{} is not JSON", COLUMNS[i]));
        Ok(Self {
            org_id: Uuid::parse_str(&cell(0)).map_err(|_| "org_id is not a UUID".to_owned())?,
            tenant_seq: number(1)?,
            recorded_at: cell(2),
            entity_type: cell(3),
            entity_id: cell(4),
            entity_seq: number(5)?,
            event_type: cell(6),
            event_version: cell(7),
            actor_id: optional(8),
            actor_name: optional(9),
            actor_role: optional(10),
            channel: optional(11),
            changes: json(12)?,
            reason_code: optional(13),
            reason: optional(14),
            payload: json(15)?,
            prev_hash: cell(16),
            hash: cell(17),
            link: cell(18),
        })
    }
}

/// Who generated an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedBy {
    /// The member; `None` for an operator at the command line.
    pub member_id: Option<Uuid>,
    /// The member's role (`OWNER`, `ADMIN`, `AUDITOR`).
    pub role: Option<String>,
    /// `web` (HTTP) or `cli`.
    pub channel: String,
}

/// The organisation's chain head when the export was generated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub tenant_seq: i64,
    /// Hex.
    pub hash: String,
}

/// What an export contains and how to check it; signed with the deployment's key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 1 (this layout).
    pub manifest_version: u32,
    pub export_id: Uuid,
    pub org_id: Uuid,
    pub format: ExportFormat,
    /// The filters.
    pub scope: ExportScope,
    /// Whether rows are a selection (entity, person, event types) rather than a range.
    pub filtered: bool,
    pub rows: u64,
    pub first_tenant_seq: Option<i64>,
    pub last_tenant_seq: Option<i64>,
    /// The `prev_hash` of the first row (hex).
    pub first_prev_hash: Option<String>,
    /// The chain head the export was bounded by (rows have `tenant_seq <=` it).
    pub chain_head: Option<ChainHead>,
    /// The checkpoint taken by the export at the chain head.
    pub checkpoint: Option<Checkpoint>,
    /// After a disposal of expired events (retention): the signed checkpoint at the last
    /// disposed event, whose hash is the `prev_hash` of the first retained one. An export
    /// that starts the (retained) stream starts right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<Checkpoint>,
    /// sha256 of the file (hex).
    pub file_sha256: String,
    pub generated_by: GeneratedBy,
    pub generated_at: DateTime<Utc>,
    /// The signing key's id and the key itself (base64). An auditor should check the
    /// signature with a key obtained separately (`gemba keys public`).
    pub public_key_id: String,
    pub public_key: String,
    /// Ed25519 signature (base64) of the canonical JSON of every other field.
    #[serde(default)]
    pub signature: String,
}

const MANIFEST_LABEL: &[u8] = b"gemba-export-manifest:v1\n";

fn manifest_message(mut document: Value) -> Vec<u8> {
    if let Value::Object(map) = &mut document {
        map.remove("signature");
    }
    let mut out = MANIFEST_LABEL.to_vec();
    write_canonical(&document, &mut out);
    out
}

impl Manifest {
    /// Sets the key fields and the signature.
    pub fn sign(mut self, signer: &Signer) -> Result<Self, serde_json::Error> {
        self.public_key_id = signer.key_id();
        self.public_key = signer.public_key().to_base64();
        self.signature = String::new();
        self.signature = signer.sign(&manifest_message(serde_json::to_value(&self)?));
        Ok(self)
    }
}

/// Why an export does not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The manifest is unreadable or its signature does not hold.
    #[error("manifest: {0}")]
    Manifest(String),
    /// A row does not hold: the first bad one.
    #[error("line {line} (tenant_seq {tenant_seq}): {problem}")]
    Row { line: u64, tenant_seq: i64, problem: String },
    /// The file as a whole disagrees with the manifest.
    #[error("file: {0}")]
    File(String),
}

/// What a successful verification checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub rows: u64,
    pub first_tenant_seq: Option<i64>,
    pub last_tenant_seq: Option<i64>,
    /// Whether the signature was checked against a key given by the auditor (rather than
    /// the key in the manifest itself).
    pub key_given: bool,
    /// Whether the checkpoint's position lay within the rows (and its hash matched).
    pub checkpoint_matched: bool,
}

/// Reads and checks a manifest's signature, with `key` when given, else with the key the
/// manifest names (which proves integrity, not origin).
pub fn read_manifest(text: &str, key: Option<&PublicKey>) -> Result<(Manifest, PublicKey), VerifyError> {
    let bad = |m: &str| VerifyError::Manifest(m.to_owned());
    let document: Value = serde_json::from_str(text).map_err(|e| VerifyError::Manifest(format!("not JSON: {e}")))?;
    let signature = document.get("signature").and_then(Value::as_str).ok_or_else(|| bad("has no signature"))?.to_owned();
    let manifest: Manifest = serde_json::from_value(document.clone()).map_err(|e| VerifyError::Manifest(format!("not a manifest: {e}")))?;
    if manifest.manifest_version != 1 {
        return Err(bad("unknown manifest_version"));
    }
    let embedded = PublicKey::from_base64(&manifest.public_key).map_err(|e| VerifyError::Manifest(e.to_string()))?;
    if embedded.id() != manifest.public_key_id {
        return Err(bad("public_key_id does not name public_key"));
    }
    let key = key.copied().unwrap_or(embedded);
    if key.id() != manifest.public_key_id {
        return Err(VerifyError::Manifest(format!("signed with key {}, not with the given key {}", manifest.public_key_id, key.id())));
    }
    key.verify(&manifest_message(document), &signature)
        .map_err(|_: SigningError| bad("the signature does not verify (the manifest was altered or signed by another key)"))?;
    if let Some(checkpoint) = &manifest.checkpoint {
        if checkpoint.org_id != manifest.org_id {
            return Err(bad("the checkpoint is of another organisation"));
        }
        checkpoint.verify(&key).map_err(|_| bad("the checkpoint's signature does not verify"))?;
    }
    if let Some(anchor) = &manifest.anchor {
        if anchor.org_id != manifest.org_id {
            return Err(bad("the disposal anchor is of another organisation"));
        }
        anchor.verify(&key).map_err(|_| bad("the disposal anchor's signature does not verify"))?;
    }
    Ok((manifest, key))
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    digest: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads one CSV record (RFC 4180: quoted cells may hold commas, quotes and line breaks).
/// Returns the cells and how many physical lines it spanned; `None` at the end.
fn read_csv_record(reader: &mut impl BufRead) -> std::io::Result<Option<(Vec<String>, u64)>> {
    let mut line = String::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut lines = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            if lines == 0 {
                return Ok(None);
            }
            if quoted {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "an unterminated quoted cell"));
            }
            cells.push(std::mem::take(&mut cell));
            return Ok(Some((cells, lines)));
        }
        lines += 1;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => cell.push(c),
                (false, '"') if cell.is_empty() => quoted = true,
                (false, ',') => cells.push(std::mem::take(&mut cell)),
                (false, '\r') if chars.peek() == Some(&'\n') => {}
                (false, '\n') => {
                    cells.push(std::mem::take(&mut cell));
                    return Ok(Some((cells, lines)));
                }
                (false, c) => cell.push(c),
            }
        }
    }
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

fn is_sealed(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.len() == 2 && map.contains_key("key") && map.contains_key("ct"))
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Checks one row on its own: its hash from its own `prev_hash`, and every readable column
/// against the hash input. Returns the row's hash.
pub fn check_row(row: &ExportRow, org: Uuid) -> Result<[u8; 32], String> {
    if row.org_id != org {
        return Err(format!("belongs to organisation {}, not {org}", row.org_id));
    }
    let prev = hex32(&row.prev_hash).ok_or("prev_hash is not 32 bytes of hex")?;
    let hash = hex32(&row.hash).ok_or("hash is not 32 bytes of hex")?;
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(row.link.as_bytes());
    if <[u8; 32]>::from(hasher.finalize()) != hash {
        return Err("content does not match its hash (edited)".into());
    }
    let link: Value = serde_json::from_str(&row.link).map_err(|_| "link is not JSON".to_owned())?;
    let mut canonical = Vec::new();
    write_canonical(&link, &mut canonical);
    if canonical != row.link.as_bytes() {
        return Err("link is not in canonical form".into());
    }
    let field = |name: &str| link.get(name).cloned().unwrap_or(Value::Null);
    let metadata = field("metadata");
    let meta = |path: &[&str]| path.iter().try_fold(&metadata, |v, k| v.get(k)).and_then(text_of);
    let mismatch = |column: &str| Err(format!("{column} does not match the hashed event"));
    if text_of(&field("org_id")) != Some(row.org_id.to_string()) {
        return mismatch("org_id");
    }
    if field("tenant_seq").as_i64() != Some(row.tenant_seq) {
        return mismatch("tenant_seq");
    }
    if text_of(&field("recorded_at")).as_deref() != Some(row.recorded_at.as_str()) {
        return mismatch("recorded_at");
    }
    if text_of(&field("aggregate_type")).as_deref() != Some(row.entity_type.as_str()) {
        return mismatch("entity_type");
    }
    if text_of(&field("aggregate_id")).as_deref() != Some(row.entity_id.as_str()) {
        return mismatch("entity_id");
    }
    if field("sequence").as_i64() != Some(row.entity_seq) {
        return mismatch("entity_seq");
    }
    let event_type = text_of(&field("event_type")).unwrap_or_default();
    if event_type != row.event_type {
        return mismatch("event_type");
    }
    if meta(&["actor", "member_id"]) != row.actor_id {
        return mismatch("actor_id");
    }
    if meta(&["actor", "role"]) != row.actor_role {
        return mismatch("actor_role");
    }
    if meta(&["channel"]) != row.channel {
        return mismatch("channel");
    }
    if meta(&["reason", "code"]) != row.reason_code {
        return mismatch("reason_code");
    }
    if meta(&["reason", "text"]) != row.reason {
        return mismatch("reason");
    }
    let stored_changes = metadata.get("changes").and_then(Value::as_array).cloned().unwrap_or_default();
    let shown_changes = row.changes.as_array().ok_or("changes is not a list")?;
    if stored_changes.len() != shown_changes.len() {
        return mismatch("changes");
    }
    for (stored, shown) in stored_changes.iter().zip(shown_changes) {
        if stored.get("path") != shown.get("path") {
            return mismatch("changes");
        }
        for side in ["before", "after"] {
            let (stored, shown) = (stored.get(side).unwrap_or(&Value::Null), shown.get(side).unwrap_or(&Value::Null));
            // A sealed value is shown opened (or erased): only the file digest covers it.
            let agrees = if is_sealed(stored) { shown.is_string() } else { stored == shown };
            if !agrees {
                return mismatch("changes");
            }
        }
    }
    let version = text_of(&field("event_version")).unwrap_or_default();
    let current = gemba_domain::upcast::upcast(&event_type, &version, field("payload")).map_err(|e| format!("payload: {e}"))?;
    if current != row.payload {
        return mismatch("payload");
    }
    if row.event_version != gemba_domain::upcast::current_version(&event_type) {
        return mismatch("event_version");
    }
    Ok(hash)
}

/// Verifies an export file against its (already checked) manifest, streaming: constant
/// memory whatever the size. Names the first bad row.
pub fn verify_file(file: impl Read, manifest: &Manifest) -> Result<Verified, VerifyError> {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, Hashing { inner: file, digest: Sha256::new() });
    let io = |e: std::io::Error| VerifyError::File(format!("cannot be read: {e}"));
    let mut line: u64 = 0;
    if manifest.format == ExportFormat::Csv {
        let (cells, spanned) = read_csv_record(&mut reader).map_err(io)?.ok_or_else(|| VerifyError::File("is empty (no header)".into()))?;
        line += spanned;
        if cells.iter().map(String::as_str).ne(COLUMNS) {
            return Err(VerifyError::File("the header is not the export's".into()));
        }
    }
    let mut rows: u64 = 0;
    let mut first: Option<i64> = None;
    let mut previous: Option<(i64, [u8; 32])> = None;
    let mut checkpoint_matched = false;
    let mut text = String::new();
    loop {
        let start = line + 1;
        let row = match manifest.format {
            ExportFormat::Csv => match read_csv_record(&mut reader).map_err(io)? {
                None => break,
                Some((cells, spanned)) => {
                    line += spanned;
                    ExportRow::from_csv(&cells)
                }
            },
            ExportFormat::Ndjson => {
                text.clear();
                if reader.read_line(&mut text).map_err(io)? == 0 {
                    break;
                }
                line += 1;
                serde_json::from_str::<ExportRow>(&text).map_err(|e| format!("is not an export row: {e}"))
            }
        };
        let row = row.map_err(|problem| VerifyError::Row { line: start, tenant_seq: 0, problem })?;
        let fail = |problem: String| VerifyError::Row { line: start, tenant_seq: row.tenant_seq, problem };
        let hash = check_row(&row, manifest.org_id).map_err(fail)?;
        match previous {
            Some((seq, _)) if row.tenant_seq <= seq => {
                return Err(fail(format!("out of order: comes after tenant_seq {seq}")));
            }
            Some((seq, prev_hash)) if !manifest.filtered => {
                if row.tenant_seq != seq + 1 {
                    return Err(fail(format!("rows are missing: the previous row is tenant_seq {seq}")));
                }
                if hex32(&row.prev_hash) != Some(prev_hash) {
                    return Err(fail("prev_hash is not the previous row's hash".into()));
                }
            }
            Some(_) => {}
            None => {
                if manifest.first_prev_hash.as_deref() != Some(row.prev_hash.as_str()) {
                    return Err(fail("prev_hash is not the manifest's first_prev_hash".into()));
                }
                if manifest.first_tenant_seq != Some(row.tenant_seq) {
                    return Err(fail("is not the manifest's first row".into()));
                }
                if !manifest.filtered && manifest.scope.from.is_none() {
                    // The stream starts at the genesis, or right after the disposal anchor.
                    let (start, start_hash) = match &manifest.anchor {
                        Some(anchor) => (anchor.tenant_seq + 1, hex32(&anchor.hash)),
                        None => (1, Some(GENESIS)),
                    };
                    if row.tenant_seq != start || hex32(&row.prev_hash) != start_hash {
                        return Err(fail(match manifest.anchor {
                            Some(_) => "the export starts the retained stream but this is not the event after the disposal anchor".into(),
                            None => "the export starts the stream but this is not its first event".into(),
                        }));
                    }
                }
                first = Some(row.tenant_seq);
            }
        }
        if let Some(head) = &manifest.chain_head {
            if row.tenant_seq > head.tenant_seq {
                return Err(fail(format!("lies beyond the chain head {} the export was bounded by", head.tenant_seq)));
            }
            if row.tenant_seq == head.tenant_seq && row.hash != head.hash {
                return Err(fail("hash differs from the manifest's chain head".into()));
            }
        }
        if let Some(checkpoint) = &manifest.checkpoint
            && checkpoint.tenant_seq == row.tenant_seq
        {
            if checkpoint.hash != row.hash {
                return Err(fail("hash differs from the signed checkpoint at this position".into()));
            }
            checkpoint_matched = true;
        }
        rows += 1;
        previous = Some((row.tenant_seq, hash));
    }
    let last = previous.map(|(seq, _)| seq);
    if rows != manifest.rows {
        return Err(VerifyError::File(format!("has {rows} rows, the manifest says {}", manifest.rows)));
    }
    if first != manifest.first_tenant_seq || last != manifest.last_tenant_seq {
        return Err(VerifyError::File("its first or last row is not the manifest's (rows were removed at an end)".into()));
    }
    if !manifest.filtered
        && manifest.scope.to.is_none()
        && let Some(head) = &manifest.chain_head
        && last != Some(head.tenant_seq)
    {
        return Err(VerifyError::File(format!("ends before the chain head {} (rows were removed at the end)", head.tenant_seq)));
    }
    if !manifest.filtered
        && let (Some(checkpoint), Some(first), Some(last)) = (&manifest.checkpoint, first, last)
        && (first..=last).contains(&checkpoint.tenant_seq)
        && !checkpoint_matched
    {
        return Err(VerifyError::File("the signed checkpoint's position is within the rows but was not found".into()));
    }
    let digest = hex::encode(reader.into_inner().digest.finalize());
    if digest != manifest.file_sha256 {
        return Err(VerifyError::File(format!("its sha256 {digest} is not the manifest's {}", manifest.file_sha256)));
    }
    Ok(Verified { rows, first_tenant_seq: first, last_tenant_seq: last, key_given: false, checkpoint_matched })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::chain::Link;
    use gemba_domain::OrgId;
    use serde_json::json;

    #[test]
    fn cells_that_spreadsheets_read_as_formulas_are_prefixed() {
        for cell in ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted"] {
            let escaped = escape_cell(cell);
            assert!(escaped.starts_with('\''), "{cell}");
            assert_eq!(unescape_cell(&escaped), cell);
        }
        for cell in ["plain", "{\"a\":1}", "", "1"] {
            assert_eq!(escape_cell(cell), cell);
            assert_eq!(unescape_cell(&escape_cell(cell)), cell);
        }
    }

    #[test]
    fn csv_records_round_trip_quotes_commas_and_line_breaks() {
        let cells = ["a,b", "say \"hi\"", "line\nbreak", "=1+1", "", "x"];
        let mut out = Vec::new();
        push_csv_record(&mut out, cells);
        push_csv_record(&mut out, ["second"]);
        let mut reader = std::io::BufReader::new(out.as_slice());
        let (read, lines) = read_csv_record(&mut reader).unwrap().unwrap();
        assert_eq!(lines, 2);
        assert_eq!(read.iter().map(|c| unescape_cell(c)).collect::<Vec<_>>(), cells);
        assert_eq!(read[3], "'=1+1", "written neutralised");
        assert_eq!(read_csv_record(&mut reader).unwrap().unwrap().0, vec!["second".to_owned()]);
        assert!(read_csv_record(&mut reader).unwrap().is_none());
    }

    /// A chain of `n` events of `org` as export rows, and their manifest.
    pub(crate) fn chain(org: Uuid, n: i64, format: ExportFormat, signer: &Signer) -> (Vec<u8>, Manifest) {
        let mut prev = GENESIS;
        let mut out = header(format);
        let mut last_hash = String::new();
        for seq in 1..=n {
            let payload = json!({"DefectRaised": {"title": format!("=HYPERLINK(\"http://evil/{seq}\")")}});
            let metadata = json!({"actor": {"member_id": "m1", "role": "OWNER", "display_name": {"key": "k", "ct": "c"}},
                                  "channel": "web", "reason": null,
                                  "changes": [{"path": "title", "before": null, "after": format!("=HYPERLINK(\"http://evil/{seq}\")")},
                                              {"path": "reporter", "before": null, "after": {"key": "k", "ct": "c"}}]});
            let at = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(seq);
            let link = Link {
                org_id: OrgId(org),
                tenant_seq: seq,
                aggregate_type: "Defect",
                aggregate_id: "d1",
                sequence: seq,
                event_type: "DefectRaised",
                event_version: "1",
                payload: &payload,
                metadata: &metadata,
                recorded_at: at,
            };
            let hash = link.hash(&prev);
            let row = ExportRow {
                org_id: org,
                tenant_seq: seq,
                recorded_at: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                entity_type: "Defect".into(),
                entity_id: "d1".into(),
                entity_seq: seq,
                event_type: "DefectRaised".into(),
                event_version: "1".into(),
                actor_id: Some("m1".into()),
                actor_name: Some("@Ann, \"the\" auditor".into()),
                actor_role: Some("OWNER".into()),
                channel: Some("web".into()),
                changes: json!([{"path": "title", "before": null, "after": format!("=HYPERLINK(\"http://evil/{seq}\")")},
                                {"path": "reporter", "before": null, "after": "Ann"}]),
                reason_code: None,
                reason: None,
                payload: payload.clone(),
                prev_hash: hex::encode(prev),
                hash: hex::encode(hash),
                link: String::from_utf8(link.canonical_bytes()).unwrap(),
            };
            row.write(format, &mut out).unwrap();
            prev = hash;
            last_hash = hex::encode(hash);
        }
        let manifest = Manifest {
            manifest_version: 1,
            export_id: Uuid::nil(),
            org_id: org,
            format,
            scope: ExportScope::default(),
            filtered: false,
            rows: u64::try_from(n).unwrap(),
            first_tenant_seq: (n > 0).then_some(1),
            last_tenant_seq: (n > 0).then_some(n),
            first_prev_hash: (n > 0).then(|| hex::encode(GENESIS)),
            chain_head: Some(ChainHead { tenant_seq: n, hash: last_hash }),
            checkpoint: None,
            anchor: None,
            file_sha256: hex::encode(Sha256::digest(&out)),
            generated_by: GeneratedBy { member_id: None, role: None, channel: "cli".into() },
            generated_at: DateTime::<Utc>::UNIX_EPOCH,
            public_key_id: String::new(),
            public_key: String::new(),
            signature: String::new(),
        }
        .sign(signer)
        .unwrap();
        (out, manifest)
    }

    fn verify(file: &[u8], manifest: &Manifest, key: &PublicKey) -> Result<Verified, VerifyError> {
        let (manifest, _) = read_manifest(&serde_json::to_string(manifest).unwrap(), Some(key))?;
        verify_file(file, &manifest)
    }

    fn lines(file: &[u8]) -> Vec<Vec<u8>> {
        file.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
    }

    fn resigned(file: &[u8], manifest: &Manifest, signer: &Signer) -> Manifest {
        Manifest { file_sha256: hex::encode(Sha256::digest(file)), ..manifest.clone() }.sign(signer).unwrap()
    }

    #[test]
    fn an_untouched_export_verifies_in_both_formats() {
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        for format in [ExportFormat::Csv, ExportFormat::Ndjson] {
            let (file, manifest) = chain(Uuid::from_u128(1), 5, format, &signer);
            let verified = verify(&file, &manifest, &signer.public_key()).unwrap();
            assert_eq!((verified.rows, verified.first_tenant_seq, verified.last_tenant_seq), (5, Some(1), Some(5)));
        }
    }

    #[test]
    fn tampered_rows_are_named_even_when_the_manifest_is_re_signed() {
        // The attacker holds the signing key here, so only the chain checks can catch them.
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        let key = signer.public_key();
        for format in [ExportFormat::Csv, ExportFormat::Ndjson] {
            let skip = usize::from(format == ExportFormat::Csv);
            let (file, manifest) = chain(Uuid::from_u128(1), 5, format, &signer);
            let rows = lines(&file);
            // An edited payload (inside the hash input) of the third row.
            let edited: Vec<u8> = rows
                .iter()
                .enumerate()
                .flat_map(
                    |(i, l)| if i == skip + 2 { String::from_utf8_lossy(l).replace("evil/3", "good/3").into_bytes() } else { l.clone() },
                )
                .collect();
            let err = verify(&edited, &resigned(&edited, &manifest, &signer), &key).unwrap_err();
            assert!(matches!(&err, VerifyError::Row { tenant_seq: 3, .. }), "{format:?}: {err}");
            // A removed row.
            let removed: Vec<u8> = rows.iter().enumerate().filter(|(i, _)| *i != skip + 2).flat_map(|(_, l)| l.clone()).collect();
            let err = verify(&removed, &resigned(&removed, &manifest, &signer), &key).unwrap_err();
            assert!(matches!(&err, VerifyError::Row { tenant_seq: 4, .. }), "{format:?}: {err}");
            // Two rows swapped.
            let mut swapped = rows.clone();
            swapped.swap(skip + 1, skip + 2);
            let swapped: Vec<u8> = swapped.concat();
            let err = verify(&swapped, &resigned(&swapped, &manifest, &signer), &key).unwrap_err();
            assert!(matches!(&err, VerifyError::Row { tenant_seq: 3, .. }), "{format:?}: {err}");
            // A row of another organisation.
            let (foreign, _) = chain(Uuid::from_u128(2), 5, format, &signer);
            let mut mixed = rows.clone();
            mixed[skip + 1] = lines(&foreign)[skip + 1].clone();
            let mixed: Vec<u8> = mixed.concat();
            let err = verify(&mixed, &resigned(&mixed, &manifest, &signer), &key).unwrap_err();
            assert!(matches!(&err, VerifyError::Row { tenant_seq: 2, problem, .. } if problem.contains("organisation")), "{err}");
        }
    }

    #[test]
    fn any_other_change_to_the_file_breaks_its_signed_digest() {
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        let (file, manifest) = chain(Uuid::from_u128(1), 3, ExportFormat::Csv, &signer);
        // The opened actor name is not in the hash input: only the digest covers it.
        let edited = String::from_utf8(file).unwrap().replacen("the\"\" auditor", "thX\"\" auditor", 1).into_bytes();
        let err = verify(&edited, &manifest, &signer.public_key()).unwrap_err();
        assert!(matches!(err, VerifyError::File(ref m) if m.contains("sha256")), "{err}");
    }

    #[test]
    fn a_tampered_or_foreign_manifest_is_refused() {
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        let (file, manifest) = chain(Uuid::from_u128(1), 3, ExportFormat::Ndjson, &signer);
        let mut document = serde_json::to_value(&manifest).unwrap();
        document["rows"] = json!(2);
        let err = read_manifest(&document.to_string(), Some(&signer.public_key())).unwrap_err();
        assert!(matches!(err, VerifyError::Manifest(_)), "{err}");
        let other = Signer::from_base64(&Signer::generate_base64()).unwrap();
        assert!(read_manifest(&serde_json::to_string(&manifest).unwrap(), Some(&other.public_key())).is_err());
        // Re-signed by another key, with that key embedded: refused against the real key.
        let forged = manifest.clone().sign(&other).unwrap();
        assert!(read_manifest(&serde_json::to_string(&forged).unwrap(), Some(&signer.public_key())).is_err());
        assert!(verify(&file, &manifest, &signer.public_key()).is_ok());
    }

    #[test]
    fn a_checkpoint_within_the_rows_must_match() {
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        let (file, manifest) = chain(Uuid::from_u128(1), 4, ExportFormat::Ndjson, &signer);
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let checkpoint = |hash: String| Checkpoint {
            org_id: Uuid::from_u128(1),
            tenant_seq: 2,
            signature: signer.sign(&Checkpoint::message(Uuid::from_u128(1), 2, &hash, at, &signer.key_id())),
            hash,
            recorded_at: at,
            key_id: signer.key_id(),
        };
        let row2: ExportRow = serde_json::from_slice(&lines(&file)[1]).unwrap();
        let good = Manifest { checkpoint: Some(checkpoint(row2.hash.clone())), ..manifest.clone() }.sign(&signer).unwrap();
        assert!(verify(&file, &good, &signer.public_key()).unwrap().checkpoint_matched);
        let bad = Manifest { checkpoint: Some(checkpoint("00".repeat(32))), ..manifest }.sign(&signer).unwrap();
        let err = verify(&file, &bad, &signer.public_key()).unwrap_err();
        assert!(matches!(err, VerifyError::Row { tenant_seq: 2, .. }), "{err}");
    }
}
