#ifndef MAPSRACE_CPROCFS_H
#define MAPSRACE_CPROCFS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/// A read function for a logged stdio stream: same contract as read(2)
/// (bytes placed in `buffer`, 0 at end of file, -1 with errno on failure).
typedef ssize_t (*mapsrace_stream_read_fn)(void *cookie, char *buffer, size_t size);

/// Opens a read-only stdio stream whose every underlying read goes through
/// `read_fn(cookie, ...)` (glibc's fopencookie). Closing the stream does not
/// close anything the cookie owns. NULL with errno on failure.
FILE *mapsrace_open_logged_stream(void *cookie, mapsrace_stream_read_fn read_fn);

/// memfd_create(2): an anonymous file, nothing mapped. -1 with errno on failure.
int mapsrace_memfd_create(const char *name);

/// mremap(2) with all five arguments. glibc declares mremap variadic (the
/// new address is read only with MREMAP_FIXED), and Swift cannot call a
/// variadic C function, so this shim passes `new_address` through.
/// MAP_FAILED with errno on failure.
void *mapsrace_mremap(void *old_address, size_t old_size, size_t new_size, int flags, void *new_address);

/// The number of the first SIGINT or SIGTERM received since
/// `mapsrace_install_stop_handlers`, 0 while none arrived. Written only by
/// the async-signal-safe handler.
extern volatile sig_atomic_t mapsrace_stop_signal_number;

/// Installs handlers for SIGINT and SIGTERM that only record the signal
/// number (no SA_RESTART: a blocking read or wait returns EINTR so the caller
/// can look at the flag), and unblocks both. 0, or -1 with errno.
int mapsrace_install_stop_handlers(void);

/// Puts SIGINT and SIGTERM back to their default actions.
void mapsrace_restore_stop_handlers(void);

/// A plain load of `mapsrace_stop_signal_number`, cheap enough for every
/// iteration of a hot loop.
static inline int mapsrace_stop_signal(void) {
    return mapsrace_stop_signal_number;
}

/// gettid(2): the calling thread's id.
pid_t mapsrace_gettid(void);

/// The process environment, for posix_spawn.
char **mapsrace_environment(void);

/// The PROCMAP_QUERY ioctl on an open /proc/PID/maps (Linux 6.11+,
/// include/uapi/linux/fs.h). Declared here because older userspace headers
/// lack it; the layout is the kernel's UAPI and must not change.
struct mapsrace_procmap_query {
    uint64_t size;          /* in: sizeof(struct mapsrace_procmap_query) */
    uint64_t query_flags;   /* in: MAPSRACE_PROCMAP_QUERY_* */
    uint64_t query_addr;    /* in */
    uint64_t vma_start;     /* out */
    uint64_t vma_end;       /* out */
    uint64_t vma_flags;     /* out: MAPSRACE_PROCMAP_QUERY_VMA_* */
    uint64_t vma_page_size; /* out */
    uint64_t vma_offset;    /* out: file offset, 0 for anonymous mappings */
    uint64_t inode;         /* out */
    uint32_t dev_major;     /* out */
    uint32_t dev_minor;     /* out */
    uint32_t vma_name_size; /* in: buffer size; out: name length + 1, 0 if unnamed */
    uint32_t build_id_size; /* in/out; 0 = do not ask */
    uint64_t vma_name_addr; /* in: where the kernel writes the name */
    uint64_t build_id_addr; /* in */
};

enum {
    MAPSRACE_PROCMAP_QUERY_VMA_READABLE = 0x01,
    MAPSRACE_PROCMAP_QUERY_VMA_WRITABLE = 0x02,
    MAPSRACE_PROCMAP_QUERY_VMA_EXECUTABLE = 0x04,
    MAPSRACE_PROCMAP_QUERY_VMA_SHARED = 0x08,
    /// The mapping containing query_addr, or else the next one above it.
    MAPSRACE_PROCMAP_QUERY_COVERING_OR_NEXT_VMA = 0x10,
};

/// ioctl(maps_fd, PROCMAP_QUERY, query): 0, or -1 with errno (ENOENT: no
/// mapping at or above query_addr; ENOTTY or EINVAL on a kernel without it).
int mapsrace_procmap_query(int maps_fd, struct mapsrace_procmap_query *query);

/// ptrace(2) for the requests whose `addr` is unused (PTRACE_SEIZE,
/// PTRACE_INTERRUPT, PTRACE_DETACH); Swift cannot call the
/// variadic glibc wrapper. 0, or -1 with errno.
long mapsrace_ptrace(int request, pid_t tid, unsigned long data);

/// mallopt(3): freed memory stays in the process for later allocations
/// (no mmap per large block, no trimming the heap) instead of going back to
/// the kernel, which would fault fresh pages in again.
void mapsrace_keep_freed_memory(void);

/// One file action of `mapsrace_spawn`, applied in order in the child:
/// with `path` NULL, `fd` is inherited as it is (FD_CLOEXEC cleared); else
/// `path` is opened with `flags` and `mode` onto `fd`.
struct mapsrace_spawn_action {
    int fd;
    const char *path;
    int flags;
    mode_t mode;
};

/// posix_spawn(3) without its mapping: glibc's posix_spawn mmaps a stack
/// for the child and munmaps it once the child has exec'd, so a process
/// that reads the parent's maps right after its exec (the recorder's
/// reader) can see a mapping no logged mutation made. This clones
/// (CLONE_VM | CLONE_VFORK, as glibc does) onto `stack`, `stack_size` bytes
/// the caller allocated beforehand. In the child: `default_signals` and
/// every signal with a handler to SIG_DFL, a process group of its own if
/// `new_process_group`, the file actions, `mask`, then execve. The child's
/// pid, or -errno (the child's, if it failed before exec; it is reaped).
pid_t mapsrace_spawn(
    const char *path, char *const argv[], char *const envp[], const struct mapsrace_spawn_action *actions,
    int action_count, const sigset_t *default_signals, const sigset_t *mask, int new_process_group, void *stack,
    size_t stack_size);

enum {
    MAPSRACE_PTRACE_DETACH = 17,
    MAPSRACE_PTRACE_SEIZE = 0x4206,
    MAPSRACE_PTRACE_INTERRUPT = 0x4207,
    /// status >> 16 of a stop caused by PTRACE_INTERRUPT or a group stop.
    MAPSRACE_PTRACE_EVENT_STOP = 128,
    /// waitpid option: wait for any child or tracee, thread or not.
    MAPSRACE_WAIT_ALL = 0x40000000,
};

#endif
