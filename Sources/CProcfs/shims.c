#define _GNU_SOURCE
#include "CProcfs.h"

#include <sys/mman.h>

FILE *mapsrace_open_logged_stream(void *cookie, mapsrace_stream_read_fn read_fn) {
    cookie_io_functions_t functions = {
        .read = read_fn,
        .write = NULL,
        .seek = NULL,
        .close = NULL,
    };
    return fopencookie(cookie, "r", functions);
}

int mapsrace_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
