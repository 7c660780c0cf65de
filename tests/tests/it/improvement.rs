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

    let timesheet = app.upload_photo(&implementer, "timesheet").await;
    let mut not_uploaded = json!({"kaizenId": id, "lineId": "a1", "kind": "ACTUAL", "classification": "HARD", "amount": "100", "currency": "EUR",
                                  "period": "MONTH", "realizedOn": "2026-11-01", "calculation": "2 h/week x 50 EUR/h", "evidence": ["ab".repeat(32)]});
    let refused = call(&app, &implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", F, not_uploaded.clone()).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "evidence must be uploaded to the organisation: {refused}");
    not_uploaded["evidence"] = json!([timesheet]);
    let hard = not_uploaded;
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

/// An organisation with a zone led by `reviewer` and a `verifier` holding `savings_verifier`.
pub(crate) struct Plant {
    pub(crate) app: TestApp,
    pub(crate) owner: Session,
    pub(crate) author: Session,
    pub(crate) reviewer: Session,
    pub(crate) implementer: Session,
    pub(crate) verifier: Session,
    pub(crate) zone: String,
}

pub(crate) async fn plant() -> Plant {
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
    app.gql(
        Some(&owner.token),
        "mutation($input: CapabilityInput!) { grantCapability(input: $input) { id } }",
        json!({"input": {"memberId": verifier.member, "capability": "SAVINGS_VERIFIER", "reason": "finance"}}),
    )
    .await;
    Plant { app, owner, author, reviewer, implementer, verifier, zone }
}

const K: &str = "id status title category authors { memberId sharePct } reviewerId implementerIds dueAt verificationVersion \
                 linkedDefectIds linkedA3Id impactLines { lineId } verifiedHardSavings { currency amount }";

pub(crate) async fn draft(p: &Plant) -> String {
    let drafted = call(&p.app, &p.author, "draftKaizen", "DraftKaizenInput", K, json!({"zoneId": p.zone, "title": "Quick-change clamps", "category": "COST", "problem": "40 min changeovers", "proposal": "hydraulic clamps"})).await;
    drafted["data"]["draftKaizen"]["id"].as_str().unwrap_or_else(|| panic!("{drafted}")).to_owned()
}

async fn history(p: &Plant, id: &str) -> Vec<Value> {
    let h = p
        .app
        .gql(
            Some(&p.owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } reason reasonCode } }",
            json!({"id": id}),
        )
        .await;
    h["data"]["history"].as_array().cloned().unwrap_or_else(|| panic!("{h}"))
}

fn entry(entries: &[Value], event_type: &str) -> Value {
    entries.iter().rev().find(|e| e["eventType"] == event_type).cloned().unwrap_or_else(|| panic!("no {event_type} in {entries:?}"))
}

fn with(id: &str, extra: Value) -> Value {
    let mut input = json!({"kaizenId": id});
    if let (Some(target), Some(fields)) = (input.as_object_mut(), extra.as_object()) {
        target.extend(fields.clone());
    }
    input
}

#[tokio::test]
async fn kaizen_content_co_authors_shares_and_links_are_changed_with_their_history() {
    let p = plant().await;
    let (app, author) = (&p.app, &p.author);
    let id = draft(&p).await;
    let edited = call(app, author, "editKaizenDraft", "EditKaizenDraftInput", K, with(&id, json!({"title": "Hydraulic die clamps"}))).await;
    assert_eq!(edited["data"]["editKaizenDraft"]["title"], "Hydraulic die clamps", "{edited}");
    call(app, author, "submitKaizen", "KaizenInput", K, with(&id, json!({}))).await;
    let as_draft = call(app, author, "editKaizenDraft", "EditKaizenDraftInput", K, with(&id, json!({"title": "x"}))).await;
    assert_eq!(error_code(&as_draft), Some("CONFLICT"), "{as_draft}");
    let no_reason =
        call(app, author, "changeKaizenContent", "ChangeKaizenContentInput", K, with(&id, json!({"category": "QUALITY", "reason": " "})))
            .await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    let changed = call(
        app,
        author,
        "changeKaizenContent",
        "ChangeKaizenContentInput",
        K,
        with(&id, json!({"category": "QUALITY", "reason": "scrap, not cost", "reasonCode": "RECLASSIFICATION"})),
    )
    .await;
    assert_eq!(changed["data"]["changeKaizenContent"]["category"], "QUALITY", "{changed}");

    let co = app.join(&p.owner, "co@a.example", "MEMBER").await;
    let third = app.join(&p.owner, "third@a.example", "MEMBER").await;
    let stranger = app.sign_up("zed@b.example", "Org B").await;
    let foreign = call(app, author, "addKaizenCoAuthor", "KaizenMemberInput", K, with(&id, json!({"memberId": stranger.member}))).await;
    assert_eq!(error_code(&foreign), Some("VALIDATION"), "a member of another organisation is no co-author: {foreign}");
    for who in [&co, &third] {
        call(app, author, "addKaizenCoAuthor", "KaizenMemberInput", K, with(&id, json!({"memberId": who.member}))).await;
    }
    let k = app.gql(Some(&author.token), &format!("query($id: ID!) {{ kaizen(id: $id) {{ {K} }} }}"), json!({"id": id})).await;
    assert_eq!(
        k["data"]["kaizen"]["authors"],
        json!([{"memberId": author.member, "sharePct": 34}, {"memberId": co.member, "sharePct": 33}, {"memberId": third.member, "sharePct": 33}]),
        "equal split, remainder to the first author: {k}"
    );
    let events = app.event_count(&p.owner.org).await;
    let bad = json!([{"memberId": author.member, "sharePct": 50}, {"memberId": co.member, "sharePct": 30}, {"memberId": third.member, "sharePct": 10}]);
    let refused = call(app, author, "setKaizenAuthorShares", "SetKaizenAuthorSharesInput", K, with(&id, json!({"shares": bad}))).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "shares sum to 100: {refused}");
    let by_outsider =
        call(app, &p.implementer, "removeKaizenCoAuthor", "KaizenMemberInput", K, with(&id, json!({"memberId": co.member}))).await;
    assert_eq!(error_code(&by_outsider), Some("FORBIDDEN"), "{by_outsider}");
    assert_eq!(app.event_count(&p.owner.org).await, events, "refused commands change nothing");
    let good = json!([{"memberId": author.member, "sharePct": 50}, {"memberId": co.member, "sharePct": 30}, {"memberId": third.member, "sharePct": 20}]);
    let set = call(app, &co, "setKaizenAuthorShares", "SetKaizenAuthorSharesInput", K, with(&id, json!({"shares": good}))).await;
    assert_eq!(set["data"]["setKaizenAuthorShares"]["authors"][0]["sharePct"], 50, "{set}");
    let removed = call(app, author, "removeKaizenCoAuthor", "KaizenMemberInput", K, with(&id, json!({"memberId": third.member}))).await;
    assert_eq!(
        removed["data"]["removeKaizenCoAuthor"]["authors"],
        json!([{"memberId": author.member, "sharePct": 50}, {"memberId": co.member, "sharePct": 50}]),
        "{removed}"
    );

    let defect = call(app, author, "raiseDefect", "RaiseDefectInput", "id", json!({"zoneId": p.zone, "abnormalityType": "CONTAMINATION_SOURCE", "tagClass": "OPERATOR", "priority": "B", "title": "Oil leak", "description": "drips"})).await;
    let defect = defect["data"]["raiseDefect"]["id"].as_str().unwrap_or_else(|| panic!("{defect}")).to_owned();
    let unknown = call(app, author, "linkKaizenToDefect", "LinkKaizenToDefectInput", K, with(&id, json!({"defectId": p.zone}))).await;
    assert_eq!(error_code(&unknown), Some("VALIDATION"), "{unknown}");
    let linked = call(app, author, "linkKaizenToDefect", "LinkKaizenToDefectInput", K, with(&id, json!({"defectId": defect}))).await;
    assert_eq!(linked["data"]["linkKaizenToDefect"]["linkedDefectIds"], json!([defect]), "{linked}");
    let a3 = call(
        app,
        author,
        "openA3",
        "OpenA3Input",
        "id",
        json!({"theme": "Changeovers", "ownerId": author.member, "coachId": p.reviewer.member}),
    )
    .await;
    let a3 = a3["data"]["openA3"]["id"].as_str().unwrap_or_else(|| panic!("{a3}")).to_owned();
    let linked = call(app, author, "linkKaizenToA3", "LinkKaizenToA3Input", K, with(&id, json!({"a3Id": a3}))).await;
    assert_eq!(linked["data"]["linkKaizenToA3"]["linkedA3Id"], a3.as_str(), "{linked}");

    let entries = history(&p, &id).await;
    let change = entry(&entries, "KaizenContentChanged");
    assert_eq!(change["changes"], json!([{"path": "category", "before": "cost", "after": "quality"}]), "{change}");
    assert_eq!(change["reason"], "scrap, not cost");
    assert_eq!(change["reasonCode"], "reclassification");
    let shares = entry(&entries, "KaizenAuthorSharesChanged");
    assert_eq!(shares["actor"]["id"], co.member.as_str());
    assert_eq!(shares["changes"][0]["before"][0]["share_pct"], 34, "{shares}");
    assert_eq!(shares["changes"][0]["after"][0]["share_pct"], 50, "{shares}");
}

#[tokio::test]
async fn a_kaizen_is_deferred_reactivated_and_its_due_date_and_lines_change_with_reasons() {
    let p = plant().await;
    let (app, author, reviewer) = (&p.app, &p.author, &p.reviewer);
    let id = draft(&p).await;
    let target = with(
        &id,
        json!({"lineId": "t1", "kind": "TARGET", "classification": "SOFT", "amount": "50", "currency": "EUR", "realizedOn": "2026-11-01", "calculation": "estimate"}),
    );
    call(app, author, "setKaizenImpactLine", "SetKaizenImpactLineInput", K, target).await;
    call(app, author, "submitKaizen", "KaizenInput", K, with(&id, json!({}))).await;
    call(app, reviewer, "startKaizenReview", "KaizenInput", K, with(&id, json!({}))).await;
    let by_author = call(app, author, "deferKaizen", "KaizenReasonInput", K, with(&id, json!({"reason": "later"}))).await;
    assert_eq!(error_code(&by_author), Some("FORBIDDEN"), "{by_author}");
    let deferred = call(app, reviewer, "deferKaizen", "KaizenReasonInput", K, with(&id, json!({"reason": "budget next quarter"}))).await;
    assert_eq!(deferred["data"]["deferKaizen"]["status"], "DEFERRED", "{deferred}");
    let approve = with(&id, json!({"implementerIds": [p.implementer.member], "dueAt": "2026-12-01T00:00:00Z"}));
    let early = call(app, reviewer, "approveKaizen", "ApproveKaizenInput", K, approve.clone()).await;
    assert_eq!(error_code(&early), Some("CONFLICT"), "a deferred kaizen is reactivated first: {early}");
    let own = call(app, author, "reactivateKaizen", "KaizenInput", K, with(&id, json!({}))).await;
    assert_eq!(error_code(&own), Some("FORBIDDEN"), "{own}");
    let reactivated = call(app, &p.owner, "reactivateKaizen", "KaizenInput", K, with(&id, json!({}))).await;
    assert_eq!(reactivated["data"]["reactivateKaizen"]["status"], "UNDER_REVIEW", "{reactivated}");
    assert_eq!(reactivated["data"]["reactivateKaizen"]["reviewerId"], p.owner.member.as_str());
    let approved = call(app, &p.owner, "approveKaizen", "ApproveKaizenInput", K, approve).await;
    assert_eq!(approved["data"]["approveKaizen"]["status"], "APPROVED", "{approved}");

    let events = app.event_count(&p.owner.org).await;
    let move_due = with(&id, json!({"dueAt": "2026-12-15T00:00:00Z", "reason": "parts late", "reasonCode": "SCOPE_CHANGE"}));
    let by_author = call(app, author, "changeKaizenDueDate", "ChangeKaizenDueDateInput", K, move_due.clone()).await;
    assert_eq!(error_code(&by_author), Some("FORBIDDEN"), "{by_author}");
    let no_reason =
        call(app, author, "removeKaizenImpactLine", "RemoveKaizenImpactLineInput", K, with(&id, json!({"lineId": "t1", "reason": ""})))
            .await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(app.event_count(&p.owner.org).await, events, "refused commands change nothing");
    let moved = call(app, &p.owner, "changeKaizenDueDate", "ChangeKaizenDueDateInput", K, move_due).await;
    assert_eq!(moved["data"]["changeKaizenDueDate"]["dueAt"], "2026-12-15T00:00:00+00:00", "{moved}");
    let removed = call(
        app,
        author,
        "removeKaizenImpactLine",
        "RemoveKaizenImpactLineInput",
        K,
        with(&id, json!({"lineId": "t1", "reason": "target was a guess"})),
    )
    .await;
    assert_eq!(removed["data"]["removeKaizenImpactLine"]["impactLines"], json!([]), "{removed}");

    let entries = history(&p, &id).await;
    let due = entry(&entries, "KaizenDueDateChanged");
    assert_eq!(due["reason"], "parts late", "{due}");
    assert_eq!(due["changes"][0]["path"], "dueAt");
    assert!(due["changes"][0]["before"].as_str().is_some_and(|b| b.starts_with("2026-12-01")), "{due}");
    let line = entry(&entries, "KaizenImpactLineRemoved");
    assert_eq!(line["changes"][0]["after"], Value::Null, "{line}");
    assert_eq!(line["changes"][0]["before"]["line_id"], "t1");
    assert_eq!(entry(&entries, "KaizenDeferred")["reason"], "budget next quarter");
}

#[tokio::test]
async fn verified_savings_are_adjusted_as_a_new_version_and_a_closed_kaizen_reopens() {
    let p = plant().await;
    let (app, author, reviewer, implementer, verifier) = (&p.app, &p.author, &p.reviewer, &p.implementer, &p.verifier);
    let id = draft(&p).await;
    let k = with(&id, json!({}));
    call(app, author, "submitKaizen", "KaizenInput", K, k.clone()).await;
    call(app, reviewer, "startKaizenReview", "KaizenInput", K, k.clone()).await;
    call(app, reviewer, "approveKaizen", "ApproveKaizenInput", K, with(&id, json!({"implementerIds": [implementer.member]}))).await;
    call(app, implementer, "startKaizenImplementation", "KaizenInput", K, k.clone()).await;
    call(app, implementer, "markKaizenImplemented", "KaizenInput", K, k.clone()).await;
    let timesheet = app.upload_photo(implementer, "timesheet").await;
    let hard = with(
        &id,
        json!({"lineId": "a1", "kind": "ACTUAL", "classification": "HARD", "amount": "100", "currency": "EUR", "period": "MONTH",
                                "realizedOn": "2026-11-01", "calculation": "2 h/week x 50 EUR/h", "evidence": [timesheet]}),
    );
    call(app, implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", K, hard).await;
    call(app, implementer, "submitKaizenImpact", "KaizenInput", K, k.clone()).await;
    // Large savings (here 1200 EUR a year) need an Owner or Admin as verifier.
    let query = "mutation($input: ChangeOrganizationSettingsInput!) { changeOrganizationSettings(input: $input) { id } }";
    let threshold = |amount: &str| json!({"input": {"kaizenVerifierThresholdAmount": amount, "reason": "finance policy"}});
    assert!(app.gql(Some(&p.owner.token), query, threshold("1000")).await["errors"].is_null());
    let too_large = call(app, verifier, "verifyKaizenSavings", "KaizenInput", K, k.clone()).await;
    assert_eq!(error_code(&too_large), Some("FORBIDDEN"), "{too_large}");
    assert!(app.gql(Some(&p.owner.token), query, threshold("2000")).await["errors"].is_null());
    let verified = call(app, verifier, "verifyKaizenSavings", "KaizenInput", K, k.clone()).await;
    assert_eq!(verified["data"]["verifyKaizenSavings"]["verificationVersion"], 1, "{verified}");

    let adjust = with(
        &id,
        json!({"lineId": "a1", "amount": "80", "currency": "EUR", "reason": "invoice was lower", "reasonCode": "DATA_ENTRY_ERROR"}),
    );
    let events = app.event_count(&p.owner.org).await;
    let by_implementer = call(app, implementer, "adjustKaizenSavings", "AdjustKaizenSavingsInput", K, adjust.clone()).await;
    assert_eq!(error_code(&by_implementer), Some("FORBIDDEN"), "{by_implementer}");
    let mut unreasoned = adjust.clone();
    unreasoned["reason"] = json!("");
    let unreasoned = call(app, verifier, "adjustKaizenSavings", "AdjustKaizenSavingsInput", K, unreasoned).await;
    assert_eq!(error_code(&unreasoned), Some("VALIDATION"), "{unreasoned}");
    assert_eq!(app.event_count(&p.owner.org).await, events, "refused commands change nothing");
    let adjusted = call(app, verifier, "adjustKaizenSavings", "AdjustKaizenSavingsInput", K, adjust).await;
    let a = &adjusted["data"]["adjustKaizenSavings"];
    assert_eq!(a["status"], "SAVINGS_VERIFIED", "{adjusted}");
    assert_eq!(a["verificationVersion"], 2);
    assert_eq!(a["verifiedHardSavings"], json!([{"currency": "EUR", "amount": "960"}]));

    let entries = history(&p, &id).await;
    assert_eq!(
        entry(&entries, "KaizenSavingsVerified")["changes"][2]["after"]["hard"]["EUR"],
        "1200",
        "the first verification stays recorded"
    );
    let adjustment = entry(&entries, "KaizenSavingsAdjusted");
    assert_eq!(adjustment["actor"]["id"], verifier.member.as_str(), "{adjustment}");
    assert_eq!(adjustment["reason"], "invoice was lower");
    assert_eq!(adjustment["changes"][0]["path"], "impactLines.a1");
    assert_eq!(adjustment["changes"][0]["before"]["money"]["amount"], "100");
    assert_eq!(adjustment["changes"][0]["after"]["money"]["amount"], "80");
    assert_eq!(
        adjustment["changes"][1],
        json!({"path": "verifiedTotals", "before": {"hard": {"EUR": "1200"}, "soft": {}}, "after": {"hard": {"EUR": "960"}, "soft": {}}})
    );
    assert_eq!(adjustment["changes"][2], json!({"path": "verificationVersion", "before": 1, "after": 2}));

    // The savings ledger: 100 a month recognised for 12 months from November 2026, then the
    // adjustment reverses it and recognises 80 a month (netted per month).
    let recognised = app
        .gql(
            Some(&p.owner.token),
            "query($id: ID!) { kaizenRecognisedSavings(kaizenId: $id) { month classification currency amount } }",
            json!({"id": id}),
        )
        .await;
    let months = recognised["data"]["kaizenRecognisedSavings"].as_array().cloned().unwrap_or_else(|| panic!("{recognised}"));
    assert_eq!(months.len(), 12, "{recognised}");
    assert_eq!(months[0], json!({"month": "2026-11-01", "classification": "hard", "currency": "EUR", "amount": "80"}));
    assert_eq!(months[11]["month"], "2027-10-01");
    assert!(months.iter().all(|m| m["amount"] == "80"), "{recognised}");
    // Year to date (fiscal year from January): the months from November 2026 up to this one.
    let today = chrono::Utc::now().date_naive();
    let recognised_so_far = months
        .iter()
        .filter(|m| {
            let month = chrono::NaiveDate::parse_from_str(m["month"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            month <= today && month.format("%Y").to_string() == today.format("%Y").to_string()
        })
        .count();
    let kpis = app
        .gql(
            Some(&p.owner.token),
            "{ scopeKpis(window: MONTH) { verifiedHardSavingsYtd { currency amount } verifiedSoftSavingsYtd { amount }
                                          annualizedRunRateHard { currency amount } } }",
            json!({}),
        )
        .await;
    let roll_up = &kpis["data"]["scopeKpis"];
    let expected_ytd =
        if recognised_so_far == 0 { json!([]) } else { json!([{"currency": "EUR", "amount": (80 * recognised_so_far).to_string()}]) };
    assert_eq!(roll_up["verifiedHardSavingsYtd"], expected_ytd, "{kpis}");
    assert_eq!(roll_up["verifiedSoftSavingsYtd"], json!([]), "hard and soft are kept apart");
    assert_eq!(roll_up["annualizedRunRateHard"], json!([{"currency": "EUR", "amount": "960"}]), "{kpis}");

    call(app, reviewer, "closeKaizen", "KaizenInput", K, k.clone()).await;
    let by_author = call(app, author, "reopenKaizen", "KaizenReasonInput", K, with(&id, json!({"reason": "savings not sustained"}))).await;
    assert_eq!(error_code(&by_author), Some("FORBIDDEN"), "{by_author}");
    let reopened = call(app, reviewer, "reopenKaizen", "KaizenReasonInput", K, with(&id, json!({"reason": "savings not sustained"}))).await;
    assert_eq!(reopened["data"]["reopenKaizen"]["status"], "SAVINGS_VERIFIED", "{reopened}");
    assert_eq!(entry(&history(&p, &id).await, "KaizenReopened")["reason"], "savings not sustained");

    let quick = draft(&p).await;
    let by_other = call(app, reviewer, "submitKaizenAsImplemented", "KaizenInput", K, with(&quick, json!({}))).await;
    assert_eq!(error_code(&by_other), Some("FORBIDDEN"), "{by_other}");
    let done = call(app, author, "submitKaizenAsImplemented", "KaizenInput", K, with(&quick, json!({}))).await;
    assert_eq!(done["data"]["submitKaizenAsImplemented"]["status"], "IMPLEMENTED", "{done}");
    assert_eq!(done["data"]["submitKaizenAsImplemented"]["implementerIds"], json!([author.member]));
    let types: Vec<Value> = history(&p, &quick).await.iter().map(|e| e["eventType"].clone()).collect();
    assert_eq!(types, [json!("KaizenDrafted"), json!("KaizenSubmitted"), json!("KaizenImplemented")]);
}

const A: &str = "id status iteration ownerId coachId teamIds heldFrom targetMet sections { section content } \
                 whyChains { chainId whys rootCauseId } countermeasures { cmId dueOn description }";

fn a3_input(id: &str, extra: Value) -> Value {
    let mut input = json!({"a3Id": id});
    if let (Some(target), Some(fields)) = (input.as_object_mut(), extra.as_object()) {
        target.extend(fields.clone());
    }
    input
}

/// Opens a case owned by `lead` and coached by `coach` and plans it up to the coach's approval.
pub(crate) async fn planned_a3(app: &TestApp, lead: &Session, coach: &Session) -> String {
    let opened =
        call(app, lead, "openA3", "OpenA3Input", A, json!({"theme": "Scrap on press 3", "ownerId": lead.member, "coachId": coach.member}))
            .await;
    let id = opened["data"]["openA3"]["id"].as_str().unwrap_or_else(|| panic!("{opened}")).to_owned();
    let steps = [
        ("recordA3Baseline", "RecordA3BaselineInput", json!({"metricId": "scrap", "name": "Scrap rate", "unit": "%", "value": "4"})),
        ("setA3Target", "SetA3TargetInput", json!({"metricId": "scrap", "value": "2", "by": "2027-01-31"})),
        ("addA3Cause", "AddA3CauseInput", json!({"causeId": "c1", "category": "METHOD", "text": "no torque standard"})),
        ("changeA3CauseStatus", "ChangeA3CauseStatusInput", json!({"causeId": "c1", "status": "VERIFIED"})),
        (
            "addA3Countermeasure",
            "AddA3CountermeasureInput",
            json!({"cmId": "cm1", "description": "torque standard", "addresses": ["c1"], "ownerId": lead.member, "dueOn": "2026-12-15"}),
        ),
    ];
    for (name, input_type, extra) in steps {
        let r = call(app, lead, name, input_type, A, a3_input(&id, extra)).await;
        assert!(r["errors"].is_null(), "{name}: {r}");
    }
    id
}

async fn a3_history(app: &TestApp, who: &Session, id: &str) -> Vec<Value> {
    let h = app
        .gql(
            Some(&who.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } reason } }",
            json!({"id": id}),
        )
        .await;
    h["data"]["history"].as_array().cloned().unwrap_or_else(|| panic!("{h}"))
}

#[tokio::test]
async fn an_a3_case_is_put_on_hold_resumed_where_it_was_and_reopened_into_check() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let lead = app.join(&owner, "lead@a.example", "MEMBER").await;
    let coach = app.join(&owner, "coach@a.example", "MEMBER").await;
    let outsider = app.join(&owner, "out@a.example", "MEMBER").await;
    let id = planned_a3(&app, &lead, &coach).await;
    let a = |extra: Value| a3_input(&id, extra);
    call(&app, &coach, "approveA3Plan", "A3Input", A, a(json!({}))).await;

    let events = app.event_count(&owner.org).await;
    let by_outsider = call(&app, &outsider, "putA3OnHold", "A3ReasonInput", A, a(json!({"reason": "no budget"}))).await;
    assert_eq!(error_code(&by_outsider), Some("FORBIDDEN"), "{by_outsider}");
    let no_reason = call(&app, &lead, "putA3OnHold", "A3ReasonInput", A, a(json!({"reason": ""}))).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(app.event_count(&owner.org).await, events, "refused commands change nothing");
    let held = call(&app, &lead, "putA3OnHold", "A3ReasonInput", A, a(json!({"reason": "press rebuild until January"}))).await;
    assert_eq!(held["data"]["putA3OnHold"]["status"], "ON_HOLD", "{held}");
    assert_eq!(held["data"]["putA3OnHold"]["heldFrom"], "DO");
    call(&app, &lead, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", A, a(json!({"cmId": "cm1", "status": "DONE"}))).await;
    let while_held = call(&app, &lead, "advanceA3ToCheck", "A3Input", A, a(json!({}))).await;
    assert_eq!(error_code(&while_held), Some("CONFLICT"), "{while_held}");
    let resumed = call(&app, &coach, "resumeA3", "A3Input", A, a(json!({}))).await;
    assert_eq!(resumed["data"]["resumeA3"]["status"], "DO", "resumes where it was held: {resumed}");

    call(&app, &lead, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", A, a(json!({"cmId": "cm1", "status": "DONE"}))).await;
    call(&app, &lead, "advanceA3ToCheck", "A3Input", A, a(json!({}))).await;
    call(
        &app,
        &lead,
        "confirmA3Effect",
        "ConfirmA3EffectInput",
        A,
        a(json!({"actuals": [{"metricId": "scrap", "value": "1.8"}], "targetMet": "YES"})),
    )
    .await;
    call(&app, &lead, "recordA3Standardization", "RecordA3StandardizationInput", A, a(json!({"documents": ["WI-17 rev C"]}))).await;
    call(&app, &lead, "recordA3Yokoten", "A3TextInput", A, a(json!({"text": "presses 1 and 2"}))).await;
    let closed = call(&app, &coach, "closeA3", "A3Input", A, a(json!({}))).await;
    assert_eq!(closed["data"]["closeA3"]["status"], "CLOSED", "{closed}");
    assert_eq!(closed["data"]["closeA3"]["targetMet"], "YES");

    let by_owner = call(&app, &lead, "reopenA3", "A3ReasonInput", A, a(json!({"reason": "scrap is back"}))).await;
    assert_eq!(error_code(&by_owner), Some("FORBIDDEN"), "{by_owner}");
    let reopened = call(&app, &coach, "reopenA3", "A3ReasonInput", A, a(json!({"reason": "scrap is back"}))).await;
    assert_eq!(reopened["data"]["reopenA3"]["status"], "CHECK", "{reopened}");
    call(
        &app,
        &lead,
        "confirmA3Effect",
        "ConfirmA3EffectInput",
        A,
        a(json!({"actuals": [{"metricId": "scrap", "value": "1.9"}], "targetMet": "PARTIAL"})),
    )
    .await;
    let unstandardized = call(&app, &coach, "closeA3", "A3Input", A, a(json!({}))).await;
    assert_eq!(error_code(&unstandardized), Some("CONFLICT"), "a reopened case passes act again: {unstandardized}");

    let entries = a3_history(&app, &owner, &id).await;
    let hold = entries.iter().find(|e| e["eventType"] == "A3PutOnHold").cloned().unwrap_or_default();
    assert_eq!(hold["reason"], "press rebuild until January", "{entries:?}");
    assert_eq!(hold["changes"], json!([{"path": "status", "before": "DO", "after": "ON_HOLD"}]));
    let resume = entries.iter().find(|e| e["eventType"] == "A3Resumed").cloned().unwrap_or_default();
    assert_eq!(resume["actor"]["id"], coach.member.as_str());
    let reopen = entries.iter().find(|e| e["eventType"] == "A3Reopened").cloned().unwrap_or_default();
    assert_eq!(reopen["reason"], "scrap is back");
    assert_eq!(reopen["changes"], json!([{"path": "status", "before": "CLOSED", "after": "CHECK"}]));
}

#[tokio::test]
async fn a3_owner_coach_team_why_chains_sections_and_countermeasures_change_with_their_history() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let lead = app.join(&owner, "lead@a.example", "MEMBER").await;
    let coach = app.join(&owner, "coach@a.example", "MEMBER").await;
    let mate = app.join(&owner, "mate@a.example", "MEMBER").await;
    let successor = app.join(&owner, "succ@a.example", "MEMBER").await;
    let stranger = app.sign_up("zed@b.example", "Org B").await;
    let id = planned_a3(&app, &lead, &coach).await;
    let a = |extra: Value| a3_input(&id, extra);

    let coach_on_team = call(&app, &lead, "addA3TeamMember", "A3MemberInput", A, a(json!({"memberId": coach.member}))).await;
    assert_eq!(error_code(&coach_on_team), Some("VALIDATION"), "{coach_on_team}");
    let foreign = call(&app, &lead, "addA3TeamMember", "A3MemberInput", A, a(json!({"memberId": stranger.member}))).await;
    assert_eq!(error_code(&foreign), Some("VALIDATION"), "{foreign}");
    let added = call(&app, &lead, "addA3TeamMember", "A3MemberInput", A, a(json!({"memberId": mate.member}))).await;
    assert_eq!(added["data"]["addA3TeamMember"]["teamIds"], json!([mate.member]), "{added}");

    let bad_root = call(
        &app,
        &mate,
        "recordA3WhyChain",
        "RecordA3WhyChainInput",
        A,
        a(json!({"chainId": "w1", "problem": "scrap", "whys": ["loose bolts"], "rootCauseId": "c9"})),
    )
    .await;
    assert_eq!(error_code(&bad_root), Some("VALIDATION"), "{bad_root}");
    let chain = call(
        &app,
        &mate,
        "recordA3WhyChain",
        "RecordA3WhyChainInput",
        A,
        a(json!({"chainId": "w1", "problem": "scrap", "whys": ["loose bolts", "no torque standard"], "rootCauseId": "c1"})),
    )
    .await;
    assert_eq!(
        chain["data"]["recordA3WhyChain"]["whyChains"],
        json!([{"chainId": "w1", "whys": ["loose bolts", "no torque standard"], "rootCauseId": "c1"}]),
        "{chain}"
    );
    let section = call(
        &app,
        &mate,
        "editA3Section",
        "EditA3SectionInput",
        A,
        a(json!({"section": "BACKGROUND", "content": "scrap doubled since May"})),
    )
    .await;
    assert_eq!(
        section["data"]["editA3Section"]["sections"],
        json!([{"section": "BACKGROUND", "content": "scrap doubled since May"}]),
        "{section}"
    );

    let owner_as_coach =
        call(&app, &owner, "changeA3Coach", "ChangeA3CoachInput", A, a(json!({"coachId": lead.member, "reason": "x"}))).await;
    assert_eq!(error_code(&owner_as_coach), Some("VALIDATION"), "the coach is never the owner: {owner_as_coach}");
    let own_approver =
        call(&app, &lead, "changeA3Coach", "ChangeA3CoachInput", A, a(json!({"coachId": successor.member, "reason": "x"}))).await;
    assert_eq!(error_code(&own_approver), Some("FORBIDDEN"), "{own_approver}");
    let coach_as_owner =
        call(&app, &lead, "changeA3Owner", "ChangeA3OwnerInput", A, a(json!({"ownerId": coach.member, "reason": "x"}))).await;
    assert_eq!(error_code(&coach_as_owner), Some("VALIDATION"), "{coach_as_owner}");
    let handed = call(
        &app,
        &lead,
        "changeA3Owner",
        "ChangeA3OwnerInput",
        A,
        a(json!({"ownerId": successor.member, "reason": "moved to plant 2", "reasonCode": "SCOPE_CHANGE"})),
    )
    .await;
    assert_eq!(handed["data"]["changeA3Owner"]["ownerId"], successor.member.as_str(), "{handed}");

    call(&app, &coach, "approveA3Plan", "A3Input", A, a(json!({}))).await;
    let unreasoned =
        call(&app, &successor, "editA3Section", "EditA3SectionInput", A, a(json!({"section": "LESSONS", "content": "standardise torque"})))
            .await;
    assert_eq!(error_code(&unreasoned), Some("VALIDATION"), "a reason once the case has left plan: {unreasoned}");
    let moved = call(
        &app,
        &successor,
        "changeA3Countermeasure",
        "ChangeA3CountermeasureInput",
        A,
        a(json!({"cmId": "cm1", "dueOn": "2027-01-15", "reason": "tool delivery late"})),
    )
    .await;
    assert_eq!(moved["data"]["changeA3Countermeasure"]["countermeasures"][0]["dueOn"], "2027-01-15", "{moved}");
    let removed = call(&app, &successor, "removeA3TeamMember", "A3MemberInput", A, a(json!({"memberId": mate.member}))).await;
    assert_eq!(removed["data"]["removeA3TeamMember"]["teamIds"], json!([]), "{removed}");
    let swapped =
        call(&app, &coach, "changeA3Coach", "ChangeA3CoachInput", A, a(json!({"coachId": mate.member, "reason": "coach on leave"}))).await;
    assert_eq!(swapped["data"]["changeA3Coach"]["coachId"], mate.member.as_str(), "{swapped}");

    let entries = a3_history(&app, &owner, &id).await;
    let find = |t: &str| entries.iter().find(|e| e["eventType"] == t).cloned().unwrap_or_else(|| panic!("no {t} in {entries:?}"));
    let handover = find("A3OwnerChanged");
    assert_eq!(handover["changes"], json!([{"path": "ownerId", "before": lead.member, "after": successor.member}]));
    assert_eq!(handover["reason"], "moved to plant 2");
    assert_eq!(handover["actor"]["id"], lead.member.as_str());
    let cm = find("A3CountermeasureChanged");
    assert_eq!(
        cm["changes"],
        json!([{"path": "countermeasures.cm1", "before": {"due_on": "2026-12-15"}, "after": {"due_on": "2027-01-15"}}])
    );
    assert_eq!(cm["reason"], "tool delivery late");
    assert_eq!(find("A3WhyChainRecorded")["actor"]["id"], mate.member.as_str());
    assert_eq!(find("A3CoachChanged")["changes"][0]["before"], coach.member.as_str());
}

#[tokio::test]
async fn implementers_owners_and_coaches_are_members_who_can_act() {
    let p = plant().await;
    let (app, author, reviewer) = (&p.app, &p.author, &p.reviewer);
    let auditor = app.join(&p.owner, "aud@a.example", "AUDITOR").await;
    let id = draft(&p).await;
    let k = with(&id, json!({}));
    call(app, author, "submitKaizen", "KaizenInput", K, k.clone()).await;
    call(app, reviewer, "startKaizenReview", "KaizenInput", K, k.clone()).await;
    let events = app.event_count(&p.owner.org).await;
    let to_auditor =
        call(app, reviewer, "approveKaizen", "ApproveKaizenInput", K, with(&id, json!({"implementerIds": [auditor.member]}))).await;
    assert_eq!(error_code(&to_auditor), Some("VALIDATION"), "{to_auditor}");
    let stranger = uuid::Uuid::now_v7().to_string();
    let to_stranger = call(app, reviewer, "approveKaizen", "ApproveKaizenInput", K, with(&id, json!({"implementerIds": [stranger]}))).await;
    assert_eq!(error_code(&to_stranger), Some("VALIDATION"), "{to_stranger}");
    assert_eq!(app.event_count(&p.owner.org).await, events, "refused approvals change nothing");
    let twice = with(&id, json!({"implementerIds": [p.implementer.member, p.implementer.member]}));
    let approved = call(app, reviewer, "approveKaizen", "ApproveKaizenInput", K, twice).await;
    assert_eq!(approved["data"]["approveKaizen"]["implementerIds"], json!([p.implementer.member]), "{approved}");

    let open = |coach: &str| json!({"theme": "Scrap at press 4", "ownerId": author.member, "coachId": coach});
    let auditor_coach = app
        .gql(
            Some(&p.owner.token),
            "mutation($input: OpenA3Input!) { openA3(input: $input) { id } }",
            json!({"input": open(&auditor.member)}),
        )
        .await;
    assert_eq!(error_code(&auditor_coach), Some("VALIDATION"), "{auditor_coach}");
}
