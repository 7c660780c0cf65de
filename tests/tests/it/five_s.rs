//! A 5S audit through HTTP: template published, audit conducted and submitted, its
//! findings raise defects, a correction recomputes the totals.

use gemba_tests::{TestApp, error_code};
use serde_json::{Value, json};

const AUDIT: &str = "id status scorePct band results { itemId value notApplicable } findings { findingId raiseDefect }";

#[tokio::test]
async fn an_audit_is_conducted_submitted_and_its_findings_raise_defects() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let auditor = app.join(&owner, "aud@a.example", "MEMBER").await;
    let outsider = app.join(&owner, "out@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let gql = |who: &gemba_tests::Session, query: &str, input: Value| {
        let (app, token, query) = (&app, who.token.clone(), query.to_owned());
        async move { app.gql(Some(&token), &query, json!({"input": input})).await }
    };

    // The template: scale 0-4, one item per S (the Sort item raises a finding at <= 1).
    let created = gql(
        &owner,
        "mutation($input: CreateTemplateDraftInput!) { createTemplateDraft(input: $input) { id status version } }",
        json!({"name": "Shop floor 5S", "scaleMin": 0, "scaleMax": 4}),
    )
    .await;
    assert_eq!(created["data"]["createTemplateDraft"]["status"], "DRAFT", "{created}");
    let template = created["data"]["createTemplateDraft"]["id"].as_str().expect("template").to_owned();
    for (i, section) in ["SORT", "SET_IN_ORDER", "SHINE", "STANDARDIZE", "SUSTAIN"].iter().enumerate() {
        let input = json!({"templateId": template, "itemId": format!("S{}-01", i + 1), "section": section, "text": format!("Check {section}"),
                           "weight": if i == 0 { "2" } else { "1" }, "autoFindingAtOrBelow": if i == 0 { json!(1) } else { Value::Null }});
        let added = gql(&owner, "mutation($input: AddTemplateItemInput!) { addTemplateItem(input: $input) { id } }", input).await;
        assert!(added["errors"].is_null(), "{added}");
    }
    let bands = json!({"templateId": template, "bands": [{"label": "Good", "minPct": "60"}, {"label": "Poor", "minPct": "0"}]});
    gql(&owner, "mutation($input: SetTemplateBandsInput!) { setTemplateBands(input: $input) { id } }", bands).await;
    let published = gql(
        &owner,
        "mutation($input: TemplateInput!) { publishTemplate(input: $input) { status publishedVersion checksum } }",
        json!({"templateId": template}),
    )
    .await;
    assert_eq!(published["data"]["publishTemplate"]["status"], "PUBLISHED", "{published}");
    assert_eq!(published["data"]["publishTemplate"]["checksum"].as_str().map(str::len), Some(64));

    // Only a five_s_auditor starts a supervisor audit.
    let start = format!("mutation($input: StartAuditInput!) {{ startAudit(input: $input) {{ {AUDIT} }} }}");
    let start_input = json!({"zoneId": zone, "auditType": "SUPERVISOR", "templateId": template});
    let refused = gql(&auditor, &start, start_input.clone()).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    gql(
        &owner,
        "mutation($input: CapabilityInput!) { grantCapability(input: $input) { id } }",
        json!({"memberId": auditor.member, "capability": "FIVE_S_AUDITOR", "reason": "trained"}),
    )
    .await;
    let started = gql(&auditor, &start, start_input.clone()).await;
    assert_eq!(started["data"]["startAudit"]["status"], "IN_PROGRESS", "{started}");
    let audit = started["data"]["startAudit"]["id"].as_str().expect("audit").to_owned();
    let second = gql(&auditor, &start, start_input).await;
    assert_eq!(error_code(&second), Some("CONFLICT"), "one audit in progress per zone and type: {second}");

    let score = format!("mutation($input: ScoreItemInput!) {{ scoreItem(input: $input) {{ {AUDIT} }} }}");
    let off_scale = gql(&auditor, &score, json!({"auditId": audit, "itemId": "S1-01", "value": 7})).await;
    assert_eq!(error_code(&off_scale), Some("VALIDATION"), "{off_scale}");
    let by_outsider = gql(&outsider, &score, json!({"auditId": audit, "itemId": "S1-01", "value": 1})).await;
    assert_eq!(error_code(&by_outsider), Some("FORBIDDEN"), "{by_outsider}");
    for (item, value) in [("S1-01", json!(1)), ("S2-01", json!(4)), ("S3-01", json!(3)), ("S4-01", json!(2))] {
        let r = gql(&auditor, &score, json!({"auditId": audit, "itemId": item, "value": value})).await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let submit = "mutation($input: AuditInput!) { submitAudit(input: $input) { audit { status } raisedDefectIds } }";
    let early = gql(&auditor, submit, json!({"auditId": audit})).await;
    assert_eq!(error_code(&early), Some("CONFLICT"), "every item first: {early}");
    let na = gql(&auditor, &score, json!({"auditId": audit, "itemId": "S5-01", "notApplicable": true, "comment": "no standard yet"})).await;
    assert!(na["errors"].is_null(), "{na}");
    let finding = json!({"auditId": audit, "itemId": "S3-01", "description": "Oil under the press", "suggestedPriority": "B", "raiseDefect": true, "abnormalityType": "CONTAMINATION_SOURCE"});
    gql(&auditor, "mutation($input: RecordAuditFindingInput!) { recordAuditFinding(input: $input) { id } }", finding).await;

    let submitted = gql(&auditor, submit, json!({"auditId": audit})).await;
    assert_eq!(submitted["data"]["submitAudit"]["audit"]["status"], "SUBMITTED", "{submitted}");
    let raised = submitted["data"]["submitAudit"]["raisedDefectIds"].as_array().cloned().unwrap_or_default();
    assert_eq!(raised.len(), 2, "one for the finding, one for the low Sort item: {submitted}");

    // Weighted, N/A excluded: (2·1 + 4 + 3 + 2) / (2·4 + 4 + 4 + 4) = 11/20 = 55 %.
    let read = app.gql(Some(&owner.token), &format!("query($id: ID!) {{ audit(id: $id) {{ {AUDIT} }} }}"), json!({"id": audit})).await;
    assert_eq!(read["data"]["audit"]["scorePct"], "55", "{read}");
    assert_eq!(read["data"]["audit"]["band"], "Poor");
    for defect in &raised {
        let d = app.gql(Some(&owner.token), "query($id: ID!) { defect(id: $id) { status origin zoneId } }", json!({"id": defect})).await;
        assert_eq!(d["data"]["defect"]["status"], "OPEN", "{d}");
        assert_eq!(d["data"]["defect"]["origin"], "FIVE_S_AUDIT");
        assert_eq!(d["data"]["defect"]["zoneId"], zone.as_str());
    }

    // After submit, only a correction with a reason changes a score; totals follow.
    let rescore = gql(&auditor, &score, json!({"auditId": audit, "itemId": "S4-01", "value": 4})).await;
    assert_eq!(error_code(&rescore), Some("CONFLICT"), "{rescore}");
    let correct = format!("mutation($input: CorrectAuditItemScoreInput!) {{ correctAuditItemScore(input: $input) {{ {AUDIT} }} }}");
    let corrected = gql(
        &auditor,
        &correct,
        json!({"auditId": audit, "itemId": "S4-01", "value": 4, "reason": "misread the checklist", "reasonCode": "DATA_ENTRY_ERROR"}),
    )
    .await;
    assert_eq!(corrected["data"]["correctAuditItemScore"]["scorePct"], "65", "{corrected}");
    assert_eq!(corrected["data"]["correctAuditItemScore"]["band"], "Good");
    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType changes { path before after } reason } }",
            json!({"id": audit}),
        )
        .await;
    let last = history["data"]["history"].as_array().and_then(|h| h.last().cloned()).unwrap_or_default();
    assert_eq!(last["eventType"], "AuditScoreCorrected", "{history}");
    assert_eq!(last["reason"], "misread the checklist");
    assert_eq!(last["changes"][1], json!({"path": "scorePct", "before": "55", "after": "65"}));
}
