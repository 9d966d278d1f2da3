#define _GNU_SOURCE
#include "CTracer.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
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

int mapsrace_traced_exec(const char *path, char *const argv[], char *const envp[]) {
    /* arch check (2 + 1), load nr (1), one compare per syscall, two returns. */
    struct sock_filter program[4 + TRACED_COUNT + 2];
    size_t n = 0;
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MAPSRACE_AUDIT_ARCH, 1, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < TRACED_COUNT; i++) {
        /* Match: jump over the remaining compares and the ALLOW to the TRACE. */
        unsigned char to_trace = (unsigned char)(TRACED_COUNT - 1 - i + 1);
        program[n++] = (struct sock_filter)BPF_JUMP(
            BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)traced_syscalls[i].number, to_trace, 0);
    }
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
