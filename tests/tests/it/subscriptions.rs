//! Live subscriptions over a real WebSocket (`graphql-transport-ws`): a zone's defect
//! changes caused by another client, resuming from a position, tenancy and sessions, roll-up
//! and leaderboard snapshots; and the operators' `/metrics`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use gemba_tests::{Session, TestApp};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a message that must come.
const PATIENCE: Duration = Duration::from_secs(10);

/// What arrived on a socket.
#[derive(Debug, PartialEq)]
enum Received {
    Json(Value),
    Closed(u16, String),
}

struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// Opens a `graphql-transport-ws` socket and sends `connection_init` with `payload`.
    async fn open(app: &TestApp, payload: Value) -> Self {
        let url = format!("{}/graphql", app.url.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        let (stream, response) = tokio_tungstenite::connect_async(request).await.expect("WebSocket upgrade");
        assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
        let mut socket = Self(stream);
        socket.send(json!({"type": "connection_init", "payload": payload})).await;
        socket
    }

    /// A socket of `who`, acknowledged.
    async fn signed_in(app: &TestApp, who: &Session) -> Self {
        let mut socket = Self::open(app, json!({"authorization": format!("Bearer {}", who.token)})).await;
        assert_eq!(socket.receive().await, Received::Json(json!({"type": "connection_ack"})));
        socket
    }

    async fn send(&mut self, message: Value) {
        self.0.send(Message::text(message.to_string())).await.expect("send");
    }

    /// Starts operation `id`.
    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query, "variables": variables}})).await;
    }

    /// The next message, within `wait`; `None` when nothing came.
    async fn receive_within(&mut self, wait: Duration) -> Option<Received> {
        loop {
            let message = match tokio::time::timeout(wait, self.0.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Received::Closed(1006, "gone".into())),
                Ok(Some(Err(error))) => return Some(Received::Closed(1006, error.to_string())),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => return Some(Received::Json(serde_json::from_str(text.as_str()).expect("JSON message"))),
                Message::Close(frame) => {
                    return Some(frame.map_or(Received::Closed(1005, String::new()), |f| {
                        Received::Closed(u16::from(f.code), f.reason.as_str().to_owned())
                    }));
                }
                _ => {}
            }
        }
    }

    /// The next message; fails the test after [`PATIENCE`].
    async fn receive(&mut self) -> Received {
        self.receive_within(PATIENCE).await.expect("a message within 10 s")
    }

    /// The data of the next `next` message of operation `id`.
    async fn next_data(&mut self, id: &str) -> Value {
        match self.receive().await {
            Received::Json(m) if m["type"] == "next" && m["id"] == id && m["payload"]["errors"].is_null() => m["payload"]["data"].clone(),
            other => panic!("expected data of {id}, got {other:?}"),
        }
    }

    /// Nothing arrives for a second.
    async fn quiet(&mut self) {
        if let Some(message) = self.receive_within(Duration::from_secs(1)).await {
            panic!("expected nothing more, got {message:?}");
        }
    }
}

async fn mutate(app: &TestApp, who: &Session, name: &str, input_type: &str, input: Value) -> Value {
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ id }} }}");
    let r = app.gql(Some(&who.token), &query, json!({"input": input})).await;
    assert!(r["errors"].is_null(), "{name}: {r}");
    assert_eq!(r["extensions"]["readYourWrites"]["reached"], true, "{r}");
    r
}

fn raise(zone: &str, title: &str) -> Value {
    json!({"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "B", "title": title, "description": "seen"})
}

/// The `tenant_seq` of the entity's latest event.
async fn last_seq(app: &TestApp, who: &Session, entity: &str) -> i64 {
    let r = app.gql(Some(&who.token), "query($id: ID!) { history(entityId: $id) { tenantSeq } }", json!({"id": entity})).await;
    r["data"]["history"].as_array().and_then(|h| h.last()).and_then(|e| e["tenantSeq"].as_i64()).unwrap_or_else(|| panic!("{r}"))
}

/// The defect register's checkpoint.
async fn register_checkpoint(app: &TestApp, who: &Session) -> i64 {
    let r = app.gql(Some(&who.token), "{ projectionStatus { projection checkpoint head } }", json!({})).await;
    let list = r["data"]["projectionStatus"].as_array().unwrap_or_else(|| panic!("{r}"));
    let register = list.iter().find(|s| s["projection"] == "defect_register").unwrap_or_else(|| panic!("{r}"));
    register["checkpoint"].as_i64().unwrap()
}

const ZONE_DEFECTS: &str = "subscription($z: ID!, $after: Int) { zoneDefects(zoneId: $z, after: $after) { position defect { defectId zoneId status assigneeId title } } }";

/// (position, defect id, status) of a `zoneDefects` push.
fn change(data: &Value) -> (i64, String, String) {
    let c = &data["zoneDefects"];
    (
        c["position"].as_i64().unwrap(),
        c["defect"]["defectId"].as_str().unwrap().to_owned(),
        c["defect"]["status"].as_str().unwrap().to_owned(),
    )
}

struct Plant {
    owner: Session,
    member: Session,
    zone: String,
}

async fn plant(app: &TestApp) -> Plant {
    let owner = app.sign_up("owner@live.example", "Live plant").await;
    let member = app.join(&owner, "member@live.example", "MEMBER").await;
    let site = app.create_site(&owner, "L1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    Plant { owner, member, zone }
}

#[tokio::test]
async fn a_subscription_receives_the_change_caused_by_a_mutation_from_another_client() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let start = register_checkpoint(&app, &p.member).await;
    let mut watcher = Socket::signed_in(&app, &p.member).await;
    watcher.subscribe("1", ZONE_DEFECTS, json!({"z": p.zone, "after": start})).await;

    let raised = mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, "Faded label")).await;
    let id = raised["data"]["raiseDefect"]["id"].as_str().unwrap().to_owned();
    let first = watcher.next_data("1").await;
    assert_eq!(change(&first), (last_seq(&app, &p.owner, &id).await, id.clone(), "OPEN".to_owned()), "{first}");
    assert_eq!(first["zoneDefects"]["defect"]["zoneId"], p.zone.as_str());
    assert_eq!(first["zoneDefects"]["defect"]["title"], "Faded label");
    assert!(change(&first).0 > start);

    mutate(&app, &p.owner, "assignDefect", "AssignDefectInput", json!({"defectId": id, "assigneeId": p.member.member})).await;
    let second = watcher.next_data("1").await;
    assert_eq!(change(&second), (last_seq(&app, &p.owner, &id).await, id.clone(), "ASSIGNED".to_owned()), "{second}");
    assert!(change(&second).0 > change(&first).0, "positions increase");
    assert_eq!(second["zoneDefects"]["defect"]["assigneeId"], p.member.member.as_str());

    // A defect of another zone is not pushed.
    let site = app.create_site(&p.owner, "L2").await;
    let elsewhere = app.create_zone(&p.owner, &site, "Z-9", "Elsewhere").await;
    mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&elsewhere, "Not here")).await;
    watcher.quiet().await;

    // `complete` from the client ends the operation.
    watcher.send(json!({"type": "complete", "id": "1"})).await;
    mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, "After complete")).await;
    watcher.quiet().await;
}

#[tokio::test]
async fn a_subscription_resumes_after_a_position_with_exactly_the_later_changes() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let r1 = mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, "First")).await;
    let d1 = r1["data"]["raiseDefect"]["id"].as_str().unwrap().to_owned();
    let p1 = last_seq(&app, &p.owner, &d1).await;
    let r2 = mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, "Second")).await;
    let d2 = r2["data"]["raiseDefect"]["id"].as_str().unwrap().to_owned();
    let p2 = last_seq(&app, &p.owner, &d2).await;
    mutate(&app, &p.owner, "assignDefect", "AssignDefectInput", json!({"defectId": d1, "assigneeId": p.member.member})).await;
    let p3 = last_seq(&app, &p.owner, &d1).await;
    assert!(p1 < p2 && p2 < p3);

    // After the first raise: the second defect, then the first one's assignment, in order.
    let mut socket = Socket::signed_in(&app, &p.member).await;
    socket.subscribe("a", ZONE_DEFECTS, json!({"z": p.zone, "after": p1})).await;
    assert_eq!(change(&socket.next_data("a").await), (p2, d2.clone(), "OPEN".to_owned()));
    assert_eq!(change(&socket.next_data("a").await), (p3, d1.clone(), "ASSIGNED".to_owned()));
    socket.quiet().await;

    // After the second raise: only the assignment.
    socket.subscribe("b", ZONE_DEFECTS, json!({"z": p.zone, "after": p2})).await;
    assert_eq!(change(&socket.next_data("b").await), (p3, d1.clone(), "ASSIGNED".to_owned()));
    socket.quiet().await;

    // Both continue live, without repeats.
    mutate(&app, &p.owner, "assignDefect", "AssignDefectInput", json!({"defectId": d2, "assigneeId": p.member.member})).await;
    let p4 = last_seq(&app, &p.owner, &d2).await;
    let mut live = Vec::new();
    for _ in 0..2 {
        match socket.receive().await {
            Received::Json(m) if m["type"] == "next" => live.push((m["id"].as_str().unwrap().to_owned(), change(&m["payload"]["data"]))),
            other => panic!("expected a push, got {other:?}"),
        }
    }
    live.sort();
    let pushed = (p4, d2.clone(), "ASSIGNED".to_owned());
    assert_eq!(live, [("a".to_owned(), pushed.clone()), ("b".to_owned(), pushed)]);
    socket.quiet().await;

    // From the start: one push per defect with its latest position (changes are folded).
    let mut again = Socket::signed_in(&app, &p.member).await;
    again.subscribe("c", ZONE_DEFECTS, json!({"z": p.zone, "after": 0})).await;
    assert_eq!(change(&again.next_data("c").await), (p3, d1, "ASSIGNED".to_owned()));
    assert_eq!(change(&again.next_data("c").await), (p4, d2, "ASSIGNED".to_owned()));
    again.quiet().await;
}

#[tokio::test]
async fn another_organisation_cannot_subscribe_and_a_socket_needs_a_session() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let stranger = app.sign_up("stranger@other.example", "Other plant").await;

    let mut socket = Socket::signed_in(&app, &stranger).await;
    socket.subscribe("1", ZONE_DEFECTS, json!({"z": p.zone, "after": 0})).await;
    match socket.receive().await {
        Received::Json(m) => {
            assert_eq!(m["type"], "error", "{m}");
            assert_eq!(m["id"], "1");
            assert_eq!(m["payload"][0]["extensions"]["code"], "NOT_FOUND", "{m}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // No data follows, and the socket stays usable.
    mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, "Private")).await;
    socket.quiet().await;
    let sites = "subscription($s: ID!) { fiveSRollupChanged(siteId: $s) { position } }";
    let own_site = app.create_site(&p.owner, "L9").await;
    socket.subscribe("2", sites, json!({"s": own_site})).await;
    match socket.receive().await {
        Received::Json(m) => {
            assert_eq!((m["type"].as_str(), m["payload"][0]["extensions"]["code"].as_str()), (Some("error"), Some("NOT_FOUND")))
        }
        other => panic!("expected an error, got {other:?}"),
    }

    // Bad arguments are VALIDATION errors; mutations are not taken over the socket.
    socket.subscribe("3", ZONE_DEFECTS, json!({"z": p.zone, "after": -1})).await;
    match socket.receive().await {
        Received::Json(m) => {
            assert_eq!((m["type"].as_str(), m["payload"][0]["extensions"]["code"].as_str()), (Some("error"), Some("VALIDATION")))
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let zone = "mutation($input: CreateSiteInput!) { createSite(input: $input) { id } }";
    socket.subscribe("4", zone, json!({"input": {"code": "X1", "name": "Sneaky", "timezone": "Europe/Berlin"}})).await;
    match socket.receive().await {
        Received::Json(m) => {
            assert_eq!((m["type"].as_str(), m["payload"][0]["extensions"]["code"].as_str()), (Some("error"), Some("VALIDATION")))
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let sites = app.gql(Some(&stranger.token), "{ sites(first: 10) { edges { node { id } } } }", json!({})).await;
    assert_eq!(sites["data"]["sites"]["edges"], json!([]), "nothing was created: {sites}");

    // A socket must speak a GraphQL subprotocol.
    let url = format!("{}/graphql", app.url.replacen("http://", "ws://", 1));
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected 400, got {:?}", other.map(|(_, r)| r.status())),
    }

    // Without a session, or with a wrong one, the socket is closed with 4403.
    let mut anonymous = Socket::open(&app, json!({})).await;
    assert_eq!(anonymous.receive().await, Received::Closed(4403, "Forbidden".into()));
    let mut forged = Socket::open(&app, json!({"Authorization": "Bearer not-a-session"})).await;
    assert_eq!(forged.receive().await, Received::Closed(4403, "Forbidden".into()));

    // A logged-out session cannot start subscriptions on a socket opened before.
    let mut open = Socket::signed_in(&app, &p.member).await;
    let out = app.gql(Some(&p.member.token), "mutation { logOut }", json!({})).await;
    assert!(out["errors"].is_null(), "{out}");
    open.subscribe("1", ZONE_DEFECTS, json!({"z": p.zone})).await;
    match open.receive().await {
        Received::Json(m) => {
            assert_eq!((m["type"].as_str(), m["payload"][0]["extensions"]["code"].as_str()), (Some("error"), Some("UNAUTHENTICATED")))
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn leaderboard_and_roll_up_subscriptions_push_snapshots_as_the_organisation_moves() {
    let app = TestApp::spawn().await;
    let p = plant(&app).await;
    let admin = app.join(&p.owner, "admin@live.example", "ADMIN").await;
    let head = |r: &Value| r["extensions"]["readYourWrites"]["position"].as_i64().unwrap();

    // The leaderboard: a snapshot at once, then one after points are earned.
    const BOARD: &str = "subscription($after: Int) { leaderboardChanged(window: WEEK, first: 5, after: $after) { position leaderboard { top { rank memberId points } me { rank points } } } }";
    let mut socket = Socket::signed_in(&app, &p.member).await;
    socket.subscribe("board", BOARD, json!({})).await;
    let initial = socket.next_data("board").await;
    assert_eq!(initial["leaderboardChanged"]["leaderboard"], json!({"top": [], "me": null}), "{initial}");
    let at = initial["leaderboardChanged"]["position"].as_i64().unwrap();
    const ADJUST: &str = "mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { balance } }";
    let adjusted =
        app.gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": p.member.member, "delta": 5, "reason": "5S week"}})).await;
    assert!(adjusted["errors"].is_null(), "{adjusted}");
    let pushed = socket.next_data("board").await;
    assert_eq!(pushed["leaderboardChanged"]["position"], head(&adjusted), "{pushed}");
    assert!(head(&adjusted) > at);
    assert_eq!(
        pushed["leaderboardChanged"]["leaderboard"],
        json!({"top": [{"rank": 1, "memberId": p.member.member, "points": 5}], "me": {"rank": 1, "points": 5}})
    );
    socket.quiet().await;

    // Resumed after the last position seen: nothing at once, the next change when it comes.
    socket.send(json!({"type": "complete", "id": "board"})).await;
    socket.subscribe("resumed", BOARD, json!({"after": head(&adjusted)})).await;
    socket.quiet().await;
    let more = app.gql(Some(&admin.token), ADJUST, json!({"input": {"memberId": p.owner.member, "delta": 7, "reason": "red tags"}})).await;
    let resumed = socket.next_data("resumed").await;
    assert_eq!(resumed["leaderboardChanged"]["position"], head(&more), "{resumed}");
    assert_eq!(resumed["leaderboardChanged"]["leaderboard"]["top"][0], json!({"rank": 1, "memberId": p.owner.member, "points": 7}));
    socket.send(json!({"type": "complete", "id": "resumed"})).await;

    // The 5S roll-up: a one-item audit ready to submit, then a snapshot before and after.
    let site = app.create_site(&p.owner, "R1").await;
    let zone = app.create_zone(&p.owner, &site, "R-1", "Roll-up zone").await;
    let audit = audit_ready_to_submit(&app, &p.owner, &p.member, &zone).await;
    const ROLLUP: &str = "subscription($s: ID!) { fiveSRollupChanged(siteId: $s) { position rollup { averageScorePct coverage zones { zoneId scorePct } } } }";
    socket.subscribe("rollup", ROLLUP, json!({"s": site})).await;
    let before = socket.next_data("rollup").await;
    assert_eq!(
        before["fiveSRollupChanged"]["rollup"],
        json!({"averageScorePct": null, "coverage": "0", "zones": [{"zoneId": zone, "scorePct": null}]}),
        "{before}"
    );
    let submitted = app
        .gql(
            Some(&p.member.token),
            "mutation($input: AuditInput!) { submitAudit(input: $input) { audit { status } } }",
            json!({"input": {"auditId": audit}}),
        )
        .await;
    assert_eq!(submitted["data"]["submitAudit"]["audit"]["status"], "SUBMITTED", "{submitted}");
    let after = socket.next_data("rollup").await;
    assert_eq!(after["fiveSRollupChanged"]["position"], head(&submitted), "{after}");
    assert_eq!(
        after["fiveSRollupChanged"]["rollup"],
        json!({"averageScorePct": "100", "coverage": "1", "zones": [{"zoneId": zone, "scorePct": "100"}]})
    );
    socket.quiet().await;
}

/// A template (one item per S) published by `owner`, and an audit of `zone` by `auditor`
/// with every item scored full.
async fn audit_ready_to_submit(app: &TestApp, owner: &Session, auditor: &Session, zone: &str) -> String {
    let call = |who: &Session, query: &'static str, input: Value| {
        let token = who.token.clone();
        async move {
            let r = app.gql(Some(&token), query, json!({"input": input})).await;
            assert!(r["errors"].is_null(), "{r}");
            r
        }
    };
    let created = call(
        owner,
        "mutation($input: CreateTemplateDraftInput!) { createTemplateDraft(input: $input) { id } }",
        json!({"name": "Quick 5S", "scaleMin": 0, "scaleMax": 4}),
    )
    .await;
    let template = created["data"]["createTemplateDraft"]["id"].as_str().unwrap().to_owned();
    for (i, section) in ["SORT", "SET_IN_ORDER", "SHINE", "STANDARDIZE", "SUSTAIN"].iter().enumerate() {
        call(owner, "mutation($input: AddTemplateItemInput!) { addTemplateItem(input: $input) { id } }",
            json!({"templateId": template, "itemId": format!("S{}-01", i + 1), "section": section, "text": format!("Check {section}"), "weight": "1"}),
        )
        .await;
    }
    call(owner, "mutation($input: TemplateInput!) { publishTemplate(input: $input) { status } }", json!({"templateId": template})).await;
    call(
        owner,
        "mutation($input: CapabilityInput!) { grantCapability(input: $input) { id } }",
        json!({"memberId": auditor.member, "capability": "FIVE_S_AUDITOR", "reason": "trained"}),
    )
    .await;
    let started = call(
        auditor,
        "mutation($input: StartAuditInput!) { startAudit(input: $input) { id } }",
        json!({"zoneId": zone, "auditType": "SUPERVISOR", "templateId": template}),
    )
    .await;
    let audit = started["data"]["startAudit"]["id"].as_str().unwrap().to_owned();
    for i in 1..=5 {
        let item = json!({"auditId": audit, "itemId": format!("S{i}-01"), "value": 4});
        call(auditor, "mutation($input: ScoreItemInput!) { scoreItem(input: $input) { id } }", item).await;
    }
    audit
}

#[tokio::test]
async fn metrics_show_every_projections_lag_to_operators_only() {
    let app = TestApp::spawn_with(|c| c.operator_token = Some("operator-secret".into())).await.expect("test app");
    let p = plant(&app).await;
    mutate(&app, &p.owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, "Counted")).await;
    let metrics = |token: Option<&str>| {
        let mut request = app.client.get(format!("{}/metrics", app.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("GET /metrics") }
    };
    assert_eq!(metrics(None).await.status(), 401);
    assert_eq!(metrics(Some("operator-secreT")).await.status(), 401);
    assert_eq!(metrics(Some(p.owner.token.as_str())).await.status(), 401, "a session is not an operator");

    let answer = metrics(Some("operator-secret")).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = answer.text().await.unwrap();
    let status = app.gql(Some(&p.owner.token), "{ projectionStatus { projection checkpoint head lag } }", json!({})).await;
    let statuses = status["data"]["projectionStatus"].as_array().unwrap_or_else(|| panic!("{status}")).clone();
    assert!(statuses.len() >= 2, "{status}");
    for s in &statuses {
        let labels = format!("{{projection=\"{}\",org=\"{}\"}}", s["projection"].as_str().unwrap(), p.owner.org);
        let head = s["head"].as_i64().unwrap();
        assert!(head > 0);
        assert_eq!(s["lag"], 0, "caught up: {status}");
        for line in [
            format!("gemba_projection_checkpoint{labels} {head}"),
            format!("gemba_projection_head{labels} {head}"),
            format!("gemba_projection_lag{labels} 0"),
            format!("gemba_projection_failed{labels} 0"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }
    assert!(text.contains("# TYPE gemba_projection_lag gauge"), "{text}");

    // Without an operator token configured, there is no such endpoint.
    let plain = TestApp::spawn().await;
    let answer = plain.client.get(format!("{}/metrics", plain.url)).bearer_auth("operator-secret").send().await.unwrap();
    assert_eq!(answer.status(), 404);
}
