#!/bin/bash
# Usage: tests/vm/run.sh [TEST-ARG...]
# Runs procjail's integration test binary, as root, in a throwaway VM with a pure cgroup v2
# kernel (Debian's cloud kernel, cgroup_no_v1=all, cgroup2 mounted and delegated as systemd
# does). TEST-ARGs go to the test binary after --test-threads=1 (filters such as
# `cgroup limit teardown`, or --exact NAME); with none, every test runs. Exits with the
# tests' status; 124 when the VM timed out, 125 when it died or gave no status (the kernel
# console is then printed).
# Env: VM_TIMEOUT (s, 900) VM_MEM (MiB, 1024) VM_CPUS (2) VM_ACCEL (kvm|tcg; kvm only when
#   the CPU has vmx/svm) VM_CACHE (/var/cache/procjail-vm) VM_MODULES (none) VM_VERBOSE=1
#   (a full kernel console, printed) VM_CMD (a guest shell command run in the repo instead of the
#   tests; $PROCJAIL, $TESTBIN, $REPO are set).
set -euo pipefail
case ${1-} in -h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0;; esac
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
t0=$SECONDS
say() { echo "vm: $*" >&2; }
die() { echo "vm: error: $*" >&2; exit 125; }

# 1. procjail and the integration test binary, the release build itself (static: musl, or the
#    glibc fallback with crt-static; .cargo/config.toml). The test binary has the host paths of
#    procjail and the repo compiled in (CARGO_BIN_EXE_procjail, CARGO_MANIFEST_DIR): the
#    initramfs puts everything at those same paths.
json=$(mktemp); trap 'rm -f "$json"' EXIT
say "building static binaries"
(cd "$repo" && cargo test --release --no-run --test integration \
  --message-format=json-render-diagnostics) > "$json" || die "cargo build failed"
artifact() { # KIND NAME: the executable cargo reported
  grep '"reason":"compiler-artifact"' "$json" | grep -F "\"kind\":[\"$1\"]" | grep -F "\"name\":\"$2\"" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1 || true
}
testbin=$(artifact test integration); procjail=$(artifact bin procjail)
manifest_dir=$(grep '"reason":"compiler-artifact"' "$json" | grep -F '"name":"integration"' |
  sed -n 's/.*"manifest_path":"\([^"]*\)\/Cargo.toml".*/\1/p' | tail -1 || true)
[ -x "$testbin" ] || die "no integration test executable in cargo's output"
[ -x "$procjail" ] || die "no procjail executable in cargo's output"
[ -n "$manifest_dir" ] || manifest_dir=$repo
for b in "$testbin" "$procjail"; do
  if command -v ldd >/dev/null && ldd "$b" 2>/dev/null | grep -q '=>'; then die "$b is not static"; fi
done
t_build=$((SECONDS - t0))

# 2. Kernel and busybox: apt-get download once, unpacked into the cache; qemu from apt.
if [ -z "${VM_CACHE-}" ]; then
  VM_CACHE=/var/cache/procjail-vm
  mkdir -p "$VM_CACHE" 2>/dev/null && [ -w "$VM_CACHE" ] || VM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/procjail-vm
fi
cache=$VM_CACHE; mkdir -p "$cache"
if ! command -v qemu-system-x86_64 >/dev/null; then
  say "installing qemu-system-x86"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >&2 ||
    die "qemu-system-x86_64 is missing and apt-get install qemu-system-x86 failed (root needed)"
fi
# The versioned kernel package is resolved once (rm -r the cache to take a newer one).
if [ ! -s "$cache/kernel-pkg" ] || [ ! -d "$cache/busybox-static" ]; then
  say "resolving linux-image-cloud-amd64 (first run)"
  apt-get update -qq >&2 || say "warning: apt-get update failed, using the current package lists"
  apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}' > "$cache/kernel-pkg.new"
  [ -s "$cache/kernel-pkg.new" ] || die "apt-cache depends linux-image-cloud-amd64 names no kernel package"
  mv "$cache/kernel-pkg.new" "$cache/kernel-pkg"
fi
pkg=$(cat "$cache/kernel-pkg")
unpack() { # PKG DEST
  [ -d "$2" ] && return
  say "downloading $1"
  local t; t=$(mktemp -d "$cache/dl.XXXX")
  (cd "$t" && apt-get download -qq -o APT::Sandbox::User=root "$1") >&2 || { rm -rf "$t"; die "apt-get download $1 failed"; }
  dpkg-deb -x "$t"/*.deb "$t/x" && mv "$t/x" "$2" && rm -rf "$t"
}
unpack "$pkg" "$cache/$pkg"
unpack busybox-static "$cache/busybox-static"
kernel=$(echo "$cache/$pkg"/boot/vmlinuz-*)
bb=$cache/busybox-static/bin/busybox
[ -f "$kernel" ] && [ -x "$bb" ] || die "kernel or busybox missing in $cache (rm -r it and retry)"
t_fetch=$((SECONDS - t0 - t_build))

# 3. Initramfs (newc, uncompressed): busybox at /bin/busybox (static: `procjail rootfs busybox`
#    copies it into the test rootfs), init, the repo's source files at their host path (jails/,
#    schema/, ... relative to CARGO_MANIFEST_DIR), the two binaries at their host paths.
work=$(mktemp -d); trap 'rm -rf "$work" "$json"' EXIT
root=$work/root
mkdir -p "$root"/{bin,etc,lib/modules,proc,sys,dev,run,tmp,root} "$root$manifest_dir"
cp "$bb" "$root/bin/busybox"; ln -s busybox "$root/bin/sh"   # init runs busybox --install
# A host tool the tests run, with the libraries it links, each at its host path (busybox's
# --install in the guest leaves a file that is there alone).
tool() { cp "$1" "$root/bin/$2"; for lib in $(ldd "$1" | grep -o '/[^ ]*'); do mkdir -p "$root${lib%/*}"; cp -L "$lib" "$root$lib"; done; }
# strace, for the fidelity test (tests/integration/fidelity.rs): Debian packages no static strace.
st=$(command -v strace) || die "strace is missing (apt-get install strace; .ci/run does)"
tool "$st" strace
# taplo, for the schema test (tests/integration/schema.rs). A shim (pyenv's) may stand in front
# of the binary on PATH.
tp=$(command -v taplo) || die "taplo is missing (python3 -m pip install taplo; .ci/run does)"
[ "$(head -c4 "$tp" | tr -d '\177')" = ELF ] || tp=$(pyenv which taplo 2>/dev/null) || die "$tp is not taplo's binary"
tool "$tp" taplo
# util-linux's script (a terminal for the colour and width tests) and setpriv (check as nobody),
# and bash (it parses the bash completions): busybox's are not these. runc, for the doctor tests
# (tests/integration/doctor.rs) and the OCI tests (they run exported bundles under it).
for t in script setpriv bash runc; do tool "$(command -v $t)" $t || die "$t is missing (.ci/run installs it)"; done
# The static inits of `export oci --init`, at the paths procjail takes them from.
mkdir -p "$root/usr/bin"
for i in /usr/bin/tini-static /usr/bin/catatonit; do cp "$i" "$root$i" || die "$i is missing (apt-get install tini catatonit)"; done
cp "$here/init.sh" "$root/init"; cp "$here/guest.sh" "$root/guest.sh"; chmod 755 "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf '127.0.0.1 localhost procjail-vm\n::1 localhost\n' > "$root/etc/hosts"
touch "$root/etc/modules"
addmod() {
  grep -qx "$1" "$root/etc/modules" && return
  local f; f=$(find "$cache/$pkg/lib/modules" -name "$1.ko" | head -1)
  [ -n "$f" ] || die "no module $1 in $pkg"
  for d in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr , ' '); do addmod "$d"; done
  cp "$f" "$root/lib/modules/"; echo "$1" >> "$root/etc/modules"
}
for m in ${VM_MODULES-}; do addmod "$m"; done
# Tracked and untracked-but-not-ignored files: what a fresh clone has, without target/.
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
    tar -xf - -C "$root$manifest_dir"
else
  cp -a "$repo"/{Cargo.toml,Cargo.lock,jails,schema,examples,tests} "$root$manifest_dir/" 2>/dev/null || true
fi
[ -d "$root$manifest_dir/jails" ] || die "no jails/ in $repo"
for b in "$testbin" "$procjail"; do mkdir -p "$root${b%/*}"; cp "$b" "$root$b"; done
# The static probe of tests/integration/confine.rs, built here: the guest has no compiler.
mkdir -p "$root$manifest_dir/target"
gcc -static -O2 -o "$root$manifest_dir/target/probe-static" "$repo/tests/probe/probe.c" ||
  die "gcc -static tests/probe/probe.c failed (apt-get install gcc libc6-dev)"
{
  printf 'export REPO=%q PROCJAIL=%q TESTBIN=%q\ncd "$REPO" || exit 125\n' "$manifest_dir" "$procjail" "$testbin"
  if [ -n "${VM_CMD-}" ]; then printf '%s\n' "$VM_CMD"
  else printf 'exec sh /guest.sh'; for a in "$@"; do printf ' %q' "$a"; done; echo; fi
} > "$root/cmd"   # busybox ash reads bash's %q quoting
(cd "$root" && find . | "$bb" cpio -o -H newc 2>/dev/null) > "$work/initrd"
size=$(( $(stat -c %s "$work/initrd") / 1048576 ))
mem=${VM_MEM:-1024}
[ $((size * 3)) -lt "$mem" ] || say "warning: the initramfs is ${size} MiB and lives in RAM; raise VM_MEM (now $mem)"

# 4. Boot. ttyS0: kernel console (a file), ttyS1: the tests' output (stdout), ttyS2: exit status.
accel=${VM_ACCEL:-$(grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && echo kvm || echo tcg)}
[ "$accel" = kvm ] && cpu=host || cpu=max   # TCG "max" has RDRAND: getrandom() won't block
bios=(); for d in /usr/share/qemu /usr/share/seabios; do [ -e $d/qboot.rom ] && { bios=(-bios qboot.rom); break; }; done
timeout=${VM_TIMEOUT:-900}
quiet=quiet; [ "${VM_VERBOSE:-0}" = 1 ] && quiet=
say "booting $pkg ($accel, ${mem} MiB, initramfs ${size} MiB, timeout ${timeout}s); build ${t_build}s, cache ${t_fetch}s"
t_boot=$SECONDS
set +e
timeout -k 5 "$timeout" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" \
  -m "$mem" -smp "${VM_CPUS:-2}" -nodefaults -no-user-config -display none -no-reboot "${bios[@]}" \
  -kernel "$kernel" -initrd "$work/initrd" \
  -append "console=ttyS0 $quiet panic=-1 cgroup_no_v1=all cryptomgr.notests=1 mitigations=off tsc=reliable no_timer_check" \
  -serial file:"$work/console" -serial stdio -serial file:"$work/status" </dev/null
qrc=$?
set -e
status=$(tr -dc 0-9 < "$work/status" 2>/dev/null || true)
if [ -z "$status" ] || [ "${VM_VERBOSE:-0}" = 1 ]; then
  echo "----- kernel console -----" >&2; tr -d '\r' < "$work/console" >&2; echo "----- end of console -----" >&2
fi
say "VM ran $((SECONDS - t_boot))s; run.sh took $((SECONDS - t0))s in all"
if [ -n "$status" ]; then
  [ "$status" = 0 ] && say "PASS: the guest command exited 0" || say "FAIL: the guest command exited $status"
  exit "$status"
fi
[ "$qrc" = 124 ] || [ "$qrc" = 137 ] && { say "FAIL: timed out after ${timeout}s (VM_TIMEOUT)"; exit 124; }
say "FAIL: no exit status from the VM (qemu exit $qrc): it did not boot or died"; exit 125
