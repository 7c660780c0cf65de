//! Set-based batch folds (issue 6): every read model applies a batch of events with one read
//! and one write per table. A mixed history of kaizens, A3 cases and defects driven through
//! GraphQL, rebuilt with batches of 1, 3 and 1000 events, gives exactly the rows the live
//! projector built, column by column as PostgreSQL prints them and ledger rows in order.

use gemba_projections::engine::{Projection, Projector};
use serde_json::{Value, json};
use uuid::Uuid;

use super::improvement::{Plant, draft, planned_a3, plant};
use super::read_models::{ok, raise};
use super::rebuild::{run, text};

/// Every read-model table with the order its rows are compared in (its key).
const TABLES: [(&str, &str); 6] = [
    ("defect_register", "defect_id"),
    ("zone_5s_scores", "audit_id"),
    ("kaizen_register", "kaizen_id"),
    ("kaizen_actual_lines", "kaizen_id, line_id"),
    ("kaizen_impact_ledger", "entry_seq, line_id, recognition_month, classification, currency"),
    ("a3_register", "a3_id"),
];

/// Every row of every read model of `org`, each row as PostgreSQL prints it (numeric scale,
/// microseconds, array order), in key order.
async fn rows(p: &Plant, org: Uuid) -> Vec<(&'static str, Vec<String>)> {
    let mut su = p.app.superuser().await;
    let mut all = Vec::new();
    for (table, key) in TABLES {
        let rows: Vec<String> = sqlx::query_scalar(&format!("select t::text from {table} t where org_id = $1 order by {key}"))
            .bind(org)
            .fetch_all(&mut su)
            .await
            .unwrap();
        all.push((table, rows));
    }
    all
}

/// Changes the organisation's live kaizen and A3 rows behind the projector's back, so only a
/// rebuild that really applies the events brings them back.
async fn spoil(p: &Plant, org: Uuid) {
    let mut su = p.app.superuser().await;
    for statement in [
        "update kaizen_register set title = 'spoiled', authors = '{}' where org_id = $1",
        "delete from kaizen_actual_lines where org_id = $1",
        "update kaizen_impact_ledger set amount = amount + 1 where org_id = $1",
        "update a3_register set iteration = 0, status = 'spoiled' where org_id = $1",
    ] {
        sqlx::query(statement).bind(org).execute(&mut su).await.unwrap();
    }
}

fn kaizen(id: &str, extra: Value) -> Value {
    let mut input = json!({"kaizenId": id});
    input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    input
}

fn a3(id: &str, extra: Value) -> Value {
    let mut input = json!({"a3Id": id});
    input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    input
}

fn line(id: &str, line_id: &str, classification: &str, amount: Option<&str>, monthly: bool) -> Value {
    let mut l = json!({"lineId": line_id, "kind": "ACTUAL", "classification": classification, "realizedOn": "2026-11-01"});
    if let Some(amount) = amount {
        l["amount"] = json!(amount);
        l["currency"] = json!("EUR");
        l["calculation"] = json!("measured");
    }
    if monthly {
        l["period"] = json!("MONTH");
    }
    kaizen(id, l)
}

/// The history: kaizens through review, deferral, rejection, withdrawal, a declined impact
/// corrected and resubmitted, verification, adjustments, closing and reopening; A3 cases
/// through a missed target (second iteration), a hold, closing, reopening and a new owner,
/// and a cancelled one; defects raised in between.
async fn history(p: &Plant) {
    let (app, owner, author, reviewer, implementer, verifier) = (&p.app, &p.owner, &p.author, &p.reviewer, &p.implementer, &p.verifier);
    let defect = |title: &'static str| ok(app, owner, "raiseDefect", "RaiseDefectInput", raise(&p.zone, title, "B", "OPERATOR"));
    let evidence = app.upload_photo(implementer, "timesheet").await;

    // A kaizen from idea to adjusted savings.
    let k1 = draft(p).await;
    let k = json!({"kaizenId": k1});
    ok(app, author, "editKaizenDraft", "EditKaizenDraftInput", kaizen(&k1, json!({"title": "Hydraulic die clamps"}))).await;
    let target = json!({"lineId": "t1", "kind": "TARGET", "classification": "SOFT", "amount": "50", "currency": "EUR",
                        "realizedOn": "2026-11-01", "calculation": "estimate"});
    ok(app, author, "setKaizenImpactLine", "SetKaizenImpactLineInput", kaizen(&k1, target)).await;
    ok(app, author, "submitKaizen", "KaizenInput", k.clone()).await;
    defect("Oil leak").await;
    ok(app, reviewer, "startKaizenReview", "KaizenInput", k.clone()).await;
    ok(app, reviewer, "approveKaizen", "ApproveKaizenInput", kaizen(&k1, json!({"implementerIds": [implementer.member]}))).await;
    ok(app, implementer, "startKaizenImplementation", "KaizenInput", k.clone()).await;
    ok(app, implementer, "markKaizenImplemented", "KaizenInput", k.clone()).await;
    let mut hard = line(&k1, "a1", "HARD", Some("100"), true);
    hard["evidence"] = json!([evidence]);
    ok(app, implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", hard.clone()).await;
    ok(app, implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", line(&k1, "a2", "SOFT", Some("500"), false)).await;
    ok(app, implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", line(&k1, "a3", "SOFT", Some("70"), false)).await;
    ok(app, implementer, "submitKaizenImpact", "KaizenInput", k.clone()).await;
    ok(app, verifier, "declineKaizenSavingsVerification", "KaizenReasonInput", kaizen(&k1, json!({"reason": "no invoice"}))).await;
    hard["amount"] = json!("120");
    ok(app, implementer, "setKaizenImpactLine", "SetKaizenImpactLineInput", hard).await;
    let drop = kaizen(&k1, json!({"lineId": "a3", "reason": "double counted"}));
    ok(app, implementer, "removeKaizenImpactLine", "RemoveKaizenImpactLineInput", drop).await;
    ok(app, implementer, "submitKaizenImpact", "KaizenInput", k.clone()).await;
    defect("Loose guard").await;
    ok(app, verifier, "verifyKaizenSavings", "KaizenInput", k.clone()).await;
    let adjust = |line_id: &str, patch: Value| {
        let mut input = kaizen(&k1, json!({"lineId": line_id, "reason": "invoice"}));
        input.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        ok(app, verifier, "adjustKaizenSavings", "AdjustKaizenSavingsInput", input)
    };
    adjust("a1", json!({"amount": "80", "currency": "EUR"})).await;
    adjust("a2", json!({"calculation": "measured twice"})).await;
    ok(app, reviewer, "closeKaizen", "KaizenInput", k.clone()).await;
    ok(app, reviewer, "reopenKaizen", "KaizenReasonInput", kaizen(&k1, json!({"reason": "not sustained"}))).await;
    adjust("a1", json!({"amount": "90", "currency": "EUR"})).await;
    ok(app, reviewer, "closeKaizen", "KaizenInput", k).await;

    // Just do it, verified, closed and reopened where it was closed from.
    let k2 = draft(p).await;
    ok(app, author, "submitKaizenAsImplemented", "KaizenInput", json!({"kaizenId": k2})).await;
    ok(app, author, "setKaizenImpactLine", "SetKaizenImpactLineInput", line(&k2, "s1", "SOFT", Some("40.50"), false)).await;
    ok(app, author, "submitKaizenImpact", "KaizenInput", json!({"kaizenId": k2})).await;
    ok(app, verifier, "verifyKaizenSavings", "KaizenInput", json!({"kaizenId": k2})).await;
    ok(app, owner, "closeKaizen", "KaizenInput", json!({"kaizenId": k2})).await;
    ok(app, owner, "reopenKaizen", "KaizenReasonInput", kaizen(&k2, json!({"reason": "figures revisited"}))).await;

    // Co-authors, a content change with a reason, deferral, reactivation and rejection.
    let k3 = draft(p).await;
    ok(app, author, "addKaizenCoAuthor", "KaizenMemberInput", kaizen(&k3, json!({"memberId": implementer.member}))).await;
    let shares = json!([{"memberId": author.member, "sharePct": 70}, {"memberId": implementer.member, "sharePct": 30}]);
    ok(app, author, "setKaizenAuthorShares", "SetKaizenAuthorSharesInput", kaizen(&k3, json!({"shares": shares}))).await;
    ok(app, author, "submitKaizen", "KaizenInput", json!({"kaizenId": k3})).await;
    let content = kaizen(&k3, json!({"category": "QUALITY", "reason": "scrap, not cost"}));
    ok(app, author, "changeKaizenContent", "ChangeKaizenContentInput", content).await;
    ok(app, reviewer, "startKaizenReview", "KaizenInput", json!({"kaizenId": k3})).await;
    ok(app, reviewer, "deferKaizen", "KaizenReasonInput", kaizen(&k3, json!({"reason": "budget next quarter"}))).await;
    ok(app, owner, "reactivateKaizen", "KaizenInput", json!({"kaizenId": k3})).await;
    ok(app, owner, "rejectKaizen", "RejectKaizenInput", kaizen(&k3, json!({"feedback": "covered by the press rebuild"}))).await;

    // Withdrawn; and a qualitative one closed from implemented and reopened to it.
    let k4 = draft(p).await;
    ok(app, author, "submitKaizen", "KaizenInput", json!({"kaizenId": k4})).await;
    ok(app, author, "withdrawKaizen", "KaizenReasonInput", kaizen(&k4, json!({"reason": "duplicate"}))).await;
    let k5 = draft(p).await;
    ok(app, author, "submitKaizenAsImplemented", "KaizenInput", json!({"kaizenId": k5})).await;
    ok(app, author, "setKaizenImpactLine", "SetKaizenImpactLineInput", line(&k5, "q1", "QUALITATIVE", None, false)).await;
    ok(app, owner, "closeKaizen", "KaizenInput", json!({"kaizenId": k5})).await;
    ok(app, owner, "reopenKaizen", "KaizenReasonInput", kaizen(&k5, json!({"reason": "follow-up"}))).await;

    // An A3 case: a missed target, a second iteration, a hold, closing, reopening, a new owner.
    let (lead, coach) = (author, reviewer);
    let case = planned_a3(app, lead, coach).await;
    ok(app, coach, "approveA3Plan", "A3Input", a3(&case, json!({}))).await;
    ok(app, lead, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", a3(&case, json!({"cmId": "cm1", "status": "DONE"}))).await;
    ok(app, lead, "advanceA3ToCheck", "A3Input", a3(&case, json!({}))).await;
    let effect = |met: &str| json!({"actuals": [{"metricId": "scrap", "value": "3"}], "targetMet": met});
    ok(app, lead, "confirmA3Effect", "ConfirmA3EffectInput", a3(&case, effect("NO"))).await;
    defect("Scrap bin full").await;
    let cm2 = json!({"cmId": "cm2", "description": "poka-yoke", "addresses": ["c1"], "ownerId": lead.member, "dueOn": "2027-01-10"});
    ok(app, lead, "addA3Countermeasure", "AddA3CountermeasureInput", a3(&case, cm2)).await;
    ok(app, coach, "approveA3Plan", "A3Input", a3(&case, json!({}))).await;
    ok(app, lead, "putA3OnHold", "A3ReasonInput", a3(&case, json!({"reason": "press rebuild"}))).await;
    ok(app, coach, "resumeA3", "A3Input", a3(&case, json!({}))).await;
    ok(app, lead, "setA3CountermeasureStatus", "SetA3CountermeasureStatusInput", a3(&case, json!({"cmId": "cm2", "status": "DONE"}))).await;
    ok(app, lead, "advanceA3ToCheck", "A3Input", a3(&case, json!({}))).await;
    ok(app, lead, "confirmA3Effect", "ConfirmA3EffectInput", a3(&case, effect("YES"))).await;
    ok(app, lead, "recordA3Standardization", "RecordA3StandardizationInput", a3(&case, json!({"documents": ["WI-17 rev C"]}))).await;
    ok(app, lead, "recordA3Yokoten", "A3TextInput", a3(&case, json!({"text": "presses 1 and 2"}))).await;
    ok(app, coach, "closeA3", "A3Input", a3(&case, json!({}))).await;
    ok(app, coach, "reopenA3", "A3ReasonInput", a3(&case, json!({"reason": "scrap is back"}))).await;
    ok(app, lead, "confirmA3Effect", "ConfirmA3EffectInput", a3(&case, effect("PARTIAL"))).await;
    ok(app, lead, "changeA3Owner", "ChangeA3OwnerInput", a3(&case, json!({"ownerId": verifier.member, "reason": "moved to plant 2"})))
        .await;

    // A case opened and cancelled.
    let open = json!({"theme": "Late deliveries", "ownerId": implementer.member, "coachId": reviewer.member});
    let cancelled = ok(app, implementer, "openA3", "OpenA3Input", open).await["id"].as_str().unwrap().to_owned();
    ok(app, implementer, "cancelA3", "CancelA3Input", a3(&cancelled, json!({"reason": "merged"}))).await;
}

#[tokio::test]
async fn kaizen_and_a3_registers_rebuilt_in_batches_of_1_3_and_1000_equal_the_live_projection() {
    let p = plant().await;
    history(&p).await;
    let org: Uuid = p.owner.org.parse().unwrap();
    Projector::new(p.app.pool.clone()).catch_up(org).await.unwrap();
    let live = rows(&p, org).await;
    let tables: Vec<&str> = Projection::ALL.iter().flat_map(|p| p.tables().iter().copied()).collect();
    assert_eq!(TABLES.map(|(t, _)| t).to_vec(), tables, "every read-model table is compared");

    // The history reaches what the folds have to get right (hand-counted).
    let count = |table: &str| live.iter().find(|(t, _)| *t == table).map_or(0, |(_, rows)| rows.len());
    assert_eq!(count("kaizen_register"), 5);
    assert_eq!(count("defect_register"), 3);
    assert_eq!(count("a3_register"), 2);
    // a1 and a2 of the first kaizen (a3 removed, t1 a target), s1 and q1.
    assert_eq!(count("kaizen_actual_lines"), 4);
    // First kaizen: verification 12 months of a1 (120 a month) and a2 once; a1 to 80: 12
    // rows of -40; a2's calculation only: one row of 0; a1 to 90: 12 rows of +10. Second
    // kaizen: one row. The qualitative line recognises nothing.
    assert_eq!(count("kaizen_impact_ledger"), 13 + 12 + 1 + 12 + 1);
    let mut su = p.app.superuser().await;
    let mut amounts: Vec<(String, i64)> =
        sqlx::query_as("select amount::text, count(*) from kaizen_impact_ledger where org_id = $1 group by amount")
            .bind(org)
            .fetch_all(&mut su)
            .await
            .unwrap();
    amounts.sort();
    let expected = [("-40", 12), ("0", 1), ("10", 12), ("120", 12), ("40.50", 1), ("500", 1)];
    assert_eq!(amounts, expected.map(|(a, n)| (a.to_owned(), n)).to_vec());
    let registers: Vec<(String, i32, Option<String>)> =
        sqlx::query_as("select status, iteration, target_met from a3_register where org_id = $1 order by a3_id")
            .bind(org)
            .fetch_all(&mut su)
            .await
            .unwrap();
    assert_eq!(registers, [("ACT".to_owned(), 2, Some("partial".to_owned())), ("CANCELLED".to_owned(), 1, None)]);
    let statuses: Vec<String> = sqlx::query_scalar("select status from kaizen_register where org_id = $1 order by kaizen_id")
        .bind(org)
        .fetch_all(&mut su)
        .await
        .unwrap();
    assert_eq!(statuses, ["CLOSED", "SAVINGS_VERIFIED", "REJECTED", "WITHDRAWN", "IMPLEMENTED"]);

    let org_arg = org.to_string();
    for batch in ["1", "3", "1000"] {
        spoil(&p, org).await;
        assert_ne!(rows(&p, org).await, live);
        let output = run(&p.app, &["projections", "rebuild", "all", "--org", &org_arg, "--batch-size", batch]);
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("rebuilt and swapped in 4 of 4 rebuilds"), "{}", text(&output));
        assert_eq!(rows(&p, org).await, live, "rebuilt in batches of {batch}");
    }
}
