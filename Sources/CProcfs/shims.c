#define _GNU_SOURCE
#include "CProcfs.h"

#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <unistd.h>

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

void *mapsrace_mremap(void *old_address, size_t old_size, size_t new_size, int flags, void *new_address) {
    return mremap(old_address, old_size, new_size, flags, new_address);
}

volatile sig_atomic_t mapsrace_stop_signal_number = 0;

static void mapsrace_note_stop_signal(int signal_number) {
    if (mapsrace_stop_signal_number == 0) {
        mapsrace_stop_signal_number = signal_number;
    }
}

int mapsrace_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = mapsrace_note_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    if (sigaction(SIGINT, &action, NULL) != 0) return -1;
    if (sigaction(SIGTERM, &action, NULL) != 0) return -1;
    /* A parent may have spawned us with them blocked (test runners do). */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    return sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
}

void mapsrace_restore_stop_handlers(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

char **mapsrace_environment(void) {
    return environ;
}

pid_t mapsrace_gettid(void) {
    return gettid();
}

_Static_assert(sizeof(struct mapsrace_procmap_query) == 104, "PROCMAP_QUERY UAPI layout");

/* PROCMAP_QUERY is _IOWR('f', 17, struct procmap_query). */
int mapsrace_procmap_query(int maps_fd, struct mapsrace_procmap_query *query) {
    return ioctl(maps_fd, _IOWR('f', 17, struct mapsrace_procmap_query), query);
}

long mapsrace_ptrace(int request, pid_t tid, unsigned long data) {
    return ptrace((enum __ptrace_request)request, tid, NULL, (void *)data);
}

void mapsrace_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
