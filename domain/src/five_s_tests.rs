//! Tests of 5S templates and the scoring formula.

use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::MemberId;
use crate::values::{ReasonCode, Role};

type Given = TestFramework<AuditTemplate>;
const TEMPLATE: TemplateId = TemplateId(Uuid::from_u128(5));

fn admin() -> Actor {
    Actor { member_id: MemberId(Uuid::from_u128(1)), role: Role::Admin }
}
fn name(text: &str) -> Name {
    Name::parse("name", text).unwrap_or_else(|e| panic!("{e}"))
}
fn scale() -> Scale {
    Scale::parse(0, 4, 1).unwrap_or_else(|e| panic!("{e}"))
}
fn item(id: &str, section: Section, weight: i64) -> TemplateItem {
    TemplateItem {
        item_id: id.into(),
        section,
        text: name("Only needed items at the workstation"),
        guidance: None,
        weight: Decimal::from(weight),
        na_allowed: true,
        critical: false,
        auto_finding_at_or_below: Some(1),
        photo_required_at_or_below: None,
    }
}
fn drafted() -> TemplateEvent {
    TemplateEvent::AuditTemplateDrafted { template_id: TEMPLATE, name: name("Shop floor 5S"), version: 1, scale: scale() }
}
fn five_items() -> Vec<TemplateEvent> {
    Section::FIVE
        .iter()
        .enumerate()
        .map(|(i, s)| TemplateEvent::AuditTemplateItemAdded { item: item(&format!("S{}-01", i + 1), *s, 1) })
        .collect()
}
fn definition(items: Vec<TemplateItem>, bands: Vec<Band>) -> TemplateDefinition {
    TemplateDefinition { template_id: TEMPLATE, name: name("t"), version: 1, scale: scale(), items, bands }
}
fn band(label: &str, min: i64) -> Band {
    Band { label: name(label), min_pct: Decimal::from(min) }
}

#[test]
fn scales_need_min_below_max_and_a_dividing_step() {
    assert!(Scale::parse(0, 4, 1).is_ok());
    assert!(Scale::parse(1, 5, 2).is_ok());
    assert!(Scale::parse(4, 4, 1).is_err());
    assert!(Scale::parse(0, 4, 3).is_err());
    assert!(Scale::parse(0, 4, 0).is_err());
    assert!(scale().allows(3) && !scale().allows(5) && !Scale::parse(1, 5, 2).map(|s| s.allows(2)).unwrap_or(true));
}

#[test]
fn an_admin_drafts_a_template_and_adds_items() {
    let create = TemplateCommand::CreateDraft { actor: admin(), template_id: TEMPLATE, name: name("Shop floor 5S"), scale: scale() };
    Given::with(()).given_no_previous_events().when(create).then_expect_events(vec![drafted()]);
    let add = TemplateCommand::AddItem { actor: admin(), item: item("S1-01", Section::Sort, 1) };
    Given::with(())
        .given(vec![drafted()])
        .when(add)
        .then_expect_events(vec![TemplateEvent::AuditTemplateItemAdded { item: item("S1-01", Section::Sort, 1) }]);
}

#[test]
fn item_ids_are_unique_and_weights_positive() {
    let mut events = vec![drafted()];
    events.extend(five_items());
    let again = TemplateCommand::AddItem { actor: admin(), item: item("S1-01", Section::Sort, 1) };
    assert!(matches!(Given::with(()).given(events).when(again).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "itemId"));
    let zero = TemplateCommand::AddItem { actor: admin(), item: item("S1-02", Section::Sort, 0) };
    assert!(
        matches!(Given::with(()).given(vec![drafted()]).when(zero).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "weight")
    );
}

#[test]
fn publishing_needs_all_five_sections_and_freezes_the_draft() {
    let publish = || TemplateCommand::Publish { actor: admin(), checksum: "abc".into() };
    let mut partial = vec![drafted()];
    partial.extend(five_items().into_iter().take(4));
    Given::with(())
        .given(partial)
        .when(publish())
        .then_expect_error(DomainError::Rule("every one of the five sections needs at least one item"));

    let mut events = vec![drafted()];
    events.extend(five_items());
    let result = Given::with(()).given(events.clone()).when(publish()).inspect_result();
    assert!(matches!(result.as_deref(), Ok([TemplateEvent::AuditTemplatePublished { item_count: 5, .. }])), "{result:?}");

    let mut published = events;
    published.extend(result.unwrap_or_default());
    let edit = TemplateCommand::AddItem { actor: admin(), item: item("S6-01", Section::Safety, 1) };
    Given::with(())
        .given(published.clone())
        .when(edit)
        .then_expect_error(DomainError::Rule("only a draft is edited; revise the template to start a new draft"));
    Given::with(())
        .given(published)
        .when(TemplateCommand::Revise { actor: admin() })
        .then_expect_events(vec![TemplateEvent::AuditTemplateRevised { version: 2 }]);
}

#[test]
fn members_and_auditors_do_not_edit_templates() {
    for role in [Role::Member, Role::Auditor] {
        let create =
            TemplateCommand::CreateDraft { actor: Actor { role, ..admin() }, template_id: TEMPLATE, name: name("x"), scale: scale() };
        assert!(matches!(Given::with(()).given_no_previous_events().when(create).inspect_result(), Err(DomainError::Forbidden(_))));
    }
}

#[test]
fn retiring_needs_a_reason_and_happens_once() {
    let retire = || TemplateCommand::Retire { actor: admin(), reason: Reason { code: ReasonCode::Other, text: "replaced".into() } };
    assert!(Given::with(()).given(vec![drafted()]).when(retire()).inspect_result().is_ok());
    let retired = TemplateEvent::AuditTemplateRetired { reason: Reason { code: ReasonCode::Other, text: "replaced".into() } };
    Given::with(()).given(vec![drafted(), retired]).when(retire()).then_expect_error(DomainError::Rule("the template is already retired"));
}

#[test]
fn the_score_is_the_weighted_normalised_share_with_na_excluded() {
    // Scale 0–4. Sort: a (w2) = 3, b (w1) = N/A. Shine: c (w1) = 1, d (w1) = 4.
    let def = definition(
        vec![item("a", Section::Sort, 2), item("b", Section::Sort, 1), item("c", Section::Shine, 1), item("d", Section::Shine, 1)],
        vec![band("Good", 60), band("Poor", 0)],
    );
    let results: BTreeMap<String, ItemValue> = [
        ("a".to_owned(), ItemValue::Score(3)),
        ("b".to_owned(), ItemValue::NotApplicable),
        ("c".to_owned(), ItemValue::Score(1)),
        ("d".to_owned(), ItemValue::Score(4)),
    ]
    .into_iter()
    .collect();
    let scores = score(&def, &results);
    // Sort: 2·3 / 2·4 = 75 %. Shine: (1+4) / (4+4) = 62.5 %. Total: (6+5) / (8+8) = 68.75 %.
    assert_eq!(scores.sections[0].pct, Some(Decimal::new(75, 0)));
    assert_eq!(scores.sections[1].pct, Some(Decimal::new(625, 1)));
    assert_eq!((scores.total_raw, scores.total_max), (Decimal::from(11), Decimal::from(16)));
    assert_eq!(scores.score_pct, Some(Decimal::new(6875, 2)));
    assert_eq!(scores.band.as_deref(), Some("Good"));
}

#[test]
fn a_one_to_five_scale_maps_one_to_zero_percent() {
    let mut def = definition(vec![item("a", Section::Sort, 1)], vec![]);
    def.scale = Scale::parse(1, 5, 1).unwrap_or_else(|e| panic!("{e}"));
    let one: BTreeMap<String, ItemValue> = [("a".to_owned(), ItemValue::Score(1))].into_iter().collect();
    assert_eq!(score(&def, &one).score_pct, Some(Decimal::ZERO));
    let five: BTreeMap<String, ItemValue> = [("a".to_owned(), ItemValue::Score(5))].into_iter().collect();
    assert_eq!(score(&def, &five).score_pct, Some(Decimal::from(100)));
}

#[test]
fn all_not_applicable_scores_null_not_zero() {
    let def = definition(vec![item("a", Section::Sort, 1)], vec![band("Any", 0)]);
    let results: BTreeMap<String, ItemValue> = [("a".to_owned(), ItemValue::NotApplicable)].into_iter().collect();
    let scores = score(&def, &results);
    assert_eq!((scores.score_pct, scores.band), (None, None));
    assert_eq!(scores.sections[0].pct, None);
}

proptest! {
    #[test]
    fn scores_stay_within_0_and_100_and_equal_the_formula(
        items in prop::collection::vec((0_usize..6, 1_i64..10, prop::option::of(0_i32..=4)), 1..30)
    ) {
        let sections = [Section::Sort, Section::SetInOrder, Section::Shine, Section::Standardize, Section::Sustain, Section::Safety];
        let template_items: Vec<TemplateItem> = items.iter().enumerate().map(|(i, (s, w, _))| item(&format!("i{i}"), sections[*s], *w)).collect();
        let results: BTreeMap<String, ItemValue> = items.iter().enumerate()
            .map(|(i, (_, _, v))| (format!("i{i}"), v.map_or(ItemValue::NotApplicable, ItemValue::Score)))
            .collect();
        let scores = score(&definition(template_items, vec![]), &results);
        // Independent computation over the scored items.
        let (mut raw, mut max) = (Decimal::ZERO, Decimal::ZERO);
        for (_, w, v) in &items {
            if let Some(v) = v {
                raw += Decimal::from(*w) * Decimal::from(*v);
                max += Decimal::from(*w) * Decimal::from(4);
            }
        }
        prop_assert_eq!((scores.total_raw, scores.total_max), (raw, max));
        match scores.score_pct {
            None => prop_assert_eq!(max, Decimal::ZERO),
            Some(p) => {
                prop_assert!(p >= Decimal::ZERO && p <= Decimal::from(100));
                prop_assert_eq!(p, Decimal::from(100) * raw / max);
            }
        }
        for section in &scores.sections {
            if let Some(p) = section.pct {
                prop_assert!(p >= Decimal::ZERO && p <= Decimal::from(100));
            }
        }
    }
}
