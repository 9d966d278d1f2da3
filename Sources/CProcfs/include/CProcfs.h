#ifndef MAPSRACE_CPROCFS_H
#define MAPSRACE_CPROCFS_H

#include <signal.h>
#include <stddef.h>
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

#endif
