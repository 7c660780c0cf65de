//! The points policy: awards derived from domain events, appended in the same transaction
//! as the events that earn them (so no award is ever lost or given twice).
//!
//! Default rules (reference/domain.md §4.9), version 1:
//! - `DefectClosed`: the resolver earns 3, plus 1 when closed by the original due date;
//!   the verifier earns 1, unless they also found the defect.
//! - `AuditSubmitted`: each member who conducted the audit earns 2.
//! - `KaizenSavingsVerified`: each author earns 5.
//!
//! Awards are idempotent per rule, source event and member (`points_awards` primary key),
//! and Auditors (or members no longer active) never accrue points.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::DomainEvent;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use gemba_domain::defect::DefectEvent;
use gemba_domain::five_s_audit::AuditEvent;
use gemba_domain::kaizen::KaizenEvent;
use gemba_domain::points::{Award, PointsCommand, PointsLedger};
use gemba_domain::{Audited, MemberId, OrgId};
use serde::de::DeserializeOwned;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::envelope::{ActorRecord, Channel, Envelope};
use crate::registry::parse_role;
use crate::store::{Appended, StoreError};

/// The version of the default rules.
pub const RULE_VERSION: u32 = 1;

fn payload<E: DeserializeOwned>(stored: &Appended) -> Option<E> {
    serde_json::from_value(stored.event.payload.clone()).ok()
}

/// The awards one stored event earns: (beneficiary, rule, points, earned at).
pub fn awards_for(stored: &Appended) -> Vec<(MemberId, &'static str, i64, DateTime<Utc>)> {
    match stored.event.aggregate_type.as_str() {
        "Defect" => match payload::<DefectEvent>(stored) {
            Some(DefectEvent::DefectClosed { verified_by, verified_at, resolved_by, found_by, original_due_at, .. }) => {
                let mut awards = Vec::new();
                if let Some(resolver) = resolved_by {
                    let on_time = original_due_at.is_some_and(|due| verified_at <= due);
                    awards.push((resolver, "defect_resolved", if on_time { 4 } else { 3 }, verified_at));
                }
                if found_by != Some(verified_by) {
                    awards.push((verified_by, "defect_verified", 1, verified_at));
                }
                awards
            }
            _ => Vec::new(),
        },
        "FiveSAudit" => match payload::<AuditEvent>(stored) {
            Some(AuditEvent::AuditSubmitted { conducted_by, submitted_at, .. }) => {
                conducted_by.into_iter().map(|m| (m, "audit_submitted", 2, submitted_at)).collect()
            }
            _ => Vec::new(),
        },
        "Kaizen" => match payload::<KaizenEvent>(stored) {
            Some(KaizenEvent::KaizenSavingsVerified { authors, verified_at, .. }) => {
                authors.into_iter().map(|m| (m, "kaizen_savings_verified", 5, verified_at)).collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Derives the `PointsAwarded` events earned by `appended`, recording each award once.
pub async fn derive(conn: &mut PgConnection, org: OrgId, appended: &[Appended]) -> Result<Vec<SerializedEvent>, StoreError> {
    let mut derived: Vec<SerializedEvent> = Vec::new();
    for stored in appended {
        let source_envelope: Option<Envelope> = serde_json::from_value(stored.event.metadata.clone()).ok();
        for (member, rule, points, earned_at) in awards_for(stored) {
            let source = format!("{}/{}#{}", stored.event.aggregate_type, stored.event.aggregate_id, stored.event.sequence);
            let award_id = format!("{rule}:{source}:{member}");
            let role: Option<(String, String)> = sqlx::query_as("select role, status from members where org_id = $1 and member_id = $2")
                .bind(org.uuid())
                .bind(member.uuid())
                .fetch_optional(&mut *conn)
                .await?;
            let Some(role) = role.filter(|(_, status)| status == "ACTIVE").and_then(|(role, _)| parse_role(&role)) else {
                continue;
            };
            // The ledger decides (auditors never accrue, awards are positive).
            let award =
                Award { award_id: award_id.clone(), rule_id: rule.to_owned(), rule_version: RULE_VERSION, points, source, earned_at };
            let sink = EventSink::default();
            if PointsLedger::default().handle(PointsCommand::Award { award, beneficiary_role: role }, &(), &sink).await.is_err() {
                continue;
            }
            let Some(event) = sink.collect().await.pop() else { continue };
            let recorded = sqlx::query(
                "insert into points_awards (org_id, award_id, member_id, rule_id, points, earned_at) values ($1, $2, $3, $4, $5, $6)
                 on conflict (org_id, award_id) do nothing",
            )
            .bind(org.uuid())
            .bind(&award_id)
            .bind(member.uuid())
            .bind(rule)
            .bind(points)
            .bind(earned_at)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if recorded == 0 {
                continue; // already awarded
            }
            let previous: i64 = sqlx::query_scalar(
                "select coalesce(max(sequence), 0) from events where org_id = $1 and aggregate_type = 'PointsLedger' and aggregate_id = $2",
            )
            .bind(org.uuid())
            .bind(member.to_string())
            .fetch_one(&mut *conn)
            .await?;
            let pending = derived.iter().filter(|e| e.aggregate_id == member.to_string()).count();
            let sequence = usize::try_from(previous).map_err(|_| StoreError::Corrupt("negative sequence".into()))? + pending + 1;
            let command_id = source_envelope.as_ref().map_or_else(Uuid::now_v7, |e| e.command_id);
            let envelope = Envelope {
                actor: ActorRecord { member_id: None, role: None, display_name: None },
                on_behalf_of: None,
                channel: Channel::System,
                request_id: source_envelope.as_ref().map_or(command_id, |e| e.request_id),
                correlation_id: source_envelope.as_ref().map_or(command_id, |e| e.correlation_id),
                causation_id: command_id,
                command_id,
                reason: None,
                changes: event.changes(),
            };
            derived.push(SerializedEvent {
                aggregate_id: member.to_string(),
                sequence,
                aggregate_type: PointsLedger::TYPE.to_owned(),
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_value(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                metadata: serde_json::to_value(&envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            });
        }
    }
    Ok(derived)
}

/// A member's points balance.
pub async fn balance(conn: &mut PgConnection, org: OrgId, member: MemberId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select coalesce(sum(points), 0)::bigint from points_awards where org_id = $1 and member_id = $2 and not reversed")
        .bind(org.uuid())
        .bind(member.uuid())
        .fetch_one(conn)
        .await
}
