#!/usr/bin/env bash
# How `procjail check` and `procjail plan` scale with the size of a jail file: files of 10k, 20k
# and 40k [[mounts]], a 10 MB file of mounts, 20k unknown keys (a flood of diagnostics), and a
# 10 MB argv for `plan` (its wrapping). Prints the wall time and peak RSS of each, and whether
# the target holds: a 10 MB jail file answered in about a second (target: ≤ 1.5 s).
#
#   benches/check.sh              (after cargo build --release; no root needed)
#   RUNS=5 benches/check.sh       (the median of 5 runs each; default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/release/procjail
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
runs=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin"

head_of() { printf '[rootfs]\npath = "%s"\n[command]\nargv = ["/bin/true"]\n' "$rootfs"; }

# N tmpfs mounts, each a distinct target.
mounts() {
  head_of
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/m/%d\"\nsize = \"1MiB\"\n", i }'
}

mounts 10000 >"$tmp/mounts-10k.toml"
mounts 20000 >"$tmp/mounts-20k.toml"
mounts 40000 >"$tmp/mounts-40k.toml"
# About 10 MB: 10 MB / ~62 bytes a mount.
mounts 165000 >"$tmp/mounts-10MB.toml"
{ awk 'BEGIN { for (i = 0; i < 20000; i++) printf "unknown_%d = 1\n", i }'; head_of; } >"$tmp/unknown-20k.toml"
{ head_of | sed '/^argv/d'; printf 'argv = ["/bin/echo", "%s"]\n' "$(head -c 10000000 /dev/zero | tr '\0' 'a')"; } >"$tmp/argv-10MB.toml"

# median wall seconds and peak RSS (KiB) of `procjail ARGS`, over $runs runs; output to /dev/null.
measure() {
  local walls=() rss=() out
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$tmp/time" -f '%e %M' "$bin" "$@" >/dev/null 2>&1 || true
    out=$(tail -1 "$tmp/time")
    walls+=("${out% *}"); rss+=("${out#* }")
  done
  local w r
  w=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  r=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "$w $r"
}

printf '%-34s %10s %9s %10s\n' "case" "size" "wall s" "peak RSS"
row() {
  local name=$1 file=$2; shift 2
  local size m
  size=$(stat -c %s "$file")
  m=$(measure "$@" "$file")
  printf '%-34s %8.1fMB %9s %7d MiB\n' "$name" "$(echo "$size / 1000000" | bc -l)" "${m% *}" $(( ${m#* } / 1024 ))
  echo "${m% *}" >"$tmp/last"
}
row "check, 10k mounts" "$tmp/mounts-10k.toml" check
row "check, 20k mounts" "$tmp/mounts-20k.toml" check
row "check, 40k mounts" "$tmp/mounts-40k.toml" check
row "check, 10 MB of mounts" "$tmp/mounts-10MB.toml" check
big=$(cat "$tmp/last")
row "check, 20k unknown keys" "$tmp/unknown-20k.toml" check
row "check --json, 20k unknown keys" "$tmp/unknown-20k.toml" check --json
row "plan --width 100, 10 MB argv" "$tmp/argv-10MB.toml" plan --width 100
row "plan (a pipe), 10 MB argv" "$tmp/argv-10MB.toml" plan

if awk -v t="$big" 'BEGIN { exit !(t <= 1.5) }'; then
  echo "target: a 10 MB jail file checked in about a second: met ($big s)"
else
  echo "target: a 10 MB jail file checked in about a second: NOT met ($big s)"
fi
