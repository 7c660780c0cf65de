//! A red-tagged item through HTTP: tagged, its hold extended with a reason, dispositioned by
//! the zone's owner; the system expires a hold that ended without a decision.

use gemba_tests::{Session, TestApp, error_code};
use serde_json::{Value, json};

const ITEM: &str =
    "id status zoneId qty location reason taggedById taggedAt holdUntil disposition newLocation relocatedToZoneId decidedById";

async fn call(app: &TestApp, who: &Session, name: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {ITEM} }} }}");
    app.gql(Some(&who.token), &query, json!({"input": input})).await
}

fn instant(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

#[tokio::test]
async fn a_red_tagged_item_is_held_extended_and_dispositioned_by_the_zone_owner() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let lead = app.join(&owner, "lea@a.example", "MEMBER").await;
    let operator = app.join(&owner, "op@a.example", "MEMBER").await;
    let auditor = app.join(&owner, "aud@a.example", "AUDITOR").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let store = app.create_zone(&owner, &site, "W-01", "Warehouse").await;
    let archived = app.create_zone(&owner, &site, "X-01", "Old line").await;
    let assign = "mutation($input: AssignZoneOwnerInput!) { assignZoneOwner(input: $input) { id } }";
    let assigned = app.gql(Some(&owner.token), assign, json!({"input": {"zoneId": zone, "memberId": lead.member}})).await;
    assert!(assigned["errors"].is_null(), "{assigned}");
    let archive = "mutation($input: ArchiveZoneInput!) { archiveZone(input: $input) { status } }";
    let done = app.gql(Some(&owner.token), archive, json!({"input": {"zoneId": archived, "reason": "line removed"}})).await;
    assert_eq!(done["data"]["archiveZone"]["status"], "ARCHIVED", "{done}");

    let tag = json!({"zoneId": zone, "description": "spare pallet jack", "qty": 2, "location": "Aisle 3", "reason": "NOT_NEEDED"});
    let events = app.event_count(&owner.org).await;
    let mut none = tag.clone();
    none["qty"] = json!(0);
    assert_eq!(error_code(&call(&app, &operator, "tagRedTagItem", "TagRedTagItemInput", none).await), Some("VALIDATION"));
    let mut in_archived = tag.clone();
    in_archived["zoneId"] = json!(archived);
    let refused = call(&app, &operator, "tagRedTagItem", "TagRedTagItemInput", in_archived).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "archived zones refuse new tags: {refused}");
    let by_auditor = call(&app, &auditor, "tagRedTagItem", "TagRedTagItemInput", tag.clone()).await;
    assert_eq!(error_code(&by_auditor), Some("FORBIDDEN"), "{by_auditor}");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");

    let tagged = call(&app, &operator, "tagRedTagItem", "TagRedTagItemInput", tag).await;
    let item = tagged["data"]["tagRedTagItem"].clone();
    assert_eq!(
        (item["status"].as_str(), item["qty"].as_u64(), item["reason"].as_str()),
        (Some("HELD"), Some(2), Some("NOT_NEEDED")),
        "{tagged}"
    );
    assert_eq!(item["taggedById"], operator.member.as_str());
    assert_eq!(instant(&item["holdUntil"]) - instant(&item["taggedAt"]), chrono::Duration::days(30), "held for 30 days by default");
    let id = item["id"].as_str().expect("id").to_owned();

    let until = (instant(&item["holdUntil"]) + chrono::Duration::days(14)).to_rfc3339();
    let events = app.event_count(&owner.org).await;
    let by_operator =
        call(&app, &operator, "extendRedTagHold", "ExtendRedTagHoldInput", json!({"redTagId": id, "until": until, "reason": "buyer"}))
            .await;
    assert_eq!(error_code(&by_operator), Some("FORBIDDEN"), "{by_operator}");
    let no_reason =
        call(&app, &lead, "extendRedTagHold", "ExtendRedTagHoldInput", json!({"redTagId": id, "until": until, "reason": ""})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    let backwards =
        call(&app, &lead, "extendRedTagHold", "ExtendRedTagHoldInput", json!({"redTagId": id, "until": item["taggedAt"], "reason": "x"}))
            .await;
    assert_eq!(error_code(&backwards), Some("VALIDATION"), "{backwards}");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");
    let extended = call(
        &app,
        &lead,
        "extendRedTagHold",
        "ExtendRedTagHoldInput",
        json!({"redTagId": id, "until": until, "reason": "a buyer may take it"}),
    )
    .await;
    assert_eq!(instant(&extended["data"]["extendRedTagHold"]["holdUntil"]), instant(&json!(until)), "{extended}");

    let no_zone =
        call(&app, &lead, "dispositionRedTagItem", "DispositionRedTagItemInput", json!({"redTagId": id, "disposition": "RELOCATED"})).await;
    assert_eq!(error_code(&no_zone), Some("VALIDATION"), "{no_zone}");
    let to_archived = call(
        &app,
        &lead,
        "dispositionRedTagItem",
        "DispositionRedTagItemInput",
        json!({"redTagId": id, "disposition": "RELOCATED", "zoneId": archived}),
    )
    .await;
    assert_eq!(error_code(&to_archived), Some("VALIDATION"), "{to_archived}");
    let by_operator =
        call(&app, &operator, "dispositionRedTagItem", "DispositionRedTagItemInput", json!({"redTagId": id, "disposition": "SCRAPPED"}))
            .await;
    assert_eq!(error_code(&by_operator), Some("FORBIDDEN"), "{by_operator}");
    let relocated = call(
        &app,
        &lead,
        "dispositionRedTagItem",
        "DispositionRedTagItemInput",
        json!({"redTagId": id, "disposition": "RELOCATED", "zoneId": store}),
    )
    .await;
    let decided = &relocated["data"]["dispositionRedTagItem"];
    assert_eq!((decided["status"].as_str(), decided["disposition"].as_str()), (Some("DISPOSITIONED"), Some("RELOCATED")), "{relocated}");
    assert_eq!(
        (decided["relocatedToZoneId"].as_str(), decided["decidedById"].as_str()),
        (Some(store.as_str()), Some(lead.member.as_str()))
    );
    let again =
        call(&app, &owner, "dispositionRedTagItem", "DispositionRedTagItemInput", json!({"redTagId": id, "disposition": "SOLD"})).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "decided once: {again}");

    let history = app
        .gql(
            Some(&auditor.token),
            "query($id: ID!) { history(entityId: $id) { eventType actor { id } changes { path before after } reason } }",
            json!({"id": id}),
        )
        .await;
    let entries = history["data"]["history"].as_array().expect("history");
    let types: Vec<&str> = entries.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(types, ["RedTagItemTagged", "RedTagItemHoldExtended", "RedTagItemDispositioned"], "{history}");
    let extension = &entries[1];
    assert_eq!(
        (extension["actor"]["id"].as_str(), extension["reason"].as_str()),
        (Some(lead.member.as_str()), Some("a buyer may take it"))
    );
    assert_eq!(extension["changes"][0]["path"], "holdUntil");
    assert_eq!(instant(&extension["changes"][0]["before"]), instant(&item["holdUntil"]));
    assert_eq!(instant(&extension["changes"][0]["after"]), instant(&json!(until)));
    assert_eq!(entries[2]["changes"][1], json!({"path": "disposition", "before": null, "after": {"kind": "relocated", "zone_id": store}}));

    let read = app.gql(Some(&owner.token), "query($id: ID!) { redTagItem(id: $id) { status } }", json!({"id": id})).await;
    assert_eq!(read["data"]["redTagItem"]["status"], "DISPOSITIONED", "{read}");
    let other = app.sign_up("zed@b.example", "Org B").await;
    let foreign = app.gql(Some(&other.token), "query($id: ID!) { redTagItem(id: $id) { id } }", json!({"id": id})).await;
    assert_eq!(foreign["data"]["redTagItem"], Value::Null, "{foreign}");
}

#[tokio::test]
async fn the_system_expires_a_hold_only_once_it_has_ended() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@a.example", "Org A").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let tag = json!({"zoneId": zone, "description": "broken stool", "qty": 1, "location": "Bench 2", "reason": "DEFECTIVE"});
    let tagged = call(&app, &owner, "tagRedTagItem", "TagRedTagItemInput", tag).await;
    let id = tagged["data"]["tagRedTagItem"]["id"].as_str().unwrap_or_else(|| panic!("{tagged}")).to_owned();
    let (org, item) = (owner.org.parse().expect("org id"), id.parse().expect("red tag id"));
    let gemba = app.gemba();
    let now = chrono::Utc::now();

    let events = app.event_count(&owner.org).await;
    assert!(gemba.expire_red_tag_hold(org, item, now + chrono::Duration::days(29)).await.is_err(), "the hold has not ended");
    assert_eq!(app.event_count(&owner.org).await, events, "nothing changed");
    gemba.expire_red_tag_hold(org, item, now + chrono::Duration::days(31)).await.expect("expired");
    let read = app
        .gql(
            Some(&owner.token),
            "query($id: ID!) { redTagItem(id: $id) { status } history(entityId: $id) { eventType channel actor { id } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["data"]["redTagItem"]["status"], "HOLD_EXPIRED", "{read}");
    assert_eq!(read["data"]["history"][1], json!({"eventType": "RedTagItemHoldExpired", "channel": "system", "actor": {"id": null}}));
    // An expired hold still awaits a decision.
    let scrapped =
        call(&app, &owner, "dispositionRedTagItem", "DispositionRedTagItemInput", json!({"redTagId": id, "disposition": "SCRAPPED"})).await;
    assert_eq!(scrapped["data"]["dispositionRedTagItem"]["status"], "DISPOSITIONED", "{scrapped}");
}

#[tokio::test]
async fn the_hold_follows_the_organisations_red_tag_hold_days() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("ann@c.example", "Org C").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "P-01", "Press line").await;
    let changed = app
        .gql(
            Some(&owner.token),
            "mutation($input: ChangeOrganizationSettingsInput!) { changeOrganizationSettings(input: $input) { id } }",
            json!({"input": {"redTagHoldDays": 21}}),
        )
        .await;
    assert!(changed["errors"].is_null(), "{changed}");
    let tag = json!({"zoneId": zone, "description": "spare clamps", "qty": 4, "location": "Rack 1", "reason": "EXCESS"});
    let tagged = call(&app, &owner, "tagRedTagItem", "TagRedTagItemInput", tag).await;
    let item = &tagged["data"]["tagRedTagItem"];
    assert_eq!(instant(&item["holdUntil"]) - instant(&item["taggedAt"]), chrono::Duration::days(21), "{tagged}");
}
