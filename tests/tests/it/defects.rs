//! An abnormality tag through its whole life, through HTTP, with the right people.

use gemba_tests::{Session, TestApp, error_code};
use serde_json::{Value, json};

const FIELDS: &str =
    "id status priority tagClass foundById assigneeId dueAt originalDueAt countermeasure resolvedById verifiedById closedAt";

async fn mutate(app: &TestApp, who: &Session, name: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {FIELDS} }} }}");
    app.gql(Some(&who.token), &query, json!({"input": input})).await
}

#[tokio::test]
async fn a_defect_is_raised_assigned_resolved_and_verified_by_the_right_people() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let leader = app.join(&owner, "lea@a.example", "MEMBER").await;
    let fixer = app.join(&owner, "fix@a.example", "MEMBER").await;
    let finder = app.join(&owner, "fin@a.example", "MEMBER").await;
    let auditor = app.join(&owner, "aud@a.example", "AUDITOR").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let assigned = app
        .gql(
            Some(&owner.token),
            "mutation($input: AssignZoneOwnerInput!) { assignZoneOwner(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "memberId": leader.member}}),
        )
        .await;
    assert!(assigned["errors"].is_null(), "{assigned}");

    let raise = json!({"zoneId": zone, "abnormalityType": "CONTAMINATION_SOURCE", "tagClass": "OPERATOR", "priority": "B",
                       "title": "Oil leak at press 3", "description": "drips onto the walkway"});
    let by_auditor = mutate(&app, &auditor, "raiseDefect", "RaiseDefectInput", raise.clone()).await;
    assert_eq!(error_code(&by_auditor), Some("FORBIDDEN"), "{by_auditor}");
    let raised = mutate(&app, &finder, "raiseDefect", "RaiseDefectInput", raise).await;
    let defect = raised["data"]["raiseDefect"].clone();
    assert_eq!(defect["status"], "OPEN", "{raised}");
    assert_eq!(defect["foundById"], finder.member.as_str());
    let id = defect["id"].as_str().expect("defect id").to_owned();

    let by_fixer = mutate(&app, &fixer, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
    assert_eq!(error_code(&by_fixer), Some("FORBIDDEN"), "only the zone lead assigns: {by_fixer}");
    let assigned = mutate(&app, &leader, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": fixer.member})).await;
    let defect = &assigned["data"]["assignDefect"];
    assert_eq!(defect["status"], "ASSIGNED", "{assigned}");
    assert_eq!(defect["dueAt"], defect["originalDueAt"], "the first due date is the original");
    let original = defect["originalDueAt"].clone();

    let no_reason = mutate(
        &app,
        &leader,
        "changeDefectDueDate",
        "ChangeDefectDueDateInput",
        json!({"defectId": id, "dueAt": "2099-01-01T00:00:00Z", "reason": ""}),
    )
    .await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    let moved = mutate(
        &app,
        &leader,
        "changeDefectDueDate",
        "ChangeDefectDueDateInput",
        json!({"defectId": id, "dueAt": "2099-01-01T00:00:00Z", "reason": "parts on order"}),
    )
    .await;
    assert_eq!(moved["data"]["changeDefectDueDate"]["originalDueAt"], original, "{moved}");
    assert_ne!(moved["data"]["changeDefectDueDate"]["dueAt"], original);

    let started = mutate(&app, &fixer, "startDefectWork", "DefectInput", json!({"defectId": id})).await;
    assert_eq!(started["data"]["startDefectWork"]["status"], "IN_PROGRESS", "{started}");
    let resolved =
        mutate(&app, &fixer, "resolveDefect", "ResolveDefectInput", json!({"defectId": id, "countermeasure": "replaced the seal"})).await;
    assert_eq!(resolved["data"]["resolveDefect"]["status"], "RESOLVED", "{resolved}");

    let self_verified = mutate(&app, &fixer, "verifyDefect", "VerifyDefectInput", json!({"defectId": id})).await;
    assert_eq!(error_code(&self_verified), Some("FORBIDDEN"), "the resolver never verifies: {self_verified}");
    let verified = mutate(&app, &leader, "verifyDefect", "VerifyDefectInput", json!({"defectId": id, "note": "dry after a shift"})).await;
    let closed = &verified["data"]["verifyDefect"];
    assert_eq!(closed["status"], "CLOSED", "{verified}");
    assert_eq!(closed["verifiedById"], leader.member.as_str());
    assert_eq!(closed["resolvedById"], fixer.member.as_str());

    let history = app
        .gql(
            Some(&auditor.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id displayName } changes { path before after } reason } }",
            json!({"id": id}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let types: Vec<&str> = entries.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(
        types,
        ["DefectRaised", "DefectAssigned", "DefectDueDateChanged", "DefectWorkStarted", "DefectResolved", "DefectClosed"],
        "{history}"
    );
    assert_eq!(entries[2]["reason"], "parts on order");
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default()).ok();
    assert_eq!(instant(&entries[2]["changes"][0]["before"]), instant(&original));
    assert_eq!(entries[5]["actor"]["displayName"], "lea@a.example");

    let other = app.sign_up("zed@b.example", "Org B").await;
    let foreign = app.gql(Some(&other.token), "query($id: ID!) { defect(id: $id) { id } }", json!({"id": id})).await;
    assert_eq!(foreign["data"]["defect"], Value::Null, "{foreign}");
}

#[tokio::test]
async fn defect_input_is_validated_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let events = app.event_count(&owner.org).await;
    let base = json!({"zoneId": zone, "abnormalityType": "UNSAFE_PLACE", "tagClass": "SAFETY", "priority": "C", "title": "Loose guard", "description": "x"});
    let unsafe_c = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", base.clone()).await;
    assert_eq!(error_code(&unsafe_c), Some("VALIDATION"), "{unsafe_c}");
    let mut bad_evidence = base.clone();
    bad_evidence["priority"] = json!("A");
    bad_evidence["evidenceBefore"] = json!(["not-a-hash"]);
    let r = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", bad_evidence).await;
    assert_eq!(error_code(&r), Some("VALIDATION"), "{r}");
    let mut bad_zone = base;
    bad_zone["priority"] = json!("A");
    bad_zone["zoneId"] = json!(site);
    let r = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", bad_zone).await;
    assert_eq!(error_code(&r), Some("VALIDATION"), "a site is not an active zone: {r}");
    assert_eq!(app.event_count(&owner.org).await, events);
}

#[tokio::test]
async fn a_deputy_of_the_zone_leader_assigns_and_verifies() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let deputy = app.join(&owner, "dep@a.example", "MEMBER").await;
    let fixer = app.join(&owner, "fix@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let add = "mutation($input: ZoneDeputyInput!) { addZoneDeputy(input: $input) { deputies { id } } }";
    let added = app.gql(Some(&owner.token), add, json!({"input": {"zoneId": zone, "memberId": deputy.member}})).await;
    assert_eq!(added["data"]["addZoneDeputy"]["deputies"], json!([{"id": deputy.member}]), "{added}");

    let raise = json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": "Scratch", "description": "on the guard"});
    let raised = mutate(&app, &fixer, "raiseDefect", "RaiseDefectInput", raise).await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().expect("id").to_owned();
    let assigned = mutate(
        &app,
        &deputy,
        "assignDefect",
        "AssignDefectInput",
        json!({"defectId": id, "assigneeId": fixer.member, "dueAt": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(assigned["data"]["assignDefect"]["status"], "ASSIGNED", "{assigned}");
    mutate(&app, &fixer, "resolveDefect", "ResolveDefectInput", json!({"defectId": id, "countermeasure": "polished"})).await;
    let verified = mutate(&app, &deputy, "verifyDefect", "VerifyDefectInput", json!({"defectId": id})).await;
    assert_eq!(verified["data"]["verifyDefect"]["status"], "CLOSED", "{verified}");

    let remove = "mutation($input: ZoneDeputyInput!) { removeZoneDeputy(input: $input) { deputies { id } } }";
    let removed = app.gql(Some(&owner.token), remove, json!({"input": {"zoneId": zone, "memberId": deputy.member}})).await;
    assert_eq!(removed["data"]["removeZoneDeputy"]["deputies"], json!([]), "{removed}");
}

#[tokio::test]
async fn the_advisor_only_suggests_and_a_person_decides() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let finder = app.join(&owner, "fin@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let raise = json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": "Oil leak at press 3", "description": "drips"});
    let raised = app
        .gql(Some(&finder.token), "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }", json!({"input": raise}))
        .await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().expect("id").to_owned();
    let read = app
        .gql(
            Some(&finder.token),
            "query($id: ID!) { defect(id: $id) { abnormalityType suggestion { id abnormalityType source } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["data"]["defect"]["abnormalityType"], "MINOR_FLAW", "the suggestion changed nothing: {read}");
    assert_eq!(read["data"]["defect"]["suggestion"]["abnormalityType"], "CONTAMINATION_SOURCE", "{read}");
    let suggestion = read["data"]["defect"]["suggestion"]["id"].as_str().expect("suggestion").to_owned();

    let accepted = app
        .gql(
            Some(&finder.token),
            "mutation($input: SuggestionInput!) { acceptSuggestion(input: $input) { abnormalityType suggestion { id } } }",
            json!({"input": {"defectId": id, "suggestionId": suggestion}}),
        )
        .await;
    assert_eq!(accepted["data"]["acceptSuggestion"]["abnormalityType"], "CONTAMINATION_SOURCE", "{accepted}");
    assert_eq!(accepted["data"]["acceptSuggestion"]["suggestion"], Value::Null);

    let history = app
        .gql(Some(&owner.token), "query($id: ID!) { history(entityId: $id) { eventType channel actor { id } } }", json!({"id": id}))
        .await;
    let entries = history["data"]["history"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries[1]["eventType"], "DefectTypeSuggested", "{history}");
    assert_eq!(entries[1]["channel"], "system");
    assert_eq!(entries[1]["actor"]["id"], Value::Null, "no person made the suggestion");
    assert_eq!(entries[2]["eventType"], "DefectSuggestionAccepted");
    assert_eq!(entries[2]["actor"]["id"], finder.member.as_str());
}

#[tokio::test]
async fn organisation_settings_drive_defect_due_dates_and_retention_is_owner_only() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let admin = app.join(&owner, "adm@a.example", "ADMIN").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let settings = "mutation($input: ChangeDefectSettingsInput!) { changeDefectSettings(input: $input) { settings { defectSlaHoursC recurrenceWindowDays } } }";
    let input = json!({"defectSlaHoursA": 4, "defectSlaHoursB": 24, "defectSlaHoursC": 48, "recurrenceWindowDays": 60, "reason": "new maintenance contract"});
    let changed = app.gql(Some(&admin.token), settings, json!({"input": input})).await;
    assert_eq!(
        changed["data"]["changeDefectSettings"]["settings"],
        json!({"defectSlaHoursC": 48, "recurrenceWindowDays": 60}),
        "{changed}"
    );

    let raise = json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": "Label missing", "description": "on the panel"});
    let raised = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", raise).await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().expect("id").to_owned();
    let before = chrono::Utc::now();
    let assigned = mutate(&app, &owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": admin.member})).await;
    let due =
        chrono::DateTime::parse_from_rfc3339(assigned["data"]["assignDefect"]["dueAt"].as_str().unwrap_or_default()).expect("due date");
    let hours = (due.with_timezone(&chrono::Utc) - before).num_minutes() as f64 / 60.0;
    assert!((47.9..=48.1).contains(&hours), "due in the C SLA of 48 h, got {hours}");

    let retention = "mutation($input: SetRetentionPolicyInput!) { setRetentionPolicy(input: $input) { settings { retentionYears } } }";
    let by_admin = app.gql(Some(&admin.token), retention, json!({"input": {"years": 10, "reason": "customer contract"}})).await;
    assert_eq!(error_code(&by_admin), Some("FORBIDDEN"), "{by_admin}");
    let too_short = app.gql(Some(&owner.token), retention, json!({"input": {"years": 5, "reason": "save space"}})).await;
    assert_eq!(error_code(&too_short), Some("VALIDATION"), "{too_short}");
    let set = app.gql(Some(&owner.token), retention, json!({"input": {"years": 10, "reason": "customer contract"}})).await;
    assert_eq!(set["data"]["setRetentionPolicy"]["settings"]["retentionYears"], 10, "{set}");
    let hold = app
        .gql(Some(&owner.token), "mutation { placeLegalHold(input: {reason: \"litigation\"}) { settings { legalHold } } }", json!({}))
        .await;
    assert_eq!(hold["data"]["placeLegalHold"]["settings"]["legalHold"], true, "{hold}");
}
