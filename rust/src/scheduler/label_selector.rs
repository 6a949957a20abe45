//! metav1.LabelSelectorAsSelector as the scheduler's plugins use it: an absent selector selects
//! nothing, an empty one everything; matchLabels and matchExpressions (In, NotIn, Exists,
//! DoesNotExist) with the API's checks on keys, values and value counts.
use super::pod::LabelSelectorSpec;
use crate::informer::selector::{equals_requirement, node_selector_requirement, Labels, Selector};

#[derive(Clone, Debug)]
pub(crate) enum PodSelector {
    /// labels.Nothing(): from an absent selector.
    Nothing,
    /// An AND of requirements (none: labels.Everything()).
    Matching(Selector),
}

impl PodSelector {
    pub(crate) fn of(spec: Option<&LabelSelectorSpec>) -> Result<PodSelector, String> {
        let Some(spec) = spec else {
            return Ok(PodSelector::Nothing);
        };
        let mut requirements = Vec::new();
        for (key, value) in &spec.match_labels {
            requirements.push(node_selector_requirement(key, "In", std::slice::from_ref(value))?);
        }
        for r in &spec.match_expressions {
            if !matches!(r.operator.as_str(), "In" | "NotIn" | "Exists" | "DoesNotExist") {
                return Err(format!("{:?} is not a valid label selector operator", r.operator));
            }
            requirements.push(node_selector_requirement(&r.key, &r.operator, &r.values)?);
        }
        Ok(PodSelector::Matching(Selector::from_requirements(requirements)))
    }

    /// Selector.Empty(): true only for one with no requirements (not for Nothing).
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, PodSelector::Matching(s) if s.is_empty())
    }

    pub(crate) fn matches(&self, labels: &impl Labels) -> bool {
        match self {
            PodSelector::Nothing => false,
            PodSelector::Matching(s) => s.matches(labels),
        }
    }

    /// The selector with `key = value` added for each pair (mergeLabelSetWithSelector: Nothing
    /// stays Nothing).
    pub(crate) fn with_labels<'a>(self, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> PodSelector {
        match self {
            PodSelector::Nothing => PodSelector::Nothing,
            PodSelector::Matching(s) => PodSelector::Matching(s.and(pairs.map(|(k, v)| equals_requirement(k, v)))),
        }
    }
}
