//! Audit-trail exports (reference/domain.md §7): every export is itself recorded in the
//! organisation's stream, one stream per export (id = the export id).
//!
//! `ExportRequested` is appended before the first row leaves the server, so an export that
//! is interrupted is still on record; `ExportGenerated` is appended once the file is
//! complete and carries its digest. Both land after every row the export covers (the rows
//! are bounded by `up_to_seq`, the chain head read before the request was appended).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::MemberId;
use crate::values::{Reason, Role};

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Comma-separated values (RFC 4180), formula-injection safe.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl ExportFormat {
    /// Parses `csv` or `ndjson`.
    pub fn parse(field: &str, text: &str) -> Result<Self, ValidationError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "ndjson" | "jsonl" => Ok(Self::Ndjson),
            _ => Err(ValidationError::new(field, "must be csv or ndjson")),
        }
    }

    /// The wire name (`csv`, `ndjson`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }
}

/// The file format of a data export (a person's data, the workspace's read models).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values (RFC 4180), formula-injection safe.
    Csv,
}

impl DataFormat {
    /// Parses `json`, `ndjson` or `csv`.
    pub fn parse(field: &str, text: &str) -> Result<Self, ValidationError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "ndjson" | "jsonl" => Ok(Self::Ndjson),
            "csv" => Ok(Self::Csv),
            _ => Err(ValidationError::new(field, "must be json, ndjson or csv")),
        }
    }

    /// The wire name (`json`, `ndjson`, `csv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }
}

/// What a data export contains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataExportSubject {
    /// One person's data (portability): profile, membership, their records and the events
    /// they authored or that are about them.
    Person {
        /// The person's membership.
        member_id: MemberId,
    },
    /// The organisation's read models: every table, or one.
    Workspace {
        /// One table (`None`: all of them).
        table: Option<String>,
    },
}

/// The rows an export selects; a missing field matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportScope {
    /// Recorded at or after (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Recorded before (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// One entity (aggregate id).
    pub entity_id: Option<String>,
    /// One acting member.
    pub actor_id: Option<MemberId>,
    /// Only these event types.
    pub event_types: Option<Vec<String>>,
}

impl ExportScope {
    /// Whether the scope selects rows other than a contiguous range of the stream (an
    /// entity, a person or event types): such rows are not consecutive in `tenant_seq`.
    pub fn is_filtered(&self) -> bool {
        self.entity_id.is_some() || self.actor_id.is_some() || self.event_types.is_some()
    }

    /// Checks the scope: `from` before `to`, non-empty ids and event types.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(ValidationError::new("to", "must be after from"));
        }
        if self.entity_id.as_deref().is_some_and(|e| e.trim().is_empty() || e.len() > 200) {
            return Err(ValidationError::new("entity", "must be an entity id"));
        }
        if let Some(types) = &self.event_types
            && (types.is_empty() || types.iter().any(|t| t.is_empty() || t.len() > 100 || !t.chars().all(|c| c.is_ascii_alphanumeric())))
        {
            return Err(ValidationError::new("eventType", "must be event type names such as DefectRaised"));
        }
        Ok(())
    }
}

/// State of one export.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Export {
    requested: bool,
    generated: bool,
}

/// Commands of an export.
#[derive(Clone, Debug)]
pub enum ExportCommand {
    /// Records a requested export of the audit trail, covering events up to `up_to_seq`.
    /// `requested_by` is `None` for an operator at the command line (who holds the
    /// database credentials); a member must be an Owner, Admin or Auditor.
    Request { requested_by: Option<Actor>, format: ExportFormat, scope: ExportScope, up_to_seq: i64 },
    /// Records the finished file of a requested export.
    Complete { rows: u64, first_seq: Option<i64>, last_seq: Option<i64>, sha256: String },
    /// Records a requested data export (a person's data or the workspace's read models),
    /// before any row is sent. A person's data is exported by that person, an Owner or an
    /// Admin; the workspace by an Owner, Admin or Auditor; `None` is an operator.
    RequestData { requested_by: Option<Actor>, subject: DataExportSubject, format: DataFormat },
}

/// Events of an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExportEvent {
    /// An export of the audit trail was requested (before any row was sent).
    ExportRequested { requested_by: Option<MemberId>, format: ExportFormat, scope: ExportScope, up_to_seq: i64 },
    /// The export's file was complete: its rows and digest.
    ExportGenerated { rows: u64, first_seq: Option<i64>, last_seq: Option<i64>, sha256: String },
    /// A data export was requested (before any row was sent).
    DataExportRequested { requested_by: Option<MemberId>, subject: DataExportSubject, format: DataFormat },
}

impl DomainEvent for ExportEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ExportRequested { .. } => "ExportRequested".to_owned(),
            Self::ExportGenerated { .. } => "ExportGenerated".to_owned(),
            Self::DataExportRequested { .. } => "DataExportRequested".to_owned(),
        }
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for ExportEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::ExportRequested { format, scope, up_to_seq, .. } => {
                vec![Change::created("format", format), Change::created("scope", scope), Change::created("upToSeq", up_to_seq)]
            }
            Self::ExportGenerated { rows, sha256, .. } => vec![Change::created("rows", rows), Change::created("sha256", sha256)],
            Self::DataExportRequested { subject, format, .. } => {
                vec![Change::created("subject", subject), Change::created("format", format)]
            }
        }
    }
    fn reason(&self) -> Option<&Reason> {
        None
    }
}

impl Aggregate for Export {
    const TYPE: &'static str = "Export";
    type Command = ExportCommand;
    type Event = ExportEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            ExportCommand::Request { requested_by, format, scope, up_to_seq } => {
                if let Some(actor) = requested_by
                    && actor.role == Role::Member
                {
                    return Err(DomainError::Forbidden("exports are for owners, admins and auditors"));
                }
                if self.requested {
                    return Err(DomainError::Rule("this export was already requested"));
                }
                scope.validate()?;
                if up_to_seq < 0 {
                    return Err(ValidationError::new("upToSeq", "must not be negative").into());
                }
                let requested_by = requested_by.map(|a| a.member_id);
                sink.write(ExportEvent::ExportRequested { requested_by, format, scope, up_to_seq }, self).await;
            }
            ExportCommand::RequestData { requested_by, subject, format } => {
                if let Some(actor) = requested_by {
                    match &subject {
                        DataExportSubject::Person { member_id } => {
                            if actor.member_id != *member_id && !matches!(actor.role, Role::Owner | Role::Admin) {
                                return Err(DomainError::Forbidden("a person's data is exported by themself, an owner or an admin"));
                            }
                        }
                        DataExportSubject::Workspace { .. } => {
                            if actor.role == Role::Member {
                                return Err(DomainError::Forbidden("exports are for owners, admins and auditors"));
                            }
                        }
                    }
                }
                if self.requested {
                    return Err(DomainError::Rule("this export was already requested"));
                }
                if let DataExportSubject::Workspace { table: Some(table) } = &subject
                    && (table.is_empty()
                        || table.len() > 63
                        || !table.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                {
                    return Err(ValidationError::new("table", "must be a table name").into());
                }
                let requested_by = requested_by.map(|a| a.member_id);
                sink.write(ExportEvent::DataExportRequested { requested_by, subject, format }, self).await;
            }
            ExportCommand::Complete { rows, first_seq, last_seq, sha256 } => {
                if !self.requested {
                    return Err(DomainError::NotFound);
                }
                if self.generated {
                    return Err(DomainError::Rule("this export is already complete"));
                }
                if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ValidationError::new("sha256", "must be 64 hex digits").into());
                }
                sink.write(ExportEvent::ExportGenerated { rows, first_seq, last_seq, sha256 }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ExportEvent::ExportRequested { .. } | ExportEvent::DataExportRequested { .. } => self.requested = true,
            ExportEvent::ExportGenerated { .. } => self.generated = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Export>;

    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(7)), role }
    }
    fn request(requested_by: Option<Actor>, scope: ExportScope) -> ExportCommand {
        ExportCommand::Request { requested_by, format: ExportFormat::Csv, scope, up_to_seq: 12 }
    }
    fn requested(requested_by: Option<MemberId>) -> ExportEvent {
        ExportEvent::ExportRequested { requested_by, format: ExportFormat::Csv, scope: ExportScope::default(), up_to_seq: 12 }
    }
    fn complete() -> ExportCommand {
        ExportCommand::Complete { rows: 3, first_seq: Some(1), last_seq: Some(12), sha256: "ab".repeat(32) }
    }

    #[test]
    fn owners_admins_auditors_and_operators_request_exports() {
        for who in [Some(actor(Role::Owner)), Some(actor(Role::Admin)), Some(actor(Role::Auditor))] {
            Given::with(())
                .given_no_previous_events()
                .when(request(who, ExportScope::default()))
                .then_expect_events(vec![requested(who.map(|a| a.member_id))]);
        }
        Given::with(()).given_no_previous_events().when(request(None, ExportScope::default())).then_expect_events(vec![requested(None)]);
    }

    #[test]
    fn members_do_not_export() {
        let result =
            Given::with(()).given_no_previous_events().when(request(Some(actor(Role::Member)), ExportScope::default())).inspect_result();
        assert!(matches!(result, Err(DomainError::Forbidden(_))));
    }

    #[test]
    fn a_scope_with_an_empty_time_range_is_refused() {
        let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let scope = ExportScope { from: Some(now), to: Some(now), ..ExportScope::default() };
        let result = Given::with(()).given_no_previous_events().when(request(None, scope)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(_))));
        let scope = ExportScope { event_types: Some(vec!["Defect Raised".into()]), ..ExportScope::default() };
        let result = Given::with(()).given_no_previous_events().when(request(None, scope)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(_))));
    }

    #[test]
    fn a_requested_export_completes_once() {
        let generated = ExportEvent::ExportGenerated { rows: 3, first_seq: Some(1), last_seq: Some(12), sha256: "ab".repeat(32) };
        Given::with(()).given(vec![requested(None)]).when(complete()).then_expect_events(vec![generated.clone()]);
        let again = Given::with(()).given(vec![requested(None), generated]).when(complete()).inspect_result();
        assert!(matches!(again, Err(DomainError::Rule(_))));
        let unrequested = Given::with(()).given_no_previous_events().when(complete()).inspect_result();
        assert!(matches!(unrequested, Err(DomainError::NotFound)));
        let bad = ExportCommand::Complete { rows: 0, first_seq: None, last_seq: None, sha256: "zz".into() };
        assert!(matches!(Given::with(()).given(vec![requested(None)]).when(bad).inspect_result(), Err(DomainError::Invalid(_))));
    }

    fn data(requested_by: Option<Actor>, subject: DataExportSubject) -> ExportCommand {
        ExportCommand::RequestData { requested_by, subject, format: DataFormat::Json }
    }

    #[test]
    fn a_persons_data_is_exported_by_themself_an_owner_or_an_admin() {
        let person = DataExportSubject::Person { member_id: MemberId(Uuid::from_u128(7)) };
        let other = DataExportSubject::Person { member_id: MemberId(Uuid::from_u128(8)) };
        for role in [Role::Member, Role::Auditor, Role::Owner] {
            let result = Given::with(()).given_no_previous_events().when(data(Some(actor(role)), person.clone())).inspect_result();
            assert!(result.is_ok(), "{role:?} exports their own data");
        }
        for (role, allowed) in [(Role::Owner, true), (Role::Admin, true), (Role::Auditor, false), (Role::Member, false)] {
            let result = Given::with(()).given_no_previous_events().when(data(Some(actor(role)), other.clone())).inspect_result();
            assert_eq!(result.is_ok(), allowed, "{role:?}");
            if !allowed {
                assert!(matches!(result, Err(DomainError::Forbidden(_))));
            }
        }
    }

    #[test]
    fn the_workspace_is_exported_by_owners_admins_and_auditors() {
        let all = DataExportSubject::Workspace { table: None };
        for (role, allowed) in [(Role::Owner, true), (Role::Admin, true), (Role::Auditor, true), (Role::Member, false)] {
            let result = Given::with(()).given_no_previous_events().when(data(Some(actor(role)), all.clone())).inspect_result();
            assert_eq!(result.is_ok(), allowed, "{role:?}");
        }
        let bad = DataExportSubject::Workspace { table: Some("members; drop".into()) };
        assert!(matches!(Given::with(()).given_no_previous_events().when(data(None, bad)).inspect_result(), Err(DomainError::Invalid(_))));
    }

    #[test]
    fn entity_person_and_type_scopes_are_filtered_time_ranges_are_not() {
        assert!(!ExportScope { from: Some(chrono::Utc::now()), ..ExportScope::default() }.is_filtered());
        assert!(ExportScope { entity_id: Some("x".into()), ..ExportScope::default() }.is_filtered());
        assert!(ExportScope { actor_id: Some(MemberId(Uuid::nil())), ..ExportScope::default() }.is_filtered());
    }
}
