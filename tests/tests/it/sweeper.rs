//! The sweeper: what the system records when time passes, across organisations, once.

use chrono::{Duration, Utc};
use gemba_tests::{Session, TestApp};
use serde_json::{Value, json};

async fn ok(app: &TestApp, who: &Session, mutation: &str, input_type: &str, input: Value) -> String {
    let query = format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ id }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    r["data"][mutation]["id"].as_str().unwrap_or_else(|| panic!("{mutation}: {r}")).to_owned()
}

async fn priority_a(app: &TestApp, who: &Session, zone: &str, title: &str) -> String {
    let raise = json!({"zoneId": zone, "abnormalityType": "UNSAFE_PLACE", "tagClass": "SAFETY", "priority": "A", "title": title, "description": "guard open"});
    ok(app, who, "raiseDefect", "RaiseDefectInput", raise).await
}

async fn read(app: &TestApp, who: &Session, query: &str, id: &str) -> Value {
    let r = app.gql(Some(&who.token), query, json!({"id": id})).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"].clone()
}

#[tokio::test]
async fn the_sweeper_escalates_marks_missed_and_expires_across_organisations_once() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("owner@a.example", "Org A").await;
    let b = app.sign_up("owner@b.example", "Org B").await;
    let fixer = app.join(&a, "fixer@a.example", "MEMBER").await;
    let site_a = app.create_site(&a, "A1").await;
    let zone_a = app.create_zone(&a, &site_a, "Z-1", "Press").await;
    let site_b = app.create_site(&b, "B1").await;
    let zone_b = app.create_zone(&b, &site_b, "Z-1", "Paint").await;

    let unacknowledged_a = priority_a(&app, &a, &zone_a, "Guard removed").await;
    let unacknowledged_b = priority_a(&app, &b, &zone_b, "Spill near panel").await;
    let acknowledged = priority_a(&app, &a, &zone_a, "Cable across aisle").await;
    ok(&app, &a, "assignDefect", "AssignDefectInput", json!({"defectId": acknowledged, "assigneeId": fixer.member})).await;
    let now = Utc::now();
    let audit = ok(
        &app,
        &a,
        "scheduleAudit",
        "ScheduleAuditInput",
        json!({"zoneId": zone_a, "auditType": "MANAGEMENT", "dueAt": (now + Duration::hours(1)).to_rfc3339()}),
    )
    .await;
    let red_tag = ok(
        &app,
        &a,
        "tagRedTagItem",
        "TagRedTagItemInput",
        json!({"zoneId": zone_a, "description": "old fixture", "qty": 1, "location": "Bay 3", "reason": "NOT_NEEDED"}),
    )
    .await;

    let gemba = app.gemba();
    let early = gemba.sweep(now + Duration::minutes(30)).await.expect("sweep");
    assert_eq!((early.escalated, early.missed, early.expired, early.failed), (0, 0, 0, 0), "nothing is due yet: {early:?}");
    assert!(early.organisations >= 2, "{early:?}");

    // An hour after raising (the default acknowledgement time), both organisations' open
    // priority-A defects are flagged, the assigned one is not; a repeated sweep adds nothing.
    let events_a = app.event_count(&a.org).await;
    let first = gemba.sweep(now + Duration::minutes(61)).await.expect("sweep");
    assert_eq!((first.escalated, first.missed, first.expired, first.failed), (2, 0, 0, 0), "{first:?}");
    assert_eq!(app.event_count(&a.org).await, events_a + 1);
    let again = gemba.sweep(now + Duration::minutes(61)).await.expect("sweep");
    assert_eq!(again.escalated, 0, "{again:?}");
    const DEFECT: &str =
        "query($id: ID!) { defect(id: $id) { status escalationLevel } history(entityId: $id) { eventType channel actor { id } } }";
    let seen = read(&app, &a, DEFECT, &unacknowledged_a).await;
    assert_eq!(seen["defect"], json!({"status": "OPEN", "escalationLevel": 1}), "{seen}");
    let escalation = seen["history"].as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!((escalation["eventType"].as_str(), escalation["channel"].as_str()), (Some("DefectEscalated"), Some("system")));
    assert!(escalation["actor"]["id"].is_null(), "the system acts, not a person: {escalation}");
    assert_eq!(read(&app, &b, DEFECT, &unacknowledged_b).await["defect"]["escalationLevel"], 1);
    assert_eq!(read(&app, &a, DEFECT, &acknowledged).await["defect"]["escalationLevel"], 0);

    // A day past its due date, the scheduled audit is missed; a month on, the hold expires.
    let later = gemba.sweep(now + Duration::hours(26)).await.expect("sweep");
    assert_eq!(later.missed, 1, "{later:?}");
    let audit_status = read(&app, &a, "query($id: ID!) { audit(id: $id) { status } }", &audit).await;
    assert_eq!(audit_status["audit"]["status"], "MISSED", "{audit_status}");
    let month = gemba.sweep(now + Duration::days(31)).await.expect("sweep");
    assert_eq!(month.expired, 1, "{month:?}");
    let item = read(&app, &a, "query($id: ID!) { redTagItem(id: $id) { status } }", &red_tag).await;
    assert_eq!(item["redTagItem"]["status"], "HOLD_EXPIRED", "{item}");
    let quiet = gemba.sweep(now + Duration::days(31)).await.expect("sweep");
    assert_eq!((quiet.missed, quiet.expired, quiet.failed), (0, 0, 0), "{quiet:?}");
}

#[tokio::test]
async fn every_tenant_reads_the_directory_of_organisation_ids_and_nothing_else_of_the_others() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("owner@c.example", "Org C").await;
    let b = app.sign_up("owner@d.example", "Org D").await;
    // As the application role (never a superuser or owner, which would bypass RLS).
    let mut tx = gemba_commands::tenancy::begin_tenant(&app.pool, a.org.parse().expect("org")).await.expect("tenant transaction");
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("select org_id from org_directory").fetch_all(&mut *tx).await.expect("directory");
    assert!(ids.iter().any(|id| id.to_string() == b.org), "the directory lists every organisation");
    let names: Vec<String> = sqlx::query_scalar("select name from organizations").fetch_all(&mut *tx).await.expect("organizations");
    assert_eq!(names, ["Org C"], "other organisations' data stays invisible");
    let forged =
        sqlx::query("insert into org_directory (org_id, created_at) values ($1::uuid, now())").bind(&b.org).execute(&mut *tx).await;
    assert!(forged.is_err(), "a tenant never writes another organisation into the directory");
}

#[tokio::test]
async fn a_zones_audit_plan_schedules_its_audits_a_week_ahead_period_by_period() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@plan.example", "Planned").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let template =
        ok(&app, &owner, "createTemplateDraft", "CreateTemplateDraftInput", json!({"name": "5S", "scaleMin": 0, "scaleMax": 4})).await;
    for (i, section) in ["SORT", "SET_IN_ORDER", "SHINE", "STANDARDIZE", "SUSTAIN"].iter().enumerate() {
        let item = json!({"templateId": template, "itemId": format!("S{}", i + 1), "section": section, "text": "check"});
        ok(&app, &owner, "addTemplateItem", "AddTemplateItemInput", item).await;
    }
    ok(&app, &owner, "publishTemplate", "TemplateInput", json!({"templateId": template})).await;
    let now = Utc::now();
    let first_due = now + Duration::days(3);
    let plan = json!({"zoneId": zone, "templateId": template, "cadence": "WEEKLY", "auditTypes": ["SELF_AUDIT", "SUPERVISOR"],
                      "nextDueAt": first_due.to_rfc3339()});
    ok(&app, &owner, "setZoneAuditPlan", "SetZoneAuditPlanInput", plan).await;

    let gemba = app.gemba();
    let swept = gemba.sweep(now).await.expect("sweep");
    assert_eq!((swept.scheduled, swept.failed), (2, 0), "both planned audit types, due in 3 days: {swept:?}");
    assert_eq!(gemba.sweep(now).await.expect("sweep").scheduled, 0, "a period is scheduled once");
    const ZONE: &str = "query($id: ID!) { zone(id: $id) { auditPlan { nextDueAt } } history(entityId: $id) { eventType channel } }";
    let read_zone = read(&app, &owner, ZONE, &zone).await;
    let next_due =
        chrono::DateTime::parse_from_rfc3339(read_zone["zone"]["auditPlan"]["nextDueAt"].as_str().unwrap_or_default()).expect("date");
    assert_eq!(next_due.to_utc(), first_due + Duration::weeks(1), "{read_zone}");
    let advanced = read_zone["history"].as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!((advanced["eventType"].as_str(), advanced["channel"].as_str()), (Some("ZoneAuditPlanAdvanced"), Some("system")));

    // Set back to a date it already passed, the plan moves on again (and schedules nothing twice).
    let reset = json!({"zoneId": zone, "templateId": template, "cadence": "WEEKLY", "auditTypes": ["SELF_AUDIT", "SUPERVISOR"],
                       "nextDueAt": first_due.to_rfc3339(), "reason": "reset by mistake"});
    ok(&app, &owner, "setZoneAuditPlan", "SetZoneAuditPlanInput", reset).await;
    let again = gemba.sweep(now).await.expect("sweep");
    assert_eq!((again.scheduled, again.failed), (0, 0), "{again:?}");
    let read_zone = read(&app, &owner, ZONE, &zone).await;
    let next_due =
        chrono::DateTime::parse_from_rfc3339(read_zone["zone"]["auditPlan"]["nextDueAt"].as_str().unwrap_or_default()).expect("date");
    assert_eq!(next_due.to_utc(), first_due + Duration::weeks(1), "advanced again: {read_zone}");

    // Four days on, the next week's audits come within the week's lead.
    assert_eq!(gemba.sweep(now + Duration::days(4)).await.expect("sweep").scheduled, 2);
    let mut conn = app.superuser().await;
    let scheduled: Vec<(String, chrono::DateTime<Utc>)> = sqlx::query_as(
        "select audit_type, due_at from audits where org_id = $1::uuid and status = 'SCHEDULED' order by due_at, audit_type",
    )
    .bind(&owner.org)
    .fetch_all(&mut conn)
    .await
    .expect("audits");
    let dues: Vec<i64> = scheduled.iter().map(|(_, due)| due.timestamp()).collect();
    let (first, second) = (first_due.timestamp(), (first_due + Duration::weeks(1)).timestamp());
    assert_eq!(dues, [first, first, second, second], "{scheduled:?}");
}

#[tokio::test]
async fn registry_rows_missing_for_earlier_events_are_filled_from_the_events() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@old.example", "Old data").await;
    let site = app.create_site(&owner, "OLD").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let defect = priority_a(&app, &owner, &zone, "Raised before the table existed").await;
    let kaizen = ok(
        &app,
        &owner,
        "draftKaizen",
        "DraftKaizenInput",
        json!({"zoneId": zone, "title": "Idea", "category": "COST", "problem": "waste", "proposal": "less"}),
    )
    .await;
    // As if these rows predated their tables: the superuser removes them.
    let mut conn = app.superuser().await;
    for table in ["defects", "kaizens", "entity_numbers", "number_sequences"] {
        sqlx::query(&format!("delete from {table} where org_id = $1::uuid")).bind(&owner.org).execute(&mut conn).await.unwrap();
    }
    let gemba = app.gemba();
    assert_eq!(gemba.backfill_registry().await.expect("backfill"), 4, "a defect row, a kaizen row and two numbers");
    assert_eq!(gemba.backfill_registry().await.expect("backfill"), 0, "idempotent");
    let (status, priority): (String, String) =
        sqlx::query_as("select status, priority from defects where org_id = $1::uuid and defect_id = $2::uuid")
            .bind(&owner.org)
            .bind(&defect)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((status.as_str(), priority.as_str()), ("OPEN", "A"));
    let numbers = read(&app, &owner, "query($id: ID!) { kaizen(id: $id) { number } }", &kaizen).await;
    assert!(numbers["kaizen"]["number"].as_str().is_some_and(|n| n.starts_with("OLD-K-")), "{numbers}");
}
