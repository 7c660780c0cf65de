//! Data exports: one person's data (portability) and an organisation's read models (the
//! workspace), as JSON, NDJSON or CSV, streamed in constant memory.
//!
//! - `GET /export/people/{member_id}?format=json|ndjson|csv`: the person themself, Owners
//!   and Admins (an Auditor only their own). Sections: `profile` (opened, with
//!   `personal_data_erased`), `sessions`, `zones_owned`, `zones_deputised`, `defects` (found,
//!   assigned, resolved or verified, with `relations`), `kaizens` (authored), `a3_cases`
//!   (owned), `points` (awards), `evidence_files` (uploaded), `events` (every event they
//!   authored or that is about them, with before/after). Only the person's own sealed
//!   values are opened; anyone else's show as `[redacted]`; after erasure theirs show as
//!   `[erased]`.
//! - `GET /export/workspace?format=json|ndjson`: every read-model table of the organisation
//!   ([`WORKSPACE_TABLES`]); `GET /export/workspace/{table}.csv` (or `.json`, `.ndjson`):
//!   one table, CSV with its columns in table order. Owners, Admins and Auditors; sealed
//!   personal values are opened (`[erased]` after erasure), e-mail addresses and employee
//!   numbers `[redacted]` for Auditors. The event log is not a read model: its export is
//!   `/export/events` (verifiable offline).
//!
//! Every export is recorded before the first row leaves (`DataExportRequested`) and once the
//! file is complete with its sha256 (`ExportGenerated`). Rows come from one read-only,
//! repeatable-read tenant transaction (one snapshot for every table; row-level security
//! keeps other organisations out) through a `fetch` stream and a bounded channel; sealed
//! values are opened per batch of 500 in a second tenant transaction; chunks of 64 KiB go to
//! the body. Memory does not grow with the export.
//!
//! CSV: RFC 4180 with the audit-trail export's formula-injection guard
//! (`gemba_commands::export::escape_cell`). A person's CSV is long: `section, record,
//! field, value`, one line per field; nested values are JSON.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use futures::TryStreamExt;
use gemba_commands::checkpoint;
use gemba_commands::export::push_csv_record;
use gemba_commands::tenancy::{begin_tenant, begin_tenant_snapshot};
use gemba_domain::export::{DataExportSubject, DataFormat, ExportCommand};
use gemba_domain::{MemberId, OrgId, Role, Sealed};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::app::{AppState, principal, token};
use crate::export::{Exporter, Requester, Sink, abort_chunk, exporter_principal, fail};
use crate::graphql::context::Principal;
use crate::graphql::errors::ApiError;
use crate::graphql::types::ERASED;
use crate::trail::{REDACTED, is_confidential, sealed_value};

/// Rows opened together (one key look-up per batch).
const BATCH: usize = 500;
/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

/// The read-model tables of a workspace export, in export order.
pub const WORKSPACE_TABLES: &[&str] = &[
    "organizations",
    "members",
    "sites",
    "areas",
    "zones",
    "zone_deputies",
    "audits",
    "zone_5s_scores",
    "defects",
    "defect_register",
    "red_tag_items",
    "kaizens",
    "kaizen_register",
    "kaizen_actual_lines",
    "kaizen_impact_ledger",
    "a3_register",
    "points_awards",
    "points_rulesets",
    "entity_numbers",
    "evidence_files",
    "chain_checkpoints",
    "export_manifests",
    "deleted_entities",
    "retention_disposals",
];

/// Tables with `org_id` left out of the workspace export, and why (a test checks that every
/// tenant table is in one list or the other).
pub const NOT_EXPORTED: &[(&str, &str)] = &[
    ("events", "the audit trail: /export/events, verifiable offline"),
    ("org_heads", "the chain head: in every audit-trail export's manifest"),
    ("command_log", "idempotency bookkeeping"),
    ("org_keys", "key material"),
    ("person_keys", "key material"),
    ("credentials", "password hashes"),
    ("sessions", "session token hashes"),
    ("invitations", "invitation token hashes"),
    ("number_sequences", "counters behind entity_numbers"),
    ("projection_checkpoints", "projector bookkeeping"),
    ("projection_rebuilds", "projector bookkeeping"),
    ("org_directory", "the organisation's id only"),
    ("aggregate_snapshots", "write-side state of aggregates whose early events were disposed of; RecordsDisposed carries their digest"),
];

/// Which sealed values an export opens.
#[derive(Clone, Copy, Debug)]
enum Opening {
    /// Every one; e-mail addresses and employee numbers redacted unless `sees_emails`.
    All { sees_emails: bool },
    /// Only this person's; anyone else's redacted.
    Subject(MemberId),
}

/// One section (a person's records of one kind, or one table): SQL returning `record`
/// (text) and `row` (jsonb), with `$1` the organisation, `$2` the person, `$3` the head.
#[derive(Clone, Debug)]
struct Section {
    name: String,
    sql: String,
    /// The table's columns (CSV of one table).
    columns: Vec<String>,
}

/// How the file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// A person: `sections`, CSV long.
    Person,
    /// The workspace: `tables`, CSV wide (one table only).
    Workspace,
}

impl Layout {
    fn container(self) -> &'static str {
        match self {
            Self::Person => "sections",
            Self::Workspace => "tables",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Self::Person => "section",
            Self::Workspace => "table",
        }
    }
}

enum Item {
    Begin(usize),
    Row(String, Value),
    End,
}

/// An export that was recorded and may now stream.
#[derive(Debug)]
pub struct StartedData {
    pub export_id: Uuid,
    org: OrgId,
    format: DataFormat,
    layout: Layout,
    subject: DataExportSubject,
    requester: Requester,
    sections: Vec<Section>,
    opening: Opening,
    head: i64,
}

/// What a data export wrote.
#[derive(Debug)]
pub struct DataExported {
    pub rows: u64,
    pub sha256: String,
}

/// Serialises rows into the file's format.
struct Writer {
    format: DataFormat,
    layout: Layout,
    buffer: Vec<u8>,
    digest: Sha256,
    rows: u64,
    first_row: bool,
    first_section: bool,
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(Value::String(text.to_owned()).to_string().as_bytes());
}

/// A JSON value as one CSV cell: text as is, null empty, anything else as JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Writer {
    fn start(&mut self, meta: &Value, single: Option<&Section>) {
        match (self.format, self.layout) {
            (DataFormat::Json, layout) => {
                let text = meta.to_string();
                // `{...}` without its closing brace, then the container.
                self.buffer.extend_from_slice(&text.as_bytes()[..text.len() - 1]);
                self.buffer.push(b',');
                json_string(&mut self.buffer, layout.container());
                self.buffer.extend_from_slice(b":{");
            }
            (DataFormat::Ndjson, _) => {}
            (DataFormat::Csv, Layout::Person) => push_csv_record(&mut self.buffer, ["section", "record", "field", "value"]),
            (DataFormat::Csv, Layout::Workspace) => {
                let columns = single.map(|s| s.columns.as_slice()).unwrap_or_default();
                push_csv_record(&mut self.buffer, columns.iter().map(String::as_str));
            }
        }
    }

    fn begin(&mut self, section: &Section) {
        if self.format == DataFormat::Json {
            if !self.first_section {
                self.buffer.push(b',');
            }
            self.first_section = false;
            json_string(&mut self.buffer, &section.name);
            self.buffer.extend_from_slice(b":[");
            self.first_row = true;
        }
    }

    fn row(&mut self, section: &Section, record: &str, row: &Value) {
        self.rows += 1;
        match (self.format, self.layout) {
            (DataFormat::Json, _) => {
                if !self.first_row {
                    self.buffer.push(b',');
                }
                self.first_row = false;
                self.buffer.extend_from_slice(row.to_string().as_bytes());
            }
            (DataFormat::Ndjson, layout) => {
                let line = serde_json::json!({ layout.key(): section.name, "record": record, "row": row });
                self.buffer.extend_from_slice(line.to_string().as_bytes());
                self.buffer.push(b'\n');
            }
            (DataFormat::Csv, Layout::Person) => {
                if let Value::Object(fields) = row {
                    for (field, value) in fields {
                        let value = cell(Some(value));
                        push_csv_record(&mut self.buffer, [section.name.as_str(), record, field.as_str(), value.as_str()]);
                    }
                }
            }
            (DataFormat::Csv, Layout::Workspace) => {
                let cells: Vec<String> = section.columns.iter().map(|c| cell(row.get(c))).collect();
                push_csv_record(&mut self.buffer, cells.iter().map(String::as_str));
            }
        }
    }

    fn end(&mut self) {
        if self.format == DataFormat::Json {
            self.buffer.push(b']');
        }
    }

    fn finish(&mut self) {
        if self.format == DataFormat::Json {
            self.buffer.extend_from_slice(b"}}\n");
        }
    }

    async fn flush(&mut self, sink: &Sink, force: bool) -> Result<(), ApiError> {
        if self.buffer.is_empty() || (!force && self.buffer.len() < CHUNK) {
            return Ok(());
        }
        self.digest.update(&self.buffer[..]);
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK + 4096)));
        sink.send(Ok(chunk)).await.map_err(|_| ApiError::Conflict("the export's reader went away".into()))
    }
}

/// Collects the sealed values of `value` (depth first) that `opening` opens.
fn collect_sealed(value: &Value, opening: Opening, out: &mut Vec<Sealed>) {
    if let Some(sealed) = sealed_value(value) {
        if matches!(opening, Opening::All { .. }) || matches!(opening, Opening::Subject(s) if s == sealed.key) {
            out.push(sealed);
        }
        return;
    }
    match value {
        Value::Object(map) => map.values().for_each(|v| collect_sealed(v, opening, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_sealed(v, opening, out)),
        _ => {}
    }
}

/// Replaces the sealed values of `value` in the order [`collect_sealed`] found them.
fn replace_sealed(value: &mut Value, field: Option<&str>, opening: Opening, opened: &mut impl Iterator<Item = Option<String>>) {
    if let Some(sealed) = sealed_value(value) {
        let shown = match opening {
            Opening::Subject(subject) if subject != sealed.key => REDACTED.to_owned(),
            Opening::All { sees_emails: false } if field.is_some_and(is_confidential) => {
                opened.next();
                REDACTED.to_owned()
            }
            _ => opened.next().flatten().unwrap_or_else(|| ERASED.to_owned()),
        };
        *value = Value::String(shown);
        return;
    }
    match value {
        Value::Object(map) => {
            // A change `{path, before, after}` names its field in `path`.
            let path = map.get("path").and_then(Value::as_str).map(str::to_owned);
            for (key, v) in map.iter_mut() {
                let field =
                    if matches!(key.as_str(), "before" | "after") { path.as_deref().or(Some(key.as_str())) } else { Some(key.as_str()) };
                replace_sealed(v, field, opening, opened);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_sealed(v, field, opening, opened)),
        _ => {}
    }
}

fn person_sections() -> Vec<Section> {
    let section = |name: &str, sql: &str| Section { name: name.to_owned(), sql: sql.to_owned(), columns: Vec::new() };
    vec![
        section(
            "profile",
            "select m.member_id::text as record,
                    (to_jsonb(m) - 'org_id') || jsonb_build_object('personal_data_erased',
                        not exists(select 1 from person_keys k where k.org_id = m.org_id and k.person_id = m.member_id)) as row
               from members m where m.org_id = $1 and m.member_id = $2 and $3::bigint is not null",
        ),
        section(
            "sessions",
            "select s.id::text as record,
                    jsonb_build_object('id', s.id, 'created_at', s.created_at, 'expires_at', s.expires_at, 'revoked_at', s.revoked_at) as row
               from sessions s where s.org_id = $1 and s.member_id = $2 and $3::bigint is not null order by s.created_at, s.id",
        ),
        section(
            "zones_owned",
            "select z.zone_id::text as record, to_jsonb(z) - 'org_id' as row
               from zones z where z.org_id = $1 and z.owner_member_id = $2 and $3::bigint is not null order by z.zone_id",
        ),
        section(
            "zones_deputised",
            "select d.zone_id::text as record, to_jsonb(d) - 'org_id' as row
               from zone_deputies d where d.org_id = $1 and d.member_id = $2 and $3::bigint is not null order by d.zone_id",
        ),
        section(
            "defects",
            "select d.defect_id::text as record,
                    (to_jsonb(d) - 'org_id') || jsonb_build_object('relations', array_remove(array[
                        case when d.found_by = $2 then 'found_by' end, case when d.assignee_id = $2 then 'assignee' end,
                        case when d.resolved_by = $2 then 'resolved_by' end, case when d.verified_by = $2 then 'verified_by' end], null)) as row
               from defect_register d
              where d.org_id = $1 and $2 in (d.found_by, d.assignee_id, d.resolved_by, d.verified_by) and $3::bigint is not null
              order by d.raised_at, d.defect_id",
        ),
        section(
            "kaizens",
            "select k.kaizen_id::text as record, to_jsonb(k) - 'org_id' as row
               from kaizen_register k where k.org_id = $1 and $2 = any(k.authors) and $3::bigint is not null order by k.drafted_at, k.kaizen_id",
        ),
        section(
            "a3_cases",
            "select a.a3_id::text as record, to_jsonb(a) - 'org_id' as row
               from a3_register a where a.org_id = $1 and a.owner_id = $2 and $3::bigint is not null order by a.opened_at, a.a3_id",
        ),
        section(
            "points",
            "select p.award_id as record, to_jsonb(p) - 'org_id' as row
               from points_awards p where p.org_id = $1 and p.member_id = $2 and $3::bigint is not null order by p.earned_at, p.award_id",
        ),
        section(
            "evidence_files",
            "select f.sha256 as record, to_jsonb(f) - 'org_id' as row
               from evidence_files f where f.org_id = $1 and f.uploaded_by = $2 and $3::bigint is not null order by f.uploaded_at, f.sha256",
        ),
        section(
            "events",
            "select e.tenant_seq::text as record,
                    jsonb_build_object('tenant_seq', e.tenant_seq, 'recorded_at', e.recorded_at, 'entity_type', e.aggregate_type,
                        'entity_id', e.aggregate_id, 'event_type', e.event_type,
                        'relation', case when e.metadata -> 'actor' ->> 'member_id' = $2::text then 'actor' else 'subject' end,
                        'actor', e.metadata -> 'actor', 'channel', e.metadata -> 'channel', 'reason', e.metadata -> 'reason',
                        'changes', e.metadata -> 'changes') as row
               from events e
              where e.org_id = $1 and e.tenant_seq <= $3
                and (e.metadata -> 'actor' ->> 'member_id' = $2::text or e.aggregate_id = $2::text)
              order by e.tenant_seq",
        ),
    ]
}

/// The sections of tables of a workspace export: primary-key order, all columns.
async fn workspace_sections(conn: &mut sqlx::PgConnection, tables: &[&str]) -> Result<Vec<Section>, sqlx::Error> {
    let mut sections = Vec::with_capacity(tables.len());
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "select column_name::text from information_schema.columns
              where table_schema = 'public' and table_name = $1 order by ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        let key: Vec<String> = sqlx::query_scalar(
            "select a.attname::text from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
              where i.indrelid = format('public.%I', $1::text)::regclass and i.indisprimary
              order by array_position(i.indkey::int2[], a.attnum)",
        )
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        let key: Vec<String> = key.into_iter().filter(|c| c != "org_id").collect();
        let order = if key.is_empty() { "1".to_owned() } else { key.iter().map(|c| format!("t.\"{c}\"")).collect::<Vec<_>>().join(", ") };
        let record = if key.is_empty() {
            "''".to_owned()
        } else {
            key.iter().map(|c| format!("t.\"{c}\"::text")).collect::<Vec<_>>().join(" || '/' || ")
        };
        sections.push(Section {
            name: (*table).to_owned(),
            sql: format!(
                "select {record} as record, to_jsonb(t) as row from public.\"{table}\" t
                  where t.org_id = $1 and $2::uuid is null and $3::bigint is not null order by {order}"
            ),
            columns,
        });
    }
    Ok(sections)
}

impl Exporter {
    /// Records a data export of `subject` and prepares its sections; nothing is sent yet.
    pub async fn start_data(
        &self,
        org: OrgId,
        requester: Requester,
        subject: DataExportSubject,
        format: DataFormat,
    ) -> Result<StartedData, ApiError> {
        let viewer_role = match &requester {
            Requester::Member { principal, .. } => Some(principal.role),
            Requester::Operator => None,
        };
        let (layout, opening, tables) = match &subject {
            DataExportSubject::Person { member_id } => {
                if let Requester::Member { principal, .. } = &requester
                    && principal.member != *member_id
                    && !matches!(principal.role, Role::Owner | Role::Admin)
                {
                    return Err(ApiError::Forbidden("a person's data is exported by themself, an owner or an admin".into()));
                }
                (Layout::Person, Opening::Subject(*member_id), Vec::new())
            }
            DataExportSubject::Workspace { table } => {
                if viewer_role == Some(Role::Member) {
                    return Err(ApiError::Forbidden("exports are for owners, admins and auditors".into()));
                }
                let tables: Vec<&str> = match table {
                    None => WORKSPACE_TABLES.to_vec(),
                    Some(table) => vec![WORKSPACE_TABLES.iter().copied().find(|t| t == table).ok_or(ApiError::NotFound)?],
                };
                if format == DataFormat::Csv && tables.len() != 1 {
                    return Err(ApiError::Validation {
                        field: "format".into(),
                        message: "CSV is one file per table: /export/workspace/{table}.csv".into(),
                    });
                }
                let sees_emails = matches!(viewer_role, None | Some(Role::Owner | Role::Admin));
                (Layout::Workspace, Opening::All { sees_emails }, tables)
            }
        };
        let (head, sections) = {
            let mut tx = begin_tenant(self.gemba.pool(), org).await?;
            if let DataExportSubject::Person { member_id } = &subject {
                let known: bool = sqlx::query_scalar("select exists(select 1 from members where org_id = $1 and member_id = $2)")
                    .bind(org.uuid())
                    .bind(member_id.uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                if !known {
                    return Err(ApiError::NotFound);
                }
            }
            let head = checkpoint::head(&mut tx, org).await?.map_or(0, |h| h.0);
            let sections = if layout == Layout::Person { person_sections() } else { workspace_sections(&mut tx, &tables).await? };
            tx.commit().await?;
            (head, sections)
        };
        let export_id = Uuid::now_v7();
        let actor = match &requester {
            Requester::Member { principal, .. } => Some(gemba_domain::Actor { member_id: principal.member, role: principal.role }),
            Requester::Operator => None,
        };
        let command = ExportCommand::RequestData { requested_by: actor, subject: subject.clone(), format };
        self.gemba.record_export(&self.context(org, &requester), export_id, command).await?;
        Ok(StartedData { export_id, org, format, layout, subject, requester, sections, opening, head })
    }

    /// Streams a started data export into `sink`, then records `ExportGenerated` with the
    /// file's digest. On failure the sink receives an error item (the body is incomplete).
    pub async fn run_data(&self, started: StartedData, sink: &Sink) -> Result<DataExported, ApiError> {
        match self.stream_data(started, sink).await {
            Ok(done) => Ok(done),
            Err(error) => {
                let _ = sink.send(Err(abort_chunk(&error.message()))).await;
                Err(error)
            }
        }
    }

    async fn stream_data(&self, started: StartedData, sink: &Sink) -> Result<DataExported, ApiError> {
        let StartedData { export_id, org, format, layout, subject, requester, sections, opening, head } = started;
        let person = match &subject {
            DataExportSubject::Person { member_id } => Some(member_id.uuid()),
            DataExportSubject::Workspace { .. } => None,
        };
        let (items_tx, mut items_rx) = mpsc::channel::<Result<Item, sqlx::Error>>(BATCH * 2);
        let producer = {
            let pool = self.gemba.pool().clone();
            let sections = sections.clone();
            tokio::spawn(async move {
                let result: Result<(), sqlx::Error> = async {
                    let mut tx = begin_tenant_snapshot(&pool, org).await?;
                    for (index, section) in sections.iter().enumerate() {
                        if items_tx.send(Ok(Item::Begin(index))).await.is_err() {
                            return Ok(());
                        }
                        let mut rows =
                            sqlx::query_as::<_, (String, Value)>(&section.sql).bind(org.uuid()).bind(person).bind(head).fetch(&mut *tx);
                        while let Some((record, row)) = rows.try_next().await? {
                            if items_tx.send(Ok(Item::Row(record, row))).await.is_err() {
                                return Ok(()); // the consumer stopped
                            }
                        }
                        drop(rows);
                        if items_tx.send(Ok(Item::End)).await.is_err() {
                            return Ok(());
                        }
                    }
                    tx.commit().await
                }
                .await;
                if let Err(error) = result {
                    let _ = items_tx.send(Err(error)).await;
                }
            })
        };

        let mut writer = Writer {
            format,
            layout,
            buffer: Vec::with_capacity(CHUNK + 4096),
            digest: Sha256::new(),
            rows: 0,
            first_row: true,
            first_section: true,
        };
        let mut meta = serde_json::json!({
            "export": if layout == Layout::Person { "person" } else { "workspace" },
            "export_id": export_id,
            "org_id": org.uuid(),
            "generated_at": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            "up_to_tenant_seq": head,
        });
        if let (Some(person), Value::Object(map)) = (person, &mut meta) {
            map.insert("member_id".into(), Value::String(person.to_string()));
        }
        writer.start(&meta, sections.first().filter(|_| sections.len() == 1));
        let mut keys = begin_tenant(self.gemba.pool(), org).await?;
        let mut current: Option<usize> = None;
        let mut pending: Vec<(String, Value)> = Vec::with_capacity(BATCH);
        let outcome: Result<(), ApiError> = async {
            let mut done = false;
            while !done {
                let mut boundary: Vec<Item> = Vec::new();
                match items_rx.recv().await {
                    None => done = true,
                    Some(item) => match item? {
                        Item::Row(record, row) => pending.push((record, row)),
                        other => boundary.push(other),
                    },
                }
                while boundary.is_empty() && !done && pending.len() < BATCH {
                    match items_rx.try_recv() {
                        Ok(item) => match item? {
                            Item::Row(record, row) => pending.push((record, row)),
                            other => boundary.push(other),
                        },
                        Err(_) => break,
                    }
                }
                if !pending.is_empty() {
                    let section = current.and_then(|i| sections.get(i)).ok_or_else(|| ApiError::internal("a row outside a section"))?;
                    let mut sealed = Vec::new();
                    for (_, row) in &pending {
                        collect_sealed(row, opening, &mut sealed);
                    }
                    let refs: Vec<&Sealed> = sealed.iter().collect();
                    let opened = self.gemba.keyring().open_all(&mut keys, org, &refs).await.map_err(ApiError::internal)?;
                    let mut opened = opened.into_iter();
                    for (record, mut row) in pending.drain(..) {
                        replace_sealed(&mut row, None, opening, &mut opened);
                        writer.row(section, &record, &row);
                    }
                    writer.flush(sink, false).await?;
                }
                for item in boundary {
                    match item {
                        Item::Begin(index) => {
                            let section = sections.get(index).ok_or_else(|| ApiError::internal("an unknown section"))?;
                            writer.begin(section);
                            current = Some(index);
                        }
                        Item::End => {
                            writer.end();
                            current = None;
                        }
                        Item::Row(..) => {}
                    }
                }
            }
            writer.finish();
            writer.flush(sink, true).await
        }
        .await;
        producer.abort();
        keys.commit().await?;
        outcome?;

        let sha256 = hex::encode(std::mem::take(&mut writer.digest).finalize());
        let complete = ExportCommand::Complete { rows: writer.rows, first_seq: None, last_seq: None, sha256: sha256.clone() };
        self.gemba.record_export(&self.context(org, &requester), export_id, complete).await?;
        Ok(DataExported { rows: writer.rows, sha256 })
    }
}

fn content(format: DataFormat) -> (&'static str, &'static str) {
    match format {
        DataFormat::Json => ("application/json", "json"),
        DataFormat::Ndjson => ("application/x-ndjson", "ndjson"),
        DataFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    }
}

/// Streams a started data export as the HTTP body.
fn respond(state: &AppState, started: StartedData, name: &str) -> Response {
    let export_id = started.export_id;
    let (content_type, extension) = content(started.format);
    let (sink, mut chunks) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let exporter = state.exporter.clone();
    tokio::spawn(async move {
        if let Err(error) = exporter.run_data(started, &sink).await {
            tracing::warn!(export.id = %export_id, code = error.code(), "a data export stopped before its end");
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| chunks.poll_recv(cx)));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let pairs = [
        (header::CONTENT_DISPOSITION.as_str(), format!("attachment; filename=\"gemba-{name}-{export_id}.{extension}\"")),
        ("gemba-export-id", export_id.to_string()),
    ];
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    response
}

fn only_format(params: &HashMap<String, String>, default: &str) -> Result<DataFormat, ApiError> {
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "format") {
        return Err(ApiError::Validation { field: unknown.clone(), message: "is not a parameter (use format)".into() });
    }
    let text = params.get("format").map(String::as_str).filter(|f| !f.is_empty()).unwrap_or(default);
    DataFormat::parse("format", text).map_err(|e| gemba_domain::DomainError::Invalid(e).into())
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = token(headers).ok_or(ApiError::Unauthenticated)?;
    principal(&state.gemba, &token).await?.ok_or(ApiError::Unauthenticated)
}

/// `GET /export/people/{member_id}?format=json|ndjson|csv`.
pub async fn export_person(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(member_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let started = async {
        let principal = signed_in(&state, &headers).await?;
        let member = MemberId::parse(&member_id)?;
        let format = only_format(&params, "json")?;
        let org = principal.org;
        let requester = Requester::Member { principal, request_id: Uuid::now_v7() };
        state.exporter.start_data(org, requester, DataExportSubject::Person { member_id: member }, format).await
    };
    match started.await {
        Ok(started) => respond(&state, started, "person"),
        Err(error) => fail(error),
    }
}

/// `GET /export/workspace?format=json|ndjson`.
pub async fn export_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let started = async {
        let principal = exporter_principal(&state, &headers).await?;
        let format = only_format(&params, "json")?;
        let org = principal.org;
        let requester = Requester::Member { principal, request_id: Uuid::now_v7() };
        state.exporter.start_data(org, requester, DataExportSubject::Workspace { table: None }, format).await
    };
    match started.await {
        Ok(started) => respond(&state, started, "workspace"),
        Err(error) => fail(error),
    }
}

/// `GET /export/workspace/{table}.csv` (or `.json`, `.ndjson`): one table.
pub async fn export_workspace_table(State(state): State<AppState>, headers: HeaderMap, Path(file): Path<String>) -> Response {
    let started = async {
        let principal = exporter_principal(&state, &headers).await?;
        let (table, extension) = file.rsplit_once('.').ok_or_else(|| ApiError::Validation {
            field: "table".into(),
            message: "must be a table name with .csv, .json or .ndjson".into(),
        })?;
        let format = DataFormat::parse("format", extension).map_err(|e| ApiError::from(gemba_domain::DomainError::Invalid(e)))?;
        if !WORKSPACE_TABLES.contains(&table) {
            return Err(ApiError::NotFound);
        }
        let org = principal.org;
        let requester = Requester::Member { principal, request_id: Uuid::now_v7() };
        state.exporter.start_data(org, requester, DataExportSubject::Workspace { table: Some(table.to_owned()) }, format).await
    };
    match started.await {
        Ok(started) => respond(&state, started, "workspace"),
        Err(error) => fail(error),
    }
}
