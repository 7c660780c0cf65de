//! The sweeper: the commands the system issues when time passes (reference/domain.md §4.5,
//! §4.5b, §4.6). `gemba serve` runs [`Gemba::sweep`] periodically; every command it issues
//! is idempotent (its command id derives from the entity and the deadline), so two servers
//! sweeping at once, or a sweep repeated after a crash, record each fact once.
//!
//! - a priority-A defect still open (unassigned) after the organisation's `a_ack_minutes`
//!   is escalated, once per elapsed period;
//! - a scheduled audit not started by its due date plus [`AUDIT_GRACE`] is marked missed;
//! - a red-tag hold that ended without a disposition expires;
//! - a zone's audit plan schedules its audits [`PLAN_LEAD`] ahead of their due date, then
//!   moves to its next period (periods that passed while nobody swept are skipped);
//! - a cancelled workspace whose grace period has ended is purged (`crate::workspace`).
//!
//! Deleted entities (and work in deleted zones) are never due.

use chrono::{DateTime, Duration, Utc};
use gemba_domain::five_s_audit::{AuditCommand, AuditPlan as AuditPlanRef, FiveSAudit};
use gemba_domain::zone::{AuditPlan, Zone, ZoneCommand};
use gemba_domain::{AuditId, DefectId, OrgId, RedTagId, ZoneId};
use uuid::Uuid;

use crate::envelope::{Channel, CommandContext};
use crate::error::CommandError;
use crate::service::Gemba;
use crate::tenancy::begin_tenant;

/// How long after its due date a scheduled audit may still be started.
pub const AUDIT_GRACE: Duration = Duration::hours(24);

/// How far ahead of their due date planned audits are scheduled.
pub const PLAN_LEAD: Duration = Duration::days(7);

/// Most items of one kind handled per organisation and sweep (the rest wait for the next).
const BATCH: i64 = 500;

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Organisations looked at.
    pub organisations: usize,
    /// Escalation flags raised on defects.
    pub escalated: usize,
    /// Audits marked missed.
    pub missed: usize,
    /// Red-tag holds expired.
    pub expired: usize,
    /// Audits scheduled from zones' audit plans.
    pub scheduled: usize,
    /// Cancelled workspaces purged after their grace period.
    pub purged: usize,
    /// Commands that failed (logged; retried by the next sweep).
    pub failed: usize,
}

struct Due {
    defects: Vec<Uuid>,
    audits: Vec<Uuid>,
    red_tags: Vec<Uuid>,
    plans: Vec<(Uuid, serde_json::Value)>,
}

impl Gemba {
    async fn due(&self, org: OrgId, now: DateTime<Utc>, a_ack: Duration) -> Result<Due, CommandError> {
        let mut tx = begin_tenant(self.pool(), org).await?;
        let defects = sqlx::query_scalar(
            "select defect_id from defects where org_id = $1 and priority = 'A' and status = 'OPEN' and found_at <= $2
                and gemba_visible(defect_id) and gemba_visible(zone_id)
              order by found_at limit $3",
        )
        .bind(org.uuid())
        .bind(now - a_ack)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let audits = sqlx::query_scalar(
            "select audit_id from audits where org_id = $1 and status = 'SCHEDULED' and due_at < $2 and gemba_visible(zone_id)
              order by due_at limit $3",
        )
        .bind(org.uuid())
        .bind(now - AUDIT_GRACE)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let red_tags = sqlx::query_scalar(
            "select red_tag_id from red_tag_items where org_id = $1 and status = 'HELD' and hold_until <= $2 and gemba_visible(zone_id)
              order by hold_until limit $3",
        )
        .bind(org.uuid())
        .bind(now)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let plans = sqlx::query_as(
            "select zone_id, audit_plan from zones where org_id = $1 and status = 'ACTIVE' and audit_plan is not null and gemba_visible(zone_id)
                and (audit_plan->>'next_due_at')::timestamptz <= $2 order by zone_id limit $3",
        )
        .bind(org.uuid())
        .bind(now + PLAN_LEAD)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Due { defects, audits, red_tags, plans })
    }

    /// Schedules the audits of one zone's plan that fall within the lead time, and moves the
    /// plan on; returns how many audits were scheduled.
    async fn run_plan(&self, org: OrgId, zone: ZoneId, plan: AuditPlan, now: DateTime<Utc>) -> Result<usize, CommandError> {
        let mut due = plan.next_due_at;
        let mut scheduled = 0;
        // Bounded: a plan left unswept for years catches up over several sweeps.
        for _ in 0..60 {
            if due > now + PLAN_LEAD {
                break;
            }
            if due > now {
                for audit_type in &plan.audit_types {
                    let key = format!("plan/{zone}/{}/{audit_type:?}", due.timestamp());
                    let audit_id = AuditId(Uuid::new_v5(&org.uuid(), key.as_bytes()));
                    let mut system = CommandContext::new(org, None, Channel::System);
                    system.command_id = audit_id.uuid();
                    let from_plan = AuditPlanRef {
                        audit_id,
                        zone_id: zone,
                        zone_active: true,
                        audit_type: *audit_type,
                        due_at: due,
                        actor_may_schedule: false,
                    };
                    let command = AuditCommand::ScheduleFromPlan { plan: from_plan, now };
                    let position = self.bus.execute::<FiveSAudit>(&system, &audit_id.to_string(), command).await?;
                    scheduled += usize::from(!position.replayed);
                }
            }
            // The id names the zone's version too: a plan set back to a date it already passed
            // is a new plan, advanced anew (two sweepers at once still share one id).
            let mut tx = begin_tenant(self.pool(), org).await?;
            let version = crate::store::last_sequence(&mut tx, org, "Zone", &zone.to_string()).await?;
            tx.commit().await?;
            let mut system = CommandContext::new(org, None, Channel::System);
            system.command_id = Uuid::new_v5(&zone.uuid(), format!("advance/{}/{version}", due.timestamp()).as_bytes());
            let advanced = self.bus.execute::<Zone>(&system, &zone.to_string(), ZoneCommand::AdvanceAuditPlan { scheduled_due: due }).await;
            match advanced {
                Ok(_) => {}
                // Someone changed the plan meanwhile: the next sweep reads it afresh.
                Err(CommandError::Domain(gemba_domain::DomainError::Rule("the audit plan has moved on"))) => break,
                Err(error) => return Err(error),
            }
            due = plan.cadence.after(due);
        }
        Ok(scheduled)
    }

    /// Sweeps one organisation.
    pub async fn sweep_organisation(&self, org: OrgId, now: DateTime<Utc>, report: &mut SweepReport) -> Result<(), CommandError> {
        // A cancelled workspace is locked (nothing is due in it) and purged once its grace
        // period has ended; a purged one has nothing left to sweep.
        let workspace = self.workspace_state(org).await?;
        match workspace.status.as_str() {
            "ACTIVE" => {}
            "CANCELLED" if workspace.purge_after.is_some_and(|after| after < now) => {
                self.purge_workspace(org, now).await?;
                report.organisations += 1;
                report.purged += 1;
                return Ok(());
            }
            _ => {
                report.organisations += 1;
                return Ok(());
            }
        }
        let a_ack_minutes = self.settings(org).await?.a_ack_minutes;
        let due = self.due(org, now, Duration::minutes(i64::from(a_ack_minutes))).await?;
        let (mut escalated, mut missed, mut expired, mut scheduled) = (0, 0, 0, 0);
        for (zone, plan) in due.plans {
            let outcome = match serde_json::from_value::<AuditPlan>(plan) {
                Ok(plan) => self.run_plan(org, ZoneId(zone), plan, now).await,
                Err(error) => Err(CommandError::Internal(format!("a stored audit plan does not read: {error}"))),
            };
            match outcome {
                Ok(n) => scheduled += n,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%error, org.id = %org, zone.id = %zone, "the sweeper could not run an audit plan");
                }
            }
        }
        let mut tally = |what: &str, id: Uuid, outcome: Result<bool, CommandError>, count: &mut usize| match outcome {
            Ok(true) => *count += 1,
            Ok(false) => {}
            Err(error) => {
                report.failed += 1;
                tracing::warn!(%error, org.id = %org, entity.id = %id, "the sweeper could not {what}");
            }
        };
        for id in due.defects {
            let outcome = self.escalate_defect(org, DefectId(id), a_ack_minutes, now).await.map(|p| p.is_some());
            tally("escalate a defect", id, outcome, &mut escalated);
        }
        for id in due.audits {
            let outcome = self.mark_audit_missed(org, AuditId(id), now).await.map(|_| true);
            tally("mark an audit missed", id, outcome, &mut missed);
        }
        for id in due.red_tags {
            let outcome = self.expire_red_tag_hold(org, RedTagId(id), now).await.map(|_| true);
            tally("expire a red-tag hold", id, outcome, &mut expired);
        }
        report.organisations += 1;
        report.escalated += escalated;
        report.missed += missed;
        report.expired += expired;
        report.scheduled += scheduled;
        Ok(())
    }

    /// Sweeps every organisation once. An organisation that fails is logged and counted;
    /// the others are still swept.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, CommandError> {
        let orgs: Vec<Uuid> = sqlx::query_scalar("select org_id from org_directory order by org_id").fetch_all(self.pool()).await?;
        let mut report = SweepReport::default();
        for org in orgs {
            if let Err(error) = self.sweep_organisation(OrgId(org), now, &mut report).await {
                report.failed += 1;
                tracing::warn!(%error, org.id = %org, "the sweeper could not sweep an organisation");
            }
        }
        Ok(report)
    }
}

impl Gemba {
    /// Fills registry tables that were added after some organisations had events (run at
    /// start-up; idempotent and cheap once done). Returns the rows written.
    pub async fn backfill_registry(&self) -> Result<usize, CommandError> {
        let orgs: Vec<Uuid> = sqlx::query_scalar("select org_id from org_directory order by org_id").fetch_all(self.pool()).await?;
        let mut written = 0;
        for org in orgs {
            let mut tx = begin_tenant(self.pool(), OrgId(org)).await?;
            written += crate::registry::backfill(&mut tx, OrgId(org)).await?;
            tx.commit().await?;
        }
        Ok(written)
    }
}
