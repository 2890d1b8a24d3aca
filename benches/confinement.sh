#!/usr/bin/env bash
# benches/confinement.sh: what the default confinement costs at jail start.
#
# Runs /bin/true RUNS times in a busybox jail with the default confinement and RUNS times with
# it switched off as far as the jail file allows (seccomp "none", no masks, no read-only paths,
# keyring "inherit", no_new_privs false), interleaved, and prints the median start-to-exit time
# of each; then, from `up --trace` of the default jail, the median time of the confinement's own
# steps: the seccomp load, the masks, the read-only paths, the capability steps, the device
# program and the check before execve.
#
#   sudo benches/confinement.sh          # RUNS=40
set -euo pipefail
export LC_ALL=C
RUNS=${RUNS:-40}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
PROCJAIL=${PROCJAIL:-$REPO/target/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/release/procjail}
[[ $(id -u) == 0 ]] || { echo "confinement.sh: needs root" >&2; exit 1; }
[[ -x $PROCJAIL ]] || { echo "confinement.sh: build first: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d /tmp/procjail-conf.XXXXXX)
trap '"$PROCJAIL" gc pjconf-on pjconf-off >/dev/null 2>&1 || true; rm -rf --one-file-system "$WORK"' EXIT
"$PROCJAIL" rootfs busybox "$WORK/rootfs" >/dev/null 2>&1
cat > "$WORK/pjconf-on.toml" <<TOML
[rootfs]
path = "rootfs"
[command]
argv = ["/bin/true"]
TOML
cat > "$WORK/pjconf-off.toml" <<TOML
[rootfs]
path = "rootfs"
[security]
seccomp = "none"
masked_paths = []
readonly_paths = []
keyring = "inherit"
no_new_privs = false
[command]
argv = ["/bin/true"]
TOML
median() { sort -n | awk '{a[NR] = $1} END {if (NR == 0) {print "-"; exit} m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m}'; }
ms() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 </dev/null; local t1=$EPOCHREALTIME; awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) * 1000}'; }
: > "$WORK/on"; : > "$WORK/off"; : > "$WORK/trace"
for i in $(seq 1 $((RUNS + 3))); do
    on=$(ms "$PROCJAIL" up "$WORK/pjconf-on.toml"); off=$(ms "$PROCJAIL" up "$WORK/pjconf-off.toml")
    ((i > 3)) || continue
    echo "$on" >> "$WORK/on"; echo "$off" >> "$WORK/off"
    "$PROCJAIL" up --trace "$WORK/pjconf-on.toml" 2>> "$WORK/trace" >/dev/null </dev/null
done
step() { # a label, a pattern of the steps' text: the median over runs of their summed time
    awk -v p="$2" 'index($0, "procjail: trace:") && $0 ~ p && match($0, /\(([0-9.]+) ms\)$/) {
        v = substr($0, RSTART + 1, RLENGTH - 5); run[NR] = v }
        /step 1\// { n++ } $0 ~ p && match($0, /\(([0-9.]+) ms\)$/) { sum[n] += substr($0, RSTART + 1, RLENGTH - 5) }
        END { for (k in sum) print sum[k] }' "$WORK/trace" | median | xargs printf "%-40s %8s ms\n" "$1"
}
printf '%-40s %8s ms\n' "start to exit, default confinement" "$(median < "$WORK/on")"
printf '%-40s %8s ms\n' "start to exit, confinement off" "$(median < "$WORK/off")"
step "seccomp filter load" '\] seccomp\(SECCOMP_SET_MODE_FILTER'
step "masks (13 paths, if they exist)" 'a folder: mount\("tmpfs"'
step "read-only paths (5)" 'MOUNT_ATTR_RDONLY\}\) (=|if)'
step "capabilities (bounding, capset)" 'PR_CAPBSET_DROP|capset\(|PR_CAP_AMBIENT'
step "device program (BPF load, attach)" 'BPF_PROG_LOAD'
step "the check before execve" 'checks against the plan'
