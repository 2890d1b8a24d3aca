//! The jail file's `[limits]`: the cgroup limits, and the rlimits, each of which is one value
//! (soft = hard), `"unlimited"`, or `{ soft = ..., hard = ... }`.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

use super::Sp;
use super::rules::*;
use super::units::{Duration, Size};

/// One bound of an rlimit: a value of its unit, or no limit (RLIM_INFINITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lim<T> {
    Unlimited,
    Is(T),
}

impl<T: Serialize> Serialize for Lim<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lim::Unlimited => s.serialize_str("unlimited"),
            Lim::Is(v) => v.serialize(s),
        }
    }
}

/// An rlimit: its soft limit (what the process gets) and its hard limit (how far the process may
/// raise the soft one). One value in the file sets both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit<T> {
    pub soft: Lim<T>,
    pub hard: Lim<T>,
}

impl<T: Serialize + PartialEq> Serialize for Rlimit<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.soft == self.hard {
            return self.soft.serialize(s);
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("soft", &self.soft)?;
        m.serialize_entry("hard", &self.hard)?;
        m.end()
    }
}

impl<T: JsonSchema> JsonSchema for Rlimit<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Rlimit_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let one = g.subschema_for::<T>();
        let bound = json_schema!({ "anyOf": [one, { "const": "unlimited" }] });
        json_schema!({
            "oneOf": [
                one,
                { "const": "unlimited" },
                {
                    "type": "object",
                    "description": "The soft limit (what the command gets) and the hard limit (how far it may raise it), soft at most hard.",
                    "properties": { "soft": bound, "hard": bound },
                    "required": ["soft", "hard"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// The schema transform of an rlimit counted from `min`: the bound holds for the one value and
/// for soft and hard.
fn floor(schema: &mut Schema, min: i64) {
    schema.insert("minimum".into(), min.into());
    fn pairs(v: &mut serde_json::Value, min: i64) {
        if let Some(props) = v.get_mut("properties").filter(|p| p.get("soft").is_some()) {
            for k in ["soft", "hard"] {
                props[k]["anyOf"][0]["minimum"] = min.into();
            }
        }
        for k in ["oneOf", "anyOf"] {
            if let Some(serde_json::Value::Array(alts)) = v.get_mut(k) {
                alts.iter_mut().for_each(|a| pairs(a, min));
            }
        }
    }
    for k in ["oneOf", "anyOf"] {
        if let Some(serde_json::Value::Array(alts)) = schema.get_mut(k) {
            alts.iter_mut().for_each(|a| pairs(a, min));
        }
    }
}

fn at_least_0(s: &mut Schema) {
    floor(s, 0)
}

fn nofile_floor(s: &mut Schema) {
    floor(s, NOFILE_MIN)
}

/// Resource limits. Cgroup limits are written to the jail's cgroup; rlimits are set on the
/// command with setrlimit.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// cgroup: memory limit (memory.max / memory.limit_in_bytes). Bytes or "64MiB". At least
    /// 6MiB, as docker and podman require.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = MEMORY_MIN), transform = Size::above_zero)]
    pub memory: Option<Sp<Size>>,
    /// cgroup: memory + swap limit (v2: memory.swap.max = this - memory;
    /// v1: memory.memsw.limit_in_bytes). At least `memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = Size::above_zero)]
    pub memory_swap: Option<Sp<Size>>,
    /// cgroup: the most processes and threads at once (pids.max), up to the kernel's
    /// PID_MAX_LIMIT. At least 2 with the built-in init (it is one of them), else at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = PID_MAX_LIMIT))]
    pub pids: Option<Sp<i64>>,
    /// cgroup: CPUs' worth of time, e.g. 0.5 → cpu.max "50000 100000"
    /// (v1: cpu.cfs_quota_us 50000, cpu.cfs_period_us 100000). From 0.01 to 1024.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = CPUS_MIN, max = CPUS_MAX))]
    pub cpus: Option<Sp<f64>>,
    /// cgroup: relative CPU weight, 1 to 10000 (v2 cpu.weight; default 100). On v1 written as
    /// cpu.shares by the mapping of runc 1.3.2+, crun 1.23+ and systemd: 1 → 2, 100 → 1024,
    /// 10000 → 262144 (log-quadratic between).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = CPU_WEIGHT_MIN, max = CPU_WEIGHT_MAX))]
    pub cpu_weight: Option<Sp<i64>>,
    /// rlimit RLIMIT_NOFILE: the most open descriptors, at least 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = nofile_floor)]
    pub nofile: Option<Sp<Rlimit<i64>>>,
    /// rlimit RLIMIT_NPROC: the most processes of the user (counted host-wide for that uid).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = at_least_0)]
    pub nproc: Option<Sp<Rlimit<i64>>>,
    /// rlimit RLIMIT_CORE: the largest core dump, bytes or with a unit; 0 for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_FSIZE: the largest file the command may write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsize: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_STACK: the main thread's stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_AS: the address space (virtual memory).
    #[serde(rename = "as", skip_serializing_if = "Option::is_none")]
    pub address_space: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_CPU: CPU time, as a duration ("10s", rounded up to whole seconds);
    /// SIGXCPU at the soft limit, SIGKILL at the hard one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_time: Option<Sp<Rlimit<Duration>>>,
    /// rlimit RLIMIT_DATA: the data segment and the heap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_MEMLOCK: memory locked with mlock, and io_uring and BPF buffers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memlock: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_MSGQUEUE: bytes in POSIX message queues of the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgqueue: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_RSS: ignored by Linux since 2.6 (kept for OCI configs that set it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss: Option<Sp<Rlimit<Size>>>,
    /// rlimit RLIMIT_LOCKS: flock and fcntl leases (ignored by Linux since 2.4.25).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = at_least_0)]
    pub locks: Option<Sp<Rlimit<i64>>>,
    /// rlimit RLIMIT_SIGPENDING: signals queued for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = at_least_0)]
    pub sigpending: Option<Sp<Rlimit<i64>>>,
    /// rlimit RLIMIT_NICE: how far the nice value may be raised, as 20 - nice (0 to 40).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = at_least_0)]
    pub nice: Option<Sp<Rlimit<i64>>>,
    /// rlimit RLIMIT_RTPRIO: the highest real-time priority (0 to 99).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = at_least_0)]
    pub rtprio: Option<Sp<Rlimit<i64>>>,
    /// rlimit RLIMIT_RTTIME: CPU time of a real-time task without a blocking call, in
    /// microseconds (an integer).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = at_least_0)]
    pub rttime: Option<Sp<Rlimit<i64>>>,
}

impl Limits {
    /// Every rlimit of the file, by its key, as (soft, hard) in the kernel's unit, u64::MAX for
    /// "unlimited"; negative counts stay negative (the validator refuses them).
    pub fn rlimits(&self) -> Vec<(&'static str, Sp<(i128, i128)>)> {
        fn kernel<T: Copy>(l: &Option<Sp<Rlimit<T>>>, unit: impl Fn(T) -> i128) -> Option<Sp<(i128, i128)>> {
            let l = l.as_ref()?;
            let b = |x: Lim<T>| match x {
                Lim::Unlimited => u64::MAX as i128,
                Lim::Is(v) => unit(v),
            };
            Some(Sp::new((b(l.value.soft), b(l.value.hard)), l.span.clone()))
        }
        let n = |v: i64| i128::from(v);
        let s = |v: Size| i128::from(v.0);
        let secs = |v: Duration| i128::from(v.0.div_ceil(1000));
        let all = [
            ("nofile", kernel(&self.nofile, n)),
            ("nproc", kernel(&self.nproc, n)),
            ("core", kernel(&self.core, s)),
            ("fsize", kernel(&self.fsize, s)),
            ("stack", kernel(&self.stack, s)),
            ("as", kernel(&self.address_space, s)),
            ("cpu_time", kernel(&self.cpu_time, secs)),
            ("data", kernel(&self.data, s)),
            ("memlock", kernel(&self.memlock, s)),
            ("msgqueue", kernel(&self.msgqueue, s)),
            ("rss", kernel(&self.rss, s)),
            ("locks", kernel(&self.locks, n)),
            ("sigpending", kernel(&self.sigpending, n)),
            ("nice", kernel(&self.nice, n)),
            ("rtprio", kernel(&self.rtprio, n)),
            ("rttime", kernel(&self.rttime, n)),
        ];
        all.into_iter().filter_map(|(k, v)| Some((k, v?))).collect()
    }
}
