//! Retention: disposal of the events older than an organisation's retention, as an explicit,
//! audited operation (ARCHITECTURE.md, "Retention and disposal").
//!
//! One transaction of the organisation, holding its head lock from the start (so no command
//! of the organisation, a legal hold in particular, commits in between):
//! 1. the organisation's retention and legal hold are read; a hold refuses the disposal;
//! 2. the prefix of the chain recorded before `now - retention` is found (`recorded_at`
//!    grows with `tenant_seq`), after any earlier disposal;
//! 3. every projection must have applied it (read models keep what it built);
//! 4. every aggregate with events in the prefix is snapshotted at its last event there;
//! 5. `gemba_dispose_events` (the only path that may delete events) stores the snapshots and
//!    the anchor (the hash of the last disposed event) and deletes the prefix;
//! 6. a signed checkpoint is taken at the anchor, and `RecordsDisposed` is appended (the
//!    database refuses to commit a disposal without it).

use chrono::{DateTime, Months, Utc};
use cqrs_es::Aggregate;
use gemba_domain::organization::Organization;
use gemba_domain::retention::{DisposalFacts, RecordsDisposal, RecordsDisposalCommand};
use gemba_domain::{OrgId, Reason};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::bus::Position;
use crate::chain::write_canonical;
use crate::checkpoint::{self, Checkpoint};
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;
use crate::signing::Signer;
use crate::store::{StoreError, fold};
use crate::tenancy::begin_tenant;

/// What a disposal did (or, dry, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisposalReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// The organisation's retention in years.
    pub retention_years: u32,
    /// Events recorded before this instant are past their retention.
    pub cutoff: DateTime<Utc>,
    /// The last disposed position, when anything is (or would be) disposed of.
    pub up_to_seq: Option<i64>,
    /// How many events are (or would be) disposed of.
    pub count: i64,
    /// How many aggregates are (or would be) snapshotted.
    pub aggregates: i64,
    /// The hash (hex) of the last disposed event: the retained chain starts from it.
    pub anchor_hash: Option<String>,
    /// The signed checkpoint at the anchor.
    pub checkpoint: Option<Checkpoint>,
    /// Where `RecordsDisposed` landed.
    pub position: Option<Position>,
}

/// The latest disposal of an organisation: every event up to `up_to_seq` is gone and the
/// retained chain starts from `anchor_hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub up_to_seq: i64,
    pub anchor_hash: Vec<u8>,
}

/// The latest disposal of `org`, if any. `conn` must be in a tenant transaction for `org`.
pub async fn anchor(conn: &mut PgConnection, org: OrgId) -> Result<Option<Anchor>, sqlx::Error> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("select up_to_seq, anchor_hash from retention_disposals where org_id = $1 order by up_to_seq desc limit 1")
            .bind(org.uuid())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(up_to_seq, anchor_hash)| Anchor { up_to_seq, anchor_hash }))
}

/// The instant `years` calendar years before `now`.
pub fn cutoff(now: DateTime<Utc>, years: u32) -> Result<DateTime<Utc>, CommandError> {
    now.checked_sub_months(Months::new(years.saturating_mul(12)))
        .ok_or_else(|| CommandError::Internal(format!("{years} years before {now} is out of range")))
}

/// The state of an aggregate of type `aggregate_type` after its event `up_to`, as JSON.
/// Every aggregate type of the domain is listed; an unknown one refuses the disposal.
async fn state_at(conn: &mut PgConnection, org: OrgId, aggregate_type: &str, id: &str, up_to: i64) -> Result<Value, StoreError> {
    use gemba_domain::{
        a3::A3Case, access::Access, area::Area, defect::Defect, deletion::Deletion, evidence::EvidenceFile, export::Export,
        five_s::AuditTemplate, five_s_audit::FiveSAudit, kaizen::Kaizen, member::Member, points::PointsLedger, points_rules::PointsRuleSet,
        red_tag::RedTagItem, site::Site, workspace::Workspace, zone::Zone,
    };
    async fn state<A: Aggregate>(conn: &mut PgConnection, org: OrgId, id: &str, up_to: i64) -> Result<Value, StoreError> {
        let (state, sequence) = fold::<A>(conn, org, id, Some(up_to)).await?;
        if sequence != up_to {
            return Err(StoreError::Corrupt(format!("{} {id} does not reach its sequence {up_to}", A::TYPE)));
        }
        serde_json::to_value(&state).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
    macro_rules! dispatch {
        ($($aggregate:ty),* $(,)?) => {
            $(if aggregate_type == <$aggregate as Aggregate>::TYPE {
                return state::<$aggregate>(conn, org, id, up_to).await;
            })*
        };
    }
    dispatch!(
        Organization,
        Member,
        Site,
        Area,
        Zone,
        Access,
        Defect,
        AuditTemplate,
        FiveSAudit,
        RedTagItem,
        Kaizen,
        A3Case,
        PointsLedger,
        PointsRuleSet,
        EvidenceFile,
        Export,
        RecordsDisposal,
        Deletion,
        Workspace,
    );
    Err(StoreError::Corrupt(format!("aggregate type {aggregate_type} cannot be snapshotted")))
}

impl Gemba {
    /// Disposes of the events of `ctx.org` older than its retention at `now` (the caller's
    /// clock), or with `dry_run` reports what would go and changes nothing. `projections`
    /// names every projection: each must have applied the disposed events. Refused under a
    /// legal hold ([`CommandError::LegalHold`]); nothing to dispose of is not an error (the
    /// report says 0 and nothing is recorded).
    pub async fn dispose_expired(
        &self,
        ctx: &CommandContext,
        now: DateTime<Utc>,
        reason: Reason,
        dry_run: bool,
        projections: &[&str],
        signer: &Signer,
    ) -> Result<DisposalReport, CommandError> {
        let org = ctx.org;
        if let Some(actor) = ctx.actor {
            actor.require_owner()?;
        }
        let mut tx = begin_tenant(self.pool(), org).await?;
        // The head lock first: no command of this organisation commits until we do.
        let head: Option<i64> = sqlx::query_scalar("select last_seq from org_heads where org_id = $1 for update")
            .bind(org.uuid())
            .fetch_optional(&mut *tx)
            .await?;
        let (organization, _) = fold::<Organization>(&mut tx, org, &org.to_string(), None).await?;
        let settings = organization.settings();
        if settings.legal_hold {
            return Err(CommandError::LegalHold);
        }
        let cutoff = cutoff(now, settings.retention_years)?;
        let mut report = DisposalReport {
            dry_run,
            retention_years: settings.retention_years,
            cutoff,
            up_to_seq: None,
            count: 0,
            aggregates: 0,
            anchor_hash: None,
            checkpoint: None,
            position: None,
        };
        let after = anchor(&mut tx, org).await?.map_or(0, |a| a.up_to_seq);
        let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
            "select tenant_seq, recorded_at from events where org_id = $1 and tenant_seq > $2 and recorded_at < $3
              order by tenant_seq desc limit 1",
        )
        .bind(org.uuid())
        .bind(after)
        .bind(cutoff)
        .fetch_optional(&mut *tx)
        .await?;
        let (Some(_), Some((up_to_seq, up_to_recorded_at))) = (head, last) else {
            return Ok(report);
        };
        // Every projection must have applied the events, and so must every rebuild running
        // (its shadow tables would otherwise miss them and be swapped in incomplete).
        let behind: Vec<String> = sqlx::query_scalar(
            "select p.name from unnest($2::text[]) as p(name)
               left join projection_checkpoints c on c.org_id = $1 and c.projection = p.name
              where coalesce(c.last_seq, 0) < $3
             union all
             select projection || ' (rebuilding)' from projection_rebuilds
              where org_id = $1 and state = 'RUNNING' and last_seq < $3
             order by 1",
        )
        .bind(org.uuid())
        .bind(projections)
        .bind(up_to_seq)
        .fetch_all(&mut *tx)
        .await?;
        if !behind.is_empty() {
            return Err(CommandError::ProjectionsBehind(behind.join(", ")));
        }
        let touched: Vec<(String, String, i64)> = sqlx::query_as(
            "select aggregate_type, aggregate_id, max(sequence) from events
              where org_id = $1 and tenant_seq > $2 and tenant_seq <= $3
              group by aggregate_type, aggregate_id order by aggregate_type, aggregate_id",
        )
        .bind(org.uuid())
        .bind(after)
        .bind(up_to_seq)
        .fetch_all(&mut *tx)
        .await?;
        let mut snapshots = Vec::with_capacity(touched.len());
        for (aggregate_type, aggregate_id, sequence) in &touched {
            let state = state_at(&mut tx, org, aggregate_type, aggregate_id, *sequence).await?;
            snapshots.push(json!({"aggregate_type": aggregate_type, "aggregate_id": aggregate_id, "sequence": sequence, "state": state}));
        }
        let snapshots = Value::Array(snapshots);
        report.up_to_seq = Some(up_to_seq);
        report.count = up_to_seq - after;
        report.aggregates = i64::try_from(touched.len()).map_err(|e| CommandError::Internal(e.to_string()))?;
        if dry_run {
            tx.rollback().await?;
            return Ok(report);
        }
        let mut canonical = Vec::new();
        write_canonical(&snapshots, &mut canonical);
        let snapshots_sha256 = hex::encode(Sha256::digest(&canonical));
        let (count, anchor_hash): (i64, Vec<u8>) = sqlx::query_as("select disposed, anchor from gemba_dispose_events($1, $2, $3, $4)")
            .bind(org.uuid())
            .bind(up_to_seq)
            .bind(cutoff)
            .bind(&snapshots)
            .fetch_one(&mut *tx)
            .await?;
        let checkpoint = checkpoint::take_at(&mut tx, org, up_to_seq, &anchor_hash, signer).await?;
        let facts = DisposalFacts {
            retention_years: settings.retention_years,
            legal_hold: settings.legal_hold,
            cutoff,
            up_to_seq,
            up_to_recorded_at,
            count,
            anchor_hash: hex::encode(&anchor_hash),
            snapshots: report.aggregates,
            snapshots_sha256,
        };
        let disposal_id = Uuid::new_v5(&org.uuid(), format!("disposal/{up_to_seq}").as_bytes());
        let mut ctx = ctx.clone();
        ctx.command_id = disposal_id;
        let command = RecordsDisposalCommand::Dispose { approved_by: ctx.actor, facts, reason };
        let events = self.bus.decide::<RecordsDisposal>(&ctx, &disposal_id.to_string(), command).await?;
        let position = self
            .bus
            .append(&mut tx, &ctx, &events)
            .await?
            .ok_or(CommandError::Conflict("these records were disposed of by another request"))?;
        tx.commit().await?;
        report.count = count;
        report.anchor_hash = Some(hex::encode(&anchor_hash));
        report.checkpoint = Some(checkpoint);
        report.position = Some(position);
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;

    /// Every aggregate of the domain can be snapshotted: a type missing from `state_at`'s
    /// list would refuse every later disposal of an organisation that ever used it.
    #[test]
    fn every_aggregate_type_of_the_domain_can_be_snapshotted() {
        let domain = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src");
        let mut declared = BTreeSet::new();
        for entry in std::fs::read_dir(&domain).expect("the domain's sources") {
            let source = std::fs::read_to_string(entry.expect("a source file").path()).expect("readable source");
            for line in source.lines().filter_map(|l| l.trim().strip_prefix("const TYPE: &'static str = \"")) {
                declared.insert(line.trim_end_matches("\";").to_owned());
            }
        }
        let this = include_str!("retention.rs");
        let list = this.split("    dispatch!(").nth(1).and_then(|rest| rest.split(");").next()).expect("the dispatch list");
        let snapshotted: BTreeSet<String> = list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
        assert!(declared.len() >= 19, "{declared:?}");
        assert_eq!(snapshotted, declared);
    }
}
