#ifndef MAPSRACE_CPROCFS_H
#define MAPSRACE_CPROCFS_H

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

#endif
