//! One plant story end to end through the real server: a 5S audit finds oil under a press,
//! the finding raises a defect that the right people assign, resolve and verify, a kaizen
//! removes the cause with verified savings, and an A3 case standardises the fix. Then the
//! history of every entity shows each step with who, before, after and why.

use gemba_tests::{Session, TestApp};
use serde_json::{Value, json};

async fn ok(app: &TestApp, who: &Session, mutation: &str, input_type: &str, fields: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {fields} }} }}");
    let response = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    assert!(response["errors"].is_null(), "{mutation} failed: {response}");
    response["data"][mutation].clone()
}

async fn history(app: &TestApp, who: &Session, id: &str) -> Vec<Value> {
    let r = app
        .gql(
            Some(&who.token),
            "query($id: ID!) { history(entityId: $id) { seq eventType recordedAt actor { id displayName role } changes { path before after } reason signatureMeaning } }",
            json!({"id": id}),
        )
        .await;
    r["data"]["history"].as_array().cloned().unwrap_or_else(|| panic!("history of {id}: {r}"))
}

fn types(entries: &[Value]) -> Vec<String> {
    entries.iter().filter_map(|e| e["eventType"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_plant_story_from_audit_to_standard_is_fully_recorded() {
    let app = TestApp::spawn().await;
    let manager = app.sign_up("manager@plant.example", "Plant One").await;
    let leader = app.join(&manager, "leader@plant.example", "MEMBER").await;
    let auditor = app.join(&manager, "auditor@plant.example", "MEMBER").await;
    let mechanic = app.join(&manager, "mechanic@plant.example", "MEMBER").await;
    let controller = app.join(&manager, "controller@plant.example", "MEMBER").await;
    let compliance = app.join(&manager, "compliance@plant.example", "AUDITOR").await;
    for (who, capability) in [(&auditor, "FIVE_S_AUDITOR"), (&controller, "SAVINGS_VERIFIER")] {
        ok(
            &app,
            &manager,
            "grantCapability",
            "CapabilityInput",
            "id",
            json!({"memberId": who.member, "capability": capability, "reason": "trained"}),
        )
        .await;
    }
    let site = app.create_site(&manager, "PLT1").await;
    let zone = app.create_zone(&manager, &site, "PRESS", "Press hall").await;
    ok(&app, &manager, "assignZoneOwner", "AssignZoneOwnerInput", "id", json!({"zoneId": zone, "memberId": leader.member})).await;

    // 1. The 5S template is published.
    let template = ok(
        &app,
        &manager,
        "createTemplateDraft",
        "CreateTemplateDraftInput",
        "id",
        json!({"name": "Press 5S", "scaleMin": 0, "scaleMax": 4}),
    )
    .await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (i, section) in ["SORT", "SET_IN_ORDER", "SHINE", "STANDARDIZE", "SUSTAIN"].iter().enumerate() {
        let item = json!({"templateId": template, "itemId": format!("I{i}"), "section": section, "text": format!("{section} check")});
        ok(&app, &manager, "addTemplateItem", "AddTemplateItemInput", "id", item).await;
    }
    ok(&app, &manager, "publishTemplate", "TemplateInput", "status", json!({"templateId": template})).await;

    // 2. The audit is conducted and submitted; its finding raises a defect.
    let audit = ok(
        &app,
        &auditor,
        "startAudit",
        "StartAuditInput",
        "id",
        json!({"zoneId": zone, "auditType": "SUPERVISOR", "templateId": template}),
    )
    .await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for i in 0..5 {
        ok(&app, &auditor, "scoreItem", "ScoreItemInput", "id", json!({"auditId": audit, "itemId": format!("I{i}"), "value": 3})).await;
    }
    let finding = json!({"auditId": audit, "itemId": "I2", "description": "Oil under press 3", "suggestedPriority": "B", "raiseDefect": true, "abnormalityType": "CONTAMINATION_SOURCE"});
    ok(&app, &auditor, "recordAuditFinding", "RecordAuditFindingInput", "id", finding).await;
    let submitted = ok(&app, &auditor, "submitAudit", "AuditInput", "raisedDefectIds audit { scorePct }", json!({"auditId": audit})).await;
    assert_eq!(submitted["audit"]["scorePct"], "75");
    let defect = submitted["raisedDefectIds"][0].as_str().unwrap_or_default().to_owned();

    // 3. The defect is assigned by the zone leader, resolved by the mechanic, verified by the leader.
    ok(&app, &leader, "assignDefect", "AssignDefectInput", "id", json!({"defectId": defect, "assigneeId": mechanic.member})).await;
    ok(
        &app,
        &leader,
        "changeDefectDueDate",
        "ChangeDefectDueDateInput",
        "id",
        json!({"defectId": defect, "dueAt": "2099-01-01T00:00:00Z", "reason": "seal on order"}),
    )
    .await;
    ok(&app, &mechanic, "startDefectWork", "DefectInput", "id", json!({"defectId": defect})).await;
    ok(&app, &mechanic, "resolveDefect", "ResolveDefectInput", "id", json!({"defectId": defect, "countermeasure": "new seal"})).await;
    let closed = ok(&app, &leader, "verifyDefect", "VerifyDefectInput", "status verifiedById", json!({"defectId": defect})).await;
    assert_eq!(closed["status"], "CLOSED");

    // 4. A kaizen removes the cause, with savings verified by the controller.
    let kaizen = ok(&app, &mechanic, "draftKaizen", "DraftKaizenInput", "id", json!({"zoneId": zone, "title": "Drip-free seal design", "category": "QUALITY", "problem": "seals leak", "proposal": "new seal type"})).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let k = json!({"kaizenId": kaizen});
    ok(&app, &mechanic, "submitKaizen", "KaizenInput", "id", k.clone()).await;
    ok(&app, &leader, "startKaizenReview", "KaizenInput", "id", k.clone()).await;
    ok(&app, &leader, "approveKaizen", "ApproveKaizenInput", "id", json!({"kaizenId": kaizen, "implementerIds": [mechanic.member]})).await;
    ok(&app, &mechanic, "startKaizenImplementation", "KaizenInput", "id", k.clone()).await;
    ok(&app, &mechanic, "markKaizenImplemented", "KaizenInput", "id", k.clone()).await;
    let invoice = app.upload_photo(&mechanic, "oil supplier invoice").await;
    let line = json!({"kaizenId": kaizen, "lineId": "oil", "kind": "ACTUAL", "classification": "HARD", "amount": "250", "currency": "EUR", "period": "MONTH",
                      "realizedOn": "2026-11-01", "calculation": "5 l/week less oil x 12.50 EUR/l", "evidence": [invoice]});
    ok(&app, &mechanic, "setKaizenImpactLine", "SetKaizenImpactLineInput", "id", line).await;
    ok(&app, &mechanic, "submitKaizenImpact", "KaizenInput", "id", k.clone()).await;
    let verified =
        ok(&app, &controller, "verifyKaizenSavings", "KaizenInput", "status verifiedHardSavings { amount currency }", k.clone()).await;
    assert_eq!(verified["verifiedHardSavings"], json!([{"amount": "3000", "currency": "EUR"}]));
    ok(&app, &leader, "closeKaizen", "KaizenInput", "status", k).await;

    // 5. An A3 case goes through every phase.
    let a3 = ok(
        &app,
        &leader,
        "openA3",
        "OpenA3Input",
        "id",
        json!({"theme": "Press oil leaks recur", "ownerId": leader.member, "coachId": manager.member}),
    )
    .await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let a = |extra: Value| {
        let mut input = json!({"a3Id": a3});
        if let (Some(target), Some(fields)) = (input.as_object_mut(), extra.as_object()) {
            target.extend(fields.clone());
        }
        input
    };
    ok(
        &app,
        &leader,
        "recordA3Baseline",
        "RecordA3BaselineInput",
        "id",
        a(json!({"metricId": "leaks", "name": "Leaks per month", "unit": "count", "value": "6"})),
    )
    .await;
    ok(&app, &leader, "setA3Target", "SetA3TargetInput", "id", a(json!({"metricId": "leaks", "value": "1", "by": "2027-03-31"}))).await;
    ok(
        &app,
        &leader,
        "addA3Cause",
        "AddA3CauseInput",
        "id",
        a(json!({"causeId": "seal", "category": "MATERIAL", "text": "seal material ages fast"})),
    )
    .await;
    ok(&app, &leader, "changeA3CauseStatus", "ChangeA3CauseStatusInput", "id", a(json!({"causeId": "seal", "status": "VERIFIED"}))).await;
    ok(&app, &leader, "addA3Countermeasure", "AddA3CountermeasureInput", "id", a(json!({"cmId": "cm1", "description": "new seal standard", "addresses": ["seal"], "ownerId": mechanic.member, "dueOn": "2027-01-15"}))).await;
    ok(&app, &manager, "approveA3Plan", "A3Input", "status", a(json!({}))).await;
    ok(&app, &mechanic, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", "id", a(json!({"cmId": "cm1", "status": "DONE"})))
        .await;
    ok(&app, &leader, "advanceA3ToCheck", "A3Input", "status", a(json!({}))).await;
    ok(
        &app,
        &leader,
        "confirmA3Effect",
        "ConfirmA3EffectInput",
        "status",
        a(json!({"actuals": [{"metricId": "leaks", "value": "0"}], "targetMet": "YES"})),
    )
    .await;
    ok(&app, &leader, "recordA3Standardization", "RecordA3StandardizationInput", "id", a(json!({"documents": ["SOP-PRESS-07 rev D"]})))
        .await;
    ok(&app, &leader, "recordA3Yokoten", "A3TextInput", "id", a(json!({"text": "roll out to presses 1 and 2"}))).await;
    let closed = ok(&app, &manager, "closeA3", "A3Input", "status", a(json!({}))).await;
    assert_eq!(closed["status"], "CLOSED");

    // 6. The compliance auditor reads every step: who, before, after, why.
    let audit_history = history(&app, &compliance, &audit).await;
    assert_eq!(types(&audit_history)[..2], ["AuditStarted".to_owned(), "AuditItemScored".to_owned()]);
    assert_eq!(types(&audit_history).last().map(String::as_str), Some("AuditSubmitted"));
    assert!(
        audit_history.iter().all(|e| e["actor"]["id"] == auditor.member.as_str() && e["actor"]["displayName"] == "auditor@plant.example")
    );

    assert_eq!(audit_history.last().map(|e| e["signatureMeaning"].clone()), Some(json!("authored")), "submitting signs as author");

    let defect_history = history(&app, &compliance, &defect).await;
    let signed: Vec<(&str, &str)> =
        defect_history.iter().filter_map(|e| Some((e["eventType"].as_str()?, e["signatureMeaning"].as_str()?))).collect();
    assert_eq!(signed, [("DefectClosed", "verified")], "only the verification is a signed act");
    assert_eq!(
        types(&defect_history),
        ["DefectRaised", "DefectAssigned", "DefectDueDateChanged", "DefectWorkStarted", "DefectResolved", "DefectClosed"],
        "{defect_history:?}"
    );
    let who: Vec<&str> = defect_history.iter().filter_map(|e| e["actor"]["id"].as_str()).collect();
    assert_eq!(who, [auditor.member.as_str(), &leader.member, &leader.member, &mechanic.member, &mechanic.member, &leader.member]);
    assert_eq!(defect_history[2]["reason"], "seal on order");
    assert_eq!(
        defect_history[0]["changes"].as_array().map(|c| c.iter().all(|c| c["before"].is_null())),
        Some(true),
        "creation: before is null"
    );

    let kaizen_history = history(&app, &compliance, &kaizen).await;
    let verification = kaizen_history.iter().find(|e| e["eventType"] == "KaizenSavingsVerified").cloned().unwrap_or_default();
    assert_eq!(verification["actor"]["id"], controller.member.as_str());
    assert_eq!(verification["signatureMeaning"], "verified");
    assert!(
        verification["changes"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["path"] == "status" && c["before"] == "IMPACT_SUBMITTED" && c["after"] == "SAVINGS_VERIFIED"))
    );

    let a3_history = history(&app, &compliance, &a3).await;
    let signed: Vec<(&str, &str)> =
        a3_history.iter().filter_map(|e| Some((e["eventType"].as_str()?, e["signatureMeaning"].as_str()?))).collect();
    assert_eq!(signed, [("A3PlanApproved", "approved"), ("A3EffectConfirmed", "reviewed"), ("A3Closed", "approved")]);
    let phases: Vec<(String, String)> = a3_history
        .iter()
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["path"] == "status" && !c["before"].is_null())
        .map(|c| (c["before"].as_str().unwrap_or_default().to_owned(), c["after"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let expected = [("PLAN", "DO"), ("DO", "CHECK"), ("CHECK", "ACT"), ("ACT", "CLOSED")].map(|(b, a)| (b.to_owned(), a.to_owned()));
    assert_eq!(phases, expected, "every PDCA gate, in order");

    // 7. Points followed the validated outcomes under the default rules: the auditor for the
    //    submitted audit (2) and for their finding accepted as a real defect (1); the mechanic
    //    for the defect closed on time (3 + 1), the kaizen approved (1), implemented (5, once
    //    though author and implementer), its verified savings (5) and their tier (+5 at 1000 or
    //    more hard savings); the leader for verifying the defect (1) and owning the A3
    //    closed with its target met (10); the compliance auditor earns nothing.
    let members = app.gql(Some(&manager.token), "{ members { edges { node { id points } } } }", json!({})).await;
    let points = |who: &Session| {
        members["data"]["members"]["edges"]
            .as_array()
            .and_then(|edges| edges.iter().find(|e| e["node"]["id"] == who.member.as_str()))
            .and_then(|e| e["node"]["points"].as_i64())
    };
    assert_eq!(points(&auditor), Some(3), "{members}");
    assert_eq!(points(&mechanic), Some(20));
    assert_eq!(points(&leader), Some(11));
    assert_eq!(points(&compliance), Some(0));
    let ledger = history(&app, &manager, &mechanic.member).await;
    assert!(
        ledger.iter().filter(|e| e["eventType"] == "PointsAwarded").all(|e| e["actor"]["id"].is_null()),
        "awards are made by the system"
    );
}
