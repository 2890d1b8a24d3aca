#!/usr/bin/env bash
# benches/order.sh: write link/startup.order, the functions procjail runs, in the order they
# first run, which build.rs hands to the linker (lld's --symbol-ordering-file).
#
# Why: the kernel maps a program's code 64 KiB at a time around each page it faults on
# (fault-around), so code that runs at start but lies scattered over the 4.5 MiB of .text
# brings in most of it. Laid out first and together, it is about a quarter of that: fewer page
# faults on every start, and a smaller resident set for every supervisor and jail init.
#
#   sudo benches/order.sh          # writes link/startup.order, then relinks with it
#
# It builds the release binary with a linker map (the functions' addresses), makes a busybox rootfs in a temporary
# folder, and runs under benches/entrytrace.c (a breakpoint on every function's entry, the jail's
# processes followed until their execve) what users run most: `up` of /bin/true (the
# benchmark's jail), `up` of an idle jail with `ps` and `down` beside it, `check`, `plan`. The
# functions are listed in the order they first ran, `up`'s first. Symbol names of procjail's own
# code do not depend on its source (only on the crate and the build's flags), so the file holds
# through most changes; one that went stale costs speed, never correctness: a name not found is
# skipped. (They do depend on the profile: the map is of the release build itself.)
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
say() { printf '%s\n' "$*" >&2; }
[[ $(id -u) == 0 ]] || { say "order.sh: needs root (the jails): sudo $0"; exit 1; }
command -v gcc >/dev/null || { say "order.sh: needs gcc (apt-get install gcc)"; exit 1; }

TUPLE=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}
BIN=$REPO/target/$TUPLE/release/procjail

WORK=$(mktemp -d /tmp/procjail-order.XXXXXX)
# The release build itself, with the linker's map of it: its functions' names and addresses.
say "building the release binary with a linker map"
(cd "$REPO" && PROCJAIL_LINK_MAP=$WORK/procjail.map cargo build --release -q)
# In the map, a symbol's line has its address first and its name last, indented deeper than
# its input section's line, which is deeper than the output section's (.text).
awk '{ match($0, /[^ ]+$/) } RSTART < 54 { out = $NF; next } out == ".text" && RSTART > 62 && NF == 5 { a = $1; sub(/^0+/, "", a); print a, $5 }' \
    "$WORK/procjail.map" >"$WORK/names"
awk '{print $1}' "$WORK/names" | sort -u >"$WORK/entries"
NAME=pjorder-$$
cleanup() {
    "$BIN" down "$NAME-idle" >/dev/null 2>&1 || true
    "$BIN" gc >/dev/null 2>&1 || true
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
gcc -O2 -Wall -o "$WORK/entrytrace" "$HERE/entrytrace.c"
"$BIN" rootfs busybox "$WORK/rootfs" >/dev/null
printf '[rootfs]\npath = "rootfs"\n\n[command]\nargv = ["/bin/true"]\n' >"$WORK/$NAME.toml"
printf '[rootfs]\npath = "rootfs"\n\n[command]\nargv = ["/bin/sleep", "30"]\n\n[limits]\nmemory = "64M"\n' >"$WORK/$NAME-idle.toml"

trace() { # OUT ARGS...: procjail ARGS under entrytrace
    local out=$1; shift
    (cd "$WORK" && ./entrytrace entries "$out" "$BIN" "$@" >/dev/null 2>&1) || true
}
trace up.hits up "$NAME.toml"
trace idle.hits up "$NAME-idle.toml" &
for _ in $(seq 100); do "$BIN" ps 2>/dev/null | grep -q "^$NAME-idle " && break; sleep 0.05; done
sleep 0.3   # the wait's idle trim runs after 100 ms
trace ps.hits ps
trace down.hits down "$NAME-idle"
wait
trace check.hits check "$NAME.toml"
trace plan.hits plan "$NAME.toml"

# Addresses to names, first run first, each name once.
{
    echo "# link/startup.order: made by benches/order.sh ($(date -u +%F), $(git -C "$REPO" rev-parse --short HEAD));"
    echo "# the functions procjail runs, in the order they first run; build.rs hands it to lld."
    cat "$WORK"/{up,idle,ps,down,check,plan}.hits \
        | awk 'NR == FNR {name[$1] = name[$1] " " $2; next} !seen[$1]++ {n = split(name[$1], s, " "); for (i = 1; i <= n; i++) print s[i]}' "$WORK/names" -
} >"$REPO/link/startup.order"
say "link/startup.order: $(grep -vc '^#' "$REPO/link/startup.order") functions; relinking with it"
(cd "$REPO" && cargo build --release -q)
