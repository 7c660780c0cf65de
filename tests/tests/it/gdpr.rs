//! GDPR: erasure by crypto-shredding (events stay, the chain verifies, no personal value of
//! the person is left in any table, export or GraphQL answer), the portability export of
//! one person, and the export of a workspace's read models.

use gemba_tests::{Session, TestApp, error_code};
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
