//! GDPR: erasure by crypto-shredding (events stay, the chain verifies, no personal value of
//! the person is left in any table, export or GraphQL answer), the portability export of
//! one person, and the export of a workspace's read models.

use std::process::{Command, Output};

use gemba_tests::{Session, TestApp, error_code, gemba_bin};
use serde_json::{Value, json};
use sqlx::Row;

use crate::export::{http_export, verify_offline};

const NAME: &str = "Zofia Quixote-Erasable";
const EMPLOYEE_NUMBER: &str = "EMP-99731";
/// A crew name: organisational data, recorded in plain (not personal data), so it stays.
const SHIFT: &str = "Night";
const EMAIL: &str = "zofia.quixote@plant.example";

const MEMBER: &str = "id displayName email employeeNumber shift status role";

/// Joins the person to the organisation of `owner` and fills in their profile.
async fn zofia(app: &TestApp, owner: &Session) -> Session {
    let zofia = app.join(owner, EMAIL, "MEMBER").await;
    let profile = app
        .gql(
            Some(&zofia.token),
            "mutation($input: UpdateMemberProfileInput!) { updateMemberProfile(input: $input) { id } }",
            json!({"input": {"memberId": zofia.member, "displayName": NAME, "employeeNumber": EMPLOYEE_NUMBER, "shift": SHIFT}}),
        )
        .await;
    assert!(profile["errors"].is_null(), "{profile}");
    zofia
}

async fn raise(app: &TestApp, who: &Session, zone: &str, title: &str) -> String {
    let r = app
        .gql(
            Some(&who.token),
            "mutation($input: RaiseDefectInput!) { raiseDefect(input: $input) { id } }",
            json!({"input": {"zoneId": zone, "abnormalityType": "MINOR_FLAW", "tagClass": "OPERATOR", "priority": "B", "title": title, "description": "seen"}}),
        )
        .await;
    r["data"]["raiseDefect"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
}

async fn erase(app: &TestApp, who: &Session, member: &str) -> Value {
    app.gql(
        Some(&who.token),
        &format!("mutation($input: ErasePersonalDataInput!) {{ erasePersonalData(input: $input) {{ {MEMBER} }} }}"),
        json!({"input": {"memberId": member, "reason": "erasure request 2026-11", "reasonCode": "OTHER"}}),
    )
    .await
}

async fn log_in(app: &TestApp, org: &str, email: &str) -> Value {
    app.gql(
        None,
        "mutation($input: LogInInput!) { logIn(input: $input) { token } }",
        json!({"input": {"email": email, "password": "another good password", "organizationId": org}}),
    )
    .await
}

/// Every table of the database (public and shadow schemas) whose rows of `org` (cast to
/// text: every column) contain one of `needles`, case-insensitively, as `table: needle`.
async fn tables_containing(app: &TestApp, org: &str, needles: &[&str]) -> Vec<String> {
    let mut conn = app.superuser().await;
    let tables: Vec<(String, String, bool)> = sqlx::query_as(
        "select t.table_schema, t.table_name,
                exists(select 1 from information_schema.columns c
                        where c.table_schema = t.table_schema and c.table_name = t.table_name and c.column_name = 'org_id')
           from information_schema.tables t
          where t.table_schema in ('public', 'rebuild') and t.table_type = 'BASE TABLE' and t.table_name <> '_sqlx_migrations'
          order by 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.len() > 30, "the scan sees every table: {tables:?}");
    let mut hits = Vec::new();
    for (schema, table, has_org) in tables {
        let filter = if has_org { "where t.org_id = $1::uuid" } else { "where $1::text is not null" };
        let rows = sqlx::query(&format!("select t::text as row from \"{schema}\".\"{table}\" t {filter}"))
            .bind(org)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{schema}.{table}: {e}"));
        for row in rows {
            let text: String = row.get("row");
            let text = text.to_lowercase();
            for needle in needles {
                if text.contains(&needle.to_lowercase()) {
                    hits.push(format!("{schema}.{table}: {needle}"));
                }
            }
        }
    }
    hits.sort();
    hits.dedup();
    hits
}

fn contains_any(text: &str, needles: &[&str]) -> Vec<String> {
    let text = text.to_lowercase();
    needles.iter().filter(|n| text.contains(&n.to_lowercase())).map(|n| (*n).to_owned()).collect()
}

/// Every GraphQL answer about the person an Owner can ask for, as one text.
async fn graphql_about(app: &TestApp, owner: &Session, member: &str, defect: &str) -> String {
    let mut text = String::new();
    let queries = [
        format!("query($id: ID!) {{ member(id: $id) {{ {MEMBER} }} }}"),
        format!("{{ members(first: 50) {{ edges {{ node {{ {MEMBER} }} }} }} }}"),
        "query($id: ID!) { history(entityId: $id) { eventType actor { id displayName role } changes { path before after } reason } }"
            .to_owned(),
        "query($d: ID!) { history(entityId: $d) { actor { displayName } changes { path before after } } }".to_owned(),
        "{ auditTrail(first: 200) { edges { node { eventType actor { displayName } changes { path before after } } } } }".to_owned(),
    ];
    for query in queries {
        let answer = app.gql(Some(&owner.token), &query, json!({"id": member, "d": defect})).await;
        assert!(answer["errors"].is_null(), "{query}: {answer}");
        text.push_str(&answer.to_string());
    }
    text
}

#[tokio::test]
async fn erasure_shreds_every_personal_value_of_the_person_and_nothing_else() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@erase-a.example", "Erase A").await;
    let admin = app.join(&owner, "admin@erase-a.example", "ADMIN").await;
    let person = zofia(&app, &owner).await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let defect = raise(&app, &person, &zone, "Loose guard on press 4").await;
    // Another organisation has a person with the same name, e-mail and number.
    let other_owner = app.sign_up("owner@erase-b.example", "Erase B").await;
    let namesake = zofia(&app, &other_owner).await;
    let needles = [NAME, EMAIL, EMPLOYEE_NUMBER];
    assert!(!tables_containing(&app, &owner.org, &needles).await.is_empty(), "the scan finds the plain e-mail kept for sign-in");
    let before_export = graphql_about(&app, &owner, &person.member, &defect).await;
    assert_eq!(contains_any(&before_export, &[NAME, EMAIL, EMPLOYEE_NUMBER]).len(), 3, "{before_export}");

    // Nobody erases without the right: a Member, an Auditor, oneself, an Admin erasing an
    // Owner (the last-Owner rule is the domain's: `member::tests`).
    let auditor = app.join(&owner, "auditor@erase-a.example", "AUDITOR").await;
    assert_eq!(error_code(&erase(&app, &person, &admin.member).await), Some("FORBIDDEN"));
    assert_eq!(error_code(&erase(&app, &auditor, &person.member).await), Some("FORBIDDEN"));
    assert_eq!(error_code(&erase(&app, &admin, &admin.member).await), Some("FORBIDDEN"));
    assert_eq!(error_code(&erase(&app, &admin, &owner.member).await), Some("FORBIDDEN"));
    let events_before = app.event_count(&owner.org).await;

    let erased = erase(&app, &admin, &person.member).await;
    assert!(erased["errors"].is_null(), "{erased}");
    let shown = &erased["data"]["erasePersonalData"];
    assert_eq!(shown["displayName"], "[erased]");
    assert_eq!(shown["email"], "[erased]");
    assert_eq!(shown["employeeNumber"], "[erased]");
    assert_eq!(shown["shift"], SHIFT);
    assert_eq!(shown["status"], "REMOVED");
    assert_eq!(app.event_count(&owner.org).await, events_before + 2, "MemberRemoved and MemberPersonalDataErased");
    let again = erase(&app, &owner, &person.member).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");

    // The erasure event carries no personal data; every table is clean.
    assert_eq!(tables_containing(&app, &owner.org, &needles).await, Vec::<String>::new());
    // GraphQL answers show `[erased]` and nothing of the person.
    let answers = graphql_about(&app, &owner, &person.member, &defect).await;
    assert_eq!(contains_any(&answers, &needles), Vec::<String>::new(), "{answers}");
    assert!(answers.contains("[erased]"));
    assert!(answers.contains("MemberPersonalDataErased"));
    // They can no longer sign in, and their session ended.
    assert_eq!(error_code(&log_in(&app, &owner.org, EMAIL).await), Some("UNAUTHENTICATED"));
    assert_eq!(error_code(&app.gql(Some(&person.token), "{ me { id } }", json!({})).await), Some("UNAUTHENTICATED"));
    // Correction through the ordinary command is refused with a typed error.
    let corrected = app
        .gql(
            Some(&owner.token),
            "mutation($input: UpdateMemberProfileInput!) { updateMemberProfile(input: $input) { id } }",
            json!({"input": {"memberId": person.member, "displayName": "Someone Else"}}),
        )
        .await;
    assert_eq!(error_code(&corrected), Some("CONFLICT"), "{corrected}");
    assert!(corrected["errors"][0]["message"].as_str().unwrap_or_default().contains("erased"), "{corrected}");

    // The audit-trail export (both formats) shows `[erased]`, and still verifies offline.
    let dir = tempfile::tempdir().unwrap();
    for format in ["csv", "ndjson"] {
        let export = http_export(&app, &owner, &format!("format={format}")).await.unwrap_or_else(|e| panic!("{e:?}"));
        let body = String::from_utf8(export.body.clone()).unwrap();
        assert_eq!(contains_any(&body, &needles), Vec::<String>::new(), "{format}");
        assert!(body.contains("[erased]") && body.contains("MemberPersonalDataErased"), "{format}");
        let (code, out) = verify_offline(dir.path(), &export.body, &export.manifest, None);
        assert_eq!(code, 0, "{format}: {out}");
    }

    // The person's own export and the workspace export show `[erased]` too.
    for path in [
        format!("people/{}?format=json", person.member),
        format!("people/{}?format=csv", person.member),
        "workspace?format=json".to_owned(),
    ] {
        let (status, body) = get_export(&app, &owner, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(contains_any(&body, &needles), Vec::<String>::new(), "{path}");
        assert!(body.contains("[erased]"), "{path}");
    }
    let (_, portable) = get_export(&app, &owner, &format!("people/{}?format=json", person.member)).await;
    let profile = &parse_json(&portable)["sections"]["profile"][0];
    assert_eq!(profile["display_name"], "[erased]");
    assert_eq!(profile["email"], "[erased]");
    assert_eq!(profile["personal_data_erased"], true);
    assert_eq!(tables_containing(&app, &owner.org, &needles).await, Vec::<String>::new(), "exports leave no copy behind");

    // The namesake in the other organisation is untouched.
    let theirs = app
        .gql(Some(&other_owner.token), &format!("query($id: ID!) {{ member(id: $id) {{ {MEMBER} }} }}"), json!({"id": namesake.member}))
        .await;
    assert_eq!(theirs["data"]["member"]["displayName"], NAME, "{theirs}");
    assert_eq!(theirs["data"]["member"]["email"], EMAIL);
    assert_eq!(theirs["data"]["member"]["employeeNumber"], EMPLOYEE_NUMBER);
    assert!(log_in(&app, &other_owner.org, EMAIL).await["data"]["logIn"]["token"].is_string());
    assert_eq!(app.gql(Some(&namesake.token), "{ me { displayName } }", json!({})).await["data"]["me"]["displayName"], NAME);
}

/// `GET /export/{path}` as `who`: the status and the body.
async fn get_export(app: &TestApp, who: &Session, path: &str) -> (u16, String) {
    let response = app.client.get(format!("{}/export/{path}", app.url)).bearer_auth(&who.token).send().await.expect("export request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("export body"))
}

fn parse_json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A CSV file's records (RFC 4180: quoted cells may hold commas, quotes and line breaks).
fn csv_records(body: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut cell, mut quoted, mut chars) =
        (Vec::new(), Vec::new(), String::new(), false, body.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    records
}

async fn events_of_type(app: &TestApp, org: &str, event_type: &str) -> i64 {
    let mut conn = app.superuser().await;
    sqlx::query_scalar("select count(*) from events where org_id = $1::uuid and event_type = $2")
        .bind(org)
        .bind(event_type)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_persons_export_holds_their_profile_records_and_events_and_only_their_personal_data() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@portable.example", "Portable").await;
    let colleague = app.join(&owner, "colleague@portable.example", "MEMBER").await;
    let auditor = app.join(&owner, "auditor@portable.example", "AUDITOR").await;
    let person = zofia(&app, &owner).await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let found = raise(&app, &person, &zone, "Oil leak at press 4").await;
    let assigned = raise(&app, &owner, &zone, "=cmd|' /C calc'!A0").await;
    let r = app
        .gql(
            Some(&owner.token),
            "mutation($input: AssignDefectInput!) { assignDefect(input: $input) { id } }",
            json!({"input": {"defectId": assigned, "assigneeId": person.member}}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let unrelated = raise(&app, &colleague, &zone, "Not hers").await;
    let other = app.sign_up("owner@elsewhere.example", "Elsewhere").await;

    // Who may: the person, Owners and Admins; not another Member, not an Auditor (except
    // their own); not another organisation.
    let path = format!("people/{}?format=json", person.member);
    assert_eq!(get_export(&app, &colleague, &path).await.0, 403);
    assert_eq!(get_export(&app, &auditor, &path).await.0, 403);
    assert_eq!(get_export(&app, &other, &path).await.0, 404);
    assert_eq!(get_export(&app, &auditor, &format!("people/{}?format=json", auditor.member)).await.0, 200);
    assert_eq!(get_export(&app, &owner, &format!("people/{}?format=xml", person.member)).await.0, 400);
    assert_eq!(get_export(&app, &owner, "people/not-a-uuid").await.0, 400);
    let requested = events_of_type(&app, &owner.org, "DataExportRequested").await;

    let (status, body) = get_export(&app, &person, &path).await;
    assert_eq!(status, 200, "{body}");
    let export = parse_json(&body);
    assert_eq!(export["export"], "person");
    assert_eq!(export["member_id"], person.member.as_str());
    let sections = &export["sections"];
    let profile = &sections["profile"][0];
    assert_eq!(profile["display_name"], NAME);
    assert_eq!(profile["email"], EMAIL);
    assert_eq!(profile["employee_number"], EMPLOYEE_NUMBER);
    assert_eq!(profile["shift"], SHIFT);
    assert_eq!(profile["role"], "MEMBER");
    assert_eq!(profile["personal_data_erased"], false);
    assert!(!sections["sessions"].as_array().unwrap().is_empty());
    let defects: Vec<(String, Value)> = sections["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["defect_id"].as_str().unwrap().to_owned(), d["relations"].clone()))
        .collect();
    assert!(defects.contains(&(found.clone(), json!(["found_by"]))), "{defects:?}");
    assert!(defects.contains(&(assigned.clone(), json!(["assignee"]))), "{defects:?}");
    assert!(!defects.iter().any(|(id, _)| *id == unrelated));
    let events = sections["events"].as_array().unwrap();
    let profile_change = events.iter().find(|e| e["event_type"] == "MemberProfileChanged").expect("the profile change");
    assert_eq!(profile_change["relation"], "actor");
    assert_eq!(profile_change["actor"]["display_name"], EMAIL, "her name at the time, opened");
    let change = |path: &str| profile_change["changes"].as_array().unwrap().iter().find(|c| c["path"] == path).cloned().unwrap();
    assert_eq!(change("displayName")["after"], NAME);
    assert_eq!(change("displayName")["before"], EMAIL);
    assert_eq!(change("employeeNumber")["after"], EMPLOYEE_NUMBER);
    // Her invitation is about her, by the Owner: his name is not hers to take away.
    let invited = events.iter().find(|e| e["event_type"] == "MemberInvited").expect("her invitation");
    assert_eq!(invited["relation"], "subject");
    assert_eq!(invited["actor"]["display_name"], "[redacted]");
    assert!(!body.contains("owner@portable.example") && !body.contains("colleague@portable.example"));
    assert!(events.iter().any(|e| e["event_type"] == "DefectRaised" && e["entity_id"] == found.as_str()));
    assert!(!events.iter().any(|e| e["entity_id"] == unrelated.as_str()));

    // The same in CSV (long: section, record, field, value), formula-safe; by an Admin too.
    let admin = app.join(&owner, "admin@portable.example", "ADMIN").await;
    let (status, csv) = get_export(&app, &admin, &format!("people/{}?format=csv", person.member)).await;
    assert_eq!(status, 200, "{csv}");
    let records = csv_records(&csv);
    assert_eq!(records[0], ["section", "record", "field", "value"]);
    let cell = |section: &str, record: &str, field: &str| {
        records.iter().find(|r| r[0] == section && r[1] == record && r[2] == field).map(|r| r[3].clone())
    };
    assert_eq!(cell("profile", &person.member, "display_name").as_deref(), Some(NAME));
    assert_eq!(cell("profile", &person.member, "email").as_deref(), Some(EMAIL));
    assert_eq!(cell("defects", &found, "title").as_deref(), Some("Oil leak at press 4"));
    assert_eq!(cell("defects", &assigned, "title").as_deref(), Some("'=cmd|' /C calc'!A0"), "formula injection is neutralised");
    assert!(records.iter().any(|r| r[0] == "events" && r[2] == "event_type" && r[3] == "MemberProfileChanged"));

    // Every export is on record.
    assert_eq!(events_of_type(&app, &owner.org, "DataExportRequested").await, requested + 2);
    assert!(events_of_type(&app, &owner.org, "ExportGenerated").await >= 3);
}

#[tokio::test]
async fn a_workspace_export_holds_every_read_model_row_of_its_organisation_and_nothing_else() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@workspace-a.example", "Workspace A").await;
    let member = app.join(&owner, "member@workspace-a.example", "MEMBER").await;
    let auditor = app.join(&owner, "auditor@workspace-a.example", "AUDITOR").await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let defect = raise(&app, &member, &zone, "=HYPERLINK(\"http://evil.example\",\"click\")").await;
    let other = app.sign_up("owner@workspace-b.example", "Workspace B").await;
    let other_site = app.create_site(&other, "S9").await;
    let other_zone = app.create_zone(&other, &other_site, "B-ONLY", "Bravo-Only-Zone").await;
    raise(&app, &other, &other_zone, "Bravo-Only-Defect").await;

    assert_eq!(get_export(&app, &member, "workspace?format=json").await.0, 403);
    assert_eq!(get_export(&app, &member, "workspace/zones.csv").await.0, 403);
    assert_eq!(get_export(&app, &owner, "workspace?format=csv").await.0, 400);
    assert_eq!(get_export(&app, &owner, "workspace/credentials.csv").await.0, 404);
    assert_eq!(get_export(&app, &owner, "workspace/zones.xls").await.0, 400);
    let requested = events_of_type(&app, &owner.org, "DataExportRequested").await;

    let (status, body) = get_export(&app, &owner, "workspace?format=json").await;
    assert_eq!(status, 200, "{body}");
    let export = parse_json(&body);
    assert_eq!(export["export"], "workspace");
    let tables = export["tables"].as_object().unwrap();
    let names: Vec<&str> = tables.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = gemba_api::data_export::WORKSPACE_TABLES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let mut conn = app.superuser().await;
    for (table, rows) in tables {
        let rows = rows.as_array().unwrap();
        assert!(rows.iter().all(|r| r["org_id"] == owner.org.as_str()), "{table} holds only this organisation's rows");
        let count: i64 = sqlx::query_scalar(&format!("select count(*) from public.\"{table}\" where org_id = $1::uuid"))
            .bind(&owner.org)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(i64::try_from(rows.len()).unwrap(), count, "every row of {table}");
    }
    assert!(!body.contains("Bravo-Only") && !body.contains(&other.org), "nothing of the other organisation");
    let members = tables["members"].as_array().unwrap();
    let owner_row = members.iter().find(|m| m["member_id"] == owner.member.as_str()).unwrap();
    assert_eq!(owner_row["email"], "owner@workspace-a.example", "sealed values are opened");
    assert_eq!(owner_row["display_name"], "owner");
    assert!(tables["defect_register"].as_array().unwrap().iter().any(|d| d["defect_id"] == defect.as_str()));
    assert!(tables["zones"].as_array().unwrap().iter().any(|z| z["zone_id"] == zone.as_str()));

    // NDJSON: the same rows, one per line, named by table.
    let (status, ndjson) = get_export(&app, &owner, "workspace?format=ndjson").await;
    assert_eq!(status, 200);
    let lines: Vec<Value> = ndjson.lines().map(parse_json).collect();
    let total: usize = tables.values().map(|rows| rows.as_array().unwrap().len()).sum();
    assert_eq!(lines.len(), total);
    assert!(lines.iter().all(|l| l["row"]["org_id"] == owner.org.as_str() && tables.contains_key(l["table"].as_str().unwrap())));

    // CSV per table, with the table's columns, formula-safe.
    let (status, csv) = get_export(&app, &owner, "workspace/defect_register.csv").await;
    assert_eq!(status, 200, "{csv}");
    let records = csv_records(&csv);
    assert_eq!(&records[0][..3], ["org_id", "defect_id", "zone_id"]);
    let title = records[0].iter().position(|c| c == "title").unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1][title], "'=HYPERLINK(\"http://evil.example\",\"click\")");

    // Auditors export too, without e-mail addresses.
    let (status, audited) = get_export(&app, &auditor, "workspace/members.json").await;
    assert_eq!(status, 200);
    let audited = parse_json(&audited);
    let rows = audited["tables"]["members"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|m| m["email"] == "[redacted]" && m["display_name"] != "[redacted]"), "{rows:?}");
    // The other organisation's export holds its own rows only.
    let (_, theirs) = get_export(&app, &other, "workspace?format=ndjson").await;
    assert!(theirs.contains("Bravo-Only-Zone") && !theirs.contains(&owner.org) && !theirs.contains("workspace-a.example"));

    assert_eq!(events_of_type(&app, &owner.org, "DataExportRequested").await, requested + 4);
}

/// Every tenant table is either exported with the workspace or left out for a stated reason.
#[tokio::test]
async fn every_tenant_table_is_exported_or_left_out_for_a_reason() {
    let app = TestApp::spawn().await;
    let mut conn = app.superuser().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.columns where table_schema = 'public' and column_name = 'org_id' order by 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let exported = gemba_api::data_export::WORKSPACE_TABLES;
    let left_out: Vec<&str> = gemba_api::data_export::NOT_EXPORTED.iter().map(|(t, _)| *t).collect();
    let unclassified: Vec<&String> = tables.iter().filter(|t| !exported.contains(&t.as_str()) && !left_out.contains(&t.as_str())).collect();
    assert!(unclassified.is_empty(), "add these to data_export::WORKSPACE_TABLES or NOT_EXPORTED: {unclassified:?}");
    for table in exported.iter().chain(&left_out) {
        assert!(tables.iter().any(|t| t == table), "{table} is not a tenant table");
    }
}

/// `gemba export --person` and `--workspace`: the same files through the database, recorded
/// as the operator's exports.
#[tokio::test]
async fn the_cli_exports_a_person_and_the_workspace() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@cli-data.example", "Cli Data").await;
    let person = zofia(&app, &owner).await;
    let site = app.create_site(&owner, "S1").await;
    let zone = app.create_zone(&owner, &site, "Z-1", "Press").await;
    let found = raise(&app, &person, &zone, "Chip guard missing").await;
    let other = app.sign_up("owner@cli-elsewhere.example", "Cli Elsewhere").await;
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| -> Output {
        Command::new(gemba_bin())
            .args(args)
            .env("DATABASE_URL", app.app_url())
            .env_remove("GEMBA_MIGRATION_DATABASE_URL")
            .env("GEMBA_APP_KEY", &app.app_key)
            .env("GEMBA_SIGNING_KEY", &app.signing_key)
            .env("GEMBA_DATA_DIR", dir.path().join("data"))
            .output()
            .expect("run gemba")
    };
    let requested = events_of_type(&app, &owner.org, "DataExportRequested").await;

    let person_file = dir.path().join("person.json");
    let out = cli(&["export", "--org", &owner.org, "--person", &person.member, "--format", "json", "--out", person_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let export = parse_json(&std::fs::read_to_string(&person_file).unwrap());
    assert_eq!(export["export"], "person");
    let profile = &export["sections"]["profile"][0];
    assert_eq!(profile["display_name"], NAME);
    assert_eq!(profile["email"], EMAIL);
    assert!(export["sections"]["defects"].as_array().unwrap().iter().any(|d| d["defect_id"] == found.as_str()));

    let table_file = dir.path().join("defects.csv");
    let out = cli(&[
        "export",
        "--org",
        &owner.org,
        "--workspace",
        "--table",
        "defect_register",
        "--format",
        "csv",
        "--out",
        table_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records = csv_records(&std::fs::read_to_string(&table_file).unwrap());
    assert_eq!(records.len(), 2);
    assert!(records[1].iter().any(|c| c == "Chip guard missing"));
    assert_eq!(events_of_type(&app, &owner.org, "DataExportRequested").await, requested + 2);

    // Bad input: a clear error, no file, nothing recorded.
    let refused = [
        ("unknown.json", vec!["--person", other.member.as_str(), "--format", "json"]),
        ("whole.csv", vec!["--workspace", "--format", "csv"]),
        ("secret.csv", vec!["--workspace", "--table", "credentials", "--format", "csv"]),
        ("bad.xml", vec!["--person", person.member.as_str(), "--format", "xml"]),
    ];
    for (name, args) in refused {
        let file = dir.path().join(name);
        let mut all = vec!["export", "--org", owner.org.as_str(), "--out", file.to_str().unwrap()];
        all.extend(args);
        let out = cli(&all);
        assert!(!out.status.success(), "{name}");
        assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty(), "{name}: an error is shown");
        assert!(!file.exists(), "{name}: no file left behind");
    }
    assert_eq!(events_of_type(&app, &owner.org, "DataExportRequested").await, requested + 2);
}
