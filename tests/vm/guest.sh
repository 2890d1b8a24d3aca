#!/bin/sh
# Runs in the VM (from /cmd, cwd = the repo): shows the host the tests get, checks that
# procjail sees pure cgroup v2, then runs the integration test binary with the arguments.
# Env from run.sh: REPO, PROCJAIL, TESTBIN.
cg=/sys/fs/cgroup
echo "vm: kernel $(uname -r), booted in $(cut -d' ' -f1 /proc/uptime)s, $(nproc) cpus, $(free -m | awk '/^Mem/{print $2}') MiB"
echo "vm: $cg is $(awk '$2=="/sys/fs/cgroup"{print $3" ("$4")"}' /proc/mounts); root subtree_control: $(cat $cg/cgroup.subtree_control)"
echo "vm: hierarchies: $(awk '$3=="cgroup"||$3=="cgroup2"{printf "%s ", $2}' /proc/mounts)"

kind=$("$PROCJAIL" plan --json "$REPO/jails/busybox.toml" 2>/tmp/plan.err | sed -n 's/^ *"cgroup": "\([a-z0-9]*\)".*/\1/p' | head -1)
if [ "$kind" != v2 ]; then
  echo "vm: FAIL: procjail plan --json jails/busybox.toml reports host cgroup '${kind:-?}', expected v2"
  cat /tmp/plan.err
  exit 3
fi
echo "vm: procjail plan: host cgroup v2"
echo "vm: $TESTBIN --test-threads=1 $*"
start=$(cut -d' ' -f1 /proc/uptime)
RUST_BACKTRACE=1 "$TESTBIN" --test-threads=1 "$@"
rc=$?
echo "vm: tests exited $rc after $(awk -v s="$start" '{printf "%.1f", $1 - s}' /proc/uptime)s (guest clock)"
if [ "$rc" != 0 ]; then
  echo "vm: cgroups under $cg/procjail after the failure (subtree_control: $(cat $cg/procjail/cgroup.subtree_control 2>/dev/null)):"
  find $cg/procjail -mindepth 1 -type d 2>/dev/null | head -20
  echo "vm: dmesg tail:"; dmesg | tail -20
fi
exit $rc
