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

#[tokio::test]
async fn a_defect_fixed_on_the_spot_is_raised_resolved_in_one_step() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let finder = app.join(&owner, "fin@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let fixed = json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "MAINTENANCE", "priority": "C",
                       "title": "Loose bolt", "description": "on the guard", "countermeasure": "tightened"});
    let events = app.event_count(&owner.org).await;
    let no_after = mutate(&app, &finder, "raiseDefectFixedOnSpot", "RaiseDefectFixedOnSpotInput", fixed.clone()).await;
    assert_eq!(error_code(&no_after), Some("VALIDATION"), "a maintenance tag needs after-evidence: {no_after}");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");

    let mut with_after = fixed;
    let photo = app.upload_photo(&owner, "after the fix").await;
    let mut not_uploaded = with_after.clone();
    not_uploaded["evidenceAfter"] = json!(["ab".repeat(32)]);
    let refused = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", not_uploaded).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "evidence must be uploaded first: {refused}");
    with_after["evidenceAfter"] = json!([photo]);
    let raised = mutate(&app, &finder, "raiseDefectFixedOnSpot", "RaiseDefectFixedOnSpotInput", with_after).await;
    let defect = &raised["data"]["raiseDefectFixedOnSpot"];
    assert_eq!(defect["status"], "RESOLVED", "{raised}");
    assert_eq!(defect["countermeasure"], "tightened");
    assert_eq!(defect["resolvedById"], finder.member.as_str());
    let id = defect["id"].as_str().expect("id");
    let read = app.gql(Some(&owner.token), "query($id: ID!) { defect(id: $id) { fixedOnSpot evidenceAfter } }", json!({"id": id})).await;
    assert_eq!(read["data"]["defect"], json!({"fixedOnSpot": true, "evidenceAfter": [photo]}), "{read}");
    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } } }",
            json!({"id": id}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let types: Vec<&str> = entries.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(types[..2], ["DefectRaised", "DefectResolved"], "raised and resolved by one command: {history}");
    assert_eq!(entries[1]["actor"]["id"], finder.member.as_str());
    assert!(entries[1]["changes"].as_array().expect("changes").contains(&json!({"path": "fixedOnSpot", "before": null, "after": true})));
}

#[tokio::test]
async fn comments_evidence_links_and_the_work_order_are_kept_on_the_defect() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let finder = app.join(&owner, "fin@a.example", "MEMBER").await;
    let auditor = app.join(&owner, "aud@a.example", "AUDITOR").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let raise = json!({"zoneId": zone, "abnormalityType": "CONTAMINATION_SOURCE", "tagClass": "OPERATOR", "priority": "B",
                       "title": "Oil leak", "description": "drips"});
    let raised = mutate(&app, &finder, "raiseDefect", "RaiseDefectInput", raise).await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().expect("id").to_owned();
    const VIEW: &str = "evidenceBefore evidenceAfter comments { authorId text at } linkedA3Id linkedKaizenIds workOrderRef";
    let call = |who: &gemba_tests::Session, name: &str, input_type: &str, input: Value| {
        let (app, token) = (&app, who.token.clone());
        let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {VIEW} }} }}");
        async move { app.gql(Some(&token), &query, json!({"input": input})).await }
    };

    for words in ["first seen at 6am", "still dripping"] {
        let r = call(&finder, "commentOnDefect", "DefectTextInput", json!({"defectId": id, "text": words})).await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let photo = app.upload_photo(&finder, "oil on the floor").await;
    let attached =
        call(&finder, "attachDefectEvidence", "AttachDefectEvidenceInput", json!({"defectId": id, "evidence": photo, "phase": "BEFORE"}))
            .await;
    let view = &attached["data"]["attachDefectEvidence"];
    assert_eq!(view["evidenceBefore"], json!([photo]), "{attached}");
    let comments = view["comments"].as_array().expect("comments");
    assert_eq!(
        comments.iter().map(|c| c["text"].as_str().unwrap_or_default()).collect::<Vec<_>>(),
        ["first seen at 6am", "still dripping"]
    );
    assert_eq!(comments[0]["authorId"], finder.member.as_str());

    // Links need an existing target of this organisation; the owner leads.
    let kaizen = app
        .gql(
            Some(&finder.token),
            "mutation($input: DraftKaizenInput!) { draftKaizen(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "title": "Drip tray", "category": "QUALITY", "problem": "oil", "proposal": "tray"}}),
        )
        .await;
    let kaizen = kaizen["data"]["draftKaizen"]["id"].as_str().unwrap_or_else(|| panic!("{kaizen}")).to_owned();
    let a3 = app
        .gql(
            Some(&owner.token),
            "mutation($input: OpenA3Input!) { openA3(input: $input) { id } }",
            json!({"input": {"theme": "Leaks on press 3", "ownerId": owner.member, "coachId": finder.member}}),
        )
        .await;
    let a3 = a3["data"]["openA3"]["id"].as_str().unwrap_or_else(|| panic!("{a3}")).to_owned();

    let events = app.event_count(&owner.org).await;
    let by_finder = call(&finder, "linkDefectToKaizen", "LinkDefectToKaizenInput", json!({"defectId": id, "kaizenId": kaizen})).await;
    assert_eq!(error_code(&by_finder), Some("FORBIDDEN"), "only the assignee or the zone's leaders link: {by_finder}");
    let missing = call(&owner, "linkDefectToA3", "LinkDefectToA3Input", json!({"defectId": id, "a3Id": kaizen})).await;
    assert_eq!(error_code(&missing), Some("VALIDATION"), "a kaizen id is no A3 case: {missing}");
    let by_auditor = call(&auditor, "commentOnDefect", "DefectTextInput", json!({"defectId": id, "text": "x"})).await;
    assert_eq!(error_code(&by_auditor), Some("FORBIDDEN"), "{by_auditor}");
    let bad_ref =
        call(&owner, "setDefectWorkOrderRef", "SetDefectWorkOrderRefInput", json!({"defectId": id, "workOrderRef": "WO 1"})).await;
    assert_eq!(error_code(&bad_ref), Some("VALIDATION"), "{bad_ref}");
    assert_eq!(app.event_count(&owner.org).await, events, "refused commands changed nothing");

    let linked = call(&owner, "linkDefectToKaizen", "LinkDefectToKaizenInput", json!({"defectId": id, "kaizenId": kaizen})).await;
    assert_eq!(linked["data"]["linkDefectToKaizen"]["linkedKaizenIds"], json!([kaizen]), "{linked}");
    let twice = call(&owner, "linkDefectToKaizen", "LinkDefectToKaizenInput", json!({"defectId": id, "kaizenId": kaizen})).await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");
    let linked = call(&owner, "linkDefectToA3", "LinkDefectToA3Input", json!({"defectId": id, "a3Id": a3})).await;
    assert_eq!(linked["data"]["linkDefectToA3"]["linkedA3Id"], a3.as_str(), "{linked}");
    for reference in ["wo-100", "WO-101"] {
        let set =
            call(&owner, "setDefectWorkOrderRef", "SetDefectWorkOrderRefInput", json!({"defectId": id, "workOrderRef": reference})).await;
        assert!(set["errors"].is_null(), "{set}");
    }

    let other = app.sign_up("zed@b.example", "Org B").await;
    let foreign = other_org_kaizen(&app, &other).await;
    let cross = call(&owner, "linkDefectToKaizen", "LinkDefectToKaizenInput", json!({"defectId": id, "kaizenId": foreign})).await;
    assert_eq!(error_code(&cross), Some("VALIDATION"), "a kaizen of another organisation is not found: {cross}");

    let history = app
        .gql(
            Some(&auditor.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } } }",
            json!({"id": id}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let last = entries.last().expect("an entry");
    assert_eq!(last["eventType"], "DefectWorkOrderLinked", "{history}");
    assert_eq!(last["actor"]["id"], owner.member.as_str());
    assert_eq!(last["changes"][0], json!({"path": "workOrderRef", "before": "WO-100", "after": "WO-101"}));
    let types: Vec<&str> = entries.iter().filter_map(|e| e["eventType"].as_str()).collect();
    for t in ["DefectCommented", "DefectEvidenceAttached", "DefectLinkedToKaizen", "DefectLinkedToA3"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}

async fn other_org_kaizen(app: &TestApp, other: &Session) -> String {
    let site = app.create_site(other, "S9").await;
    let zone = app.create_zone(other, &site, "Z-9", "Elsewhere").await;
    let drafted = app
        .gql(
            Some(&other.token),
            "mutation($input: DraftKaizenInput!) { draftKaizen(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "title": "Other", "category": "QUALITY", "problem": "p", "proposal": "q"}}),
        )
        .await;
    drafted["data"]["draftKaizen"]["id"].as_str().unwrap_or_else(|| panic!("{drafted}")).to_owned()
}

#[tokio::test]
async fn the_system_escalates_an_unassigned_priority_a_defect_once_per_level() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let raise = json!({"zoneId": zone, "abnormalityType": "UNSAFE_PLACE", "tagClass": "SAFETY", "priority": "A",
                       "title": "Guard missing", "description": "on press 3"});
    let raised = mutate(&app, &owner, "raiseDefect", "RaiseDefectInput", raise).await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().expect("id").to_owned();
    let (org, defect) = (owner.org.parse().expect("org id"), id.parse().expect("defect id"));
    let gemba = app.gemba();
    let now = chrono::Utc::now();

    let events = app.event_count(&owner.org).await;
    let early = gemba.escalate_defect(org, defect, 60, now + chrono::Duration::minutes(30)).await.expect("escalation");
    assert!(early.is_none(), "not yet due");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");
    let late = now + chrono::Duration::minutes(61);
    assert!(gemba.escalate_defect(org, defect, 60, late).await.expect("escalation").is_some());
    assert!(gemba.escalate_defect(org, defect, 60, late).await.expect("escalation").is_none(), "once per level");
    assert_eq!(app.event_count(&owner.org).await, events + 1);

    let read = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { defect(id: $id) { status escalationLevel } history(entityId: $id) { eventType channel actor { id } changes { path before after } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["data"]["defect"], json!({"status": "OPEN", "escalationLevel": 1}), "a flag, not a state: {read}");
    let last = read["data"]["history"].as_array().and_then(|h| h.last().cloned()).unwrap_or_default();
    assert_eq!(last["eventType"], "DefectEscalated", "{read}");
    assert_eq!((last["channel"].as_str(), last["actor"]["id"].is_null()), (Some("system"), true));
    assert_eq!(last["changes"][0]["after"], json!({"rule": "priority_a_unassigned", "level": 1}));
}

#[tokio::test]
async fn tags_kaizens_and_a3_cases_get_sequential_human_numbers_per_site_and_year() {
    use chrono::Datelike;
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@n.example", "Org N").await;
    let s1 = app.create_site(&owner, "PLT1").await;
    let s2 = app.create_site(&owner, "PLT2").await;
    let z1 = app.create_zone(&owner, &s1, "P-01", "Press").await;
    let z2 = app.create_zone(&owner, &s2, "W-01", "Weld").await;
    let raise = |zone: &str, title: &str| json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": title, "description": "seen"});
    let mut numbers = Vec::new();
    for (zone, title) in [(&z1, "one"), (&z2, "two"), (&z1, "three")] {
        let r = app
            .gql(
                Some(&owner.token),
                "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { number } }",
                json!({"input": raise(zone, title)}),
            )
            .await;
        numbers.push(r["data"]["raiseDefect"]["number"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned());
    }
    let year = chrono::Utc::now().year();
    assert_eq!(numbers, [format!("PLT1-T-{year}-000001"), format!("PLT2-T-{year}-000001"), format!("PLT1-T-{year}-000002")]);

    let kaizen = app
        .gql(
            Some(&owner.token),
            "mutation($input: DraftKaizenInput!) { draftKaizen(input: $input) { number } }",
            json!({"input": {"zoneId": z2, "title": "Magnetic trays", "category": "QUALITY", "problem": "screws fall", "proposal": "trays"}}),
        )
        .await;
    assert_eq!(kaizen["data"]["draftKaizen"]["number"], format!("PLT2-K-{year}-00001"), "{kaizen}");
    let coach = app.join(&owner, "coach@n.example", "MEMBER").await;
    let a3 = app
        .gql(
            Some(&owner.token),
            "mutation($input: OpenA3Input!) { openA3(input: $input) { number } }",
            json!({"input": {"theme": "Weld spatter", "ownerId": owner.member, "coachId": coach.member}}),
        )
        .await;
    assert_eq!(a3["data"]["openA3"]["number"], format!("A3-{year}-0001"), "{a3}");
}
