//! Reads of organisations, members, sites and zones.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// An organisation.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrganizationRow {
    pub org_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A member; `email` and `display_name` are sealed personal data.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub member_id: Uuid,
    pub role: String,
    pub status: String,
    pub email: Value,
    pub display_name: Option<Value>,
    pub joined_at: Option<DateTime<Utc>>,
    pub capabilities: Vec<String>,
    /// Null: every site.
    pub site_scope: Option<Vec<Uuid>>,
    pub home_zone_id: Option<Uuid>,
    /// Sealed.
    pub employee_number: Option<Value>,
    pub shift: Option<String>,
}

/// A site.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SiteRow {
    pub site_id: Uuid,
    pub code: String,
    pub name: String,
    pub timezone: String,
}

/// A zone.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ZoneRow {
    pub zone_id: Uuid,
    pub site_id: Uuid,
    pub code: String,
    pub name: String,
    pub owner_member_id: Option<Uuid>,
    pub status: String,
    pub area_id: Option<Uuid>,
    pub headcount: Option<i32>,
    /// The audit plan as the domain serialises it, if one is set.
    pub audit_plan: Option<Value>,
}

/// An area, line or cell of a site.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AreaRow {
    pub area_id: Uuid,
    pub site_id: Uuid,
    pub kind: String,
    pub parent_area_id: Option<Uuid>,
    pub code: String,
    pub name: String,
    pub status: String,
}

/// A page of a keyset-paginated list, in id order (ids are time-ordered UUIDv7).
#[derive(Clone, Copy, Debug)]
pub struct Page {
    /// Only rows whose id is greater than this.
    pub after: Option<Uuid>,
    /// At most this many rows (one more is fetched to know whether there is a next page).
    pub first: i64,
}

/// The organisation of the current tenant transaction.
pub async fn organization(conn: &mut PgConnection, org: Uuid) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as("select org_id, name, created_at from organizations where org_id = $1").bind(org).fetch_optional(conn).await
}

const MEMBER_COLUMNS: &str =
    "member_id, role, status, email, display_name, joined_at, capabilities, site_scope, home_zone_id, employee_number, shift";

/// One member.
pub async fn member(conn: &mut PgConnection, org: Uuid, member: Uuid) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {MEMBER_COLUMNS} from members where org_id = $1 and member_id = $2 and gemba_visible(member_id)"))
        .bind(org)
        .bind(member)
        .fetch_optional(conn)
        .await
}

/// A page of members (removed ones included, marked by status; deleted ones hidden).
pub async fn members(conn: &mut PgConnection, org: Uuid, page: Page) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MEMBER_COLUMNS} from members
          where org_id = $1 and ($2::uuid is null or member_id > $2) and gemba_visible(member_id)
          order by member_id limit $3"
    ))
    .bind(org)
    .bind(page.after)
    .bind(page.first + 1)
    .fetch_all(conn)
    .await
}

/// One site.
pub async fn site(conn: &mut PgConnection, org: Uuid, site: Uuid) -> Result<Option<SiteRow>, sqlx::Error> {
    sqlx::query_as("select site_id, code, name, timezone from sites where org_id = $1 and site_id = $2")
        .bind(org)
        .bind(site)
        .fetch_optional(conn)
        .await
}

/// A page of sites.
pub async fn sites(conn: &mut PgConnection, org: Uuid, page: Page) -> Result<Vec<SiteRow>, sqlx::Error> {
    sqlx::query_as(
        "select site_id, code, name, timezone from sites where org_id = $1 and ($2::uuid is null or site_id > $2)
          order by site_id limit $3",
    )
    .bind(org)
    .bind(page.after)
    .bind(page.first + 1)
    .fetch_all(conn)
    .await
}

const ZONE_COLUMNS: &str = "zone_id, site_id, code, name, owner_member_id, status, area_id, headcount, audit_plan";

/// One zone.
pub async fn zone(conn: &mut PgConnection, org: Uuid, zone: Uuid) -> Result<Option<ZoneRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {ZONE_COLUMNS} from zones where org_id = $1 and zone_id = $2 and gemba_visible(zone_id)"))
        .bind(org)
        .bind(zone)
        .fetch_optional(conn)
        .await
}

/// The zones among `ids` (one statement for any number).
pub async fn zones_by_id(conn: &mut PgConnection, org: Uuid, ids: &[Uuid]) -> Result<Vec<ZoneRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {ZONE_COLUMNS} from zones where org_id = $1 and zone_id = any($2) and gemba_visible(zone_id)"))
        .bind(org)
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// A page of zones, optionally of one site.
pub async fn zones(conn: &mut PgConnection, org: Uuid, site: Option<Uuid>, page: Page) -> Result<Vec<ZoneRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ZONE_COLUMNS} from zones
          where org_id = $1 and ($2::uuid is null or site_id = $2) and ($3::uuid is null or zone_id > $3) and gemba_visible(zone_id)
          order by zone_id limit $4"
    ))
    .bind(org)
    .bind(site)
    .bind(page.after)
    .bind(page.first + 1)
    .fetch_all(conn)
    .await
}

/// The deputies of a zone's leader.
pub async fn zone_deputies(conn: &mut PgConnection, org: Uuid, zone: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select member_id from zone_deputies where org_id = $1 and zone_id = $2 order by member_id")
        .bind(org)
        .bind(zone)
        .fetch_all(conn)
        .await
}

/// Points balances of members (reversed awards excluded), in one query.
pub async fn points_balances(
    conn: &mut PgConnection,
    org: Uuid,
    members: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i64>, sqlx::Error> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "select member_id, coalesce(sum(points), 0)::bigint from points_awards
          where org_id = $1 and member_id = any($2) and not reversed group by member_id",
    )
    .bind(org)
    .bind(members)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One line of a member's points ledger.
#[derive(Debug, sqlx::FromRow)]
pub struct PointsEntryRow {
    pub award_id: String,
    pub rule_id: String,
    pub points: i64,
    pub source_ref: Option<String>,
    pub earned_at: chrono::DateTime<chrono::Utc>,
    pub reversed: bool,
}

/// A member's awards and adjustments, newest first.
pub async fn points_entries(conn: &mut PgConnection, org: Uuid, member: Uuid, limit: i64) -> Result<Vec<PointsEntryRow>, sqlx::Error> {
    sqlx::query_as(
        "select award_id, rule_id, points, source_ref, earned_at, reversed from points_awards
          where org_id = $1 and member_id = $2 order by earned_at desc, award_id limit $3",
    )
    .bind(org)
    .bind(member)
    .bind(limit)
    .fetch_all(conn)
    .await
}

const AREA_COLUMNS: &str = "area_id, site_id, kind, parent_area_id, code, name, status";

/// One area.
pub async fn area(conn: &mut PgConnection, org: Uuid, area: Uuid) -> Result<Option<AreaRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {AREA_COLUMNS} from areas where org_id = $1 and area_id = $2"))
        .bind(org)
        .bind(area)
        .fetch_optional(conn)
        .await
}

/// The areas of a site (archived ones included), in creation order.
pub async fn areas(conn: &mut PgConnection, org: Uuid, site: Uuid) -> Result<Vec<AreaRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {AREA_COLUMNS} from areas where org_id = $1 and site_id = $2 order by area_id"))
        .bind(org)
        .bind(site)
        .fetch_all(conn)
        .await
}

/// The human number of a defect, kaizen or A3 case (e.g. `PLT1-T-2026-000123`).
pub async fn entity_number(conn: &mut PgConnection, org: Uuid, entity: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select number from entity_numbers where org_id = $1 and entity_id = $2")
        .bind(org)
        .bind(entity)
        .fetch_optional(conn)
        .await
}
