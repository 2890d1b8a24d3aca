//! Reading one TOML table key by key: typed getters that report a wrong type, a missing key or
//! an unknown key as a [`Diag`] at its exact position, and go on.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::KNOWN_KEYS;
use crate::config::units::{DURATION_ACCEPTED, Duration, SIZE_ACCEPTED, Size, UnitError};
use crate::config::{Matcher, Sp};
use crate::diag::{Diag, did_you_mean};

/// One table being read: its keys are taken one by one, and what is left at `finish` is unknown.
pub(super) struct Table<'a, 'i> {
    /// The key path of the table, for messages: `limits`, `mounts[2]`.
    pub(super) name: String,
    /// Its entry in [`KNOWN_KEYS`].
    pub(super) kind: &'static str,
    pub(super) span: Range<usize>,
    pub(super) map: &'a DeTable<'i>,
    pub(super) diags: &'a RefCell<Vec<Diag>>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(super) fn key_path(&self, key: &str) -> String {
        if self.name.is_empty() { key.to_string() } else { format!("{}.{key}", self.name) }
    }

    pub(super) fn push(&self, d: Diag) {
        self.diags.borrow_mut().push(d);
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.map.get(key)
    }

    /// Reports a value of the wrong type.
    pub(super) fn wrong_type(&self, key: &str, v: &Spanned<DeValue>, accepted: &str) {
        let found = v.get_ref().type_str();
        self.push(
            Diag::new(v.span(), self.key_path(key), format!("expected {accepted}, found {found}"))
                .accepted(accepted),
        );
    }

    /// Reads a key the table must have; a missing one is reported at the table's header.
    pub(super) fn required<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
        key: &str,
        accepted: &str,
    ) -> Option<T> {
        let present = self.get(key).is_some();
        let value = read(self);
        if !present {
            let table =
                if self.name.is_empty() { "the file".to_string() } else { format!("[{}]", self.name) };
            self.push(
                Diag::new(self.span.clone(), self.key_path(key), format!("missing key `{key}` in {table}"))
                    .accepted(accepted)
                    .hint(format!("add `{key} = ...` to {table}")),
            );
        }
        value
    }

    pub(super) fn string(&mut self, key: &str) -> Option<Sp<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
            _ => {
                self.wrong_type(key, v, "a string");
                None
            }
        }
    }

    pub(super) fn bool(&mut self, key: &str) -> Option<Sp<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            _ => {
                self.wrong_type(key, v, "true or false");
                None
            }
        }
    }

    pub(super) fn int(&mut self, key: &str) -> Option<Sp<i64>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                Ok(n) => Some(Sp::new(n, v.span())),
                Err(_) => {
                    self.push(Diag::new(v.span(), self.key_path(key), "integer does not fit in 64 bits"));
                    None
                }
            },
            _ => {
                self.wrong_type(key, v, "an integer");
                None
            }
        }
    }

    pub(super) fn float(&mut self, key: &str) -> Option<Sp<f64>> {
        let v = self.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i.as_str().replace('_', "").parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(f) if f.is_finite() => Some(Sp::new(f, v.span())),
            Some(f) => {
                let word = if f.is_nan() { "nan (not a number)" } else { "infinite" };
                self.push(
                    Diag::new(
                        v.span(),
                        self.key_path(key),
                        format!("expected a finite number, found {word}"),
                    )
                    .accepted("a finite number, like 0.5")
                    .hint(format!(
                        "TOML's nan and inf are not amounts: write a number, or remove `{key}` for no limit"
                    )),
                );
                None
            }
            None => {
                self.wrong_type(key, v, "a number, like 0.5");
                None
            }
        }
    }

    pub(super) fn units<T>(
        &mut self,
        key: &str,
        accepted: &str,
        from_int: fn(i64) -> Result<T, UnitError>,
        parse: fn(&str) -> Result<T, UnitError>,
    ) -> Option<Sp<T>> {
        let v = self.get(key)?;
        let result = match v.get_ref() {
            DeValue::String(s) => parse(s),
            DeValue::Integer(_) => match self.int(key) {
                Some(n) if n.value == -1 => Err(UnitError {
                    message: "-1 is not a size: docker's and OCI's \"no limit\"".into(),
                    hint: format!("remove `{key}`: a limit not written is not set"),
                }),
                Some(n) => from_int(n.value),
                None => return None,
            },
            _ => {
                self.wrong_type(key, v, accepted);
                return None;
            }
        };
        match result {
            Ok(x) => Some(Sp::new(x, v.span())),
            Err(e) => {
                self.push(Diag::new(v.span(), self.key_path(key), e.message).accepted(accepted).hint(e.hint));
                None
            }
        }
    }

    pub(super) fn size(&mut self, key: &str) -> Option<Sp<Size>> {
        self.units(key, SIZE_ACCEPTED, Size::from_int, Size::parse)
    }

    pub(super) fn duration(&mut self, key: &str) -> Option<Sp<Duration>> {
        self.units(key, DURATION_ACCEPTED, Duration::from_secs_int, Duration::parse)
    }

    pub(super) fn choice<T: Copy>(&mut self, key: &str, options: &[(&str, T)]) -> Option<Sp<T>> {
        let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let accepted = names.join(" or ");
        let s = self.string(key)?;
        if let Some((_, value)) = options.iter().find(|(n, _)| *n == s.value) {
            return Some(Sp::new(*value, s.span));
        }
        let mut d = Diag::new(s.span, self.key_path(key), format!("unknown value \"{}\"", s.value))
            .accepted(&accepted);
        if let Some(m) = did_you_mean(&s.value, options.iter().map(|(n, _)| *n)) {
            d = d.hint(format!("did you mean \"{m}\"?"));
        }
        self.push(d);
        None
    }

    pub(super) fn string_list(&mut self, key: &str) -> Option<Sp<Vec<String>>> {
        self.list_of(key, ("a string", "an array of strings"), |v| v.as_str().map(str::to_string))
    }

    /// An array whose every item `item` reads (each one it cannot is reported), or None.
    /// `what`: (one item, the array), as the messages name them.
    pub(super) fn list_of<T>(
        &mut self,
        key: &str,
        (what, array): (&str, &str),
        item: impl Fn(&DeValue<'i>) -> Option<T>,
    ) -> Option<Sp<Vec<T>>> {
        let v = self.get(key)?;
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(key, v, array);
            return None;
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            match item(it.get_ref()) {
                Some(x) => out.push(x),
                None => {
                    let found = it.get_ref().type_str();
                    let mut d = Diag::new(
                        it.span(),
                        format!("{}[{i}]", self.key_path(key)),
                        format!("expected {what}, found {found}"),
                    )
                    .accepted(what);
                    if what == "a string" {
                        d = d.hint("quote it: every argument is a string");
                    }
                    self.push(d);
                }
            }
        }
        (out.len() == items.len()).then(|| Sp::new(out, v.span()))
    }

    pub(super) fn string_map(&mut self, key: &str) -> Option<Sp<BTreeMap<String, String>>> {
        let v = self.get(key)?;
        let Some(table) = v.get_ref().as_table() else {
            let accepted = "a table of strings: { NAME = \"value\" }";
            let mut d = Diag::new(
                v.span(),
                self.key_path(key),
                format!("expected {accepted}, found {}", v.get_ref().type_str()),
            )
            .accepted(accepted);
            // docker's and OCI's form: ["NAME=value", ...]. Say how it reads here.
            if let Some(items) = v.get_ref().as_array() {
                let pairs: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.get_ref().as_str()?.split_once('='))
                    .take(3)
                    .map(|(k, val)| format!("{k} = {val:?}"))
                    .collect();
                if !pairs.is_empty() {
                    d = d.hint(format!(
                        "docker's [\"NAME=value\"] is a table here: {key} = {{ {} }}",
                        pairs.join(", ")
                    ));
                }
            }
            self.push(d);
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, item) in table {
            match item.get_ref() {
                DeValue::String(s) => {
                    out.insert(k.get_ref().to_string(), s.to_string());
                }
                other => {
                    ok = false;
                    self.push(
                        Diag::new(
                            item.span(),
                            format!("{}.{}", self.key_path(key), k.get_ref()),
                            format!("expected a string, found {}", other.type_str()),
                        )
                        .accepted("a string")
                        .hint("quote it: environment values are strings"),
                    );
                }
            }
        }
        ok.then(|| Sp::new(out, v.span()))
    }

    /// Output to match: "exact text", { contains = "..." } or { regex = "..." }.
    pub(super) fn matcher(&mut self, key: &str) -> Option<Sp<Matcher>> {
        let v = self.get(key)?;
        let accepted = "a string (the exact text), { contains = \"...\" } or { regex = \"...\" }";
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(Matcher::Exact(s.to_string()), v.span())),
            DeValue::Table(map) if map.len() == 1 => {
                let (k, inner) = map.iter().next().expect("one entry");
                let text = inner.get_ref().as_str().map(str::to_string);
                match (k.get_ref().as_ref(), text) {
                    ("contains", Some(s)) => Some(Sp::new(Matcher::Contains(s), v.span())),
                    ("regex", Some(s)) => Some(Sp::new(Matcher::Regex(s), v.span())),
                    _ => {
                        self.push(
                            Diag::new(v.span(), self.key_path(key), "not a way to match output")
                                .accepted(accepted),
                        );
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(key, v, accepted);
                None
            }
        }
    }

    pub(super) fn table(&mut self, key: &'static str) -> Option<Table<'a, 'i>> {
        let v = self.get(key)?;
        let Some(map) = v.get_ref().as_table() else {
            self.wrong_type(key, v, &format!("a table: [{key}]"));
            return None;
        };
        Some(Table { name: self.key_path(key), kind: key, span: v.span(), map, diags: self.diags })
    }

    pub(super) fn array_of_tables(&mut self, key: &'static str) -> Vec<Table<'a, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(key, v, &format!("an array of tables: [[{key}]]"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref().as_table() {
                Some(map) => out.push(Table {
                    name: format!("{key}[{}]", i + 1),
                    kind: key,
                    span: item.span(),
                    map,
                    diags: self.diags,
                }),
                None => self.wrong_type(&format!("{key}[{}]", i + 1), item, "a table"),
            }
        }
        out
    }

    /// Reports every key of the table that procjail does not know, with a suggestion.
    pub(super) fn finish(&self) {
        let known = KNOWN_KEYS.iter().find(|(t, _)| *t == self.kind).map_or(&[][..], |(_, k)| k);
        for (k, v) in self.map {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let table = if self.name.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", self.name)
            };
            let mut d = Diag::new(k.span(), self.key_path(key), format!("unknown key `{key}` {table}"))
                .accepted(format!("one of: {}", known.join(", ")));
            if let Some(instead) = super::foreign::hint(self.kind, key) {
                d = d.hint(instead);
            } else if let Some(m) = did_you_mean(key, known.iter().copied()) {
                d = d.hint(format!("did you mean `{m}`?"));
            } else if let Some((other, _)) =
                KNOWN_KEYS.iter().find(|(t, keys)| *t != self.kind && keys.contains(&key))
            {
                let where_ =
                    if other.is_empty() { "the top level".to_string() } else { format!("[{other}]") };
                d = d.hint(format!("`{key}` belongs in {where_}"));
            }
            let _ = v;
            self.push(d);
        }
    }
}
