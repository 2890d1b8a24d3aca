//! How procjail writes numbers that JavaScript would round: a u64 limit is a string of digits in
//! JSON ("67108864"), and no limit is null. A JSON number is a double in every browser and in
//! jq, exact only up to 2^53; a limit (u64::MAX for "unlimited", a size in bytes) can be more.

use serde::{Deserialize, Deserializer, Serializer};

/// `Option<u64>` as a string of digits, or null (None, or u64::MAX: unlimited).
pub mod limit {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v.filter(|v| *v != u64::MAX) {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    /// Reads what [`serialize`] wrote, and a plain number (state written by an older procjail).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(u64),
        }
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(Either::Number(n)) => Ok(Some(n)),
            Some(Either::Text(t)) => t.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

/// A map of limits (u64::MAX: unlimited), each as [`limit`] writes it.
pub fn limit_map<S: Serializer>(
    m: &std::collections::BTreeMap<String, u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(k, &(*v != u64::MAX).then(|| v.to_string()))?;
    }
    map.end()
}

/// A limit as [`limit`] writes it, for `serde_json::json!` rows.
pub fn limit_value(v: Option<u64>) -> serde_json::Value {
    v.filter(|v| *v != u64::MAX).map_or(serde_json::Value::Null, |v| serde_json::Value::String(v.to_string()))
}

/// Bytes as lowercase hex, two digits each (a program's bytes, a sha256), in one allocation.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "super::limit")]
        l: Option<u64>,
    }

    #[test]
    fn limits_are_strings_or_null() {
        let j = |l| serde_json::to_string(&T { l }).unwrap();
        assert_eq!(j(Some(67108864)), r#"{"l":"67108864"}"#);
        assert_eq!(j(Some(u64::MAX)), r#"{"l":null}"#);
        assert_eq!(j(None), r#"{"l":null}"#);
        let back: T = serde_json::from_str(r#"{"l":"18446744073709551614"}"#).unwrap();
        assert_eq!(back.l, Some(u64::MAX - 1));
        let old: T = serde_json::from_str(r#"{"l":64}"#).unwrap();
        assert_eq!(old.l, Some(64));
    }
}
