//! A config.json being read: every value taken is marked by its JSON pointer, so that whatever
//! was not taken (a key procjail has no place for, a key of a later spec) is listed at the end,
//! none silently dropped. Bad input is an error with the key and what is accepted.

use std::collections::BTreeSet;

use serde_json::Value;

/// A config.json and the pointers taken from it.
pub struct Doc {
    pub root: Value,
    taken: BTreeSet<String>,
}

/// Malformed input: the key (a JSON pointer) and what is accepted there.
#[derive(Debug)]
pub struct BadInput {
    pub pointer: String,
    pub message: String,
    pub accepted: String,
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config.json {}: {} (accepted: {})", self.pointer, self.message, self.accepted)
    }
}

impl std::error::Error for BadInput {}

pub fn bad(pointer: &str, message: impl Into<String>, accepted: impl Into<String>) -> BadInput {
    BadInput { pointer: pointer.to_string(), message: message.into(), accepted: accepted.into() }
}

/// The JSON type of a value, as a message names it.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Doc {
    pub fn new(root: Value) -> Doc {
        Doc { root, taken: BTreeSet::new() }
    }

    /// The value at `pointer`, marked as taken (with all under it); a null counts as absent.
    pub fn take(&mut self, pointer: &str) -> Option<Value> {
        let v = self.root.pointer(pointer).filter(|v| !v.is_null()).cloned();
        self.taken.insert(pointer.to_string());
        v
    }

    /// The value at `pointer` without taking it.
    pub fn peek(&self, pointer: &str) -> Option<&Value> {
        self.root.pointer(pointer).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, pointer: &str) -> Result<Option<String>, BadInput> {
        match self.take(pointer) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(bad(pointer, format!("expected a string, found {}", kind(&v)), "a string")),
        }
    }

    pub fn bool(&mut self, pointer: &str) -> Result<Option<bool>, BadInput> {
        match self.take(pointer) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(v) => {
                Err(bad(pointer, format!("expected true or false, found {}", kind(&v)), "true or false"))
            }
        }
    }

    pub fn int(&mut self, pointer: &str) -> Result<Option<i128>, BadInput> {
        match self.take(pointer) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
                Ok(n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)))
            }
            Some(v) => Err(bad(pointer, format!("expected an integer, found {v}"), "an integer")),
        }
    }

    pub fn strings(&mut self, pointer: &str) -> Result<Option<Vec<String>>, BadInput> {
        let Some(v) = self.take(pointer) else { return Ok(None) };
        let Value::Array(items) = v else {
            return Err(bad(
                pointer,
                format!("expected an array, found {}", kind(&v)),
                "an array of strings",
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Value::String(s) => Ok(s.clone()),
                other => Err(bad(
                    &format!("{pointer}/{i}"),
                    format!("expected a string, found {}", kind(other)),
                    "a string",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// How many items the array at `pointer` has (0 when absent); an error if it is no array.
    pub fn len(&self, pointer: &str) -> Result<usize, BadInput> {
        match self.peek(pointer) {
            None => Ok(0),
            Some(Value::Array(a)) => Ok(a.len()),
            Some(v) => Err(bad(pointer, format!("expected an array, found {}", kind(v)), "an array")),
        }
    }

    /// Every pointer not taken, at its highest level: a key of which nothing was read is
    /// listed once, not each value under it.
    pub fn left(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        self.walk(&self.root, String::new(), &mut out);
        out
    }

    fn walk(&self, v: &Value, at: String, out: &mut Vec<(String, Value)>) {
        if self.taken.contains(&at) {
            return;
        }
        let below = format!("{at}/");
        let partly = self.taken.iter().any(|t| t.starts_with(&below));
        match v {
            Value::Object(m) if partly || at.is_empty() => {
                for (k, x) in m {
                    let k = k.replace('~', "~0").replace('/', "~1");
                    self.walk(x, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) if partly => {
                for (i, x) in a.iter().enumerate() {
                    self.walk(x, format!("{at}/{i}"), out);
                }
            }
            // Nothing in it, nothing lost.
            Value::Null => {}
            Value::Array(a) if a.is_empty() => {}
            Value::Object(m) if m.is_empty() => {}
            _ => out.push((at, v.clone())),
        }
    }
}

/// A string as TOML writes it (quoted, escaped).
pub fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// An array of strings as TOML writes it on one line.
pub fn q_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", "))
}

/// A key as TOML writes it: bare when it can be.
pub fn key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        q(k)
    }
}
