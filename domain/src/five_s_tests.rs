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
    TemplateEvent::AuditTemplateDrafted {
        template_id: TEMPLATE,
        name: name("Shop floor 5S"),
        version: 1,
        scale: scale(),
        cloned_from: None,
    }
}
fn five_items() -> Vec<TemplateEvent> {
    Section::FIVE
        .iter()
        .enumerate()
        .map(|(i, s)| TemplateEvent::AuditTemplateItemAdded { item: item(&format!("S{}-01", i + 1), *s, 1) })
        .collect()
}
fn definition(items: Vec<TemplateItem>, bands: Vec<Band>) -> TemplateDefinition {
    TemplateDefinition { template_id: TEMPLATE, name: name("t"), version: 1, scale: scale(), items, bands, anchors: Anchors::new() }
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

fn reason() -> Reason {
    Reason { code: ReasonCode::Other, text: "replaced".into() }
}
fn draft_with_items() -> Vec<TemplateEvent> {
    let mut events = vec![drafted()];
    events.extend(five_items());
    events
}
fn published_events() -> Vec<TemplateEvent> {
    let mut events = draft_with_items();
    let mut definition = definition(five_items_list(), vec![]);
    definition.name = name("Shop floor 5S");
    events.push(TemplateEvent::AuditTemplatePublished { definition, checksum: "abc".into(), item_count: 5 });
    events
}
fn five_items_list() -> Vec<TemplateItem> {
    Section::FIVE.iter().enumerate().map(|(i, s)| item(&format!("S{}-01", i + 1), *s, 1)).collect()
}
fn anchors(pairs: &[(i32, &str)]) -> Anchors {
    pairs.iter().map(|(v, t)| (*v, name(t))).collect()
}

#[test]
fn cloning_copies_scale_anchors_items_and_bands_into_a_new_draft() {
    let mut source = definition(five_items_list(), vec![band("Good", 60)]);
    source.template_id = TemplateId(Uuid::from_u128(6));
    source.anchors = anchors(&[(0, "not started"), (4, "sustained")]);
    let clone = TemplateCommand::Clone { actor: admin(), template_id: TEMPLATE, name: None, source: Box::new(source.clone()) };
    let events = Given::with(()).given_no_previous_events().when(clone).inspect_result().unwrap_or_default();
    let mut template = AuditTemplate::default();
    for event in events {
        template.apply(event);
    }
    let copy = template.definition().cloned().unwrap_or_else(|| panic!("no draft"));
    assert_eq!(template.status(), TemplateStatus::Draft);
    assert_eq!((copy.template_id, copy.version, copy.name.as_str()), (TEMPLATE, 1, "t"));
    assert_eq!((&copy.items, &copy.bands, &copy.anchors), (&source.items, &source.bands, &source.anchors));

    let onto_itself =
        TemplateCommand::Clone { actor: admin(), template_id: TEMPLATE, name: None, source: Box::new(definition(vec![], vec![])) };
    assert!(
        matches!(Given::with(()).given_no_previous_events().when(onto_itself).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "fromTemplateId")
    );
    let again = TemplateCommand::Clone { actor: admin(), template_id: TEMPLATE, name: None, source: Box::new(source.clone()) };
    Given::with(()).given(vec![drafted()]).when(again).then_expect_error(DomainError::Rule("the template already exists"));
    let by_member = TemplateCommand::Clone {
        actor: Actor { role: Role::Member, ..admin() },
        template_id: TEMPLATE,
        name: None,
        source: Box::new(source),
    };
    assert!(matches!(Given::with(()).given_no_previous_events().when(by_member).inspect_result(), Err(DomainError::Forbidden(_))));
}

#[test]
fn a_draft_item_is_changed_with_before_and_after_or_removed() {
    let mut changed = item("S1-01", Section::Sort, 3);
    changed.critical = true;
    Given::with(())
        .given(draft_with_items())
        .when(TemplateCommand::ChangeItem { actor: admin(), item: changed.clone() })
        .then_expect_events(vec![TemplateEvent::AuditTemplateItemChanged {
            before: item("S1-01", Section::Sort, 1),
            after: changed.clone(),
        }]);
    Given::with(())
        .given(draft_with_items())
        .when(TemplateCommand::ChangeItem { actor: admin(), item: item("S1-01", Section::Sort, 1) })
        .then_expect_error(DomainError::Rule("the item is unchanged"));
    Given::with(())
        .given(draft_with_items())
        .when(TemplateCommand::ChangeItem { actor: admin(), item: item("S9-01", Section::Sort, 1) })
        .then_expect_error(DomainError::NotFound);
    let mut off_scale = item("S1-01", Section::Sort, 1);
    off_scale.photo_required_at_or_below = Some(9);
    assert!(matches!(
        Given::with(()).given(draft_with_items()).when(TemplateCommand::ChangeItem { actor: admin(), item: off_scale }).inspect_result(),
        Err(DomainError::Invalid(e)) if e.field == "photoRequiredAtOrBelow"
    ));
    Given::with(())
        .given(draft_with_items())
        .when(TemplateCommand::RemoveItem { actor: admin(), item_id: "S5-01".into() })
        .then_expect_events(vec![TemplateEvent::AuditTemplateItemRemoved { item: item("S5-01", Section::Sustain, 1) }]);
    Given::with(())
        .given(published_events())
        .when(TemplateCommand::ChangeItem { actor: admin(), item: changed })
        .then_expect_error(DomainError::Rule("only a draft is edited; revise the template to start a new draft"));
    Given::with(())
        .given(published_events())
        .when(TemplateCommand::RemoveItem { actor: admin(), item_id: "S5-01".into() })
        .then_expect_error(DomainError::Rule("only a draft is edited; revise the template to start a new draft"));
}

#[test]
fn reordering_lists_every_item_once() {
    let order: Vec<String> = ["S5-01", "S4-01", "S3-01", "S2-01", "S1-01"].map(String::from).to_vec();
    let before: Vec<String> = ["S1-01", "S2-01", "S3-01", "S4-01", "S5-01"].map(String::from).to_vec();
    let reorder = |order: Vec<String>| TemplateCommand::ReorderItems { actor: admin(), order };
    let events = Given::with(()).given(draft_with_items()).when(reorder(order.clone())).inspect_result().unwrap_or_default();
    assert_eq!(events, vec![TemplateEvent::AuditTemplateItemsReordered { before: before.clone(), after: order.clone() }]);
    let mut template = AuditTemplate::default();
    for event in draft_with_items().into_iter().chain(events) {
        template.apply(event);
    }
    let now: Vec<String> = template.definition().map(|d| d.items.iter().map(|i| i.item_id.clone()).collect()).unwrap_or_default();
    assert_eq!(now, order);

    for bad in [
        order[..4].to_vec(),
        [order.clone(), vec!["S1-01".into()]].concat(),
        ["X", "S4-01", "S3-01", "S2-01", "S1-01"].map(String::from).to_vec(),
    ] {
        assert!(
            matches!(Given::with(()).given(draft_with_items()).when(reorder(bad)).inspect_result(), Err(DomainError::Invalid(e)) if e.field == "order")
        );
    }
    Given::with(())
        .given(draft_with_items())
        .when(reorder(before))
        .then_expect_error(DomainError::Rule("the items are already in this order"));
    Given::with(())
        .given(published_events())
        .when(reorder(order))
        .then_expect_error(DomainError::Rule("only a draft is edited; revise the template to start a new draft"));
}

#[test]
fn the_scale_and_its_anchors_are_set_on_a_draft_keeping_item_thresholds_on_it() {
    let one_to_five = Scale::parse(1, 5, 1).unwrap_or_else(|e| panic!("{e}"));
    let set = |scale, anchors| TemplateCommand::SetScale { actor: admin(), scale, anchors };
    Given::with(()).given(vec![drafted()]).when(set(one_to_five, anchors(&[(1, "poor"), (5, "excellent")]))).then_expect_events(vec![
        TemplateEvent::AuditTemplateScaleSet {
            before: scale(),
            after: one_to_five,
            anchors_before: Anchors::new(),
            anchors_after: anchors(&[(1, "poor"), (5, "excellent")]),
        },
    ]);
    assert!(matches!(
        Given::with(()).given(vec![drafted()]).when(set(scale(), anchors(&[(7, "off")]))).inspect_result(),
        Err(DomainError::Invalid(e)) if e.field == "anchors"
    ));
    Given::with(())
        .given(vec![drafted()])
        .when(set(scale(), Anchors::new()))
        .then_expect_error(DomainError::Rule("the scale is unchanged"));
    // Items raise findings at <= 1; a 2–5 scale would leave that threshold outside it.
    let two_to_five = Scale::parse(2, 5, 1).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        Given::with(()).given(draft_with_items()).when(set(two_to_five, Anchors::new())).inspect_result(),
        Err(DomainError::Invalid(e)) if e.field == "scale"
    ));
    Given::with(())
        .given(published_events())
        .when(set(one_to_five, Anchors::new()))
        .then_expect_error(DomainError::Rule("only a draft is edited; revise the template to start a new draft"));
}

#[test]
fn retiring_needs_an_existing_template_and_an_admin() {
    let retire = |actor| TemplateCommand::Retire { actor, reason: reason() };
    Given::with(())
        .given(published_events())
        .when(retire(admin()))
        .then_expect_events(vec![TemplateEvent::AuditTemplateRetired { reason: reason() }]);
    Given::with(()).given_no_previous_events().when(retire(admin())).then_expect_error(DomainError::NotFound);
    assert!(matches!(
        Given::with(()).given(published_events()).when(retire(Actor { role: Role::Member, ..admin() })).inspect_result(),
        Err(DomainError::Forbidden(_))
    ));
    let mut retired = published_events();
    retired.push(TemplateEvent::AuditTemplateRetired { reason: reason() });
    Given::with(())
        .given(retired.clone())
        .when(TemplateCommand::Revise { actor: admin() })
        .then_expect_error(DomainError::Rule("only a published template is revised"));
    Given::with(())
        .given(retired)
        .when(TemplateCommand::AddItem { actor: admin(), item: item("S6-01", Section::Safety, 1) })
        .then_expect_error(DomainError::Rule("only a draft is edited; revise the template to start a new draft"));
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

fn any_template_command() -> impl Strategy<Value = TemplateCommand> {
    let role = prop::sample::select(vec![Role::Owner, Role::Admin, Role::Admin, Role::Admin, Role::Member, Role::Auditor]);
    (role, 0_u8..15, 0_usize..6, 0_i32..6).prop_map(|(role, which, n, v)| {
        let actor = Actor { role, ..admin() };
        let id = format!("i{n}");
        // Each id keeps its own section, so drafts come to cover all five and get published.
        let section = Section::FIVE[n % 5];
        match which {
            0 => TemplateCommand::CreateDraft { actor, template_id: TEMPLATE, name: name("t"), scale: scale() },
            1..=6 => TemplateCommand::AddItem { actor, item: item(&id, section, 1) },
            7 => TemplateCommand::ChangeItem { actor, item: TemplateItem { auto_finding_at_or_below: Some(v), ..item(&id, section, 2) } },
            8 => TemplateCommand::RemoveItem { actor, item_id: id },
            9 => TemplateCommand::ReorderItems { actor, order: (0..n).rev().map(|i| format!("i{i}")).collect() },
            10 => TemplateCommand::SetScale {
                actor,
                scale: Scale::parse(0, v.max(1), 1).unwrap_or_else(|e| panic!("{e}")),
                anchors: Anchors::new(),
            },
            11 | 12 => TemplateCommand::Publish { actor, checksum: "sum".into() },
            13 => TemplateCommand::Revise { actor },
            // Rare, or nothing would be left to publish.
            14 if v == 0 => TemplateCommand::Retire { actor, reason: reason() },
            _ => TemplateCommand::AddItem { actor, item: item(&id, section, 1) },
        }
    })
}

fn run(template: &mut AuditTemplate, command: TemplateCommand) -> Result<Vec<TemplateEvent>, DomainError> {
    let sink = EventSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|_| DomainError::NotFound)?;
    runtime.block_on(async {
        template.handle(command, &(), &sink).await?;
        Ok(sink.collect().await)
    })
}

proptest! {
    #[test]
    fn random_template_commands_keep_the_template_invariants(commands in prop::collection::vec(any_template_command(), 10..60)) {
        // Start from a draft, so the random commands reach publishing and beyond.
        let mut template = AuditTemplate::default();
        let create = TemplateCommand::CreateDraft { actor: admin(), template_id: TEMPLATE, name: name("t"), scale: scale() };
        prop_assert!(run(&mut template, create).is_ok());
        for command in commands {
            let (before_status, before) = (template.status(), template.definition().cloned());
            let writer = match &command {
                TemplateCommand::CreateDraft { actor, .. } | TemplateCommand::Clone { actor, .. } | TemplateCommand::AddItem { actor, .. }
                | TemplateCommand::ChangeItem { actor, .. } | TemplateCommand::RemoveItem { actor, .. }
                | TemplateCommand::ReorderItems { actor, .. } | TemplateCommand::SetScale { actor, .. } | TemplateCommand::SetBands { actor, .. }
                | TemplateCommand::Publish { actor, .. } | TemplateCommand::Revise { actor } | TemplateCommand::Retire { actor, .. } => actor.role,
            };
            let result = run(&mut template, command);
            if matches!(writer, Role::Member | Role::Auditor) {
                prop_assert!(result.is_err(), "only owners and admins edit templates");
            }
            if result.is_err() {
                prop_assert_eq!(template.definition(), before.as_ref(), "a refused command changed the template");
            }
            // Only drafts are edited: the content of a published or retired template moves only by a revise.
            if before_status != TemplateStatus::Draft && template.status() != TemplateStatus::Draft {
                prop_assert_eq!(template.definition(), before.as_ref());
            }
            if let Some(d) = template.definition() {
                prop_assert!(d.scale.min < d.scale.max);
                let mut ids: Vec<&str> = d.items.iter().map(|i| i.item_id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                prop_assert_eq!(ids.len(), d.items.len(), "item ids are unique");
                prop_assert!(d.items.iter().all(|i| i.fits(&d.scale).is_ok()), "thresholds lie on the scale");
            }
            // Every published version covers the five sections.
            if let Some((published, _)) = template.published() {
                prop_assert!(published.check_publishable().is_ok());
            }
        }
    }

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
