//! AI is advisory: an [`Advisor`] suggests; only a person's acceptance changes a record.
//!
//! The offline default, [`KeywordAdvisor`], suggests the abnormality type of a new defect
//! from words in its title and description. A model-backed advisor implements the same
//! trait; its suggestions are stored the same way (`DefectTypeSuggested`, with its source).

use gemba_domain::defect::AbnormalityType;

/// Suggests classifications.
pub trait Advisor: Send + Sync + std::fmt::Debug {
    /// A suggested abnormality type for a defect's text, with the advisor's name.
    fn suggest_abnormality_type(&self, title: &str, description: &str) -> Option<(AbnormalityType, &'static str)>;
}

/// The offline default: keyword rules, checked in order (safety first).
#[derive(Debug, Default)]
pub struct KeywordAdvisor;

const RULES: &[(AbnormalityType, &[&str])] = &[
    (AbnormalityType::UnsafePlace, &["unsafe", "guard", "trip", "slip", "sharp", "exposed wire", "hazard", "injury", "fall"]),
    (AbnormalityType::ContaminationSource, &["leak", "oil", "drip", "dust", "chips", "spill", "coolant", "dirt"]),
    (AbnormalityType::QualityDefectSource, &["scrap", "reject", "out of tolerance", "burr", "defective part", "rework"]),
    (AbnormalityType::InaccessiblePlace, &["hard to reach", "inaccessible", "cannot reach", "can't reach", "no access"]),
    (AbnormalityType::UnfulfilledBasicCondition, &["lubric", "grease", "loose", "bolt", "tighten", "worn", "clean"]),
    (AbnormalityType::UnnecessaryNonUrgentItem, &["unused", "unnecessary", "obsolete", "clutter", "not needed"]),
    (AbnormalityType::MinorFlaw, &["scratch", "dent", "crack", "vibration", "noise", "rust"]),
];

impl Advisor for KeywordAdvisor {
    fn suggest_abnormality_type(&self, title: &str, description: &str) -> Option<(AbnormalityType, &'static str)> {
        let text = format!("{title} {description}").to_lowercase();
        RULES.iter().find(|(_, words)| words.iter().any(|w| text.contains(w))).map(|(kind, _)| (*kind, "keyword-rules-v1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_suggest_a_type_and_safety_wins() {
        let advisor = KeywordAdvisor;
        assert_eq!(advisor.suggest_abnormality_type("Oil leak at press 3", "").map(|s| s.0), Some(AbnormalityType::ContaminationSource));
        assert_eq!(
            advisor.suggest_abnormality_type("Oil on the floor", "someone could slip").map(|s| s.0),
            Some(AbnormalityType::UnsafePlace)
        );
        assert_eq!(advisor.suggest_abnormality_type("Label missing", "").map(|s| s.0), None);
    }
}
