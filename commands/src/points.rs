//! The points policy: awards and reversals derived from domain events, appended in the same
//! transaction as the events that cause them (so none is ever lost or given twice).
//!
//! The rules in force are the organisation's latest published `PointsRuleSet` version, or
//! the defaults (version 0, reference/domain.md §4.9); every award pins the version.
//! - `DefectAssigned` (first time, by someone other than the finder): the finder earns
//!   `defect_accepted` (weekly cap);
//!   `DefectCancelled` as a duplicate or not a defect reverses it.
//! - `DefectClosed`: the resolver earns `defect_resolved`, plus `defect_on_time_bonus` when
//!   closed by the original due date; the verifier earns `defect_verified` unless they found
//!   the defect. A reopen that is a recurrence reverses the resolver's awards.
//! - `KaizenApproved`: the authors share `kaizen_accepted` (weekly cap).
//! - `KaizenImplemented`: the authors share `kaizen_implemented` and each implementer who is
//!   not an author earns it in full; a just-do-it kaizen also earns its authors
//!   `kaizen_accepted`. A reopened kaizen keeps them: it returns to where it was closed from,
//!   its implementation stands.
//! - `KaizenSavingsVerified`: the authors share `kaizen_savings_verified` plus the bonus of
//!   the highest savings tier reached by verified hard savings in any one currency; an
//!   adjustment that changes the tier reverses the old bonus and awards the new one.
//! - `A3Closed` with the target met: the owner earns `a3_closed_owner`, each team member
//!   `a3_closed_team`; `A3Reopened` reverses them.
//! - `AuditSubmitted` on or before its due date (if scheduled): each member who conducted the
//!   audit earns `audit_submitted`.
//!
//! Awards are idempotent per rule, source and member (the award id), Auditors and members
//! who are not active never accrue points, and a rule with 0 points is off. The rows of
//! `points_awards` are kept by the registry from the `PointsLedger` events.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use gemba_domain::a3::{A3Event, TargetMet};
use gemba_domain::defect::{CancelReason, Defect, DefectEvent};
use gemba_domain::five_s_audit::{AuditEvent, FiveSAudit};
use gemba_domain::kaizen::{AuthorShare, Kaizen, KaizenEvent};
use gemba_domain::points::{Award, PointsEvent, PointsLedger};
use gemba_domain::points_rules::{PointsRules, RuleValue};
use gemba_domain::{Audited, MemberId, OrgId, Reason, ReasonCode, Role};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::DeserializeOwned;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::envelope::{ActorRecord, Channel, Envelope};
use crate::registry::parse_role;
use crate::store::{Appended, StoreError};

fn payload<E: DeserializeOwned>(stored: &Appended) -> Option<E> {
    serde_json::from_value(stored.event.payload.clone()).ok()
}

/// One award a rule grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub member: MemberId,
    pub rule_id: &'static str,
    pub points: i64,
    pub weekly_cap: Option<i64>,
    /// What the award is for: `Type/id#sequence` (once per source event) or `Type/id`
    /// (once per entity).
    pub source: String,
    pub earned_at: DateTime<Utc>,
}

/// What one event causes in the points ledgers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Award(Grant),
    /// Reverses every live award of these rules for `source_ref` (`Type/id`).
    Reverse {
        rules: &'static [&'static str],
        source_ref: String,
        why: &'static str,
    },
}

fn grant(member: MemberId, rule_id: &'static str, value: RuleValue, points: i64, source: &str, earned_at: DateTime<Utc>) -> Option<Effect> {
    (points > 0)
        .then(|| Effect::Award(Grant { member, rule_id, points, weekly_cap: value.weekly_cap, source: source.to_owned(), earned_at }))
}

/// Splits `points` among authors by share (percent), rounding half up.
pub fn by_share(points: i64, shares: &[(MemberId, u32)]) -> Vec<(MemberId, i64)> {
    shares
        .iter()
        .map(|(member, pct)| {
            let exact = Decimal::from(points) * Decimal::from(*pct) / Decimal::from(100);
            let rounded = exact.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            (*member, rounded.to_i64().unwrap_or(0))
        })
        .collect()
}

fn shares(authors: &[AuthorShare]) -> Vec<(MemberId, u32)> {
    authors.iter().map(|a| (a.member_id, u32::from(a.share_pct))).collect()
}

/// The aggregate's state after everything stored so far (in this transaction too), from
/// its snapshot when its early events were disposed of.
pub(crate) async fn load<A: Aggregate + Default>(conn: &mut PgConnection, org: OrgId, id: &str) -> Result<A, StoreError> {
    Ok(crate::store::fold::<A>(conn, org, id, None).await?.0)
}

/// What `stored` causes under `rules`.
async fn effects(conn: &mut PgConnection, org: OrgId, rules: &PointsRules, stored: &Appended) -> Result<Vec<Effect>, StoreError> {
    let entity = format!("{}/{}", stored.event.aggregate_type, stored.event.aggregate_id);
    let source = format!("{entity}#{}", stored.event.sequence);
    let mut out = Vec::new();
    match stored.event.aggregate_type.as_str() {
        "Defect" => match payload::<DefectEvent>(stored) {
            Some(DefectEvent::DefectAssigned { .. }) => {
                let defect = load::<Defect>(conn, org, &stored.event.aggregate_id).await?;
                let assigned_by = serde_json::from_value::<Envelope>(stored.event.metadata.clone()).ok().and_then(|e| e.actor.member_id);
                // Accepting one's own tag is not a validation by someone else.
                if let Some(finder) = defect.state().found_by.filter(|f| Some(*f) != assigned_by) {
                    let value = rules.defect_accepted;
                    out.extend(grant(finder, "defect_accepted", value, value.points, &entity, stored.recorded_at));
                }
            }
            Some(DefectEvent::DefectCancelled { cancel_reason: CancelReason::Duplicate | CancelReason::NotADefect, .. }) => {
                out.push(Effect::Reverse { rules: &["defect_accepted"], source_ref: entity, why: "the defect was cancelled as not real" });
            }
            Some(DefectEvent::DefectReopened { recurrence: true, .. }) => {
                out.push(Effect::Reverse {
                    rules: &["defect_resolved", "defect_on_time"],
                    source_ref: entity,
                    why: "the defect recurred within the recurrence window",
                });
            }
            Some(DefectEvent::DefectClosed { verified_by, verified_at, resolved_by, found_by, original_due_at, .. }) => {
                if let Some(resolver) = resolved_by {
                    let value = rules.defect_resolved;
                    out.extend(grant(resolver, "defect_resolved", value, value.points, &source, verified_at));
                    if original_due_at.is_some_and(|due| verified_at <= due) {
                        let bonus = rules.defect_on_time_bonus;
                        out.extend(grant(resolver, "defect_on_time", bonus, bonus.points, &source, verified_at));
                    }
                }
                if found_by != Some(verified_by) {
                    let value = rules.defect_verified;
                    out.extend(grant(verified_by, "defect_verified", value, value.points, &source, verified_at));
                }
            }
            _ => {}
        },
        "FiveSAudit" => {
            if let Some(AuditEvent::AuditSubmitted { conducted_by, submitted_at, .. }) = payload::<AuditEvent>(stored) {
                let audit = load::<FiveSAudit>(conn, org, &stored.event.aggregate_id).await?;
                if audit.due_at().is_some_and(|due| submitted_at > due) {
                    return Ok(out); // late audits earn nothing
                }
                let value = rules.audit_submitted;
                out.extend(
                    conducted_by.into_iter().filter_map(|m| grant(m, "audit_submitted", value, value.points, &source, submitted_at)),
                );
            }
        }
        "Kaizen" => match payload::<KaizenEvent>(stored) {
            Some(KaizenEvent::KaizenApproved { .. }) => {
                let kaizen = load::<Kaizen>(conn, org, &stored.event.aggregate_id).await?;
                let value = rules.kaizen_accepted;
                for (member, points) in by_share(value.points, &shares(kaizen.authors())) {
                    out.extend(grant(member, "kaizen_accepted", value, points, &source, stored.recorded_at));
                }
            }
            Some(KaizenEvent::KaizenImplemented { implemented_at, authors, implementers, just_do_it }) => {
                if just_do_it {
                    // Never reviewed, so never approved: accepted by being done.
                    let accepted = rules.kaizen_accepted;
                    for (member, points) in by_share(accepted.points, &shares(&authors)) {
                        out.extend(grant(member, "kaizen_accepted", accepted, points, &source, implemented_at));
                    }
                }
                let value = rules.kaizen_implemented;
                for (member, points) in by_share(value.points, &shares(&authors)) {
                    out.extend(grant(member, "kaizen_implemented", value, points, &source, implemented_at));
                }
                // Authors earn as authors, not twice.
                for member in implementers.into_iter().filter(|m| !authors.iter().any(|a| a.member_id == *m)) {
                    out.extend(grant(member, "kaizen_implementer", value, value.points, &source, implemented_at));
                }
            }
            Some(KaizenEvent::KaizenSavingsAdjusted { totals_before, totals_after, adjusted_at, .. }) => {
                let tier =
                    |t: &gemba_domain::kaizen::SavingsTotals| rules.savings_bonus(t.hard.values().copied().max().unwrap_or_default());
                if tier(&totals_before) != tier(&totals_after) {
                    // The tier follows the verified figure: the old tier bonus is reversed and
                    // the new one (if any) awarded for this adjustment.
                    out.push(Effect::Reverse {
                        rules: &["kaizen_savings_tier"],
                        source_ref: entity,
                        why: "the verified savings were adjusted to another tier",
                    });
                    let kaizen = load::<Kaizen>(conn, org, &stored.event.aggregate_id).await?;
                    let bonus = RuleValue { points: tier(&totals_after), weekly_cap: None };
                    for (member, points) in by_share(bonus.points, &shares(kaizen.authors())) {
                        out.extend(grant(member, "kaizen_savings_tier", bonus, points, &source, adjusted_at));
                    }
                }
            }
            Some(KaizenEvent::KaizenSavingsVerified { verified_at, totals, .. }) => {
                let kaizen = load::<Kaizen>(conn, org, &stored.event.aggregate_id).await?;
                let shares = shares(kaizen.authors());
                let value = rules.kaizen_savings_verified;
                for (member, points) in by_share(value.points, &shares) {
                    out.extend(grant(member, "kaizen_savings_verified", value, points, &source, verified_at));
                }
                let hard = totals.hard.values().copied().max().unwrap_or_default();
                let bonus = RuleValue { points: rules.savings_bonus(hard), weekly_cap: None };
                for (member, points) in by_share(bonus.points, &shares) {
                    out.extend(grant(member, "kaizen_savings_tier", bonus, points, &source, verified_at));
                }
            }
            _ => {}
        },
        "A3Case" => match payload::<A3Event>(stored) {
            Some(A3Event::A3Closed { target_met: Some(TargetMet::Yes), owner, team, .. }) => {
                if let Some(owner) = owner {
                    let value = rules.a3_closed_owner;
                    out.extend(grant(owner, "a3_closed_owner", value, value.points, &source, stored.recorded_at));
                }
                let value = rules.a3_closed_team;
                out.extend(team.into_iter().filter_map(|m| grant(m, "a3_closed_team", value, value.points, &source, stored.recorded_at)));
            }
            Some(A3Event::A3Reopened { .. }) => {
                out.push(Effect::Reverse {
                    rules: &["a3_closed_owner", "a3_closed_team"],
                    source_ref: entity,
                    why: "the A3 case was reopened",
                });
            }
            _ => {}
        },
        _ => {}
    }
    Ok(out)
}

/// The rules in force for `org` and their version (0: the defaults).
pub async fn rules_in_force(conn: &mut PgConnection, org: OrgId) -> Result<(u32, PointsRules), StoreError> {
    let row: Option<(i32, serde_json::Value)> =
        sqlx::query_as("select version, rules from points_rulesets where org_id = $1 order by version desc limit 1")
            .bind(org.uuid())
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        None => Ok((0, PointsRules::default())),
        Some((version, rules)) => Ok((
            u32::try_from(version).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            serde_json::from_value(rules).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        )),
    }
}

fn week_of(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = at.date_naive() - Duration::days(i64::from(at.weekday().num_days_from_monday()));
    let start = day.and_hms_opt(0, 0, 0).map(|d| d.and_utc()).unwrap_or(at);
    (start, start + Duration::days(7))
}

/// Builds the ledger events of one policy run.
struct Ledgers<'a> {
    org: OrgId,
    cause: &'a Appended,
    derived: Vec<SerializedEvent>,
    /// Award ids decided in this run (awarded or reversed).
    seen: HashSet<String>,
    /// Points awarded in this run per (member, rule, week start), for caps.
    pending: BTreeMap<(MemberId, &'static str, DateTime<Utc>), i64>,
}

impl Ledgers<'_> {
    async fn push(&mut self, conn: &mut PgConnection, member: MemberId, event: &PointsEvent) -> Result<(), StoreError> {
        let previous = crate::store::last_sequence(conn, self.org, "PointsLedger", &member.to_string()).await?;
        let pending = self.derived.iter().filter(|e| e.aggregate_id == member.to_string()).count();
        let sequence = usize::try_from(previous).map_err(|_| StoreError::Corrupt("negative sequence".into()))? + pending + 1;
        let source: Option<Envelope> = serde_json::from_value(self.cause.event.metadata.clone()).ok();
        let command_id = source.as_ref().map_or_else(Uuid::now_v7, |e| e.command_id);
        let envelope = Envelope {
            actor: ActorRecord { member_id: None, role: None, display_name: None },
            on_behalf_of: None,
            channel: Channel::System,
            request_id: source.as_ref().map_or(command_id, |e| e.request_id),
            correlation_id: source.as_ref().map_or(command_id, |e| e.correlation_id),
            causation_id: command_id,
            command_id,
            reason: event.reason().cloned(),
            signature: None,
            changes: event.changes(),
        };
        self.derived.push(SerializedEvent {
            aggregate_id: member.to_string(),
            sequence,
            aggregate_type: PointsLedger::TYPE.to_owned(),
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_value(event).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            metadata: serde_json::to_value(&envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        });
        Ok(())
    }

    async fn award(&mut self, conn: &mut PgConnection, version: u32, grant: Grant) -> Result<(), StoreError> {
        let award_id = format!("{}:{}:{}", grant.rule_id, grant.source, grant.member);
        if !self.seen.insert(award_id.clone()) {
            return Ok(());
        }
        let member: Option<(String, String)> = sqlx::query_as("select role, status from members where org_id = $1 and member_id = $2")
            .bind(self.org.uuid())
            .bind(grant.member.uuid())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(role) = member.filter(|(_, status)| status == "ACTIVE").and_then(|(role, _)| parse_role(&role)) else {
            return Ok(()); // members who are not active never accrue points
        };
        if role == Role::Auditor {
            return Ok(()); // auditors never accrue points
        }
        let recorded: bool = sqlx::query_scalar("select exists (select 1 from points_awards where org_id = $1 and award_id = $2)")
            .bind(self.org.uuid())
            .bind(&award_id)
            .fetch_one(&mut *conn)
            .await?;
        if recorded {
            return Ok(());
        }
        let mut points = grant.points;
        if let Some(cap) = grant.weekly_cap {
            let (start, end) = week_of(grant.earned_at);
            let earned: i64 = sqlx::query_scalar(
                "select coalesce(sum(points), 0)::bigint from points_awards
                  where org_id = $1 and member_id = $2 and rule_id = $3 and not reversed and earned_at >= $4 and earned_at < $5",
            )
            .bind(self.org.uuid())
            .bind(grant.member.uuid())
            .bind(grant.rule_id)
            .bind(start)
            .bind(end)
            .fetch_one(&mut *conn)
            .await?;
            let key = (grant.member, grant.rule_id, start);
            let earned = earned + self.pending.get(&key).copied().unwrap_or(0);
            points = points.min(cap - earned);
            if points <= 0 {
                return Ok(()); // the weekly cap is reached
            }
            *self.pending.entry(key).or_default() += points;
        }
        let award = Award {
            award_id,
            rule_id: grant.rule_id.to_owned(),
            rule_version: version,
            points,
            source: grant.source,
            earned_at: grant.earned_at,
        };
        self.push(conn, grant.member, &PointsEvent::PointsAwarded { award }).await
    }

    async fn reverse(&mut self, conn: &mut PgConnection, rules: &[&str], source_ref: &str, why: &str) -> Result<(), StoreError> {
        let live: Vec<(String, Uuid, i64)> = sqlx::query_as(
            "select award_id, member_id, points from points_awards
              where org_id = $1 and source_ref = $2 and rule_id = any($3) and not reversed order by award_id",
        )
        .bind(self.org.uuid())
        .bind(source_ref)
        .bind(rules)
        .fetch_all(&mut *conn)
        .await?;
        for (award_id, member, points) in live {
            if !self.seen.insert(format!("reverse:{award_id}")) {
                continue;
            }
            let reason = Reason { code: ReasonCode::Other, text: format!("source reversed: {why}") };
            self.push(conn, MemberId(member), &PointsEvent::PointsReversed { award_id, points, reason }).await?;
        }
        Ok(())
    }
}

/// Derives the ledger events caused by `appended`.
pub async fn derive(conn: &mut PgConnection, org: OrgId, appended: &[Appended]) -> Result<Vec<SerializedEvent>, StoreError> {
    let relevant = |s: &&Appended| matches!(s.event.aggregate_type.as_str(), "Defect" | "FiveSAudit" | "Kaizen" | "A3Case");
    let Some(first) = appended.iter().find(relevant) else {
        return Ok(Vec::new());
    };
    let (version, rules) = rules_in_force(conn, org).await?;
    let mut ledgers = Ledgers { org, cause: first, derived: Vec::new(), seen: HashSet::new(), pending: BTreeMap::new() };
    for stored in appended.iter().filter(relevant) {
        ledgers.cause = stored;
        for effect in effects(conn, org, &rules, stored).await? {
            match effect {
                Effect::Award(grant) => ledgers.award(conn, version, grant).await?,
                Effect::Reverse { rules, source_ref, why } => ledgers.reverse(conn, rules, &source_ref, why).await?,
            }
        }
    }
    Ok(ledgers.derived)
}

/// A member's points balance: live awards and adjustments.
pub async fn balance(conn: &mut PgConnection, org: OrgId, member: MemberId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select coalesce(sum(points), 0)::bigint from points_awards where org_id = $1 and member_id = $2 and not reversed")
        .bind(org.uuid())
        .bind(member.uuid())
        .fetch_one(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_half_up_and_zero_shares_earn_nothing() {
        let (a, b, c) = (MemberId(Uuid::from_u128(1)), MemberId(Uuid::from_u128(2)), MemberId(Uuid::from_u128(3)));
        assert_eq!(by_share(5, &[(a, 50), (b, 50)]), vec![(a, 3), (b, 3)]);
        assert_eq!(by_share(1, &[(a, 34), (b, 33), (c, 33)]), vec![(a, 0), (b, 0), (c, 0)]);
        assert_eq!(by_share(10, &[(a, 70), (b, 30)]), vec![(a, 7), (b, 3)]);
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        let sunday = DateTime::parse_from_rfc3339("2026-11-22T23:59:00Z").map(|d| d.to_utc()).unwrap_or_default();
        let (start, end) = week_of(sunday);
        assert_eq!(start.to_rfc3339(), "2026-11-16T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-23T00:00:00+00:00");
    }
}
