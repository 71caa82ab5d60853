//! SPEC §2: label selectors (kubectl syntax and Kubernetes' `matchLabels`/`matchExpressions`) and
//! the key patterns of a link's exclusions.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::StringMap;

/// A Kubernetes label selector: every `matchLabels` pair and every expression must hold. An empty
/// selector selects nothing (SPEC §2: unlike Kubernetes, where it selects everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// `matchLabels`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: SelectorOperator,
    /// The values, for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A `matchExpressions` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl LabelSelector {
    /// True when the selector has no requirement at all (and so selects nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy the selector. An empty selector matches nothing.
    #[must_use]
    pub fn matches(&self, labels: &StringMap) -> bool {
        if self.is_empty() {
            return false;
        }
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|req| {
                let value = labels.get(&req.key);
                match req.operator {
                    SelectorOperator::In => value.is_some_and(|v| req.values.contains(v)),
                    SelectorOperator::NotIn => value.is_none_or(|v| !req.values.contains(v)),
                    SelectorOperator::Exists => value.is_some(),
                    SelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }

    /// Parses kubectl's selector syntax: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
    /// `k notin (a,b)`, joined by commas.
    ///
    /// # Errors
    /// A requirement that is none of those forms.
    pub fn parse(text: &str) -> Result<Self, SelectorParseError> {
        let mut selector = Self::default();
        for raw in split_requirements(text) {
            let req = raw.trim();
            if req.is_empty() {
                continue;
            }
            let err = || SelectorParseError(req.to_owned());
            if let Some((key, values)) = split_set(req, " notin ") {
                selector.push(key, SelectorOperator::NotIn, values, err)?;
            } else if let Some((key, values)) = split_set(req, " in ") {
                selector.push(key, SelectorOperator::In, values, err)?;
            } else if let Some((key, value)) = req.split_once("!=") {
                selector.push(
                    key,
                    SelectorOperator::NotIn,
                    vec![value.trim().to_owned()],
                    err,
                )?;
            } else if let Some((key, value)) = req.split_once("==").or_else(|| req.split_once('='))
            {
                let (key, value) = (key.trim(), value.trim());
                if key.is_empty() || !is_label_value(value) {
                    return Err(err());
                }
                selector
                    .match_labels
                    .insert(key.to_owned(), value.to_owned());
            } else if let Some(key) = req.strip_prefix('!') {
                selector.push(key, SelectorOperator::DoesNotExist, Vec::new(), err)?;
            } else {
                selector.push(req, SelectorOperator::Exists, Vec::new(), err)?;
            }
        }
        Ok(selector)
    }

    fn push(
        &mut self,
        key: &str,
        operator: SelectorOperator,
        values: Vec<String>,
        err: impl Fn() -> SelectorParseError,
    ) -> Result<(), SelectorParseError> {
        let key = key.trim();
        if key.is_empty()
            || key.contains(char::is_whitespace)
            || !values.iter().all(|v| is_label_value(v))
        {
            return Err(err());
        }
        self.match_expressions.push(LabelSelectorRequirement {
            key: key.to_owned(),
            operator,
            values,
        });
        Ok(())
    }
}

fn is_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Splits on commas outside parentheses.
fn split_requirements(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_set<'a>(req: &'a str, op: &str) -> Option<(&'a str, Vec<String>)> {
    let (key, rest) = req.split_once(op)?;
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values = inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    Some((key, values))
}

/// A selector requirement that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "label selector requirement {0:?} is not `k=v`, `k!=v`, `k`, `!k`, `k in (..)` or `k notin (..)`"
)]
pub struct SelectorParseError(pub String);

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for req in &self.match_expressions {
            parts.push(match req.operator {
                SelectorOperator::In => format!("{} in ({})", req.key, req.values.join(",")),
                SelectorOperator::NotIn => format!("{} notin ({})", req.key, req.values.join(",")),
                SelectorOperator::Exists => req.key.clone(),
                SelectorOperator::DoesNotExist => format!("!{}", req.key),
            });
        }
        f.write_str(&parts.join(","))
    }
}

/// An exact label/annotation key, or a `prefix/*` pattern matching every key that starts with
/// `prefix` (SPEC §2, Linkerd's matching).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyPattern(String);

impl KeyPattern {
    /// A pattern from its text (`a.io/key` or `a.io/*`).
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        Self(pattern.to_owned())
    }

    /// The pattern's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` matches, exactly as Linkerd matches (`multicluster/service-mirror/
    /// cluster_watcher.go`, `isLabelExlucded` and `isAnnotationExlucded`): a pattern ending in `/*`
    /// matches every key that starts with the pattern minus `/*`
    /// (`strings.HasPrefix(key, strings.TrimSuffix(pattern, "/*"))`), so `evil.linkerd/*` also
    /// matches `evil.linkerd.io/x`; any other pattern (`a*` included) matches itself only.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        match self.0.strip_suffix("/*") {
            Some(prefix) => key.starts_with(prefix),
            None => key == self.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn empty_selector_exports_nothing() {
        let sel = LabelSelector::parse("").expect("parses");
        assert!(sel.is_empty());
        assert!(!sel.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn selector_syntax() {
        let sel = LabelSelector::parse("app in (a, b),tier!=db,exported,!legacy").expect("parses");
        assert!(sel.matches(&labels(&[("app", "a"), ("exported", "")])));
        assert!(!sel.matches(&labels(&[("app", "c"), ("exported", "")])));
        assert!(!sel.matches(&labels(&[("app", "a"), ("exported", ""), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("app", "a"), ("exported", ""), ("legacy", "x")])));
        assert_eq!(
            sel.to_string(),
            "app in (a,b),tier notin (db),exported,!legacy"
        );
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("=b").is_err());
    }

    #[test]
    fn key_patterns() {
        assert!(KeyPattern::new("a.io/*").matches("a.io/x"));
        assert!(!KeyPattern::new("a.io/*").matches("b.io/x"));
        assert!(KeyPattern::new("a.io/x").matches("a.io/x"));
        assert!(!KeyPattern::new("a.io/x").matches("a.io/xy"));
    }

    /// SPEC §2 exclusions, Linkerd's `isLabelExlucded`: `strings.HasPrefix(key,
    /// strings.TrimSuffix(pattern, "/*"))`.
    #[test]
    fn exclusion_prefix_matches_as_linkerd() {
        let evil = KeyPattern::new("evil.linkerd/*");
        assert!(evil.matches("evil.linkerd.io/x"));
        assert!(evil.matches("evil.linkerd/x"));
        assert!(evil.matches("evil.linkerd"));
        assert!(!evil.matches("good.linkerd/x"));
        // Only a `/*` suffix is a prefix pattern; `a*` is a literal key, as in Linkerd.
        assert!(!KeyPattern::new("team*").matches("team.io/x"));
        assert!(KeyPattern::new("team*").matches("team*"));
    }
}
