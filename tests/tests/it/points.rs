//! Points: published rule sets, weekly caps, reversals when the source is reversed, and
//! manual adjustments and reversals by Owners and Admins.

use gemba_tests::{Session, TestApp, error_code};
use serde_json::{Value, json};

const LEDGER: &str = "memberId balance entries { awardId ruleId points source reversed }";

async fn ledger(app: &TestApp, who: &Session, member: &str) -> Value {
    let query = format!("query($m: ID!) {{ pointsLedger(memberId: $m) {{ {LEDGER} }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"m": member})).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["pointsLedger"].clone()
}

async fn ok(app: &TestApp, who: &Session, mutation: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ id status }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    assert!(r["errors"].is_null(), "{mutation}: {r}");
    r["data"][mutation].clone()
}

fn rules(accepted_cap: i64, resolved: i64) -> Value {
    let value = |points: i64| json!({"points": points, "weeklyCap": null});
    json!({
        "defectAccepted": {"points": 1, "weeklyCap": accepted_cap},
        "defectResolved": value(resolved),
        "defectOnTimeBonus": value(1),
        "defectVerified": value(1),
        "kaizenAccepted": {"points": 1, "weeklyCap": 10},
        "kaizenImplemented": value(5),
        "kaizenSavingsVerified": value(5),
        "kaizenSavingsTiers": [{"atLeast": "1000", "bonus": 5}],
        "auditSubmitted": value(2),
        "a3ClosedOwner": value(10),
        "a3ClosedTeam": value(3),
    })
}

const PUBLISH: &str =
    "mutation($input: PointsRulesInput!) { publishPointsRuleSet(input: $input) { version checksum rules { defectResolved { points } } } }";

struct Plant {
    owner: Session,
    finder: Session,
    fixer: Session,
    zone: String,
}

async fn plant(app: &TestApp) -> Plant {
    let owner = app.sign_up("owner@p.example", "Points plant").await;
    let finder = app.join(&owner, "finder@p.example", "MEMBER").await;
    let fixer = app.join(&owner, "fixer@p.example", "MEMBER").await;
    let site = app.create_site(&owner, "P1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Assembly").await;
    Plant { owner, finder, fixer, zone }
}

async fn raise_and_assign(app: &TestApp, p: &Plant, title: &str) -> String {
    let raise = json!({"zoneId": p.zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": title, "description": "seen on the walk"});
    let id = ok(app, &p.finder, "raiseDefect", "RaiseDefectInput", raise).await["id"].as_str().unwrap().to_owned();
    ok(app, &p.owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": p.fixer.member})).await;
    id
}

#[tokio::test]
async fn published_rules_pin_their_version_and_reversed_sources_reverse_their_points() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;

    let defaults = app.gql(Some(&p.owner.token), "{ pointsRuleSet { version rules { defectResolved { points } } } }", json!({})).await;
    assert_eq!(defaults["data"]["pointsRuleSet"]["version"], 0, "{defaults}");
    assert_eq!(defaults["data"]["pointsRuleSet"]["rules"]["defectResolved"]["points"], 3);

    // Only Owners and Admins publish, and only valid rules; nothing changes otherwise.
    let by_member = app.gql(Some(&p.finder.token), PUBLISH, json!({"input": rules(20, 7)})).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let negative = app.gql(Some(&p.owner.token), PUBLISH, json!({"input": rules(20, -1)})).await;
    assert_eq!(error_code(&negative), Some("VALIDATION"), "{negative}");
    let published = app.gql(Some(&p.owner.token), PUBLISH, json!({"input": rules(20, 7)})).await;
    assert_eq!(published["data"]["publishPointsRuleSet"]["version"], 1, "{published}");
    assert_eq!(published["data"]["publishPointsRuleSet"]["checksum"].as_str().map(str::len), Some(64));
    let again = app.gql(Some(&p.owner.token), PUBLISH, json!({"input": rules(20, 7)})).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");

    // The finder earns when the tag is accepted; the resolver under the published rules.
    let defect = raise_and_assign(&app, &p, "Loose guard").await;
    assert_eq!(ledger(&app, &p.owner, &p.finder.member).await["balance"], 1);
    ok(&app, &p.fixer, "resolveDefect", "ResolveDefectInput", json!({"defectId": defect, "countermeasure": "tightened"})).await;
    ok(&app, &p.finder, "verifyDefect", "VerifyDefectInput", json!({"defectId": defect, "note": "holds"})).await;
    let fixer = ledger(&app, &p.owner, &p.fixer.member).await;
    assert_eq!(fixer["balance"], 8, "7 for resolving + 1 on time: {fixer}");
    // The finder verified their own tag: no verification points.
    assert_eq!(ledger(&app, &p.owner, &p.finder.member).await["balance"], 1);

    // A recurrence within the window reverses the resolver's points, visibly.
    ok(&app, &p.owner, "reopenDefect", "DefectReasonInput", json!({"defectId": defect, "reason": "leaking again"})).await;
    let fixer = ledger(&app, &p.owner, &p.fixer.member).await;
    assert_eq!(fixer["balance"], 0, "{fixer}");
    assert!(fixer["entries"].as_array().unwrap().iter().all(|e| e["reversed"] == true), "{fixer}");
    let history = app
        .gql(Some(&p.owner.token), "query($id: ID!) { history(entityId: $id) { eventType reason } }", json!({"id": p.fixer.member}))
        .await;
    let reversals: Vec<&Value> =
        history["data"]["history"].as_array().unwrap().iter().filter(|e| e["eventType"] == "PointsReversed").collect();
    assert_eq!(reversals.len(), 2, "{history}");
    assert!(reversals[0]["reason"].as_str().unwrap().contains("recurred"), "{history}");

    // A tag cancelled as not a defect takes the finder's point back.
    let bogus = raise_and_assign(&app, &p, "Not really a flaw").await;
    assert_eq!(ledger(&app, &p.owner, &p.finder.member).await["balance"], 2);
    ok(
        &app,
        &p.owner,
        "cancelDefect",
        "CancelDefectInput",
        json!({"defectId": bogus, "cancelReason": "NOT_A_DEFECT", "text": "by design"}),
    )
    .await;
    assert_eq!(ledger(&app, &p.owner, &p.finder.member).await["balance"], 1);
}

#[tokio::test]
async fn the_weekly_cap_limits_points_per_member_and_rule() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let published = app.gql(Some(&p.owner.token), PUBLISH, json!({"input": rules(2, 3)})).await;
    assert!(published["errors"].is_null(), "{published}");
    for title in ["One", "Two", "Three"] {
        raise_and_assign(&app, &p, title).await;
    }
    let finder = ledger(&app, &p.owner, &p.finder.member).await;
    assert_eq!(finder["balance"], 2, "capped at 2 a week: {finder}");
    assert_eq!(finder["entries"].as_array().unwrap().len(), 2, "{finder}");
}

#[tokio::test]
async fn owners_and_admins_adjust_and_reverse_points_with_a_reason() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let admin = app.join(&p.owner, "admin@p.example", "ADMIN").await;
    let auditor = app.join(&p.owner, "auditor@p.example", "AUDITOR").await;
    const ADJUST: &str =
        "mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { balance entries { awardId ruleId points } } }";

    let by_member =
        app.gql(Some(&p.finder.token), ADJUST, json!({"input": {"memberId": p.fixer.member, "delta": 5, "reason": "help"}})).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let own = app.gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": admin.member, "delta": 5, "reason": "me"}})).await;
    assert_eq!(error_code(&own), Some("FORBIDDEN"), "{own}");
    let to_auditor = app.gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": auditor.member, "delta": 5, "reason": "x"}})).await;
    assert_eq!(error_code(&to_auditor), Some("CONFLICT"), "{to_auditor}");
    let no_reason = app.gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": p.fixer.member, "delta": 5, "reason": ""}})).await;
    assert_eq!(error_code(&no_reason), Some("VALIDATION"), "{no_reason}");
    assert_eq!(ledger(&app, &p.owner, &p.fixer.member).await["balance"], 0);

    let adjusted = app
        .gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": p.fixer.member, "delta": 5, "reason": "ran the safety week"}}))
        .await;
    assert_eq!(adjusted["data"]["adjustPoints"]["balance"], 5, "{adjusted}");
    let history = app
        .gql(
            Some(&p.owner.token),
            "query($id: ID!) { history(entityId: $id) { eventType reason actor { id } } }",
            json!({"id": p.fixer.member}),
        )
        .await;
    let adjustment = history["data"]["history"].as_array().unwrap().iter().find(|e| e["eventType"] == "PointsAdjusted").cloned();
    let adjustment = adjustment.unwrap_or_else(|| panic!("no adjustment in {history}"));
    assert_eq!(adjustment["reason"], "ran the safety week");
    assert_eq!(adjustment["actor"]["id"], admin.member);

    raise_and_assign(&app, &p, "Frayed cable").await;
    let finder = ledger(&app, &p.owner, &p.finder.member).await;
    let award = finder["entries"][0]["awardId"].as_str().unwrap().to_owned();
    const REVERSE: &str = "mutation($input: ReversePointsAwardInput!) { reversePointsAward(input: $input) { balance } }";
    let by_member = app.gql(Some(&p.fixer.token), REVERSE, json!({"input": {"awardId": award, "reason": "duplicate"}})).await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
    let reversed = app.gql(Some(&p.owner.token), REVERSE, json!({"input": {"awardId": award, "reason": "duplicate tag"}})).await;
    assert_eq!(reversed["data"]["reversePointsAward"]["balance"], 0, "{reversed}");
    let twice = app.gql(Some(&p.owner.token), REVERSE, json!({"input": {"awardId": award, "reason": "again"}})).await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");
    let unknown = app.gql(Some(&p.owner.token), REVERSE, json!({"input": {"awardId": "nope", "reason": "x"}})).await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
}

#[tokio::test]
async fn accepting_ones_own_tag_earns_nothing() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let raise = json!({"zoneId": p.zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "C", "title": "Own tag", "description": "seen"});
    let id = ok(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise).await["id"].as_str().unwrap().to_owned();
    ok(&app, &p.owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": p.fixer.member})).await;
    assert_eq!(ledger(&app, &p.owner, &p.owner.member).await["balance"], 0, "the finder assigned their own tag");
}

#[tokio::test]
async fn the_leaderboard_ranks_live_points_in_the_window_and_scope() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let admin = app.join(&p.owner, "admin@lb.example", "ADMIN").await;
    const ADJUST: &str = "mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { balance } }";
    for (who, delta) in [(&p.fixer, 5), (&p.finder, 5), (&p.owner, 2)] {
        let r =
            app.gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": who.member, "delta": delta, "reason": "kaizen week"}})).await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let home = app
        .gql(
            Some(&p.owner.token),
            "mutation($input: SetHomeZoneInput!) { setHomeZone(input: $input) { id } }",
            json!({"input": {"memberId": p.fixer.member, "zoneId": p.zone}}),
        )
        .await;
    assert!(home["errors"].is_null(), "{home}");

    // A zone's board has the week of its site (Europe/Berlin): it starts at midnight there.
    let week =
        app.gql(Some(&p.finder.token), "query($z: ID) { leaderboard(window: WEEK, zoneId: $z) { startsAt } }", json!({"z": p.zone})).await;
    let starts = chrono::DateTime::parse_from_rfc3339(week["data"]["leaderboard"]["startsAt"].as_str().unwrap_or_else(|| panic!("{week}")))
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!((starts.format("%H:%M").to_string(), starts.format("%a").to_string()), ("00:00".to_owned(), "Mon".to_owned()), "{week}");

    const BOARD: &str =
        "query($z: ID, $n: Int!) { leaderboard(window: WEEK, zoneId: $z, first: $n) { top { rank memberId points } me { rank points } } }";
    let board = app.gql(Some(&p.finder.token), BOARD, json!({"z": null, "n": 10})).await;
    let top: Vec<(i64, String, i64)> = board["data"]["leaderboard"]["top"]
        .as_array()
        .unwrap_or_else(|| panic!("{board}"))
        .iter()
        .map(|e| (e["rank"].as_i64().unwrap(), e["memberId"].as_str().unwrap().to_owned(), e["points"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        top,
        [(1, p.fixer.member.clone(), 5), (1, p.finder.member.clone(), 5), (2, p.owner.member.clone(), 2)],
        "dense ranks; the tie goes to who got there first"
    );
    assert_eq!(board["data"]["leaderboard"]["me"], json!({"rank": 1, "points": 5}));
    let zone_board = app.gql(Some(&p.finder.token), BOARD, json!({"z": p.zone, "n": 10})).await;
    assert_eq!(zone_board["data"]["leaderboard"]["top"], json!([{"rank": 1, "memberId": p.fixer.member, "points": 5}]), "{zone_board}");
    assert!(zone_board["data"]["leaderboard"]["me"].is_null(), "the viewer is not in this zone");
    let too_many = app.gql(Some(&p.finder.token), BOARD, json!({"z": null, "n": 500})).await;
    assert_eq!(error_code(&too_many), Some("VALIDATION"), "{too_many}");
}
