// benches/entrytrace.c: which functions of a program run, in the order they first run.
//
//   entrytrace ADDRS OUT PROGRAM [ARGS...]
//
// ADDRS: the functions' entry addresses, one hex number a line (from `nm` of an unstripped,
// non-PIE build). Runs PROGRAM under ptrace with a breakpoint (int3) on every entry, follows
// its clones and forks until each of them execs something else or exits, and writes to OUT each
// entry the first time any of them reaches it. A breakpoint is taken out of a process when that
// process hits it, so each costs one stop per process. Used by benches/order.sh.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long *addr;
static unsigned char *orig, *seen;
static long n;

static long find(unsigned long a) {
    long lo = 0, hi = n;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (addr[mid] < a) lo = mid + 1; else hi = mid;
    }
    return lo < n && addr[lo] == a ? lo : -1;
}

// Sets the byte at a in process p; returns the byte that was there.
static int poke_byte(pid_t p, unsigned long a, unsigned char b) {
    errno = 0;
    long w = ptrace(PTRACE_PEEKTEXT, p, (void *)a, 0);
    if (errno) return -1;
    int old = w & 0xff;
    w = (w & ~0xffL) | b;
    if (ptrace(PTRACE_POKETEXT, p, (void *)a, (void *)w) < 0) return -1;
    return old;
}

static int cmp(const void *x, const void *y) {
    unsigned long a = *(const unsigned long *)x, b = *(const unsigned long *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: entrytrace ADDRS OUT PROGRAM [ARGS...]\n"); return 2; }
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
    if (!in || !out) { perror("entrytrace"); return 2; }
    long cap = 1 << 16;
    addr = malloc(cap * sizeof *addr);
    unsigned long a;
    while (fscanf(in, "%lx", &a) == 1) {
        if (n == cap) addr = realloc(addr, (cap *= 2) * sizeof *addr);
        addr[n++] = a;
    }
    qsort(addr, n, sizeof *addr, cmp);
    orig = calloc(n, 1);
    seen = calloc(n, 1);
    pid_t c = fork();
    if (c == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[3], argv + 3);
        _exit(127);
    }
    int st, live = 1, armed = 0, status = 0;
    waitpid(c, &st, 0);
    ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
           PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, c, 0, 0);
    while (live > 0) {
        pid_t p = waitpid(-1, &st, __WALL);
        if (p < 0) break;
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (p == c) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            live--;
            continue;
        }
        int sig = WSTOPSIG(st), ev = st >> 16;
        if (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK) {
            live++;
            sig = 0;
        } else if (ev == PTRACE_EVENT_EXEC) {
            if (p != c || armed) {  // a process of the program execs something else: let it go
                ptrace(PTRACE_DETACH, p, 0, 0);
                live--;
                continue;
            }
            for (long i = 0; i < n; i++) orig[i] = poke_byte(p, addr[i], 0xcc);
            armed = 1;
            sig = 0;
        } else if (ev || sig == SIGSTOP) {
            sig = 0;
        } else if (sig == SIGTRAP) {
            struct user_regs_struct r;
            ptrace(PTRACE_GETREGS, p, 0, &r);
            long i = find(r.rip - 1);
            if (i >= 0) {
                if (!seen[i]) { seen[i] = 1; fprintf(out, "%lx\n", addr[i]); }
                poke_byte(p, addr[i], orig[i]);
                r.rip--;
                ptrace(PTRACE_SETREGS, p, 0, &r);
                sig = 0;
            }
        }
        ptrace(PTRACE_CONT, p, 0, sig);
    }
    fclose(out);
    return status;
}
