/* The probes of tests/integration/confine.rs that busybox cannot make: each calls one syscall
 * in a way that does no harm (it makes and closes things of its own, or is refused), and prints
 * "name=ok" or "name=ERRNO". Built static (gcc -static), so it runs in the busybox rootfs.
 * With an argument "keyring" it prints its session keyring's serial instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *name, long r) {
    if (r >= 0) printf("%s=ok\n", name);
    else printf("%s=%s\n", name, strerrorname_np(errno));
    if (r > 2) close((int)r);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "keyring") == 0) {
        long k = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
        if (k < 0) printf("keyring=%s\n", strerrorname_np(errno));
        else printf("keyring=%ld\n", k);
        return 0;
    }
    show("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    show("clone3", syscall(SYS_clone3, NULL, 0));
    union bpf_attr map = {.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1};
    show("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof map));
    struct io_uring_params p = {0};
    show("io_uring_setup", syscall(SYS_io_uring_setup, 1, &p));
    show("socket_vsock", socket(40, SOCK_STREAM, 0));
    show("socket_alg", socket(38, SOCK_SEQPACKET, 0));
    show("socket_packet", socket(AF_PACKET, SOCK_RAW, 0));
    show("socket_inet", socket(AF_INET, SOCK_STREAM, 0));
    show("personality", personality(ADDR_NO_RANDOMIZE) == -1 ? -1 : 0);
    struct perf_event_attr pe = {.type = PERF_TYPE_SOFTWARE, .size = sizeof pe, .config = PERF_COUNT_SW_CPU_CLOCK};
    show("perf_event_open", syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0));
    show("unshare_user", unshare(CLONE_NEWUSER));
    /* The "shocker" class: a handle of the jail's own root, opened by handle. */
    char buf[sizeof(struct file_handle) + 128];
    struct file_handle *h = (struct file_handle *)buf;
    h->handle_bytes = 128;
    int mnt = -1;
    if (name_to_handle_at(AT_FDCWD, "/", h, &mnt, 0) == 0) {
        int root = open("/", O_RDONLY | O_DIRECTORY);
        show("open_by_handle_at", open_by_handle_at(root, h, O_RDONLY));
        close(root);
    } else {
        show("open_by_handle_at", -1);
    }
    return 0;
}
