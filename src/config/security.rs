//! The jail file's `[security]` and `[sysctl]` tables, and `[command]`'s user: what confines the
//! command. Every default is a step in the plan, named with the key that changes it.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use super::Sp;
use super::rules::{
    CAPABILITY_PATTERN, DEVICE_PATTERN, OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN, PARENT_DIR_PATTERN,
};

/// Confinement. Secure by default, as a docker container is: each key says what changes it.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    /// The command's capabilities (bounding, permitted and effective sets): "default" (podman's
    /// 11: CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_NET_BIND_SERVICE
    /// CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID CAP_SYS_CHROOT), the whole list
    /// (["CAP_CHOWN", ...]), or { add = [...], drop = [...] } relative to the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Sp<Capabilities>>,
    /// Capabilities that survive the execve of a command run as a uid other than 0 (the ambient
    /// and inheritable sets); each must be in `capabilities`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = CAPABILITY_PATTERN)), extend("default" = []))]
    pub ambient: Option<Sp<Vec<String>>>,
    /// prctl(PR_SET_NO_NEW_PRIVS): no execve can gain privileges (set-uid bits, file
    /// capabilities). Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub no_new_privs: Option<Sp<bool>>,
    /// The seccomp filter: "default" (docker's profile: an allow-list, EPERM for the rest),
    /// "none", or a profile file in the docker/OCI JSON format, relative to the jail file.
    /// Default: "default".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "default"))]
    pub seccomp: Option<Sp<String>>,
    /// Paths in the jail made empty (a file: /dev/null bound over it; a folder: an empty
    /// read-only tmpfs): "default" (docker's list and /proc/kallsyms), or a list, where the word
    /// "default" stands for the default list.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = in_jail_path()))]
    pub masked_paths: Option<Sp<PathList>>,
    /// Paths in the jail bound read-only: "default" (/proc/bus /proc/fs /proc/irq /proc/sys
    /// /proc/sysrq-trigger), or a list, where "default" stands for the default list.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = in_jail_path()))]
    pub readonly_paths: Option<Sp<PathList>>,
    /// The devices the jail may open or make (a devices cgroup, or a BPF device program on
    /// cgroup2): "default" (the nodes procjail makes: c 1:3 1:5 1:7 1:8 1:9 5:0 5:2 136:* rwm),
    /// or a list of rules like "c 1:3 rwm", "c 136:* rw", "b 8:0 r".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = { "pattern": DEVICE_PATTERN }))]
    pub devices: Option<Sp<PathList>>,
    /// The session keyring: "new" (a new anonymous one, so the host's keys are not the jail's)
    /// or "inherit". Default: "new".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["new", "inherit"], "default" = "new"))]
    pub keyring: Option<Sp<String>>,
    /// /proc/self/oom_score_adj of the command, -1000 to 1000. Default: inherited.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = OOM_SCORE_ADJ_MIN, max = OOM_SCORE_ADJ_MAX))]
    pub oom_score_adj: Option<Sp<i64>>,
}

/// An item of masked_paths or readonly_paths: "default", or an absolute path without `..`.
fn in_jail_path() -> serde_json::Value {
    serde_json::json!({
        "anyOf": [{ "const": "default" }, { "pattern": "^/", "not": { "pattern": PARENT_DIR_PATTERN } }]
    })
}

/// The capability set: a word, a list, or changes to the default.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Capabilities {
    /// "default".
    Default(String),
    List(Vec<String>),
    Relative {
        add: Vec<String>,
        drop: Vec<String>,
    },
}

impl JsonSchema for Capabilities {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capabilities".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "\"default\", the whole list, or { add = [...], drop = [...] } relative to the default.",
            "oneOf": [
                { "const": "default" },
                { "type": "array", "items": { "type": "string", "pattern": CAPABILITY_PATTERN } },
                {
                    "type": "object",
                    "properties": {
                        "add": { "type": "array", "items": { "type": "string", "pattern": CAPABILITY_PATTERN } },
                        "drop": { "type": "array", "items": { "type": "string", "pattern": CAPABILITY_PATTERN } }
                    },
                    "additionalProperties": false
                }
            ],
            "default": "default"
        })
    }
}

/// "default", or a list in which "default" stands for the default list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PathList {
    Default(String),
    List(Vec<String>),
}

impl JsonSchema for PathList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PathList".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "\"default\", or a list; the word \"default\" in the list stands for the default list.",
            "oneOf": [ { "const": "default" }, { "type": "array", "items": { "type": "string" } } ],
            "default": "default"
        })
    }
}

/// `[sysctl]`: namespaced sysctls, written in the jail before /proc/sys goes read-only.
/// Keys as sysctl(8) names them ("net.ipv4.ip_unprivileged_port_start"), values as strings.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Sysctl(pub BTreeMap<String, Sp<String>>);

impl JsonSchema for Sysctl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sysctl".into()
    }
    /// The loader reads dotted keys (`net.ipv4.ip_forward = "1"`) as the nested tables TOML makes
    /// of them, and an integer as its digits; a value is one line.
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`[sysctl]`: namespaced sysctls, written in the jail before /proc/sys goes read-only.\nKeys as sysctl(8) names them (\"net.ipv4.ip_unprivileged_port_start\", quoted, or as dotted keys), values as strings (or integers), one line each.",
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    { "type": "string", "pattern": "^[^\\n]*$" },
                    { "type": "integer" },
                    g.subschema_for::<Sysctl>()
                ]
            }
        })
    }
}
