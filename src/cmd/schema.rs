//! `procjail schema`: the JSON Schema of jail files, generated from the loader's own types.

/// The JSON Schema of jail files, as committed in schema/jail.schema.json.
pub fn schema_json() -> String {
    use schemars::generate::SchemaSettings;
    use schemars::transform::RecursiveTransform;
    let settings = SchemaSettings::draft2020_12()
        .with(|s| s.transforms.push(Box::new(RecursiveTransform(toml_has_no_null))))
        .with(|s| s.transforms.push(Box::new(RecursiveTransform(ref_stands_alone))));
    let schema = settings.into_generator().into_root_schema_for::<crate::config::JailFile>();
    serde_json::to_string_pretty(&schema).expect("the schema serializes") + "\n"
}

/// TOML has no null: an optional key is one that may be left out, never one set to null.
fn toml_has_no_null(schema: &mut schemars::Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(serde_json::Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            obj.insert("type".into(), only);
        }
    }
    if let Some(serde_json::Value::Array(any)) = obj.get("anyOf").cloned() {
        let rest: Vec<_> =
            any.into_iter().filter(|v| v.get("type").and_then(|t| t.as_str()) != Some("null")).collect();
        obj.remove("anyOf");
        if let [one] = rest.as_slice() {
            for (k, v) in one.as_object().into_iter().flatten() {
                obj.insert(k.clone(), v.clone());
            }
        } else {
            obj.insert("anyOf".into(), serde_json::Value::Array(rest));
        }
    }
    if obj.get("default").is_some_and(|d| d.is_null()) {
        obj.remove("default");
    }
    if let Some(serde_json::Value::Object(d)) = obj.get_mut("default") {
        d.retain(|_, v| !v.is_null());
    }
}

/// A `$ref` with keywords beside it goes into an `allOf` of its own: readers of draft 7, taplo
/// among them, ignore whatever is beside a `$ref` (a description, a default, a bound).
fn ref_stands_alone(schema: &mut schemars::Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if obj.len() > 1
        && let Some(target) = obj.remove("$ref")
    {
        obj.insert("allOf".into(), serde_json::json!([{ "$ref": target }]));
    }
}
