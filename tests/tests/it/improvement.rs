//! Kaizen to verified savings and an A3 case through all its phases, through HTTP.

use gemba_tests::{Session, TestApp, error_code};
use serde_json::{Value, json};

async fn call(app: &TestApp, who: &Session, name: &str, input_type: &str, fields: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} }} }}");
    app.gql(Some(&who.token), &query, json!({"input": input})).await
}

#[tokio::test]
async fn a_kaizen_goes_from_idea_to_independently_verified_savings() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let author = app.join(&owner, "aut@a.example", "MEMBER").await;
    let reviewer = app.join(&owner, "rev@a.example", "MEMBER").await;
    let implementer = app.join(&owner, "imp@a.example", "MEMBER").await;
    let verifier = app.join(&owner, "ver@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    app.gql(
        Some(&owner.token),
        "mutation($input: AssignZoneOwnerInput!) { assignZoneOwner(input: $input) { id } }",
        json!({"input": {"zoneId": zone, "memberId": reviewer.member}}),
    )
    .await;
    for who in [&verifier, &author] {
        app.gql(
            Some(&owner.token),
            "mutation($input: CapabilityInput!) { grantCapability(input: $input) { id } }",
            json!({"input": {"memberId": who.member, "capability": "SAVINGS_VERIFIER", "reason": "finance"}}),
        )
        .await;
    }
    const F: &str = "id status reviewerId implementerIds verifiedHardSavings { currency amount } verifiedSoftSavings { currency amount }";

    let drafted = call(&app, &author, "draftKaizen", "DraftKaizenInput", F, json!({"zoneId": zone, "title": "Quick-change clamps", "category": "COST", "problem": "40 min changeovers", "proposal": "hydraulic clamps"})).await;
    let id = drafted["data"]["draftKaizen"]["id"].as_str().unwrap_or_else(|| panic!("{drafted}")).to_owned();
    let k = json!({"kaizenId": id});
    assert_eq!(call(&app, &author, "submitKaizen", "KaizenInput", F, k.clone()).await["data"]["submitKaizen"]["status"], "SUBMITTED");
    let own_review = call(&app, &author, "startKaizenReview", "KaizenInput", F, k.clone()).await;
    assert_eq!(error_code(&own_review), Some("FORBIDDEN"), "{own_review}");
    assert_eq!(
        call(&app, &reviewer, "startKaizenReview", "KaizenInput", F, k.clone()).await["data"]["startKaizenReview"]["reviewerId"],
        reviewer.member.as_str()
    );
    let approved =
        call(&app, &reviewer, "approveKaizen", "ApproveKaizenInput", F, json!({"kaizenId": id, "implementerIds": [implementer.member]}))
            .await;
    assert_eq!(approved["data"]["approveKaizen"]["status"], "APPROVED", "{approved}");
    call(&app, &implementer, "startKaizenImplementation", "KaizenInput", F, k.clone()).await;
    assert_eq!(
        call(&app, &implementer, "markKaizenImplemented", "KaizenInput", F, k.clone()).await["data"]["markKaizenImplemented"]["status"],
        "IMPLEMENTED"
    );

    let hard = json!({"kaizenId": id, "lineId": "a1", "kind": "ACTUAL", "classification": "HARD", "amount": "100", "currency": "EUR", "period": "MONTH",
                      "realizedOn": "2026-11-01", "calculation": "2 h/week x 50 EUR/h", "evidence": ["ab".repeat(32)]});
    let mut no_evidence = hard.clone();
    no_evidence["evidence"] = json!([]);
    let refused = call(&app, &implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", F, no_evidence).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "hard savings need evidence: {refused}");
    call(&app, &implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", F, hard).await;
    let soft = json!({"kaizenId": id, "lineId": "a2", "kind": "ACTUAL", "classification": "SOFT", "amount": "500", "currency": "EUR", "realizedOn": "2026-11-01", "calculation": "avoided overtime"});
    call(&app, &implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", F, soft).await;
    assert_eq!(
        call(&app, &implementer, "submitKaizenImpact", "KaizenInput", F, k.clone()).await["data"]["submitKaizenImpact"]["status"],
        "IMPACT_SUBMITTED"
    );

    let by_author = call(&app, &author, "verifyKaizenSavings", "KaizenInput", F, k.clone()).await;
    assert_eq!(error_code(&by_author), Some("FORBIDDEN"), "an author never verifies, capability or not: {by_author}");
    let by_reviewer = call(&app, &reviewer, "verifyKaizenSavings", "KaizenInput", F, k.clone()).await;
    assert_eq!(error_code(&by_reviewer), Some("FORBIDDEN"), "{by_reviewer}");
    let verified = call(&app, &verifier, "verifyKaizenSavings", "KaizenInput", F, k.clone()).await;
    let v = &verified["data"]["verifyKaizenSavings"];
    assert_eq!(v["status"], "SAVINGS_VERIFIED", "{verified}");
    assert_eq!(v["verifiedHardSavings"], json!([{"currency": "EUR", "amount": "1200"}]), "hard savings annualised, apart from soft");
    assert_eq!(v["verifiedSoftSavings"], json!([{"currency": "EUR", "amount": "500"}]));
    assert_eq!(call(&app, &reviewer, "closeKaizen", "KaizenInput", F, k).await["data"]["closeKaizen"]["status"], "CLOSED");

    let history =
        app.gql(Some(&owner.token), "query($id: ID!) { history(entityId: $id) { eventType actor { id } } }", json!({"id": id})).await;
    let entries = history["data"]["history"].as_array().cloned().unwrap_or_default();
    let verification = entries.iter().find(|e| e["eventType"] == "KaizenSavingsVerified").cloned().unwrap_or_default();
    assert_eq!(verification["actor"]["id"], verifier.member.as_str(), "{history}");
}

#[tokio::test]
async fn an_a3_case_passes_every_pdca_gate_in_order() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let lead = app.join(&owner, "lead@a.example", "MEMBER").await;
    let coach = app.join(&owner, "coach@a.example", "MEMBER").await;
    const F: &str = "id status iteration";
    let opened = call(
        &app,
        &lead,
        "openA3",
        "OpenA3Input",
        F,
        json!({"theme": "Scrap on press 3 doubled", "ownerId": lead.member, "coachId": coach.member}),
    )
    .await;
    let id = opened["data"]["openA3"]["id"].as_str().unwrap_or_else(|| panic!("{opened}")).to_owned();
    let a = |extra: Value| {
        let mut input = json!({"a3Id": id});
        if let (Some(target), Some(fields)) = (input.as_object_mut(), extra.as_object()) {
            target.extend(fields.clone());
        }
        input
    };

    let early = call(&app, &coach, "approveA3Plan", "A3Input", F, a(json!({}))).await;
    assert_eq!(error_code(&early), Some("CONFLICT"), "no plan yet: {early}");
    call(
        &app,
        &lead,
        "recordA3Baseline",
        "RecordA3BaselineInput",
        F,
        a(json!({"metricId": "scrap", "name": "Scrap rate", "unit": "%", "value": "4"})),
    )
    .await;
    call(&app, &lead, "setA3Target", "SetA3TargetInput", F, a(json!({"metricId": "scrap", "value": "2", "by": "2027-01-31"}))).await;
    call(&app, &lead, "addA3Cause", "AddA3CauseInput", F, a(json!({"causeId": "c1", "category": "METHOD", "text": "no torque standard"})))
        .await;
    call(
        &app,
        &lead,
        "addA3Countermeasure",
        "AddA3CountermeasureInput",
        F,
        a(json!({"cmId": "cm1", "description": "torque standard", "addresses": ["c1"], "ownerId": lead.member, "dueOn": "2026-12-15"})),
    )
    .await;
    let unverified = call(&app, &coach, "approveA3Plan", "A3Input", F, a(json!({}))).await;
    assert_eq!(error_code(&unverified), Some("CONFLICT"), "the root cause is not verified yet: {unverified}");
    call(&app, &lead, "changeA3CauseStatus", "ChangeA3CauseStatusInput", F, a(json!({"causeId": "c1", "status": "VERIFIED"}))).await;
    let by_owner = call(&app, &lead, "approveA3Plan", "A3Input", F, a(json!({}))).await;
    assert_eq!(error_code(&by_owner), Some("FORBIDDEN"), "{by_owner}");
    assert_eq!(call(&app, &coach, "approveA3Plan", "A3Input", F, a(json!({}))).await["data"]["approveA3Plan"]["status"], "DO");

    let too_soon = call(&app, &lead, "advanceA3ToCheck", "A3Input", F, a(json!({}))).await;
    assert_eq!(error_code(&too_soon), Some("CONFLICT"), "{too_soon}");
    call(&app, &lead, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", F, a(json!({"cmId": "cm1", "status": "DONE"}))).await;
    assert_eq!(call(&app, &lead, "advanceA3ToCheck", "A3Input", F, a(json!({}))).await["data"]["advanceA3ToCheck"]["status"], "CHECK");

    let missed = call(
        &app,
        &lead,
        "confirmA3Effect",
        "ConfirmA3EffectInput",
        F,
        a(json!({"actuals": [{"metricId": "scrap", "value": "3.5"}], "targetMet": "NO"})),
    )
    .await;
    assert_eq!(missed["data"]["confirmA3Effect"]["status"], "PLAN", "{missed}");
    assert_eq!(missed["data"]["confirmA3Effect"]["iteration"], 2);
    call(&app, &lead, "addA3Countermeasure", "AddA3CountermeasureInput", F, a(json!({"cmId": "cm2", "description": "poka-yoke torque tool", "addresses": ["c1"], "ownerId": lead.member, "dueOn": "2027-01-10"}))).await;
    call(&app, &coach, "approveA3Plan", "A3Input", F, a(json!({}))).await;
    call(&app, &lead, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", F, a(json!({"cmId": "cm2", "status": "DONE"}))).await;
    call(&app, &lead, "advanceA3ToCheck", "A3Input", F, a(json!({}))).await;
    let met = call(
        &app,
        &lead,
        "confirmA3Effect",
        "ConfirmA3EffectInput",
        F,
        a(json!({"actuals": [{"metricId": "scrap", "value": "1.8"}], "targetMet": "YES"})),
    )
    .await;
    assert_eq!(met["data"]["confirmA3Effect"]["status"], "ACT", "{met}");

    let unstandardized = call(&app, &coach, "closeA3", "A3Input", F, a(json!({}))).await;
    assert_eq!(error_code(&unstandardized), Some("CONFLICT"), "{unstandardized}");
    call(&app, &lead, "recordA3Standardization", "RecordA3StandardizationInput", F, a(json!({"documents": ["WI-17 rev C"]}))).await;
    call(&app, &lead, "recordA3Yokoten", "A3TextInput", F, a(json!({"text": "presses 1 and 2"}))).await;
    assert_eq!(call(&app, &coach, "closeA3", "A3Input", F, a(json!({}))).await["data"]["closeA3"]["status"], "CLOSED");

    let history = app.gql(Some(&owner.token), "query($id: ID!) { history(entityId: $id) { eventType } }", json!({"id": id})).await;
    let types: Vec<String> = history["data"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["eventType"].as_str().map(str::to_owned))
        .collect();
    for expected in [
        "A3Opened",
        "A3PlanApproved",
        "A3IterationStarted",
        "A3EffectConfirmed",
        "A3StandardizationRecorded",
        "A3YokotenRecorded",
        "A3Closed",
    ] {
        assert!(types.iter().any(|t| t == expected), "{expected} missing from {types:?}");
    }
}
