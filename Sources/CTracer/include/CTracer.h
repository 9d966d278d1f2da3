#ifndef MAPSRACE_CTRACER_H
#define MAPSRACE_CTRACER_H

// What the ptrace tracer (MapsTracer) needs from C: the seccomp-bpf filter
// and the exec of a traced command, the ptrace requests Swift cannot call
// (the glibc wrapper is variadic), PTRACE_GET_SYSCALL_INFO, and
// process_vm_readv. Syscall numbers come from the system headers, so the
// Swift side never hard-codes an architecture's table.

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../MapsracePreload/include/mapsrace_fastpath.h"

/// Stages at which `mapsrace_traced_exec` can fail (its return value).
enum {
    MAPSRACE_TRACED_EXEC_NO_NEW_PRIVS = 1,
    MAPSRACE_TRACED_EXEC_SECCOMP = 2,
    MAPSRACE_TRACED_EXEC_STOP = 3,
    MAPSRACE_TRACED_EXEC_EXECVE = 4,
};

/// In the child that becomes the traced command: sets PR_SET_NO_NEW_PRIVS,
/// installs a seccomp filter that returns SECCOMP_RET_TRACE for exactly the
/// syscalls `mapsrace_traced_syscall_count` lists (SECCOMP_RET_ALLOW for every
/// other one, and for any other architecture's calls), stops itself with
/// SIGSTOP so that the tracer can seize it, then execve(path, argv, envp).
/// Returns only on failure: the stage (above), with errno set.
int mapsrace_traced_exec(const char *path, char *const argv[], char *const envp[]);

/// The syscalls the filter traces, for tests and documentation.
size_t mapsrace_traced_syscall_count(void);
long mapsrace_traced_syscall(size_t index);
/// The name of syscall `number` if the filter traces it, else NULL.
const char *mapsrace_traced_syscall_name(long number);

/// ptrace(request, tid, addr, data). -1 with errno on failure.
long mapsrace_ptrace_request(int request, pid_t tid, unsigned long addr, unsigned long data);

enum {
    MAPSRACE_PTRACE_CONT = 7,
    MAPSRACE_PTRACE_KILL = 8,
    MAPSRACE_PTRACE_SYSCALL = 24,
    MAPSRACE_PTRACE_SETOPTIONS_REQUEST = 0x4200,
    MAPSRACE_PTRACE_GETEVENTMSG = 0x4201,
    MAPSRACE_PTRACE_SEIZE_REQUEST = 0x4206,
    MAPSRACE_PTRACE_INTERRUPT_REQUEST = 0x4207,
    MAPSRACE_PTRACE_LISTEN = 0x4208,
    MAPSRACE_PTRACE_DETACH_REQUEST = 17,

    MAPSRACE_O_TRACESYSGOOD = 1,
    MAPSRACE_O_TRACEFORK = 1 << 1,
    MAPSRACE_O_TRACEVFORK = 1 << 2,
    MAPSRACE_O_TRACECLONE = 1 << 3,
    MAPSRACE_O_TRACEEXEC = 1 << 4,
    MAPSRACE_O_TRACEEXIT = 1 << 6,
    MAPSRACE_O_TRACESECCOMP = 1 << 7,
    MAPSRACE_O_EXITKILL = 1 << 20,

    MAPSRACE_EVENT_FORK = 1,
    MAPSRACE_EVENT_VFORK = 2,
    MAPSRACE_EVENT_CLONE = 3,
    MAPSRACE_EVENT_EXEC = 4,
    MAPSRACE_EVENT_VFORK_DONE = 5,
    MAPSRACE_EVENT_EXIT = 6,
    MAPSRACE_EVENT_SECCOMP = 7,
    MAPSRACE_EVENT_STOP = 128,
};

/// One syscall stop as PTRACE_GET_SYSCALL_INFO (Linux 5.3+) describes it.
struct mapsrace_syscall_stop {
    uint8_t op;          /* MAPSRACE_SYSCALL_INFO_* */
    uint8_t is_error;    /* exit stops */
    uint64_t nr;         /* entry and seccomp stops */
    uint64_t args[6];    /* entry and seccomp stops */
    int64_t rval;        /* exit stops: the return value, or -errno when is_error */
};

enum {
    MAPSRACE_SYSCALL_INFO_NONE = 0,
    MAPSRACE_SYSCALL_INFO_ENTRY = 1,
    MAPSRACE_SYSCALL_INFO_EXIT = 2,
    MAPSRACE_SYSCALL_INFO_SECCOMP = 3,
};

/// PTRACE_GET_SYSCALL_INFO for a stopped tracee. 0, or -1 with errno.
int mapsrace_syscall_stop_info(pid_t tid, struct mapsrace_syscall_stop *stop);

/// process_vm_readv of `length` bytes at `remote` in `pid` into `local`:
/// the bytes copied (fewer at an unmapped page), or -1 with errno.
ssize_t mapsrace_read_tracee(pid_t pid, uint64_t remote, void *local, size_t length);

/// Two such reads in one process_vm_readv (a PROCMAP_QUERY's answer and the
/// name buffer): the bytes copied, the first area's first.
ssize_t mapsrace_read_tracee_two(pid_t pid, uint64_t remote1, void *local1, size_t length1, uint64_t remote2,
                                 void *local2, size_t length2);

/// The number of syscall `name` ("openat", "read", ...) on this
/// architecture, -1 if it has none.
long mapsrace_nr(const char *name);

/// The process environment (`environ`), for posix_spawn and execve.
char **mapsrace_tracer_environment(void);

/// PROCMAP_QUERY's request number (the ioctl a maps descriptor answers).
unsigned long mapsrace_procmap_query_request(void);

/// Takes the committed records of `pid`'s fast-path ring (at most `room`,
/// oldest first) into `out` and marks them drained in the tracee. Stops at the
/// first slot still being written, unless `past_gaps` (only when no thread of
/// the process can run: then every committed record is taken and the rest
/// skipped). The number taken; -1 when the ring cannot be read (the process
/// or the mapping is gone), -2 when it holds no valid header (not written
/// yet: try again later); `first_sequence` the sequence number the drain
/// started at.
long mapsrace_ring_drain(pid_t pid, struct mapsrace_ring_record *out, size_t room, int past_gaps,
                         uint64_t *first_sequence);

/// In a forked child (stopped, not yet run): its copy of the parent's ring
/// holds the parent's records; marks them all drained. 0, -1 (no ring) or
/// -2 (no valid header).
int mapsrace_ring_skip_inherited(pid_t pid);

/// Where the preload maps the ring (its mmap is seen at a traced stop).
uint64_t mapsrace_ring_address(void);

/// SIGALRM every `interval_us` µs, with a handler that does nothing and no
/// SA_RESTART, so that a blocked waitpid returns and rings are drained even
/// when no tracee stops (also to re-arm after a pause). 0 or -1.
int mapsrace_drain_timer_start(long interval_us);
/// Disarms the timer and takes a tick still pending; the handler stays.
void mapsrace_drain_timer_pause(void);
/// Disarms it, takes a pending tick, then restores SIGALRM's SIG_DFL.
void mapsrace_drain_timer_stop(void);

#endif
