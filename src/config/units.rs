//! Sizes and durations as jail files write them.
//!
//! Sizes are bytes (an integer) or a string with a binary unit, read the way docker and runc
//! read them: `K`/`KiB` = 1024, `M`/`MiB` = 1024², `G`/`GiB` = 1024³, `T`/`TiB` = 1024⁴, and
//! `B` or no unit for bytes. A decimal number is allowed when the result is a whole number of
//! bytes ("1.5GiB"). Durations are `"500ms"`, `"2s"`, `"1m"`, `"1h"` or an integer of seconds.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Size(pub u64);

/// A duration in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Duration(pub u64);

/// Why a size or duration string was refused: the problem and a hint.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitError {
    pub message: String,
    pub hint: String,
}

pub const SIZE_ACCEPTED: &str =
    "bytes as an integer, or a string with a unit: B, K/KiB, M/MiB, G/GiB, T/TiB (\"64MiB\")";
pub const DURATION_ACCEPTED: &str =
    "seconds as an integer, or a string with a unit: ms, s, m, h (\"500ms\", \"2s\")";

const SIZE_UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("B", 1),
    ("K", 1 << 10),
    ("KiB", 1 << 10),
    ("M", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("GiB", 1 << 30),
    ("T", 1 << 40),
    ("TiB", 1 << 40),
];

const DURATION_UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];

impl Size {
    /// For a person, not exact: "32.0MiB" from 1 MiB up, else whole KiB ("512KiB") or bytes.
    pub fn human(self) -> String {
        if self.0 >= 1 << 20 {
            format!("{:.1}MiB", self.0 as f64 / (1 << 20) as f64)
        } else if self.0 >= 1 << 10 {
            format!("{}KiB", self.0 >> 10)
        } else {
            format!("{}B", self.0)
        }
    }

    pub fn parse(text: &str) -> Result<Size, UnitError> {
        parse_with_units(text, SIZE_UNITS, "size", "bytes").map(Size)
    }

    pub fn from_int(n: i64) -> Result<Size, UnitError> {
        u64::try_from(n).map(Size).map_err(|_| UnitError {
            message: format!("a size cannot be negative: {n}"),
            hint: "write a number of bytes of 0 or more, or a string like \"64MiB\"".into(),
        })
    }
}

impl Duration {
    pub fn parse(text: &str) -> Result<Duration, UnitError> {
        parse_with_units(text, DURATION_UNITS, "duration", "milliseconds").map(Duration)
    }

    pub fn from_secs_int(n: i64) -> Result<Duration, UnitError> {
        u64::try_from(n).ok().and_then(|s| s.checked_mul(1000)).map(Duration).ok_or_else(|| UnitError {
            message: format!("a duration must be 0 or more seconds and fit: {n}"),
            hint: "write a string like \"2s\" or \"500ms\"".into(),
        })
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

/// Parses `<number><unit>` where the number is decimal digits with at most one `.`.
fn parse_with_units(text: &str, units: &[(&str, u64)], what: &str, base: &str) -> Result<u64, UnitError> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let names: Vec<&str> = units.iter().map(|(n, _)| *n).filter(|n| !n.is_empty()).collect();
    let example = if what == "size" { "\"64MiB\"" } else { "\"2s\"" };
    if number.is_empty() {
        let message = if text.starts_with('-') {
            format!("a {what} cannot be negative: \"{text}\"")
        } else {
            format!("\"{text}\" is not a {what}: it must start with a number")
        };
        return Err(UnitError { message, hint: format!("write a number then a unit, like {example}") });
    }
    let Some(&(_, factor)) = units.iter().find(|(n, _)| *n == unit) else {
        if unit.is_empty() {
            return Err(UnitError {
                message: format!("{what} \"{text}\" has no unit"),
                hint: format!("add one of: {}", names.join(", ")),
            });
        }
        let trimmed = unit.trim();
        let known = units.iter().any(|(n, _)| *n == trimmed);
        let hint = match trimmed {
            "MB" | "mb" | "Mb" => {
                format!("procjail reads binary units: write \"{number}MiB\" or \"{number}M\"")
            }
            "GB" | "gb" | "Gb" => {
                format!("procjail reads binary units: write \"{number}GiB\" or \"{number}G\"")
            }
            "KB" | "kb" | "Kb" => {
                format!("procjail reads binary units: write \"{number}KiB\" or \"{number}K\"")
            }
            "k" | "m" | "g" | "t" if what == "size" => {
                let up = trimmed.to_uppercase();
                format!(
                    "units are capitals here: docker's \"{number}{trimmed}\" is \"{number}{up}\" (or \"{number}{up}iB\")"
                )
            }
            u if known => format!("remove the space: \"{number}{u}\""),
            _ => format!("write a number then one of: {}", names.join(", ")),
        };
        return Err(UnitError { message: format!("unknown unit \"{unit}\" in {what} \"{text}\""), hint });
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.contains('.') || (whole.is_empty() && frac.is_empty()) {
        return Err(UnitError {
            message: format!("\"{text}\" is not a number with a unit"),
            hint: format!("write a number then a unit, like {example}"),
        });
    }
    let overflow = || UnitError {
        message: format!("{what} \"{text}\" is too large: it does not fit in 64 bits of {base}"),
        hint: format!("write a smaller {what}"),
    };
    let whole_value: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| overflow())? };
    let mut value = whole_value.checked_mul(factor).ok_or_else(overflow)?;
    if !frac.is_empty() {
        // frac/10^len * factor must be a whole number of base units.
        let digits = frac.len().min(18) as u32;
        let frac_value: u128 = frac[..digits as usize].parse().map_err(|_| overflow())?;
        let scaled = frac_value * u128::from(factor);
        let denom = 10u128.pow(digits);
        if !scaled.is_multiple_of(denom) || frac.len() > 18 {
            return Err(UnitError {
                message: format!("{what} \"{text}\" is not a whole number of {base}"),
                hint: format!("use a smaller unit, like {example}"),
            });
        }
        value = value.checked_add((scaled / denom) as u64).ok_or_else(overflow)?;
    }
    Ok(value)
}

impl fmt::Display for Size {
    /// The shortest exact form: "64MiB", "1536KiB", "100" (bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, factor) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= factor && self.0.is_multiple_of(factor) {
                return write!(f, "{}{name}", self.0 / factor);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, factor) in [("h", 3_600_000u64), ("m", 60_000), ("s", 1000)] {
            if self.0 >= factor && self.0.is_multiple_of(factor) {
                return write!(f, "{}{name}", self.0 / factor);
            }
        }
        write!(f, "{}ms", self.0)
    }
}

/// The pattern of a number and a unit as [`parse_with_units`] reads them: digits with at most one
/// `.` (".5" and "5." too), then one of `units` (or none, where "" is one of them).
fn number_pattern(units: &[(&str, u64)]) -> String {
    format!(r"^([0-9]+(\.[0-9]*)?|\.[0-9]+){}$", units_pattern(units))
}

/// The same strings, where the number is 0 ("0", "0.0MiB", ".0s").
fn zero_pattern(units: &[(&str, u64)]) -> String {
    format!(r"^(0+(\.0*)?|\.0+){}$", units_pattern(units))
}

fn units_pattern(units: &[(&str, u64)]) -> String {
    let names: Vec<&str> = units.iter().map(|(n, _)| *n).filter(|n| !n.is_empty()).collect();
    let optional = if units.iter().any(|(n, _)| n.is_empty()) { "?" } else { "" };
    format!("({}){optional}", names.join("|"))
}

/// A key that `check` refuses at 0 (a tmpfs size, a memory limit, a timeout): at least 1 as an
/// integer (or the `minimum` the key has already), and no string whose number is 0.
fn refuse_zero(schema: &mut Schema, units: &[(&str, u64)]) {
    schema.ensure_object().entry("minimum").or_insert(1.into());
    schema.insert("not".into(), serde_json::json!({ "type": "string", "pattern": zero_pattern(units) }));
}

impl Size {
    /// The schema transform of a size that `check` refuses at 0.
    pub fn above_zero(schema: &mut Schema) {
        refuse_zero(schema, SIZE_UNITS);
    }
}

impl Duration {
    /// The schema transform of a duration that `check` refuses at 0.
    pub fn above_zero(schema: &mut Schema) {
        refuse_zero(schema, DURATION_UNITS);
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": format!("A size: {SIZE_ACCEPTED}. K = KiB = 1024 bytes."),
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": number_pattern(SIZE_UNITS) }
            ]
        })
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": format!("A duration: {DURATION_ACCEPTED}."),
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": number_pattern(DURATION_UNITS) }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(Size::parse("64MiB"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("64M"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("1K"), Ok(Size(1024)));
        assert_eq!(Size::parse("1.5GiB"), Ok(Size(3 << 29)));
        assert_eq!(Size::parse("100"), Ok(Size(100)));
        assert_eq!(Size::parse("100B"), Ok(Size(100)));
        assert!(Size::parse("64 MiB").unwrap_err().hint.contains("remove the space"));
        assert!(Size::parse("64 MB").unwrap_err().hint.contains("\"64MiB\""));
        assert!(Size::parse("64MB").unwrap_err().hint.contains("64MiB"));
        assert!(Size::parse("1e99").unwrap_err().message.contains("unknown unit \"e99\""));
        assert!(Size::parse("64MiX").unwrap_err().message.contains("unknown unit"));
        assert!(Size::parse("-1").unwrap_err().message.contains("negative"));
        assert!(Size::parse("99999999999999999999").unwrap_err().message.contains("too large"));
        assert!(Size::parse("17179869184GiB").unwrap_err().message.contains("too large"));
        assert!(Size::parse("0.3B").unwrap_err().message.contains("whole number"));
        assert_eq!(Size(64 << 20).to_string(), "64MiB");
        assert_eq!(Size(1000).to_string(), "1000");
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("500ms"), Ok(Duration(500)));
        assert_eq!(Duration::parse("2s"), Ok(Duration(2000)));
        assert_eq!(Duration::parse("1.5s"), Ok(Duration(1500)));
        assert_eq!(Duration::parse("1m"), Ok(Duration(60_000)));
        assert!(Duration::parse("2").is_err());
        assert!(Duration::parse("2 s").is_err());
        assert_eq!(Duration(3000).to_string(), "3s");
        assert_eq!(Duration(1500).to_string(), "1500ms");
    }
}
