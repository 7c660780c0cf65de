//! The audit trail: one row per event, filtered and paged, for Owners, Admins and Auditors.

use gemba_tests::{Session, TestApp, error_code};
use serde_json::{Value, json};

const TRAIL: &str = "query($first: Int, $after: String, $filter: AuditTrailFilter) {
    auditTrail(first: $first, after: $after, filter: $filter) {
        pageInfo { hasNextPage endCursor }
        edges { node { tenantSeq entityId entityType eventType actor { id role } reason changes { path before after } } } } }";

async fn trail(app: &TestApp, who: &Session, first: i32, after: Option<&str>, filter: Value) -> Value {
    app.gql(Some(&who.token), TRAIL, json!({"first": first, "after": after, "filter": filter})).await
}

fn nodes(r: &Value) -> Vec<Value> {
    r["data"]["auditTrail"]["edges"].as_array().unwrap_or_else(|| panic!("{r}")).iter().map(|e| e["node"].clone()).collect()
}

async fn raise(app: &TestApp, who: &Session, zone: &str, title: &str) -> String {
    let r = app
        .gql(
            Some(&who.token),
            "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "B", "title": title, "description": "seen"}}),
        )
        .await;
    r["data"]["raiseDefect"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
}

#[tokio::test]
async fn the_audit_trail_filters_pages_and_is_for_owners_admins_and_auditors_of_one_organisation() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@trail.example", "Trail").await;
    let member = app.join(&owner, "member@trail.example", "MEMBER").await;
    let auditor = app.join(&owner, "auditor@trail.example", "AUDITOR").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let leak = raise(&app, &owner, &zone, "Leak").await;
    let assigned = app
        .gql(
            Some(&owner.token),
            "mutation($input: AssignDefectInput!) { assignDefect(input: $input) { dueAt } }",
            json!({"input": {"defectId": leak, "assigneeId": member.member}}),
        )
        .await;
    let due_before = assigned["data"]["assignDefect"]["dueAt"].clone();
    let moved = app
        .gql(
            Some(&owner.token),
            "mutation($input: ChangeDefectDueDateInput!) { changeDefectDueDate(input: $input) { dueAt } }",
            json!({"input": {"defectId": leak, "dueAt": "2030-01-01T00:00:00Z", "reason": "parts on order"}}),
        )
        .await;
    assert!(moved["errors"].is_null(), "{moved}");
    raise(&app, &member, &zone, "Crack").await;

    // Review by exception: the due-date changes, with who, before, after and why.
    let changes = trail(&app, &auditor, 10, None, json!({"eventTypes": ["DefectDueDateChanged"]})).await;
    let rows = nodes(&changes);
    assert_eq!(rows.len(), 1, "{changes}");
    assert_eq!(rows[0]["entityId"], leak.as_str());
    assert_eq!(rows[0]["actor"], json!({"id": owner.member, "role": "OWNER"}));
    assert_eq!(rows[0]["reason"], "parts on order");
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default()).map(|d| d.to_utc()).ok();
    assert_eq!(instant(&rows[0]["changes"][0]["before"]), instant(&due_before), "{changes}");
    assert!(instant(&due_before).is_some());

    // One actor's changes; changes without a reason.
    let by_member = nodes(&trail(&app, &auditor, 50, None, json!({"actorId": member.member})).await);
    assert!(!by_member.is_empty() && by_member.iter().all(|r| r["actor"]["id"] == member.member.as_str()), "{by_member:?}");
    let unreasoned = nodes(&trail(&app, &owner, 500, None, json!({"withoutReason": true})).await);
    assert!(unreasoned.iter().all(|r| r["reason"].is_null()), "{unreasoned:?}");
    assert!(unreasoned.iter().all(|r| r["eventType"] != "DefectDueDateChanged"));
    let defects = nodes(&trail(&app, &owner, 500, None, json!({"entityType": "Defect"})).await);
    assert!(defects.iter().all(|r| r["entityType"] == "Defect") && defects.len() >= 4, "{defects:?}");

    // Pages follow each other in stream order, without gaps or overlaps.
    let everything = nodes(&trail(&app, &owner, 500, None, json!({})).await);
    assert_eq!(everything.len() as i64, app.event_count(&owner.org).await);
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = trail(&app, &owner, 7, after.as_deref(), json!({})).await;
        paged.extend(nodes(&page));
        if page["data"]["auditTrail"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["data"]["auditTrail"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(paged, everything);
    let positions: Vec<i64> = paged.iter().map(|r| r["tenantSeq"].as_i64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[1] == w[0] + 1), "gapless stream order: {positions:?}");

    // Members cannot read it; another organisation never sees these rows.
    assert_eq!(error_code(&trail(&app, &member, 10, None, json!({})).await), Some("FORBIDDEN"));
    let stranger = app.sign_up("owner@other-trail.example", "Other").await;
    assert!(nodes(&trail(&app, &stranger, 500, None, json!({"entityId": leak})).await).is_empty());
    let bad = trail(&app, &owner, 10, Some("not-a-cursor"), json!({})).await;
    assert_eq!(error_code(&bad), Some("VALIDATION"), "{bad}");
}

/// Auditors read who changed what, but not contact or employment data: e-mail addresses and
/// employee numbers are redacted in the trail as in the member list and the data exports;
/// Owners and Admins see them.
#[tokio::test]
async fn auditors_see_names_but_not_email_addresses_or_employee_numbers_in_the_trail() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@redact.example", "Redact").await;
    let member = app.join(&owner, "member@redact.example", "MEMBER").await;
    let auditor = app.join(&owner, "auditor@redact.example", "AUDITOR").await;
    let patch = json!({"memberId": member.member, "displayName": "Mo Stone", "employeeNumber": "E-4711", "shift": "Night"});
    let r = app
        .gql(
            Some(&owner.token),
            "mutation($input: UpdateMemberProfileInput!) { updateMemberProfile(input: $input) { id } }",
            json!({"input": patch}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");

    let change_of = |rows: &[Value], path: &str| -> Value {
        let changed = rows.iter().find(|r| r["eventType"] == "MemberProfileChanged").unwrap_or_else(|| panic!("{rows:?}"));
        changed["changes"].as_array().unwrap().iter().find(|c| c["path"] == path).cloned().unwrap_or_else(|| panic!("{changed}"))
    };
    let filter = json!({"entityId": member.member});
    let seen_by_auditor = nodes(&trail(&app, &auditor, 50, None, filter.clone()).await);
    assert_eq!(change_of(&seen_by_auditor, "employeeNumber")["after"], "[redacted]");
    assert_eq!(change_of(&seen_by_auditor, "displayName")["after"], "Mo Stone");
    let invited = seen_by_auditor.iter().find(|r| r["eventType"] == "MemberInvited").expect("the invitation");
    let emails: Vec<&Value> = invited["changes"].as_array().unwrap().iter().filter(|c| c["path"] == "email").map(|c| &c["after"]).collect();
    assert!(!emails.is_empty() && emails.iter().all(|e| *e == "[redacted]"), "{invited}");
    assert!(!serde_json::to_string(&seen_by_auditor).unwrap().contains("E-4711"));

    let seen_by_owner = nodes(&trail(&app, &owner, 50, None, filter).await);
    assert_eq!(change_of(&seen_by_owner, "employeeNumber")["after"], "E-4711");
}
