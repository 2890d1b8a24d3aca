//! The names users bring from docker, compose, podman and the OCI runtime spec, and what they
//! are called in a jail file: an unknown key that is one of these gets its procjail name in the
//! hint instead of a guess.

/// (table, foreign key, what to write instead). The table is the one the key was found in
/// ("" for the top level, `mounts` for any `[[mounts]]`).
const FOREIGN: &[(&str, &str, &str)] = &[
    // docker run --mount, compose volumes, OCI mounts[].
    ("mounts", "src", "`source` (the host path)"),
    ("mounts", "dst", "`target` (the path in the jail)"),
    ("mounts", "dest", "`target` (the path in the jail)"),
    ("mounts", "destination", "`target` (the path in the jail)"),
    ("mounts", "ro", "`readonly = true`"),
    ("mounts", "read_only", "`readonly = true`"),
    ("mounts", "readOnly", "`readonly = true`"),
    ("mounts", "tmpfs-size", "`size` (of a type = \"tmpfs\" mount)"),
    ("mounts", "tmpfs-mode", "`mode` (of a type = \"tmpfs\" mount, an octal string)"),
    // Resources: docker run flags, compose keys, OCI linux.resources.
    ("limits", "pids_limit", "`pids`"),
    ("limits", "pids-limit", "`pids`"),
    ("limits", "memory_limit", "`memory`"),
    ("limits", "mem_limit", "`memory`"),
    ("limits", "limit", "`memory` (OCI's memory.limit)"),
    ("limits", "memswap_limit", "`memory_swap` (memory + swap, as docker's --memory-swap)"),
    ("limits", "memory-swap", "`memory_swap`"),
    ("limits", "swap", "`memory_swap` (memory + swap, as docker's --memory-swap)"),
    ("limits", "cpu_shares", "`cpu_weight`, from 1 to 10000: docker's 1024 shares is weight 100"),
    ("limits", "shares", "`cpu_weight`, from 1 to 10000: docker's 1024 shares is weight 100"),
    ("limits", "cpu_quota", "`cpus` (quota / period: cpus = 0.5 is 50000 of 100000)"),
    ("limits", "cpu_period", "`cpus` (procjail writes the period and quota from it)"),
    ("limits", "nano_cpus", "`cpus`"),
    ("limits", "ulimits", "one key per limit: `nofile`, `nproc`, `core`, `stack`, ..."),
    // The process: compose / docker, OCI process.
    ("command", "args", "`argv`"),
    ("command", "cmd", "`argv` (the whole command line, program first)"),
    ("command", "entrypoint", "`argv` (the whole command line, program first)"),
    ("command", "working_dir", "`cwd`"),
    ("command", "workdir", "`cwd`"),
    ("command", "environment", "`env`, a table: env = { NAME = \"value\" }"),
    ("command", "noNewPrivileges", "`no_new_privs` in [security]"),
    // Top level: compose and OCI.
    ("", "network", "[namespaces] net = true (a network namespace of its own, with only lo)"),
    ("", "network_mode", "[namespaces] net: true for none (an own namespace), false for host"),
    ("", "image", "[rootfs] path (a folder; procjail has no images)"),
    ("", "root", "[rootfs] path, and readonly"),
    ("", "process", "[command] (argv, env, cwd, user)"),
    ("", "read_only", "[rootfs] readonly = true"),
    ("", "privileged", "nothing: procjail has no privileged mode; see [security] for each part"),
    ("", "cap_add", "[security] capabilities = { add = [...] }"),
    ("", "cap_drop", "[security] capabilities = { drop = [...] }"),
    ("", "security_opt", "[security] (seccomp, no_new_privs)"),
    ("", "pids_limit", "[limits] pids"),
    ("", "mem_limit", "[limits] memory"),
    ("", "memory_limit", "[limits] memory"),
    ("", "cpu_shares", "[limits] cpu_weight, from 1 to 10000: docker's 1024 shares is weight 100"),
    ("", "ulimits", "[limits], one key per limit: nofile, nproc, core, stack, ..."),
    ("", "volumes", "[[mounts]] with type = \"bind\", source and target"),
    ("", "tmpfs", "[[mounts]] with type = \"tmpfs\" and target"),
    ("", "environment", "[command] env = { NAME = \"value\" }"),
    ("", "entrypoint", "[command] argv"),
    ("", "working_dir", "[command] cwd"),
    ("", "user", "[command] user"),
    ("", "sysctls", "[sysctl]"),
    ("", "linux", "[namespaces], [limits], [security] and [sysctl] (see README: OCI)"),
    // Namespaces: docker's and OCI's names.
    ("namespaces", "network", "`net`"),
    ("namespaces", "mnt", "`mount`"),
    ("namespaces", "ipc_mode", "`ipc`"),
    ("namespaces", "pid_mode", "`pid`"),
    // Security: OCI and docker.
    ("security", "cap_add", "capabilities = { add = [...] }"),
    ("security", "cap_drop", "capabilities = { drop = [...] }"),
    ("security", "noNewPrivileges", "`no_new_privs`"),
    ("security", "no-new-privileges", "`no_new_privs`"),
    ("security", "maskedPaths", "`masked_paths`"),
    ("security", "readonlyPaths", "`readonly_paths`"),
    ("security", "seccomp_profile", "`seccomp` (\"default\", \"none\" or a profile's path)"),
    ("security", "oomScoreAdj", "`oom_score_adj`"),
];

/// What a user who wrote `key` in `table` most likely meant, if it is a name from docker or OCI.
pub fn hint(table: &str, key: &str) -> Option<String> {
    let table = table.split('[').next().unwrap_or(table);
    FOREIGN
        .iter()
        .find(|(t, k, _)| *t == table && *k == key)
        .map(|(_, _, instead)| format!("`{key}` is docker's or OCI's name: here it is {instead}"))
}
