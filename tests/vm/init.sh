#!/bin/sh
# PID 1 of the procjail test VM (busybox sh), baked into the initramfs as /init by run.sh.
# Sets up a host the way systemd leaves it on a pure cgroup v2 machine, runs /cmd with its
# output on ttyS1 and its exit status on ttyS2, then powers off. Kernel console: ttyS0.
export PATH=/bin HOME=/root
if [ ! -e /.stage2 ]; then
  # pivot_root(2) fails with EINVAL while / is the initramfs rootfs itself (it has no parent
  # mount), and procjail pivot_roots into every jail: so re-root onto a bind mount of /, which
  # has one. Nothing is copied. /.stage2 keeps the second /init from doing this again.
  /bin/busybox mount -t proc proc /proc && /bin/busybox --install -s /bin && /bin/busybox umount /proc
  mkdir -p /.newroot
  mount --rbind / /.newroot && cd /.newroot && mount --move . / && touch /.stage2 && exec chroot . /init
  echo "init: re-rooting failed" >/dev/ttyS0
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue /root /var/tmp /run
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=0755 run /run
chmod 1777 /tmp   # no tmpfs on /tmp: the repo may live under it
ln -sf /proc/self/fd /dev/fd; ln -sf fd/0 /dev/stdin; ln -sf fd/1 /dev/stdout; ln -sf fd/2 /dev/stderr
# Pure cgroup v2, mounted as systemd does (the kernel runs with cgroup_no_v1=all).
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
# Like systemd: enable every controller for the children of the root cgroup.
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "init: cannot enable +$c" >/dev/ttyS0
done
[ -s /etc/modules ] && while read -r m; do insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed" >/dev/ttyS0; done < /etc/modules
hostname procjail-vm; ip link set lo up
for t in ttyS1 ttyS2; do stty -F /dev/$t raw -echo; done
sh /cmd </dev/null >/dev/ttyS1 2>&1
echo "$?" >/dev/ttyS2
sync; poweroff -f
