#!/usr/bin/env bash
# benches/scale.sh: what jails cost when there are many, against bubblewrap.
#
#   1. memory per idle running jail: N jails (default 20), each `sleep` under a memory limit;
#      the PSS of procjail's own processes (the supervisor and the jail's init; not the command)
#      divided by N; bubblewrap the same (its processes: the one outside and its pid-namespace
#      init; not the command);
#   2. rate: 200 jails of /bin/true one after the other, and 2 × 100 two at a time;
#   3. many at once: 500 idle jails (each `sleep` with a memory limit) started, listed by
#      `procjail ps`, then stopped with `procjail down`: the time to start and to stop them all,
#      their total memory (PSS of every process of theirs, commands included), and nothing left.
#
#   sudo benches/scale.sh                 (it runs cargo build --release first)
#   sudo IDLE=20 SEQ=200 PAR=100 MANY=500 benches/scale.sh
#
# It prints "met" or the figure that misses for each target, and leaves the host as it found it
# (checked at the end: mounts, cgroups, /run/procjail, processes).
set -euo pipefail
export LC_ALL=C
IDLE=${IDLE:-20}
SEQ=${SEQ:-200}
PAR=${PAR:-100}
MANY=${MANY:-500}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
PROCJAIL_GIVEN=${PROCJAIL:-}
PROCJAIL=${PROCJAIL:-$REPO/target/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/release/procjail}
say() { printf '%s\n' "$*" >&2; }
die() { say "scale.sh: $*"; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root: sudo $0"
# The binary of the source as it is: cargo build --release, unless PROCJAIL names one.
if [[ -z $PROCJAIL_GIVEN ]] && command -v cargo >/dev/null; then
    (cd "$REPO" && cargo build --release -q >&2) || die "cargo build --release failed"
fi
[[ -x $PROCJAIL ]] || die "build first: cargo build --release"
command -v bwrap >/dev/null || apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null

WORK=$(mktemp -d /tmp/procjail-scale.XXXXXX)
PREFIX=pjscale$$
mounts_before=$(sort /proc/self/mountinfo)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    pkill -KILL -f -- "$WORK" 2>/dev/null || true
    sleep 0.5
    "$PROCJAIL" gc >/dev/null 2>&1 || true
    rm -rf --one-file-system "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PROCJAIL" rootfs busybox "$WORK/rootfs" >/dev/null
jail_file() { # name, argv, limits
    printf '[rootfs]\npath = "%s"\n[limits]\n%s\n[command]\nargv = %s\n' "$WORK/rootfs" "$3" "$2" >"$WORK/$1.toml"
}
jail_file idle '["/bin/sleep", "3600"]' 'memory = "32MiB"'
jail_file true '["/bin/true"]' ''
BWRAP=(bwrap --unshare-pid --unshare-net --unshare-uts --unshare-ipc --bind "$WORK/rootfs" / --proc /proc --dev /dev --die-with-parent)

# Sum of Pss (KiB) of these pids.
pss() { local s=0 p v; for p in "$@"; do v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0); s=$((s + ${v:-0})); done; echo "$s"; }
now() { date +%s.%N; }
# Waits until `procjail ps` lists $1 jails of ours.
wait_listed() {
    local want=$1 n=0 i
    for i in $(seq 600); do
        n=$("$PROCJAIL" ps --json | grep -c "\"name\": \"$PREFIX" || true)
        [[ $n -ge $want ]] && return 0
        sleep 0.1
    done
    die "only $n of $want jails listed"
}
down_all() { "$PROCJAIL" ps --json | grep -o "\"name\": \"$PREFIX[^\"]*" | cut -d'"' -f4 | xargs -r -P 4 -n 1 "$PROCJAIL" down >/dev/null 2>&1; }

# --- 1. memory per idle jail ---------------------------------------------------------------
for i in $(seq "$IDLE"); do "$PROCJAIL" up --name "$PREFIX-i$i" "$WORK/idle.toml" </dev/null >/dev/null 2>&1 & done
wait_listed "$IDLE"
sleep 1
mapfile -t ours < <("$PROCJAIL" ps --json | awk -v p="\"$PREFIX" '/"name"/ {keep = index($0, p) > 0} keep && /"pid"|"init_pid"/ {gsub(/[^0-9]/, ""); print}')
pj_pss=$(( $(pss "${ours[@]}") / IDLE ))
down_all; wait
for i in $(seq "$IDLE"); do "${BWRAP[@]}" /bin/sleep 3600 </dev/null >/dev/null 2>&1 & done
sleep 2
mapfile -t bw < <(pgrep -x bwrap)
bw_pss=$(( $(pss "${bw[@]}") / IDLE ))
pkill -x bwrap; wait 2>/dev/null || true

# --- 2. rates --------------------------------------------------------------------------------
run_n() { local n=$1; shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 || echo fail; done; }
rate_seq() { local t0 t1; t0=$(now); run_n "$SEQ" "$@"; t1=$(now); printf '%.0f' "$(echo "$SEQ / ($t1 - $t0)" | bc -l)"; }
rate_par() {
    local t0 t1; t0=$(now)
    run_n "$PAR" "$@" & run_n "$PAR" "$@" & wait
    t1=$(now); printf '%.0f' "$(echo "2 * $PAR / ($t1 - $t0)" | bc -l)"
}
pj_seq=$(rate_seq "$PROCJAIL" up --name "$PREFIX-s" "$WORK/true.toml")
bw_seq=$(rate_seq "${BWRAP[@]}" /bin/true)
# Two at a time: two names, one per loop (a name runs once at a time).
pj_par=$( t0=$(now); run_n "$PAR" "$PROCJAIL" up --name "$PREFIX-p1" "$WORK/true.toml" & run_n "$PAR" "$PROCJAIL" up --name "$PREFIX-p2" "$WORK/true.toml" & wait; t1=$(now); printf '%.0f' "$(echo "2 * $PAR / ($t1 - $t0)" | bc -l)")
bw_par=$(rate_par "${BWRAP[@]}" /bin/true)

# --- 3. many at once -------------------------------------------------------------------------
t0=$(now)
for i in $(seq "$MANY"); do "$PROCJAIL" up --name "$PREFIX-m$i" "$WORK/idle.toml" </dev/null >/dev/null 2>&1 & done
wait_listed "$MANY"
t1=$(now)
listed=$("$PROCJAIL" ps | grep -c "^$PREFIX-m" || true)
mapfile -t all < <(pgrep -f -- "$PREFIX-m"; for p in $(pgrep -f -- "$PREFIX-m"); do pgrep -P "$p"; done)
cmds=$(for p in $(pgrep -x sleep); do grep -q "$PREFIX-m" "/proc/$p/cgroup" 2>/dev/null && echo "$p"; done)
# shellcheck disable=SC2086
many_pss=$(pss $(printf '%s\n' "${all[@]}" $cmds | sort -u))
t2=$(now)
down_all; wait
t3=$(now)
left=$("$PROCJAIL" ps | grep -c "^$PREFIX" || true)
if audit_out=$("$PROCJAIL" audit 2>&1); then audit=clean; else audit="NOT clean"; say "$audit_out"; fi

verdict() { if awk -v a="$1" -v b="$2" "BEGIN { exit !(a $3 b) }"; then echo met; else echo "NOT met"; fi; }
printf '\n%-44s %12s %12s  %s\n' "" procjail bubblewrap target
printf '%-44s %9d KiB %9d KiB  %s\n' "PSS per idle jail ($IDLE jails)" "$pj_pss" "$bw_pss" "$(verdict "$pj_pss" "$bw_pss" '<=')"
printf '%-44s %10s/s %10s/s  %s\n' "$SEQ jails one after the other" "$pj_seq" "$bw_seq" "$(verdict "$pj_seq" "$bw_seq" '>=')"
printf '%-44s %10s/s %10s/s  %s\n' "2 x $PAR two at a time" "$pj_par" "$bw_par" "$(verdict "$pj_par" "$bw_par" '>=')"
printf '\n%d idle jails: started and listed in %.1f s (ps listed %d), stopped in %.1f s; total PSS %d MiB (%d KiB each, commands included); left: %d jails, audit %s\n' \
    "$MANY" "$(echo "$t1 - $t0" | bc -l)" "$listed" "$(echo "$t3 - $t2" | bc -l)" $((many_pss / 1024)) $((many_pss / MANY)) "$left" "$audit"
[[ $(sort /proc/self/mountinfo) == "$mounts_before" ]] || die "the mount table changed"
