//! The getters of the tables that take lists: `[security]`'s "default"-or-a-list keys, the
//! capability set, group ids, and `[sysctl]`'s dotted names.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::table::Table;
use crate::config::{Capabilities, Lim, PathList, Rlimit, Sp};
use crate::diag::Diag;

impl<'a, 'i> Table<'a, 'i> {
    /// The strings of an array, or None (reported) when an item is not a string.
    pub(super) fn strings_of(&self, key: &str, v: &Spanned<DeValue<'i>>) -> Option<Vec<String>> {
        let items = v.get_ref().as_array()?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(s.to_string()),
                other => self.push(
                    Diag::new(
                        item.span(),
                        format!("{}[{i}]", self.key_path(key)),
                        format!("expected a string, found {}", other.type_str()),
                    )
                    .accepted("a string"),
                ),
            }
        }
        (out.len() == items.len()).then_some(out)
    }

    /// "default", or an array of strings.
    pub(super) fn path_list(&mut self, key: &str) -> Option<Sp<PathList>> {
        let v = self.get(key)?;
        let accepted = "\"default\", or an array of strings";
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(PathList::Default(s.to_string()), v.span())),
            DeValue::Array(_) => self.strings_of(key, v).map(|l| Sp::new(PathList::List(l), v.span())),
            _ => {
                self.wrong_type(key, v, accepted);
                None
            }
        }
    }

    /// "default", an array of capability names, or { add = [...], drop = [...] }.
    pub(super) fn capabilities(&mut self, key: &str) -> Option<Sp<Capabilities>> {
        let v = self.get(key)?;
        let accepted = "\"default\", an array of capability names, or { add = [...], drop = [...] }";
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(Capabilities::Default(s.to_string()), v.span())),
            DeValue::Array(_) => self.strings_of(key, v).map(|l| Sp::new(Capabilities::List(l), v.span())),
            DeValue::Table(map) => {
                let (mut add, mut drop) = (Vec::new(), Vec::new());
                for (k, item) in map {
                    let list = match k.get_ref().as_ref() {
                        "add" => &mut add,
                        "drop" => &mut drop,
                        other => {
                            self.push(
                                Diag::new(
                                    k.span(),
                                    format!("{}.{other}", self.key_path(key)),
                                    format!("unknown key `{other}`"),
                                )
                                .accepted("add, drop"),
                            );
                            continue;
                        }
                    };
                    match self.strings_of(key, item) {
                        Some(l) => *list = l,
                        None => self.wrong_type(k.get_ref(), item, "an array of capability names"),
                    }
                }
                Some(Sp::new(Capabilities::Relative { add, drop }, v.span()))
            }
            _ => {
                self.wrong_type(key, v, accepted);
                None
            }
        }
    }

    /// An array of integers.
    pub(super) fn int_list(&mut self, key: &str) -> Option<Sp<Vec<i64>>> {
        self.list_of(key, ("an integer", "an array of integers"), |v| match v {
            DeValue::Integer(n) => i64::from_str_radix(&n.as_str().replace('_', ""), n.radix()).ok(),
            _ => None,
        })
    }

    /// Every key of the table as a dotted name (`net.ipv4.ip_forward`, quoted or as nested
    /// tables), with its value as a string (an integer is taken as its digits).
    pub(super) fn dotted(&self) -> BTreeMap<String, Sp<String>> {
        fn walk<'i>(
            prefix: &str,
            map: &DeTable<'i>,
            t: &Table<'_, 'i>,
            out: &mut BTreeMap<String, Sp<String>>,
        ) {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{prefix}.{}", k.get_ref())
                };
                match v.get_ref() {
                    DeValue::Table(inner) => walk(&name, inner, t, out),
                    DeValue::String(s) => {
                        out.insert(name, Sp::new(s.to_string(), v.span()));
                    }
                    DeValue::Integer(i) => {
                        out.insert(name, Sp::new(i.as_str().to_string(), v.span()));
                    }
                    other => t.push(
                        Diag::new(
                            v.span(),
                            format!("sysctl.{name}"),
                            format!("expected a string, found {}", other.type_str()),
                        )
                        .accepted("a string (or an integer), as sysctl -w takes it"),
                    ),
                }
            }
        }
        let mut out = BTreeMap::new();
        walk("", self.map, self, &mut out);
        out
    }
}

impl<'a, 'i> Table<'a, 'i> {
    /// An rlimit: one value of its unit (soft = hard), "unlimited", or { soft = ..., hard = ... }.
    /// `scalar` reads one value of the unit from a table.
    pub(super) fn rlimit<T: Copy>(
        &mut self,
        key: &str,
        scalar: fn(&mut Table<'a, 'i>, &str) -> Option<Sp<T>>,
    ) -> Option<Sp<Rlimit<T>>> {
        let v = self.get(key)?;
        let DeValue::Table(map) = v.get_ref() else {
            let one = self.rlimit_bound(key, scalar)?;
            return Some(Sp::new(Rlimit { soft: one, hard: one }, v.span()));
        };
        let mut sub = Table { name: self.key_path(key), kind: "", span: v.span(), map, diags: self.diags };
        let accepted = "a value of the limit's unit, or \"unlimited\"";
        let soft = sub.required(|t| t.rlimit_bound("soft", scalar), "soft", accepted);
        let hard = sub.required(|t| t.rlimit_bound("hard", scalar), "hard", accepted);
        for (k, _) in map.iter().filter(|(k, _)| !["soft", "hard"].contains(&k.get_ref().as_ref())) {
            let name = k.get_ref();
            self.push(
                Diag::new(
                    k.span(),
                    format!("{}.{name}", self.key_path(key)),
                    format!("unknown key `{name}`"),
                )
                .accepted("soft, hard"),
            );
        }
        Some(Sp::new(Rlimit { soft: soft?, hard: hard? }, v.span()))
    }

    /// One bound of an rlimit: "unlimited", or what `scalar` reads (-1 gets a hint).
    fn rlimit_bound<T>(
        &mut self,
        key: &str,
        scalar: fn(&mut Table<'a, 'i>, &str) -> Option<Sp<T>>,
    ) -> Option<Lim<T>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) if s == "unlimited" => Some(Lim::Unlimited),
            DeValue::Integer(i) if i.as_str() == "-1" => {
                self.push(
                    Diag::new(v.span(), self.key_path(key), "-1 is OCI's and setrlimit's RLIM_INFINITY")
                        .accepted("a value of 0 or more, or \"unlimited\"")
                        .hint(format!("write {key} = \"unlimited\"")),
                );
                None
            }
            _ => scalar(self, key).map(|s| Lim::Is(s.value)),
        }
    }
}
