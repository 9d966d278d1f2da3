#define _GNU_SOURCE
#include "CTracer.h"
#include "../MapsracePreload/include/mapsrace_fastpath.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__x86_64__)
#define MAPSRACE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MAPSRACE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "mapsrace's tracer supports x86_64 and aarch64"
#endif

struct traced_syscall {
    const char *name;
    long number;
};

#define TRACED(name) { #name, SYS_##name }

/* Maps reads (open*, read*, lseek, ioctl, dup*, fcntl, close*), mutations
   (mmap ... prctl) and exec. Everything else runs without a stop. */
static const struct traced_syscall traced_syscalls[] = {
#ifdef SYS_open
    TRACED(open),
#endif
    TRACED(openat),
#ifdef SYS_openat2
    TRACED(openat2),
#endif
    TRACED(read),
    TRACED(pread64),
    TRACED(readv),
    TRACED(preadv),
#ifdef SYS_preadv2
    TRACED(preadv2),
#endif
    TRACED(lseek),
    TRACED(ioctl),
    TRACED(dup),
#ifdef SYS_dup2
    TRACED(dup2),
#endif
    TRACED(dup3),
    TRACED(fcntl),
    TRACED(close),
#ifdef SYS_close_range
    TRACED(close_range),
#endif
    TRACED(mmap),
    TRACED(munmap),
    TRACED(mprotect),
#ifdef SYS_pkey_mprotect
    TRACED(pkey_mprotect),
#endif
    TRACED(mremap),
    TRACED(brk),
    TRACED(shmat),
    TRACED(shmdt),
    TRACED(madvise),
    TRACED(mlock),
#ifdef SYS_mlock2
    TRACED(mlock2),
#endif
    TRACED(munlock),
    TRACED(mlockall),
    TRACED(munlockall),
    TRACED(prctl),
    TRACED(execve),
    TRACED(execveat),
    /* Only for PTRACE_TRACEME: a tracee that asks to be traced by its parent
       (gdb's start-up check does) is detached first, or it would fail. */
    TRACED(ptrace),
};

#define TRACED_COUNT (sizeof traced_syscalls / sizeof traced_syscalls[0])

size_t mapsrace_traced_syscall_count(void) { return TRACED_COUNT; }

long mapsrace_traced_syscall(size_t index) {
    return index < TRACED_COUNT ? traced_syscalls[index].number : -1;
}

const char *mapsrace_traced_syscall_name(long number) {
    for (size_t i = 0; i < TRACED_COUNT; i++)
        if (traced_syscalls[i].number == number) return traced_syscalls[i].name;
    return NULL;
}

long mapsrace_nr(const char *name) {
    for (size_t i = 0; i < TRACED_COUNT; i++)
        if (strcmp(traced_syscalls[i].name, name) == 0) return traced_syscalls[i].number;
    return -1;
}

/* The hot mutations: made from the preload's trampoline they run without a
   stop (the fast path); from anywhere else they are traced like the rest. */
static int is_fast_path_syscall(long number) {
    return number == SYS_mprotect || number == SYS_munmap || number == SYS_mmap || number == SYS_mremap
        || number == SYS_madvise
#ifdef SYS_pkey_mprotect
        || number == SYS_pkey_mprotect
#endif
        ;
}

int mapsrace_traced_exec(const char *path, char *const argv[], char *const envp[]) {
    /* arch check (3), load nr (1), one compare per syscall, ALLOW, the
       instruction-pointer check (4), ALLOW, TRACE. */
    struct sock_filter program[4 + TRACED_COUNT + 1 + 4 + 2];
    size_t n = 0;
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MAPSRACE_AUDIT_ARCH, 1, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    /* Instruction indexes of the blocks after the compares. */
    size_t first_compare = n;
    size_t allow_other = first_compare + TRACED_COUNT;
    size_t ip_check = allow_other + 1;
    size_t allow_fast = ip_check + 4;
    size_t trace = allow_fast + 1;
    for (size_t i = 0; i < TRACED_COUNT; i++) {
        size_t here = first_compare + i;
        size_t target = is_fast_path_syscall(traced_syscalls[i].number) ? ip_check : trace;
        program[n++] = (struct sock_filter)BPF_JUMP(
            BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)traced_syscalls[i].number, (unsigned char)(target - here - 1), 0);
    }
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    /* The fast path: the caller's instruction pointer is the trampoline's. */
    uint64_t fast_ip = MAPSRACE_TRAMPOLINE_ADDRESS + MAPSRACE_TRAMPOLINE_SYSCALL_END_OFFSET;
    program[n++] = (struct sock_filter)BPF_STMT(
        BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer));
    program[n++] = (struct sock_filter)BPF_JUMP(
        BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)fast_ip, 0, (unsigned char)(trace - (ip_check + 1) - 1));
    program[n++] = (struct sock_filter)BPF_STMT(
        BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4);
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(fast_ip >> 32), 0, 1);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog filter = {.len = (unsigned short)n, .filter = program};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return MAPSRACE_TRACED_EXEC_NO_NEW_PRIVS;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0) != 0) return MAPSRACE_TRACED_EXEC_SECCOMP;
    /* From here on, a traced syscall without a tracer fails with ENOSYS:
       only kill (not traced) until the tracer has seized this process. */
    if (kill(getpid(), SIGSTOP) != 0) return MAPSRACE_TRACED_EXEC_STOP;
    execve(path, argv, envp);
    return MAPSRACE_TRACED_EXEC_EXECVE;
}

long mapsrace_ptrace_request(int request, pid_t tid, unsigned long addr, unsigned long data) {
    return ptrace((enum __ptrace_request)request, tid, (void *)addr, (void *)data);
}

int mapsrace_syscall_stop_info(pid_t tid, struct mapsrace_syscall_stop *stop) {
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    long got = ptrace((enum __ptrace_request)PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof info, &info);
    if (got < 0) return -1;
    stop->op = info.op;
    stop->is_error = 0;
    stop->nr = 0;
    stop->rval = 0;
    memset(stop->args, 0, sizeof stop->args);
    switch (info.op) {
    case PTRACE_SYSCALL_INFO_ENTRY:
        stop->nr = info.entry.nr;
        memcpy(stop->args, info.entry.args, sizeof stop->args);
        break;
    case PTRACE_SYSCALL_INFO_SECCOMP:
        stop->nr = info.seccomp.nr;
        memcpy(stop->args, info.seccomp.args, sizeof stop->args);
        break;
    case PTRACE_SYSCALL_INFO_EXIT:
        stop->rval = info.exit.rval;
        stop->is_error = info.exit.is_error;
        break;
    default:
        break;
    }
    return 0;
}

ssize_t mapsrace_read_tracee(pid_t pid, uint64_t remote, void *local, size_t length) {
    struct iovec local_iov = {.iov_base = local, .iov_len = length};
    struct iovec remote_iov = {.iov_base = (void *)(uintptr_t)remote, .iov_len = length};
    return process_vm_readv(pid, &local_iov, 1, &remote_iov, 1, 0);
}

unsigned long mapsrace_procmap_query_request(void) {
    /* _IOWR(PROCFS_IOCTL_MAGIC 'f', 17, struct procmap_query) with a 104-byte struct. */
    return _IOWR('f', 17, char[104]);
}

extern char **environ;

char **mapsrace_tracer_environment(void) { return environ; }

/* ---- The fast path's ring (mapsrace_fastpath.h) ---- */

/* 0, -1 when the ring cannot be read (the process is gone, the mapping
   too), -2 when it is not (yet) a valid ring: the tracer sees the ring's
   mmap return before the constructor has written the header, and a torn
   copy of a header being written looks the same; it tries again later. */
static int read_ring_header(pid_t pid, struct mapsrace_ring_header *header) {
    ssize_t got = mapsrace_read_tracee(pid, MAPSRACE_RING_ADDRESS, header, sizeof *header);
    if (got != (ssize_t)sizeof *header) return -1;
    if (header->magic != MAPSRACE_RING_MAGIC || header->record_bytes != sizeof(struct mapsrace_ring_record)) return -2;
    if (header->capacity < 2 || (header->capacity & (header->capacity - 1)) != 0) return -2;
    if (header->head - header->drained > header->capacity) return -2;
    return 0;
}

static int write_drained(pid_t pid, uint64_t drained) {
    struct iovec local = {.iov_base = &drained, .iov_len = sizeof drained};
    struct iovec remote = {
        .iov_base = (void *)(uintptr_t)(MAPSRACE_RING_ADDRESS + offsetof(struct mapsrace_ring_header, drained)),
        .iov_len = sizeof drained};
    return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof drained ? 0 : -1;
}

/* Records [first, first + count) of the ring (count <= capacity) into out. */
static int read_ring_records(pid_t pid, uint64_t capacity, uint64_t first, uint64_t count,
                             struct mapsrace_ring_record *out) {
    uint64_t slot = first & (capacity - 1);
    uint64_t before_wrap = capacity - slot < count ? capacity - slot : count;
    uint64_t base = MAPSRACE_RING_ADDRESS + MAPSRACE_RING_HEADER_BYTES;
    size_t size = sizeof(struct mapsrace_ring_record);
    struct iovec local = {.iov_base = out, .iov_len = (size_t)count * size};
    struct iovec remote[2] = {
        {.iov_base = (void *)(uintptr_t)(base + slot * size), .iov_len = (size_t)before_wrap * size},
        {.iov_base = (void *)(uintptr_t)base, .iov_len = (size_t)(count - before_wrap) * size},
    };
    ssize_t got = process_vm_readv(pid, &local, 1, remote, count > before_wrap ? 2 : 1, 0);
    return got == (ssize_t)(count * size) ? 0 : -1;
}

long mapsrace_ring_drain(pid_t pid, struct mapsrace_ring_record *out, size_t room, int past_gaps,
                         uint64_t *first_sequence) {
    struct mapsrace_ring_header header;
    int state = read_ring_header(pid, &header);
    if (state != 0) return state;
    uint64_t first = header.drained;
    uint64_t count = header.head - first;
    if (count > room) count = room;
    *first_sequence = first;
    if (count == 0) return 0;
    if (read_ring_records(pid, header.capacity, first, count, out) != 0) return -1;
    uint64_t taken = 0;
    if (past_gaps) {
        /* No thread of the process can run: every committed record is
           final, an uncommitted slot never will be. */
        for (uint64_t i = 0; i < count; i++)
            if (out[i].commit == first + i + 1) out[taken++] = out[i];
        if (write_drained(pid, first + count) != 0) return -1;
        return (long)taken;
    }
    while (taken < count && out[taken].commit == first + taken + 1) taken++;
    if (taken == 0) return 0;
    /* Read the committed prefix again: a slot whose commit the first copy
       saw may have had its other fields copied before they were written. */
    if (read_ring_records(pid, header.capacity, first, taken, out) != 0) return -1;
    if (write_drained(pid, first + taken) != 0) return -1;
    return (long)taken;
}

int mapsrace_ring_skip_inherited(pid_t pid) {
    struct mapsrace_ring_header header;
    int state = read_ring_header(pid, &header);
    if (state != 0) return state;
    return write_drained(pid, header.head);
}

uint64_t mapsrace_ring_address(void) { return MAPSRACE_RING_ADDRESS; }

static void ignore_tick(int signal) { (void)signal; }

/* After the timer is disarmed no tick is generated any more, but one may
   still be pending: take it now (blocked, then sigtimedwait without
   waiting), while the handler is still installed, so that it can neither
   interrupt what follows nor meet SIG_DFL (which would kill mapsrace). */
static void disarm_and_take_pending_tick(void) {
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    sigset_t alarm, previous;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    if (pthread_sigmask(SIG_BLOCK, &alarm, &previous) != 0) return;
    struct timespec now = {0, 0};
    while (sigtimedwait(&alarm, NULL, &now) == SIGALRM) {}
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

int mapsrace_drain_timer_start(long interval_us) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = ignore_tick;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART: the tick interrupts the tracer's waitpid */
    if (sigaction(SIGALRM, &action, NULL) != 0) return -1;
    struct itimerval timer;
    memset(&timer, 0, sizeof timer);
    timer.it_interval.tv_sec = interval_us / 1000000;
    timer.it_interval.tv_usec = interval_us % 1000000;
    timer.it_value = timer.it_interval;
    return setitimer(ITIMER_REAL, &timer, NULL);
}

void mapsrace_drain_timer_pause(void) { disarm_and_take_pending_tick(); }

void mapsrace_drain_timer_stop(void) {
    disarm_and_take_pending_tick();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
}

ssize_t mapsrace_read_tracee_two(pid_t pid, uint64_t remote1, void *local1, size_t length1, uint64_t remote2,
                                 void *local2, size_t length2) {
    struct iovec local_iov[2] = {{.iov_base = local1, .iov_len = length1}, {.iov_base = local2, .iov_len = length2}};
    struct iovec remote_iov[2] = {{.iov_base = (void *)(uintptr_t)remote1, .iov_len = length1},
                                  {.iov_base = (void *)(uintptr_t)remote2, .iov_len = length2}};
    return process_vm_readv(pid, local_iov, 2, remote_iov, 2, 0);
}
