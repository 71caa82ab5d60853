//! A small YAML writer for the manifests `svcmirror link` prints (a `serde_json::Value` in block
//! style). Strings that YAML could read as something else (numbers, booleans, null, or with
//! special characters) are written double-quoted (JSON string syntax, which YAML reads);
//! multi-line strings as literal blocks (`|`).

use serde_json::Value;

/// `value` as a YAML document (no `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(_) | Value::Array(_) if !is_empty(value) => block(value, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn pad(indent: usize) -> String {
    " ".repeat(indent)
}

/// A non-empty object or array at `indent`.
fn block(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                out.push_str(&pad(indent));
                out.push_str(&scalar_string(key));
                out.push(':');
                entry(v, indent, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                out.push_str(&pad(indent));
                out.push('-');
                match v {
                    Value::Object(_) if !is_empty(v) => {
                        // The first key on the dash's line, the rest below it.
                        let mut inner = String::new();
                        block(v, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => entry(v, indent, out),
                }
            }
        }
        _ => {}
    }
}

/// What follows `key:` or `-`.
fn entry(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(_) if !is_empty(v) => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        Value::Array(_) if !is_empty(v) => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, indent + 2));
            out.push('\n');
        }
    }
}

fn inline(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        Value::String(s) if s.contains('\n') && !s.trim_end_matches('\n').contains("\n\n\n") => {
            let chomp = if s.ends_with('\n') { "" } else { "-" };
            let mut text = format!("|{chomp}");
            for line in s.trim_end_matches('\n').split('\n') {
                text.push('\n');
                if !line.is_empty() {
                    text.push_str(&pad(indent));
                    text.push_str(line);
                }
            }
            text
        }
        Value::String(s) => scalar_string(s),
    }
}

/// A string plain when YAML reads it back as the same string, else double-quoted.
fn scalar_string(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let ambiguous = s.is_empty()
        || s.starts_with(['-', '.'])
        || s.parse::<f64>().is_ok()
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        )
        || s.starts_with("0x")
        || s.starts_with("0o");
    if plain_chars && !ambiguous {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Whatever is written reads back as the same value (strings that look like numbers stay
    /// strings; multi-line strings survive).
    #[test]
    fn round_trips_through_a_yaml_reader() {
        let value = json!({
            "a": "4143", "b": true, "c": "true", "d": 2, "e": ["x", {"f": "y", "g": [1]}],
            "h": {}, "i": [], "j": "line one\n  line two\n", "k": "no", "l": "a: b",
            "m": "--flag=x", "n": "", "o": null, "p": [{"q": {"r": "s"}}],
        });
        let text = to_yaml(&value);
        let back: Value = serde_saphyr::from_str(&text).expect(&text);
        assert_eq!(back, value, "{text}");
    }
}
