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

    // The roll-up: the audited zone's current score; a zone without audits is not rated
    // (never 0) and only lowers the coverage.
    let idle = app.create_zone(&owner, &site, "P-02", "Idle line").await;
    let rollup = app
        .gql(
            Some(&owner.token),
            "query($s: ID) { fiveSRollup(siteId: $s) { averageScorePct coverage zones { zoneId scorePct band } } }",
            json!({"s": site}),
        )
        .await;
    let r = &rollup["data"]["fiveSRollup"];
    assert_eq!((r["averageScorePct"].as_str(), r["coverage"].as_str()), (Some("55"), Some("0.5")), "{rollup}");
    assert_eq!(r["zones"], json!([{"zoneId": zone, "scorePct": "55", "band": "Poor"}, {"zoneId": idle, "scorePct": null, "band": null}]));
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

const TEMPLATE: &str = "id status version name scaleMin scaleMax anchors { value text } items { itemId section weight critical autoFindingAtOrBelow } bands { label }";

async fn call(app: &TestApp, who: &gemba_tests::Session, name: &str, input_type: &str, fields: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} }} }}");
    app.gql(Some(&who.token), &query, json!({"input": input})).await
}

/// A draft with one item per S (`S1-01` … `S5-01`) on a 0–4 scale.
async fn five_item_draft(app: &TestApp, owner: &gemba_tests::Session) -> String {
    let created = call(
        app,
        owner,
        "createTemplateDraft",
        "CreateTemplateDraftInput",
        "id",
        json!({"name": "Shop floor 5S", "scaleMin": 0, "scaleMax": 4}),
    )
    .await;
    let template = created["data"]["createTemplateDraft"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    for (i, section) in ["SORT", "SET_IN_ORDER", "SHINE", "STANDARDIZE", "SUSTAIN"].iter().enumerate() {
        let input =
            json!({"templateId": template, "itemId": format!("S{}-01", i + 1), "section": section, "text": format!("Check {section}")});
        let added = call(app, owner, "addTemplateItem", "AddTemplateItemInput", "id", input).await;
        assert!(added["errors"].is_null(), "{added}");
    }
    template
}

#[tokio::test]
async fn a_template_draft_is_edited_published_cloned_revised_and_retired() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let member = app.join(&owner, "mem@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let template = five_item_draft(&app, &owner).await;
    let t = |extra: Value| {
        let mut input = json!({"templateId": template});
        input.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
        input
    };

    let scaled = call(
        &app,
        &owner,
        "setTemplateScale",
        "SetTemplateScaleInput",
        TEMPLATE,
        t(json!({"min": 0, "max": 4, "anchors": [{"value": 4, "text": "sustained"}, {"value": 0, "text": "not started"}]})),
    )
    .await;
    assert_eq!(
        scaled["data"]["setTemplateScale"]["anchors"],
        json!([{"value": 0, "text": "not started"}, {"value": 4, "text": "sustained"}]),
        "{scaled}"
    );
    let changed = call(
        &app,
        &owner,
        "changeTemplateItem",
        "ChangeTemplateItemInput",
        TEMPLATE,
        t(json!({"itemId": "S1-01", "weight": "2", "critical": true, "autoFindingAtOrBelow": 1})),
    )
    .await;
    assert_eq!(
        changed["data"]["changeTemplateItem"]["items"][0],
        json!({"itemId": "S1-01", "section": "SORT", "weight": "2", "critical": true, "autoFindingAtOrBelow": 1}),
        "{changed}"
    );
    let extra = call(
        &app,
        &owner,
        "addTemplateItem",
        "AddTemplateItemInput",
        "id",
        t(json!({"itemId": "S6-01", "section": "SAFETY", "text": "Guards in place"})),
    )
    .await;
    assert!(extra["errors"].is_null(), "{extra}");
    let removed = call(&app, &owner, "removeTemplateItem", "TemplateItemInput", TEMPLATE, t(json!({"itemId": "S6-01"}))).await;
    assert_eq!(removed["data"]["removeTemplateItem"]["items"].as_array().map(Vec::len), Some(5), "{removed}");
    let order = json!(["S5-01", "S4-01", "S3-01", "S2-01", "S1-01"]);
    let reordered =
        call(&app, &owner, "reorderTemplateItems", "ReorderTemplateItemsInput", "items { itemId }", t(json!({"order": order}))).await;
    let ids: Vec<Value> =
        reordered["data"]["reorderTemplateItems"]["items"].as_array().expect("items").iter().map(|i| i["itemId"].clone()).collect();
    assert_eq!(Value::from(ids), order, "{reordered}");

    // Refused edits change nothing.
    let events = app.event_count(&owner.org).await;
    let by_member =
        call(&app, &member, "changeTemplateItem", "ChangeTemplateItemInput", TEMPLATE, t(json!({"itemId": "S1-01", "weight": "3"}))).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let partial = call(&app, &owner, "reorderTemplateItems", "ReorderTemplateItemsInput", TEMPLATE, t(json!({"order": ["S1-01"]}))).await;
    assert_eq!(error_code(&partial), Some("VALIDATION"), "{partial}");
    let off_scale = call(
        &app,
        &owner,
        "setTemplateScale",
        "SetTemplateScaleInput",
        TEMPLATE,
        t(json!({"min": 0, "max": 4, "anchors": [{"value": 9, "text": "beyond"}]})),
    )
    .await;
    assert_eq!(error_code(&off_scale), Some("VALIDATION"), "{off_scale}");
    let flat = call(&app, &owner, "setTemplateScale", "SetTemplateScaleInput", TEMPLATE, t(json!({"min": 3, "max": 3}))).await;
    assert_eq!(error_code(&flat), Some("VALIDATION"), "min < max: {flat}");
    assert_eq!(app.event_count(&owner.org).await, events);

    let published = call(&app, &owner, "publishTemplate", "TemplateInput", TEMPLATE, t(json!({}))).await;
    assert_eq!(published["data"]["publishTemplate"]["status"], "PUBLISHED", "{published}");
    let events = app.event_count(&owner.org).await;
    let frozen =
        call(&app, &owner, "changeTemplateItem", "ChangeTemplateItemInput", TEMPLATE, t(json!({"itemId": "S1-01", "weight": "3"}))).await;
    assert_eq!(error_code(&frozen), Some("CONFLICT"), "only drafts are edited: {frozen}");
    assert_eq!(app.event_count(&owner.org).await, events);

    let cloned =
        call(&app, &owner, "cloneTemplate", "CloneTemplateInput", TEMPLATE, json!({"fromTemplateId": template, "name": "Office 5S"})).await;
    let copy = &cloned["data"]["cloneTemplate"];
    assert_eq!(
        (copy["status"].as_str(), copy["version"].as_u64(), copy["name"].as_str()),
        (Some("DRAFT"), Some(1), Some("Office 5S")),
        "{cloned}"
    );
    assert_ne!(copy["id"], template.as_str());
    assert_eq!(copy["items"], published["data"]["publishTemplate"]["items"], "items copied in order");
    assert_eq!(copy["anchors"], published["data"]["publishTemplate"]["anchors"]);

    let revised = call(&app, &owner, "reviseTemplate", "TemplateInput", "status version publishedVersion", t(json!({}))).await;
    assert_eq!(revised["data"]["reviseTemplate"], json!({"status": "DRAFT", "version": 2, "publishedVersion": 1}), "{revised}");
    let no_reason = call(&app, &owner, "retireTemplate", "RetireTemplateInput", TEMPLATE, t(json!({"reason": " "}))).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    let retired =
        call(&app, &owner, "retireTemplate", "RetireTemplateInput", TEMPLATE, t(json!({"reason": "replaced by the office checklist"})))
            .await;
    assert_eq!(retired["data"]["retireTemplate"]["status"], "RETIRED", "{retired}");
    let start = call(
        &app,
        &owner,
        "startAudit",
        "StartAuditInput",
        "id",
        json!({"zoneId": zone, "auditType": "SELF_AUDIT", "templateId": template}),
    )
    .await;
    assert_eq!(error_code(&start), Some("VALIDATION"), "no new audits on a retired template: {start}");

    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } reason } }",
            json!({"id": template}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let change = entries.iter().find(|e| e["eventType"] == "AuditTemplateItemChanged").expect("the change");
    assert_eq!(change["changes"][0]["path"], "items.S1-01", "{history}");
    assert_eq!((&change["changes"][0]["before"]["weight"], &change["changes"][0]["after"]["weight"]), (&json!("1"), &json!("2")));
    let reorder = entries.iter().find(|e| e["eventType"] == "AuditTemplateItemsReordered").expect("the reorder");
    assert_eq!(reorder["changes"][0]["after"], order);
    let last = entries.last().expect("entries");
    assert_eq!(
        (last["eventType"].as_str(), last["reason"].as_str()),
        (Some("AuditTemplateRetired"), Some("replaced by the office checklist"))
    );
    assert_eq!(last["actor"]["id"], owner.member.as_str());
}

#[tokio::test]
async fn a_scheduled_audit_is_started_items_marked_not_applicable_and_a_late_one_missed() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let auditor = app.join(&owner, "aud@a.example", "MEMBER").await;
    let member = app.join(&owner, "mem@a.example", "MEMBER").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let template = five_item_draft(&app, &owner).await;
    call(&app, &owner, "publishTemplate", "TemplateInput", "id", json!({"templateId": template})).await;
    call(
        &app,
        &owner,
        "grantCapability",
        "CapabilityInput",
        "id",
        json!({"memberId": auditor.member, "capability": "FIVE_S_AUDITOR", "reason": "trained"}),
    )
    .await;
    const VIEW: &str = "id status auditType dueAt evidence { itemId sha256 } results { itemId value notApplicable comment }";
    let due = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let plan = json!({"zoneId": zone, "auditType": "SUPERVISOR", "dueAt": due});

    let events = app.event_count(&owner.org).await;
    let by_member = call(&app, &member, "scheduleAudit", "ScheduleAuditInput", VIEW, plan.clone()).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let past = call(
        &app,
        &auditor,
        "scheduleAudit",
        "ScheduleAuditInput",
        VIEW,
        json!({"zoneId": zone, "auditType": "SUPERVISOR", "dueAt": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(error_code(&past), Some("VALIDATION"), "{past}");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");

    let scheduled = call(&app, &auditor, "scheduleAudit", "ScheduleAuditInput", VIEW, plan.clone()).await;
    let audit = &scheduled["data"]["scheduleAudit"];
    assert_eq!((audit["status"].as_str(), audit["auditType"].as_str()), (Some("SCHEDULED"), Some("SUPERVISOR")), "{scheduled}");
    let id = audit["id"].as_str().expect("audit").to_owned();

    let events = app.event_count(&owner.org).await;
    let wrong_type = call(
        &app,
        &auditor,
        "startAudit",
        "StartAuditInput",
        VIEW,
        json!({"zoneId": zone, "auditType": "MANAGEMENT", "templateId": template, "auditId": id}),
    )
    .await;
    assert_eq!(error_code(&wrong_type), Some("VALIDATION"), "{wrong_type}");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");
    let started = call(
        &app,
        &auditor,
        "startAudit",
        "StartAuditInput",
        VIEW,
        json!({"zoneId": zone, "auditType": "SUPERVISOR", "templateId": template, "auditId": id}),
    )
    .await;
    assert_eq!(started["data"]["startAudit"]["status"], "IN_PROGRESS", "{started}");
    assert_eq!(started["data"]["startAudit"]["id"], id.as_str(), "the scheduled audit itself starts");

    let no_comment = call(
        &app,
        &auditor,
        "markItemNotApplicable",
        "MarkItemNotApplicableInput",
        VIEW,
        json!({"auditId": id, "itemId": "S5-01", "comment": " "}),
    )
    .await;
    assert_eq!(error_code(&no_comment), Some("VALIDATION"), "{no_comment}");
    let na = call(
        &app,
        &auditor,
        "markItemNotApplicable",
        "MarkItemNotApplicableInput",
        VIEW,
        json!({"auditId": id, "itemId": "S5-01", "comment": "no standard yet"}),
    )
    .await;
    assert_eq!(
        na["data"]["markItemNotApplicable"]["results"],
        json!([{"itemId": "S5-01", "value": null, "notApplicable": true, "comment": "no standard yet"}]),
        "{na}"
    );
    let photo = app.upload_photo(&member, "shelf label missing").await;
    let attached = call(
        &app,
        &auditor,
        "attachAuditEvidence",
        "AttachAuditEvidenceInput",
        VIEW,
        json!({"auditId": id, "itemId": "S1-01", "evidence": photo}),
    )
    .await;
    assert_eq!(attached["data"]["attachAuditEvidence"]["evidence"], json!([{"itemId": "S1-01", "sha256": photo}]), "{attached}");
    let by_member =
        call(&app, &member, "attachAuditEvidence", "AttachAuditEvidenceInput", VIEW, json!({"auditId": id, "evidence": photo})).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");

    let history = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } } }",
            json!({"id": id}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let types: Vec<&str> = entries.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(types, ["AuditScheduled", "AuditStarted", "AuditItemMarkedNotApplicable", "AuditEvidenceAttached"], "{history}");
    assert!(
        entries[1]["changes"]
            .as_array()
            .expect("changes")
            .contains(&json!({"path": "status", "before": "SCHEDULED", "after": "IN_PROGRESS"}))
    );
    assert_eq!(entries[2]["changes"][0], json!({"path": "items.S5-01", "before": null, "after": "not_applicable"}));

    // The system marks a scheduled audit missed once it is past due, never before.
    let late =
        call(&app, &auditor, "scheduleAudit", "ScheduleAuditInput", "id", json!({"zoneId": zone, "auditType": "MANAGEMENT", "dueAt": due}))
            .await;
    let late: gemba_domain::AuditId = late["data"]["scheduleAudit"]["id"].as_str().expect("audit").parse().expect("audit id");
    let org = owner.org.parse().expect("org id");
    let gemba = app.gemba();
    let events = app.event_count(&owner.org).await;
    assert!(gemba.mark_audit_missed(org, late, chrono::Utc::now()).await.is_err(), "not due yet");
    assert_eq!(app.event_count(&owner.org).await, events);
    gemba.mark_audit_missed(org, late, chrono::Utc::now() + chrono::Duration::days(8)).await.expect("missed");
    let read = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { audit(id: $id) { status } history(entityId: $id) { eventType channel } }",
            json!({"id": late.to_string()}),
        )
        .await;
    assert_eq!(read["data"]["audit"]["status"], "MISSED", "{read}");
    assert_eq!(read["data"]["history"][1], json!({"eventType": "AuditMissed", "channel": "system"}));
}
