//! The write-side registry: tables kept in the same transaction as the events they
//! follow, for what a command must check atomically (code uniqueness, at least one owner,
//! sign-in) and for the simple reads of the first slice. Every row is derived from events;
//! `gemba projections rebuild` (issue 6) will be able to rebuild it from them.

use gemba_domain::a3::A3Event;
use gemba_domain::area::AreaEvent;
use gemba_domain::defect::{Defect, DefectEvent};
use gemba_domain::deletion::{DeletableKind, DeletionEvent};
use gemba_domain::evidence::EvidenceEvent;
use gemba_domain::five_s_audit::AuditEvent;
use gemba_domain::kaizen::{Kaizen, KaizenEvent};
use gemba_domain::member::{Capability, MemberEvent, SiteScope};
use gemba_domain::organization::OrganizationEvent;
use gemba_domain::points::PointsEvent;
use gemba_domain::points_rules::PointsRuleSetEvent;
use gemba_domain::red_tag::RedTagEvent;
use gemba_domain::site::SiteEvent;
use gemba_domain::workspace::WorkspaceEvent;
use gemba_domain::zone::ZoneEvent;
use gemba_domain::{OrgId, Role};
use serde::de::DeserializeOwned;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::{Appended, StoreError};

fn payload<E: DeserializeOwned>(stored: &Appended) -> Result<E, StoreError> {
    serde_json::from_value(stored.event.payload.clone()).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn id(stored: &Appended) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&stored.event.aggregate_id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The database spelling of a role.
pub fn role_text(role: Role) -> &'static str {
    match role {
        Role::Owner => "OWNER",
        Role::Admin => "ADMIN",
        Role::Member => "MEMBER",
        Role::Auditor => "AUDITOR",
    }
}

/// Parses the database spelling of a role.
pub fn parse_role(text: &str) -> Option<Role> {
    match text {
        "OWNER" => Some(Role::Owner),
        "ADMIN" => Some(Role::Admin),
        "MEMBER" => Some(Role::Member),
        "AUDITOR" => Some(Role::Auditor),
        _ => None,
    }
}

/// Gives `entity` the next number of `scope` in the year of `at`: `<scope>-<year>-<seq>`.
async fn number(
    conn: &mut PgConnection,
    org: Uuid,
    entity: Uuid,
    scope: &str,
    at: chrono::DateTime<chrono::Utc>,
    width: usize,
) -> Result<(), StoreError> {
    use chrono::Datelike;
    let year = at.year();
    let next: i64 = sqlx::query_scalar(
        "insert into number_sequences as s (org_id, scope, year, last) values ($1, $2, $3, 1)
         on conflict (org_id, scope, year) do update set last = s.last + 1 returning last",
    )
    .bind(org)
    .bind(scope)
    .bind(year)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("insert into entity_numbers (org_id, entity_id, number) values ($1, $2, $3) on conflict (org_id, entity_id) do nothing")
        .bind(org)
        .bind(entity)
        .bind(format!("{scope}-{year}-{next:0width$}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The code of the site of `zone`.
async fn site_code_of_zone(conn: &mut PgConnection, org: Uuid, zone: Uuid) -> Result<String, StoreError> {
    let code: Option<String> = sqlx::query_scalar(
        "select s.code from zones z join sites s on s.org_id = z.org_id and s.site_id = z.site_id where z.org_id = $1 and z.zone_id = $2",
    )
    .bind(org)
    .bind(zone)
    .fetch_optional(&mut *conn)
    .await?;
    code.ok_or_else(|| StoreError::Corrupt(format!("zone {zone} has no site")))
}

/// The `defects` row of one defect, from its state.
async fn upsert_defect(conn: &mut PgConnection, org: Uuid, defect_id: Uuid) -> Result<(), StoreError> {
    let defect = crate::points::load::<Defect>(conn, OrgId(org), &defect_id.to_string()).await?;
    let state = defect.state();
    let (Some(zone), Some(priority), Some(found_at)) = (state.zone_id, state.priority, state.found_at) else {
        return Ok(());
    };
    sqlx::query(
        "insert into defects (org_id, defect_id, zone_id, priority, status, found_at, escalation_level)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (org_id, defect_id) do update
            set zone_id = excluded.zone_id, priority = excluded.priority, status = excluded.status,
                escalation_level = excluded.escalation_level",
    )
    .bind(org)
    .bind(defect_id)
    .bind(zone.uuid())
    .bind(enum_text(&priority)?)
    .bind(enum_text(&state.status)?)
    .bind(found_at)
    .bind(i32::try_from(state.escalation_level).unwrap_or(i32::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The `kaizens` row of one kaizen, from its state.
async fn upsert_kaizen(conn: &mut PgConnection, org: Uuid, kaizen_id: Uuid) -> Result<(), StoreError> {
    let kaizen = crate::points::load::<Kaizen>(conn, OrgId(org), &kaizen_id.to_string()).await?;
    if let Some(zone) = kaizen.zone_id() {
        sqlx::query(
            "insert into kaizens (org_id, kaizen_id, zone_id, status) values ($1, $2, $3, $4)
             on conflict (org_id, kaizen_id) do update set zone_id = excluded.zone_id, status = excluded.status",
        )
        .bind(org)
        .bind(kaizen_id)
        .bind(zone.uuid())
        .bind(enum_text(&kaizen.status())?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Fills the registry tables added after an organisation's first events (defects, kaizens,
/// human numbers) from its events; idempotent. Holds the organisation's head lock, so no
/// append interleaves. Returns the rows written.
pub async fn backfill(conn: &mut PgConnection, org: OrgId) -> Result<usize, StoreError> {
    let org_id = org.uuid();
    sqlx::query("select 1 from org_heads where org_id = $1 for update").bind(org_id).execute(&mut *conn).await?;
    let missing = |kind: &str, table: &str, key: &str| {
        format!(
            "select e.aggregate_id, min(e.tenant_seq) as first from events e
              where e.org_id = $1 and e.aggregate_type = '{kind}'
                and not exists (select 1 from {table} t where t.org_id = e.org_id and t.{key}::text = e.aggregate_id)
              group by e.aggregate_id order by first"
        )
    };
    let mut written = 0;
    for (kind, table, key) in [("Defect", "defects", "defect_id"), ("Kaizen", "kaizens", "kaizen_id")] {
        let ids: Vec<(String, i64)> = sqlx::query_as(&missing(kind, table, key)).bind(org_id).fetch_all(&mut *conn).await?;
        for (aggregate_id, _) in ids {
            let entity = Uuid::parse_str(&aggregate_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if kind == "Defect" {
                upsert_defect(conn, org_id, entity).await?;
            } else {
                upsert_kaizen(conn, org_id, entity).await?;
            }
            written += 1;
        }
    }
    // Numbers, in the order the records were created.
    let unnumbered: Vec<(String, String, String, String, serde_json::Value, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "select e.aggregate_type, e.aggregate_id, e.event_type, e.event_version, e.payload, e.recorded_at from events e
          where e.org_id = $1 and e.sequence = 1 and e.aggregate_type in ('Defect', 'Kaizen', 'A3Case')
            and not exists (select 1 from entity_numbers n where n.org_id = e.org_id and n.entity_id::text = e.aggregate_id)
          order by e.tenant_seq",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    for (kind, aggregate_id, event_type, version, payload, recorded_at) in unnumbered {
        let entity = Uuid::parse_str(&aggregate_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let payload = gemba_domain::upcast::upcast(&event_type, &version, payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let scope =
            match (kind.as_str(), serde_json::from_value::<DefectEvent>(payload.clone()), serde_json::from_value::<KaizenEvent>(payload)) {
                ("Defect", Ok(DefectEvent::DefectRaised { zone_id, .. }), _) => {
                    Some((format!("{}-T", site_code_of_zone(conn, org_id, zone_id.uuid()).await?), 6))
                }
                ("Kaizen", _, Ok(KaizenEvent::KaizenDrafted { zone_id, .. })) => {
                    Some((format!("{}-K", site_code_of_zone(conn, org_id, zone_id.uuid()).await?), 5))
                }
                ("A3Case", _, _) => Some(("A3".to_owned(), 4)),
                _ => None,
            };
        if let Some((scope, width)) = scope {
            number(conn, org_id, entity, &scope, recorded_at, width).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// The serialised name of a unit enum variant, e.g. `"OPEN"` or `"A"`.
fn enum_text(value: &impl serde::Serialize) -> Result<String, StoreError> {
    gemba_domain::wire_name(value).ok_or_else(|| StoreError::Corrupt("an enum that is not a name".into()))
}

fn sealed_json(value: &gemba_domain::Sealed) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn set_capability(conn: &mut PgConnection, org: Uuid, member: Uuid, capability: Capability, held: bool) -> Result<(), StoreError> {
    let name = serde_json::to_value(capability).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sql = if held {
        "update members set capabilities = array_append(array_remove(capabilities, $3), $3) where org_id = $1 and member_id = $2"
    } else {
        "update members set capabilities = array_remove(capabilities, $3) where org_id = $1 and member_id = $2"
    };
    sqlx::query(sql).bind(org).bind(member).bind(name.as_str().unwrap_or_default()).execute(&mut *conn).await?;
    Ok(())
}

async fn set_audit_status(conn: &mut PgConnection, org: Uuid, audit: Uuid, status: &str) -> Result<(), StoreError> {
    sqlx::query("update audits set status = $3 where org_id = $1 and audit_id = $2")
        .bind(org)
        .bind(audit)
        .bind(status)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Applies one stored event to the registry.
pub async fn apply(conn: &mut PgConnection, org: OrgId, stored: &Appended) -> Result<(), StoreError> {
    let org = org.uuid();
    match stored.event.aggregate_type.as_str() {
        "Organization" => match payload::<OrganizationEvent>(stored)? {
            OrganizationEvent::OrganizationCreated { name, .. } => {
                sqlx::query("insert into organizations (org_id, name, created_at) values ($1, $2, $3)")
                    .bind(org)
                    .bind(name.as_str())
                    .bind(stored.recorded_at)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("insert into org_directory (org_id, created_at) values ($1, $2)")
                    .bind(org)
                    .bind(stored.recorded_at)
                    .execute(&mut *conn)
                    .await?;
            }
            OrganizationEvent::OrganizationRenamed { after, .. } => {
                sqlx::query("update organizations set name = $2 where org_id = $1")
                    .bind(org)
                    .bind(after.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            // Settings are read from the aggregate itself.
            OrganizationEvent::OrganizationSettingsChanged { .. }
            | OrganizationEvent::RetentionPolicyChanged { .. }
            | OrganizationEvent::LegalHoldPlaced { .. }
            | OrganizationEvent::LegalHoldReleased { .. } => {}
        },
        "Member" => {
            let member = id(stored)?;
            match payload::<MemberEvent>(stored)? {
                MemberEvent::MemberInvited { email, role, site_scope, .. } => {
                    let sites: Option<Vec<Uuid>> = match site_scope {
                        SiteScope::All => None,
                        SiteScope::Sites(sites) => Some(sites.into_iter().map(|s| s.uuid()).collect()),
                    };
                    sqlx::query(
                        "insert into members (org_id, member_id, role, status, email, site_scope) values ($1, $2, $3, 'INVITED', $4, $5)",
                    )
                    .bind(org)
                    .bind(member)
                    .bind(role_text(role))
                    .bind(sealed_json(&email)?)
                    .bind(sites)
                    .execute(&mut *conn)
                    .await?;
                }
                MemberEvent::MemberJoined { email, display_name, role, .. } => {
                    sqlx::query(
                        "insert into members (org_id, member_id, role, status, email, display_name, joined_at)
                         values ($1, $2, $3, 'ACTIVE', $4, $5, $6)
                         on conflict (org_id, member_id) do update
                            set status = 'ACTIVE', role = excluded.role, display_name = excluded.display_name,
                                joined_at = excluded.joined_at",
                    )
                    .bind(org)
                    .bind(member)
                    .bind(role_text(role))
                    .bind(sealed_json(&email)?)
                    .bind(sealed_json(&display_name)?)
                    .bind(stored.recorded_at)
                    .execute(&mut *conn)
                    .await?;
                }
                MemberEvent::MemberRoleChanged { after, .. } => {
                    sqlx::query("update members set role = $3 where org_id = $1 and member_id = $2")
                        .bind(org)
                        .bind(member)
                        .bind(role_text(after))
                        .execute(&mut *conn)
                        .await?;
                }
                MemberEvent::MemberCapabilityGranted { capability, .. } => set_capability(conn, org, member, capability, true).await?,
                MemberEvent::MemberCapabilityRevoked { capability, .. } => set_capability(conn, org, member, capability, false).await?,
                MemberEvent::MemberSiteScopeChanged { after, .. } => {
                    let sites: Option<Vec<Uuid>> = match after {
                        SiteScope::All => None,
                        SiteScope::Sites(sites) => Some(sites.into_iter().map(|s| s.uuid()).collect()),
                    };
                    sqlx::query("update members set site_scope = $3 where org_id = $1 and member_id = $2")
                        .bind(org)
                        .bind(member)
                        .bind(sites)
                        .execute(&mut *conn)
                        .await?;
                }
                MemberEvent::MemberHomeZoneChanged { after, .. } => {
                    sqlx::query("update members set home_zone_id = $3 where org_id = $1 and member_id = $2")
                        .bind(org)
                        .bind(member)
                        .bind(after.uuid())
                        .execute(&mut *conn)
                        .await?;
                }
                MemberEvent::MemberProfileChanged { display_name, employee_number, shift } => {
                    sqlx::query(
                        "update members set display_name = coalesce($3, display_name), employee_number = coalesce($4, employee_number),
                                shift = coalesce($5, shift)
                          where org_id = $1 and member_id = $2",
                    )
                    .bind(org)
                    .bind(member)
                    .bind(display_name.map(|e| sealed_json(&e.after)).transpose()?)
                    .bind(employee_number.map(|e| sealed_json(&e.after)).transpose()?)
                    .bind(shift.map(|e| e.after.as_str().to_owned()))
                    .execute(&mut *conn)
                    .await?;
                }
                MemberEvent::MemberReactivated { .. } => {
                    sqlx::query("update members set status = 'ACTIVE' where org_id = $1 and member_id = $2")
                        .bind(org)
                        .bind(member)
                        .execute(&mut *conn)
                        .await?;
                }
                MemberEvent::MemberSuspended { .. } => {
                    sqlx::query("update members set status = 'SUSPENDED' where org_id = $1 and member_id = $2")
                        .bind(org)
                        .bind(member)
                        .execute(&mut *conn)
                        .await?;
                    // A suspended member is signed out everywhere at once.
                    sqlx::query("update sessions set revoked_at = now() where org_id = $1 and member_id = $2 and revoked_at is null")
                        .bind(org)
                        .bind(member)
                        .execute(&mut *conn)
                        .await?;
                }
                MemberEvent::MemberPersonalDataErased { .. } => {
                    // The key goes with the event that records it; the plain copies of the
                    // e-mail address kept for sign-in (credentials, invitations) go too. (The
                    // shift is a crew name such as "Night", organisational, not personal data.)
                    crate::crypto::shred_person_key(conn, OrgId(org), gemba_domain::MemberId(member)).await.map_err(|e| match e {
                        crate::crypto::CryptoError::Database(e) => StoreError::from(e),
                        other => StoreError::Corrupt(other.to_string()),
                    })?;
                    for sql in [
                        "delete from credentials where org_id = $1 and member_id = $2",
                        "delete from invitations where org_id = $1 and member_id = $2",
                        "update sessions set revoked_at = now() where org_id = $1 and member_id = $2 and revoked_at is null",
                    ] {
                        sqlx::query(sql).bind(org).bind(member).execute(&mut *conn).await?;
                    }
                }
                MemberEvent::MemberRemoved { .. } => {
                    sqlx::query("update members set status = 'REMOVED' where org_id = $1 and member_id = $2")
                        .bind(org)
                        .bind(member)
                        .execute(&mut *conn)
                        .await?;
                    // A removed member is signed out everywhere at once.
                    sqlx::query("update sessions set revoked_at = now() where org_id = $1 and member_id = $2 and revoked_at is null")
                        .bind(org)
                        .bind(member)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        "Site" => {
            let site = id(stored)?;
            match payload::<SiteEvent>(stored)? {
                SiteEvent::SiteCreated { code, name, timezone, .. } => {
                    sqlx::query("insert into sites (org_id, site_id, code, name, timezone) values ($1, $2, $3, $4, $5)")
                        .bind(org)
                        .bind(site)
                        .bind(code.as_str())
                        .bind(name.as_str())
                        .bind(timezone.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
                SiteEvent::SiteTimezoneChanged { after, .. } => {
                    sqlx::query("update sites set timezone = $3 where org_id = $1 and site_id = $2")
                        .bind(org)
                        .bind(site)
                        .bind(after.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
                SiteEvent::SiteRenamed { after, .. } => {
                    sqlx::query("update sites set name = $3 where org_id = $1 and site_id = $2")
                        .bind(org)
                        .bind(site)
                        .bind(after.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        "Zone" => {
            let zone = id(stored)?;
            let (sql, value): (&str, Option<String>) = match payload::<ZoneEvent>(stored)? {
                ZoneEvent::ZoneCreated { site_id, area_id, code, name, .. } => {
                    sqlx::query(
                        "insert into zones (org_id, zone_id, site_id, area_id, code, name, status) values ($1, $2, $3, $4, $5, $6, 'ACTIVE')",
                    )
                    .bind(org)
                    .bind(zone)
                    .bind(site_id.uuid())
                    .bind(area_id.map(|a| a.uuid()))
                    .bind(code.as_str())
                    .bind(name.as_str())
                    .execute(&mut *conn)
                    .await?;
                    return Ok(());
                }
                ZoneEvent::ZoneMoved { to_area, .. } => {
                    ("update zones set area_id = $3::uuid where org_id = $1 and zone_id = $2", to_area.map(|a| a.to_string()))
                }
                ZoneEvent::ZoneHeadcountChanged { after, .. } => {
                    ("update zones set headcount = $3::integer where org_id = $1 and zone_id = $2", after.map(|n| n.to_string()))
                }
                ZoneEvent::ZoneAuditPlanChanged { after, .. } => {
                    let plan = serde_json::to_string(&after).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    ("update zones set audit_plan = $3::jsonb where org_id = $1 and zone_id = $2", Some(plan))
                }
                ZoneEvent::ZoneAuditPlanAdvanced { after, .. } => {
                    let due = serde_json::to_value(after).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    (
                        "update zones set audit_plan = jsonb_set(audit_plan, '{next_due_at}', to_jsonb($3::text)) where org_id = $1 and zone_id = $2",
                        due.as_str().map(str::to_owned),
                    )
                }
                ZoneEvent::ZoneRenamed { after, .. } => {
                    ("update zones set name = $3 where org_id = $1 and zone_id = $2", Some(after.to_string()))
                }
                ZoneEvent::ZoneOwnerAssigned { after, .. } => {
                    ("update zones set owner_member_id = $3::uuid where org_id = $1 and zone_id = $2", Some(after.to_string()))
                }
                ZoneEvent::ZoneDeputyAdded { member } => {
                    ("insert into zone_deputies (org_id, zone_id, member_id) values ($1, $2, $3::uuid)", Some(member.to_string()))
                }
                ZoneEvent::ZoneDeputyRemoved { member } => {
                    ("delete from zone_deputies where org_id = $1 and zone_id = $2 and member_id = $3::uuid", Some(member.to_string()))
                }
                ZoneEvent::ZoneArchived { .. } => {
                    ("update zones set status = 'ARCHIVED' where org_id = $1 and zone_id = $2 and $3::text is null", None)
                }
                ZoneEvent::ZoneRestored { .. } => {
                    ("update zones set status = 'ACTIVE' where org_id = $1 and zone_id = $2 and $3::text is null", None)
                }
            };
            sqlx::query(sql).bind(org).bind(zone).bind(value).execute(&mut *conn).await?;
        }
        "Area" => {
            let area = id(stored)?;
            match payload::<AreaEvent>(stored)? {
                AreaEvent::AreaCreated { site_id, kind, parent, code, name, .. } => {
                    let kind = serde_json::to_value(kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    sqlx::query(
                        "insert into areas (org_id, area_id, site_id, kind, parent_area_id, code, name, status)
                         values ($1, $2, $3, $4, $5, $6, $7, 'ACTIVE')",
                    )
                    .bind(org)
                    .bind(area)
                    .bind(site_id.uuid())
                    .bind(kind.as_str().unwrap_or_default())
                    .bind(parent.map(|p| p.uuid()))
                    .bind(code.as_str())
                    .bind(name.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                AreaEvent::AreaRenamed { after, .. } => {
                    sqlx::query("update areas set name = $3 where org_id = $1 and area_id = $2")
                        .bind(org)
                        .bind(area)
                        .bind(after.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
                AreaEvent::AreaMoved { to, .. } => {
                    sqlx::query("update areas set parent_area_id = $3 where org_id = $1 and area_id = $2")
                        .bind(org)
                        .bind(area)
                        .bind(to.map(|p| p.uuid()))
                        .execute(&mut *conn)
                        .await?;
                }
                AreaEvent::AreaArchived { .. } => {
                    sqlx::query("update areas set status = 'ARCHIVED' where org_id = $1 and area_id = $2")
                        .bind(org)
                        .bind(area)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        "FiveSAudit" => {
            let audit = id(stored)?;
            match payload::<AuditEvent>(stored)? {
                AuditEvent::AuditScheduled { zone_id, audit_type, due_at, .. } => {
                    let audit_type = serde_json::to_value(audit_type).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    sqlx::query(
                        "insert into audits (org_id, audit_id, zone_id, audit_type, status, due_at)
                         values ($1, $2, $3, $4, 'SCHEDULED', $5)",
                    )
                    .bind(org)
                    .bind(audit)
                    .bind(zone_id.uuid())
                    .bind(audit_type.as_str().unwrap_or_default())
                    .bind(due_at)
                    .execute(&mut *conn)
                    .await?;
                }
                AuditEvent::AuditStarted { zone_id, audit_type, .. } => {
                    let audit_type = serde_json::to_value(audit_type).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    sqlx::query(
                        "insert into audits (org_id, audit_id, zone_id, audit_type, status) values ($1, $2, $3, $4, 'IN_PROGRESS')
                         on conflict (org_id, audit_id) do update set status = 'IN_PROGRESS'",
                    )
                    .bind(org)
                    .bind(audit)
                    .bind(zone_id.uuid())
                    .bind(audit_type.as_str().unwrap_or_default())
                    .execute(&mut *conn)
                    .await?;
                }
                AuditEvent::AuditMissed { .. } => set_audit_status(conn, org, audit, "MISSED").await?,
                AuditEvent::AuditSubmitted { .. } => set_audit_status(conn, org, audit, "SUBMITTED").await?,
                AuditEvent::AuditCancelled { .. } => set_audit_status(conn, org, audit, "CANCELLED").await?,
                _ => {}
            }
        }
        "PointsLedger" => {
            let member = id(stored)?;
            match payload::<PointsEvent>(stored)? {
                PointsEvent::PointsAwarded { award } => {
                    let source_ref = award.source.split('#').next().unwrap_or_default().to_owned();
                    sqlx::query(
                        "insert into points_awards (org_id, award_id, member_id, rule_id, points, earned_at, source_ref)
                         values ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(org)
                    .bind(&award.award_id)
                    .bind(member)
                    .bind(&award.rule_id)
                    .bind(award.points)
                    .bind(award.earned_at)
                    .bind(source_ref)
                    .execute(&mut *conn)
                    .await?;
                }
                PointsEvent::PointsReversed { award_id, .. } => {
                    sqlx::query("update points_awards set reversed = true where org_id = $1 and award_id = $2")
                        .bind(org)
                        .bind(award_id)
                        .execute(&mut *conn)
                        .await?;
                }
                PointsEvent::PointsAdjusted { adjustment_id, delta, .. } => {
                    sqlx::query(
                        "insert into points_awards (org_id, award_id, member_id, rule_id, points, earned_at)
                         values ($1, $2, $3, 'manual_adjustment', $4, $5)",
                    )
                    .bind(org)
                    .bind(format!("adjustment:{adjustment_id}"))
                    .bind(member)
                    .bind(delta)
                    .bind(stored.recorded_at)
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
        "PointsRuleSet" => {
            let PointsRuleSetEvent::PointsRuleSetPublished { version, rules, checksum } = payload::<PointsRuleSetEvent>(stored)?;
            sqlx::query("insert into points_rulesets (org_id, version, rules, checksum, published_at) values ($1, $2, $3, $4, $5)")
                .bind(org)
                .bind(i32::try_from(version).map_err(|e| StoreError::Corrupt(e.to_string()))?)
                .bind(serde_json::to_value(&rules).map_err(|e| StoreError::Corrupt(e.to_string()))?)
                .bind(checksum)
                .bind(stored.recorded_at)
                .execute(&mut *conn)
                .await?;
        }
        "Defect" => {
            if let Ok(DefectEvent::DefectRaised { zone_id, .. }) = payload::<DefectEvent>(stored) {
                let site = site_code_of_zone(conn, org, zone_id.uuid()).await?;
                number(conn, org, id(stored)?, &format!("{site}-T"), stored.recorded_at, 6).await?;
            }
            // The row follows the defect's state after this event (and any after it in the
            // same append), whatever the event was.
            upsert_defect(conn, org, id(stored)?).await?;
        }
        "Kaizen" => {
            if let Ok(KaizenEvent::KaizenDrafted { zone_id, .. }) = payload::<KaizenEvent>(stored) {
                let site = site_code_of_zone(conn, org, zone_id.uuid()).await?;
                number(conn, org, id(stored)?, &format!("{site}-K"), stored.recorded_at, 5).await?;
            }
            upsert_kaizen(conn, org, id(stored)?).await?;
        }
        "A3Case" => {
            if let Ok(A3Event::A3Opened { .. }) = payload::<A3Event>(stored) {
                number(conn, org, id(stored)?, "A3", stored.recorded_at, 4).await?;
            }
        }
        "EvidenceFile" => match payload::<EvidenceEvent>(stored)? {
            EvidenceEvent::EvidenceUploaded { sha256, media_type, size_bytes, uploaded_by } => {
                sqlx::query(
                    "insert into evidence_files (org_id, sha256, media_type, size_bytes, uploaded_by, uploaded_at)
                     values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(org)
                .bind(sha256.as_str())
                .bind(media_type.mime())
                .bind(i64::try_from(size_bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?)
                .bind(uploaded_by.uuid())
                .bind(stored.recorded_at)
                .execute(&mut *conn)
                .await?;
            }
        },
        "RedTagItem" => {
            let item = id(stored)?;
            let (sql, hold_until) = match payload::<RedTagEvent>(stored)? {
                RedTagEvent::RedTagItemTagged { zone_id, hold_until, .. } => {
                    sqlx::query(
                        "insert into red_tag_items (org_id, red_tag_id, zone_id, hold_until, status) values ($1, $2, $3, $4, 'HELD')",
                    )
                    .bind(org)
                    .bind(item)
                    .bind(zone_id.uuid())
                    .bind(hold_until)
                    .execute(&mut *conn)
                    .await?;
                    return Ok(());
                }
                RedTagEvent::RedTagItemHoldExtended { after, .. } => {
                    ("update red_tag_items set hold_until = $3, status = 'HELD' where org_id = $1 and red_tag_id = $2", Some(after))
                }
                RedTagEvent::RedTagItemHoldExpired { .. } => (
                    "update red_tag_items set status = 'HOLD_EXPIRED' where org_id = $1 and red_tag_id = $2 and $3::timestamptz is null",
                    None,
                ),
                RedTagEvent::RedTagItemDispositioned { .. } => (
                    "update red_tag_items set status = 'DISPOSITIONED' where org_id = $1 and red_tag_id = $2 and $3::timestamptz is null",
                    None,
                ),
            };
            sqlx::query(sql).bind(org).bind(item).bind(hold_until).execute(&mut *conn).await?;
        }
        "Deletion" => match payload::<DeletionEvent>(stored)? {
            DeletionEvent::Deleted { kind, deleted_at, recoverable_until, .. } => {
                sqlx::query(
                    "insert into deleted_entities (org_id, entity_id, kind, deleted_at, recoverable_until) values ($1, $2, $3, $4, $5)",
                )
                .bind(org)
                .bind(id(stored)?)
                .bind(enum_text(&kind)?)
                .bind(deleted_at)
                .bind(recoverable_until)
                .execute(&mut *conn)
                .await?;
                if kind == DeletableKind::Member {
                    // A deleted member is signed out everywhere at once.
                    sqlx::query("update sessions set revoked_at = now() where org_id = $1 and member_id = $2 and revoked_at is null")
                        .bind(org)
                        .bind(id(stored)?)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            DeletionEvent::Recovered { .. } => {
                sqlx::query("delete from deleted_entities where org_id = $1 and entity_id = $2")
                    .bind(org)
                    .bind(id(stored)?)
                    .execute(&mut *conn)
                    .await?;
            }
        },
        "Workspace" => match payload::<WorkspaceEvent>(stored)? {
            WorkspaceEvent::WorkspaceCancelled { purge_after, .. } => {
                sqlx::query("update organizations set status = 'CANCELLED', purge_after = $2 where org_id = $1")
                    .bind(org)
                    .bind(purge_after)
                    .execute(&mut *conn)
                    .await?;
            }
            WorkspaceEvent::WorkspaceRestored { .. } => {
                sqlx::query("update organizations set status = 'ACTIVE', purge_after = null where org_id = $1")
                    .bind(org)
                    .execute(&mut *conn)
                    .await?;
            }
            WorkspaceEvent::WorkspacePurged { .. } => crate::workspace::purge_rows(conn, org).await?,
        },
        _ => {}
    }
    Ok(())
}
