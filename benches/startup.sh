#!/usr/bin/env bash
# benches/startup.sh: how fast, how big and how chatty is starting /bin/true in a jail?
#
# Runs /bin/true in one busybox rootfs with the same isolation (pid, mount, uts, ipc, net
# namespaces, pivot_root, a fresh /proc, a minimal /dev) under procjail, bubblewrap, crun and
# runc, and prints for each: the median wall time over RUNS runs, the ratio to bubblewrap, the
# peak RSS of the supervisor's process tree (GNU time %M, the largest RSS of any process in the
# tree) and the number of syscalls of the whole run (strace -f -c).
#
#   sudo benches/startup.sh              # RUNS=50 by default
#   sudo RUNS=200 benches/startup.sh
#
# Environment:
#   RUNS=50        timed runs for each runtime (after WARMUP=3 untimed ones)
#   RSS_RUNS=5     runs under /usr/bin/time; the median peak RSS is printed
#   STRACE_RUNS=3  runs under strace -f -c; the median total is printed
#   TIMER=loop     loop: the runtimes interleaved, timed with bash's $EPOCHREALTIME (the default:
#                  on a shared, busy host the load hits every runtime alike); hyperfine: one
#                  `hyperfine --export-json` per runtime, one after the other (installed if missing)
#   PROCJAIL=      the procjail binary (default: target/x86_64-unknown-linux-musl/release/procjail of this repo)
#   KEEP=DIR       copy the raw results (hyperfine JSON, strace summaries) into DIR
#
# It leaves the host as it found it: every container is deleted, every temporary folder is
# removed, and at the end the mount table, the cgroups, /run/crun, /run/runc and the runtime
# processes are compared with what they were before the run.
set -euo pipefail
export LC_ALL=C

RUNS=${RUNS:-50}
WARMUP=${WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-5}
STRACE_RUNS=${STRACE_RUNS:-3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
PROCJAIL_GIVEN=${PROCJAIL:-}
PROCJAIL=${PROCJAIL:-$REPO/target/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/release/procjail}
UNIFIED=/sys/fs/cgroup/unified

say() { printf '%s\n' "$*" >&2; }
die() { say "startup.sh: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (namespaces, mounts, cgroups): sudo $0"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"

# --- tools ---------------------------------------------------------------------------------
# command -> Debian package; missing ones are installed, and what still is missing is skipped.
TIMER=${TIMER:-loop}
[[ $TIMER == hyperfine || $TIMER == loop ]] || die "TIMER must be loop or hyperfine, not '$TIMER'"
declare -A PKG=([bwrap]=bubblewrap [crun]=crun [runc]=runc [strace]=strace
                [/usr/bin/time]=time [jq]=jq [unshare]=util-linux)
[[ $TIMER == loop ]] || PKG[hyperfine]=hyperfine
have() { if [[ $1 == /* ]]; then [[ -x $1 ]]; else command -v "$1" >/dev/null 2>&1; fi; }
missing=()
for c in "${!PKG[@]}"; do have "$c" || missing+=("${PKG[$c]}"); done
if ((${#missing[@]})); then
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
        || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
        || say "apt-get could not install all of: ${missing[*]} (going on with what there is)"
fi
have jq || have python3 || die "needs jq or python3 to write the OCI config"
have strace || say "strace is missing: no syscall counts"
have /usr/bin/time || say "GNU time (/usr/bin/time) is missing: no peak RSS"
if [[ $TIMER == hyperfine ]] && ! have hyperfine; then die "TIMER=hyperfine but hyperfine is missing"; fi
# How busy the host is, in % of all cpus over $1 seconds (from /proc/stat; the load average lags).
cpu_busy() {
    local a b
    a=$(awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat); sleep "$1"
    b=$(awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); u = y[1] - x[1]; i = y[2] - x[2]; printf "%d", (u + i) ? 100 * u / (u + i) : 0}'
}
BUSY_BEFORE=$(cpu_busy 1)

# --- the host before -----------------------------------------------------------------------
snap_mounts() { sort /proc/self/mountinfo; }
snap_cgroups() { find /sys/fs/cgroup/*/procjail -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort || true; }
# Live runtime processes. Exited ones are left out: where pid 1 is slow to reap its orphans (this
# VM's init is), bwrap's pid-namespace init lingers a while as a zombie child of pid 1.
snap_procs() { ps -eo stat=,comm=,pid= | awk '$1 !~ /^Z/ && $2 ~ /^(bwrap|crun|runc|runc:.*|procjail)$/ {print $2, $3}' | sort; }
snap_state() { ls -d /run/crun/* /run/runc/* 2>/dev/null | sort || true; }

# Anything this run left: containers, processes, mounts, cgroups, state dirs with our prefix.
crun_in_v1() { unshare -m --propagation private sh -c 'umount '"$UNIFIED"' && exec "$@"' sh "$@"; }
cleanup_ours() {
    local id pid m cg
    if have runc; then
        for id in $(runc list -q 2>/dev/null | grep "^$PREFIX-" || true); do runc delete -f "$id" >/dev/null 2>&1 || true; done
    fi
    if have crun; then
        for id in $(crun list -q 2>/dev/null | grep "^$PREFIX-" || true); do
            crun delete -f "$id" >/dev/null 2>&1 || crun_in_v1 crun delete -f "$id" >/dev/null 2>&1 || true
        done
    fi
    for pid in $(pgrep -f -- "$PREFIX|$WORK" || true); do
        [[ $pid == "$$" || $pid == "$BASHPID" ]] || kill -KILL "$pid" 2>/dev/null || true
    done
    for m in $(awk -v w="$WORK" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    for cg in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -depth -type d -name "$PREFIX*" 2>/dev/null || true); do
        rmdir "$cg" 2>/dev/null || true
    done
}
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    cleanup_ours
    if [[ -d $WORK ]]; then
        if grep -qF " $WORK" /proc/self/mountinfo; then
            say "startup.sh: something is still mounted under $WORK; not removing it"; rc=1
        else
            rm -rf --one-file-system "$WORK"
        fi
    fi
    exit "$rc"
}

WORK=$(mktemp -d /tmp/procjail-bench.XXXXXX)
PREFIX=pjbench-$$                 # container ids, the procjail jail name (its cgroups), cgroups
ROOTFS=$WORK/rootfs
BUNDLE=$WORK/bundle
JAIL=$WORK/$PREFIX.toml           # procjail names the jail after the file: cgroups procjail/$PREFIX
RES=$WORK/results
mkdir -p "$RES"

trap on_exit EXIT
trap 'exit 130' INT TERM
snap_mounts >"$WORK/mounts.before"; snap_cgroups >"$WORK/cgroups.before"
snap_procs >"$WORK/procs.before"; snap_state >"$WORK/state.before"

# --- the rootfs, the jail file, the OCI bundle ----------------------------------------------
# The binary of the source as it is (cargo build --release: nothing to do when it is current).
if [[ -z ${PROCJAIL_GIVEN:-} ]] && have cargo; then
    say "building procjail (cargo build --release)"
    (cd "$REPO" && cargo build --release -q >&2) || true
fi
[[ -x $PROCJAIL ]] || die "no procjail binary at $PROCJAIL: cd $REPO && cargo build --release"
"$PROCJAIL" rootfs busybox "$ROOTFS" >/dev/null || die "could not make the busybox rootfs (apt-get install busybox-static)"
[[ -x $ROOTFS/bin/true ]] || die "the rootfs at $ROOTFS has no /bin/true"

cat >"$JAIL" <<EOF
# Made by benches/startup.sh. Defaults: pid, mount, uts, ipc, net and cgroup namespaces,
# pivot_root, /proc, a minimal /dev (tmpfs, device binds, devpts, shm) and a read-only /sys.
[rootfs]
path = "rootfs"

[command]
argv = ["/bin/true"]
EOF

# The OCI bundle: the default spec of runc (or crun), edited.
SPEC_CMD=
mkdir -p "$BUNDLE"
for c in runc crun; do
    if have "$c" && (cd "$BUNDLE" && rm -f config.json && "$c" spec) >/dev/null 2>&1; then SPEC_CMD=$c; break; fi
done
if [[ -n $SPEC_CMD ]]; then
    # The default spec, with: our rootfs, writable like the others', /bin/true, no terminal,
    # and the namespaces pid, mount, uts, ipc, network (no user namespace). Default mounts kept.
    if have jq; then
        jq --arg root "$ROOTFS" '
            .root.path = $root | .root.readonly = false
            | .process.args = ["/bin/true"] | .process.terminal = false
            | .linux.namespaces = [{type: "pid"}, {type: "mount"}, {type: "uts"}, {type: "ipc"}, {type: "network"}]
        ' "$BUNDLE/config.json" >"$BUNDLE/config.json.new"
    else
        python3 - "$BUNDLE/config.json" "$ROOTFS" >"$BUNDLE/config.json.new" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"] = {"path": sys.argv[2], "readonly": False}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network")]
json.dump(c, sys.stdout, indent=2)
EOF
    fi
    mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
fi

# --- the runtimes ----------------------------------------------------------------------------
# Each is an argv in which @ID@ stands for a container id unique to the run.
NAMES=(bubblewrap procjail crun runc crun-wrapper none)
declare -A ARGV LABEL WHY
q() { printf '%q' "$1"; }
INNER='umount '$UNIFIED' && exec "$@"'
ARGV[bubblewrap]="bwrap --unshare-pid --unshare-net --unshare-uts --unshare-ipc --bind $(q "$ROOTFS") / --proc /proc --dev /dev --die-with-parent /bin/true"
ARGV[procjail]="$(q "$PROCJAIL") up $(q "$JAIL")"
# crun refuses a hybrid host ("cgroups in hybrid mode not supported"): it runs in a private mount
# namespace where the empty cgroup2 at /sys/fs/cgroup/unified is unmounted. That wrapper is part
# of the crun row; the crun-wrapper row is the wrapper alone, running /bin/true without crun.
ARGV[crun]="unshare -m --propagation private sh -c $(q "$INNER") sh crun run --bundle $(q "$BUNDLE") $PREFIX-crun-@ID@"
ARGV[runc]="runc run --bundle $(q "$BUNDLE") $PREFIX-runc-@ID@"
ARGV[crun-wrapper]="unshare -m --propagation private sh -c $(q "$INNER") sh $(q "$ROOTFS/bin/true")"
# No jail: the rootfs's /bin/true (the same static busybox) run directly; the floor of the timer.
ARGV[none]="$(q "$ROOTFS/bin/true")"
LABEL=([bubblewrap]="bubblewrap" [procjail]="procjail" [crun]="crun (wrapped)" [runc]="runc"
       [crun-wrapper]="(crun wrapper alone)" [none]="(no jail: /bin/true)")

# The argv of a runtime for one id, into the array A (the strings above are quoted shell words).
argv_for() { local s=${ARGV[$1]//@ID@/$2}; eval "A=($s)"; }
# The same as one sh command line for hyperfine, the id taken from that shell's pid ($$).
sh_for() { local A a out=exec; argv_for "$1" @ID@; for a in "${A[@]}"; do out+=" $(q "$a")"; done; printf '%s' "${out//@ID@/'$$'}"; }

run_once() { # runtime id -> runs it, output discarded
    local A; argv_for "$1" "$2"; "${A[@]}" >/dev/null 2>&1
}
median() { sort -n | awk '{v[NR] = $1} END {if (NR == 0) exit 1; m = int((NR + 1) / 2); if (NR % 2) print v[m]; else print (v[m] + v[m + 1]) / 2}'; }

for n in "${NAMES[@]}"; do
    case $n in
        bubblewrap) have bwrap || WHY[$n]="bwrap is not installed" ;;
        crun|crun-wrapper) have crun || WHY[$n]="crun is not installed" ;;
        runc) have runc || WHY[$n]="runc is not installed" ;;
    esac
    if [[ $n == crun* || $n == runc ]] && [[ -z $SPEC_CMD ]]; then WHY[$n]="no OCI bundle (neither runc nor crun to write a spec)"; fi
    if [[ $n == crun-wrapper && -n ${WHY[crun]:-} ]]; then WHY[$n]="crun did not run"; fi
    if [[ -n ${WHY[$n]:-} ]]; then continue; fi
    # One run with its output kept: if it fails, say why and leave the runtime out.
    A=(); argv_for "$n" probe
    if ! out=$("${A[@]}" 2>&1 >/dev/null); then
        WHY[$n]="fails here: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    fi
done

declare -A MED MIN RSS SYS
ACTIVE=()
for n in "${NAMES[@]}"; do
    if [[ -n ${WHY[$n]:-} ]]; then say "$n: not run: ${WHY[$n]}"; else ACTIVE+=("$n"); fi
done

# Wall time, median in ms. The loop interleaves the runtimes (round i starts at runtime i mod k),
# so a busy host slows them all alike; hyperfine runs them one after the other.
if [[ $TIMER == loop ]]; then
    say "timing ${ACTIVE[*]}: $RUNS interleaved rounds (bash \$EPOCHREALTIME around fork+exec+wait)..."
    for n in "${ACTIVE[@]}"; do
        : >"$RES/$n.times"
        for ((i = 0; i < WARMUP; i++)); do run_once "$n" "w$i" || true; done
    done
    k=${#ACTIVE[@]}
    for ((i = 0; i < RUNS; i++)); do
        for ((j = 0; j < k; j++)); do
            n=${ACTIVE[(i + j) % k]}
            if [[ -n ${WHY[$n]:-} ]]; then continue; fi
            argv_for "$n" "$i"
            t0=$EPOCHREALTIME
            if ! "${A[@]}" >/dev/null 2>"$RES/$n.err"; then
                WHY[$n]="run $i failed: $(tail -n 2 "$RES/$n.err" | tr '\n' ' ')"; continue
            fi
            t1=$EPOCHREALTIME
            echo $(( ${t1/./} - ${t0/./} )) >>"$RES/$n.times"
        done
    done
    for n in "${ACTIVE[@]}"; do
        if [[ -z ${WHY[$n]:-} ]]; then
            MED[$n]=$(median <"$RES/$n.times" | awk '{printf "%.2f", $1 / 1000}')
            MIN[$n]=$(sort -n "$RES/$n.times" | awk 'NR == 1 {printf "%.2f", $1 / 1000}')
        fi
    done
fi

for n in "${ACTIVE[@]}"; do
    if [[ $TIMER == hyperfine && -z ${WHY[$n]:-} ]]; then
        say "$n: $RUNS runs (hyperfine)..."
        if hyperfine --style none --shell sh --warmup "$WARMUP" --runs "$RUNS" \
               --export-json "$RES/$n.hyperfine.json" "$(sh_for "$n")" >/dev/null 2>"$RES/$n.hyperfine.err"; then
            if have jq; then s=$(jq -r '.results[0] | "\(.median) \(.min)"' "$RES/$n.hyperfine.json")
            else s=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["min"])' "$RES/$n.hyperfine.json"); fi
            MED[$n]=$(awk -v s="${s% *}" 'BEGIN {printf "%.2f", s * 1000}')
            MIN[$n]=$(awk -v s="${s#* }" 'BEGIN {printf "%.2f", s * 1000}')
        else
            WHY[$n]="hyperfine failed: $(tail -n 2 "$RES/$n.hyperfine.err" | tr '\n' ' ')"
        fi
    fi
    say "$n: peak RSS and syscalls..."
    # Peak RSS (KiB) of the process tree: GNU time's %M is ru_maxrss over the tree it waited for.
    if have /usr/bin/time; then
        : >"$RES/$n.rss"
        for ((i = 0; i < RSS_RUNS; i++)); do
            argv_for "$n" "rss$i"
            /usr/bin/time -o "$RES/$n.rss.one" -f %M "${A[@]}" >/dev/null 2>&1 && cat "$RES/$n.rss.one" >>"$RES/$n.rss"
        done
        RSS[$n]=$(median <"$RES/$n.rss" || true)
    fi
    # Syscalls of the whole run, every process and thread (strace -f), median of the totals.
    if have strace; then
        : >"$RES/$n.syscalls"
        for ((i = 0; i < STRACE_RUNS; i++)); do
            argv_for "$n" "strace$i"
            if strace -f -c -o "$RES/$n.strace.$i" "${A[@]}" >/dev/null 2>&1; then
                awk '$NF == "total" {print $4}' "$RES/$n.strace.$i" >>"$RES/$n.syscalls"
            fi
        done
        SYS[$n]=$(median <"$RES/$n.syscalls" || true)
    fi
done

# --- the table ---------------------------------------------------------------------------------
B=${MED[bubblewrap]:-}
echo
echo "startup of /bin/true in a busybox rootfs: median of $RUNS runs ($TIMER), peak RSS median of $RSS_RUNS, syscalls median of $STRACE_RUNS"
echo "host: $(uname -r), $(nproc) cpus, ${BUSY_BEFORE}% busy in the second before the run"
if ((BUSY_BEFORE > 20)); then
    echo "note: the host was busy before the run (${BUSY_BEFORE}% cpu): the times are noisy; compare ratios, or rerun when it is idle"
fi
echo "runtimes: $(bwrap --version 2>/dev/null || true), $(crun --version 2>/dev/null | head -n 1 || true), runc $(runc --version 2>/dev/null | awk 'NR == 1 {print $3}' || true)"
echo
printf '%-22s %10s %9s %8s %12s %9s\n' runtime "median ms" "vs bwrap" "min ms" "peak RSS" syscalls
printf '%-22s %10s %9s %8s %12s %9s\n' ---------------------- ---------- --------- -------- ------------ ---------
for n in "${NAMES[@]}"; do
    m=${MED[$n]:-}; r=${RSS[$n]:-}; s=${SYS[$n]:-}
    ratio=-; [[ -n $m && -n $B ]] && ratio=$(awk -v a="$m" -v b="$B" 'BEGIN {printf "%.2fx", a / b}')
    rss=-; [[ -n $r ]] && rss=$(awk -v k="$r" 'BEGIN {printf "%.2f MiB", k / 1024}')
    if [[ -n ${WHY[$n]:-} && -z $m ]]; then
        printf '%-22s %s\n' "${LABEL[$n]}" "not run: ${WHY[$n]}"
    else
        printf '%-22s %10s %9s %8s %12s %9s\n' "${LABEL[$n]}" "${m:--}" "$ratio" "${MIN[$n]:--}" "$rss" "${s:--}"
    fi
done
echo
echo "isolation: all have pid, mount, uts, ipc and net namespaces, pivot_root, a fresh /proc and a minimal /dev."
echo "  procjail also: cgroup namespace, read-only /sys, its cgroup2 folder (clone3 into it), state under /run/procjail."
echo "  crun, runc (default spec): /sys, mqueue, cgroups, capabilities, masked paths, no_new_privs."
echo "  crun runs inside 'unshare -m' with $UNIFIED unmounted (hybrid host); its row includes that wrapper."
echo
echo "reference (this kind of machine): bubblewrap ~7 ms, crun ~17 ms (with cgroups), runc ~44 ms;"
echo "  peak RSS bubblewrap ~1.8 MB, crun ~3.4 MB"
verdict() { if [[ -z $1 || -z $2 ]]; then echo "n/a"; elif awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; then echo met; else echo "NOT met"; fi; }
echo "targets for procjail:"
printf '  median   <= bubblewrap  %8s ms <= %8s ms   %s\n' "${MED[procjail]:--}" "${B:--}" "$(verdict "${MED[procjail]:-}" "$B")"
C4=; [[ -n ${MED[crun]:-} ]] && C4=$(awk -v c="${MED[crun]}" 'BEGIN {printf "%.2f", c / 4}')
printf '  median   <= 0.25 x crun %8s ms <= %8s ms   %s (the crun row, its wrapper included)\n' "${MED[procjail]:--}" "${C4:--}" "$(verdict "${MED[procjail]:-}" "$C4")"
printf '  peak RSS <= bubblewrap  %8s KiB <= %7s KiB  %s\n' "${RSS[procjail]:--}" "${RSS[bubblewrap]:--}" "$(verdict "${RSS[procjail]:-}" "${RSS[bubblewrap]:-}")"
printf '  syscalls <  400         %8s                    %s\n' "${SYS[procjail]:--}" "$(verdict "${SYS[procjail]:-}" 399)"
if [[ -s $RES/procjail.strace.0 ]]; then
    echo "procjail's most frequent syscalls (strace -f -c, one run):"
    awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" {print $4, $NF}' "$RES/procjail.strace.0" \
        | sort -rn | head -n 8 | awk '{printf "  %5d %s\n", $1, $2}'
fi

if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP" && cp -r "$RES"/. "$KEEP"/ && echo "raw results: $KEEP"; fi

# --- the host after ------------------------------------------------------------------------------
cleanup_ours
problems=0
check() { # what before after ours-pattern
    local what=$1 before=$2 after=$3 pat=$4 d
    d=$(diff "$before" "$after" || true)
    [[ -z $d ]] && return 0
    if grep -qE -- "$pat" <<<"$d"; then
        say "host check: $what changed by this run:"; say "$d"; problems=1
    else
        say "host check: $what changed during the run, not by it (someone else?):"; say "$d"
    fi
}
snap_mounts >"$WORK/mounts.after"; snap_cgroups >"$WORK/cgroups.after"
snap_procs >"$WORK/procs.after"; snap_state >"$WORK/state.after"
check "mount table" "$WORK/mounts.before" "$WORK/mounts.after" "$WORK|$PREFIX"
check "procjail cgroups" "$WORK/cgroups.before" "$WORK/cgroups.after" "$PREFIX"
check "runtime processes" "$WORK/procs.before" "$WORK/procs.after" '^$^'
ours=$(pgrep -af -- "$PREFIX|$WORK" || true)
[[ -z $ours ]] || { say "host check: processes of this run left: $ours"; problems=1; }
check "/run/crun, /run/runc" "$WORK/state.before" "$WORK/state.after" "$PREFIX"
left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d -name "$PREFIX*" 2>/dev/null || true)
[[ -z $left ]] || { say "host check: cgroups left: $left"; problems=1; }
if ((problems)); then die "the host is not as it was (see above)"; fi
echo "host check: mounts, cgroups, /run/crun, /run/runc and runtime processes as before the run"
