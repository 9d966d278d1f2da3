#define _GNU_SOURCE
#include "CProcfs.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <sys/wait.h>
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

/* What the child of mapsrace_spawn needs; it lives on the parent's stack,
   which the parent does not touch until the child has exec'd or exited. */
struct mapsrace_spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const struct mapsrace_spawn_action *actions;
    int action_count;
    const sigset_t *default_signals;
    const sigset_t *mask;
    int new_process_group;
    volatile int error;
};

static int mapsrace_spawn_child(void *argument) {
    struct mapsrace_spawn_request *request = argument;
    /* The memory is the parent's: no handler of its may run here. */
    struct sigaction action;
    for (int number = 1; number < NSIG; number++) {
        if (number == SIGKILL || number == SIGSTOP) continue;
        if (!sigismember(request->default_signals, number)) {
            if (sigaction(number, NULL, &action) != 0) continue;
            if (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN) continue;
        }
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        sigaction(number, &action, NULL);
    }
    if (request->new_process_group && setpgid(0, 0) != 0) goto failed;
    for (int index = 0; index < request->action_count; index++) {
        const struct mapsrace_spawn_action *file = &request->actions[index];
        if (file->path == NULL) {
            int flags = fcntl(file->fd, F_GETFD);
            if (flags < 0 || fcntl(file->fd, F_SETFD, flags & ~FD_CLOEXEC) != 0) goto failed;
            continue;
        }
        int opened = open(file->path, file->flags, file->mode);
        if (opened < 0) goto failed;
        if (opened != file->fd) {
            if (dup2(opened, file->fd) < 0) goto failed;
            close(opened);
        }
    }
    if (sigprocmask(SIG_SETMASK, request->mask, NULL) != 0) goto failed;
    execve(request->path, request->argv, request->envp);
failed:
    request->error = errno;
    _exit(127);
}

pid_t mapsrace_spawn(
    const char *path, char *const argv[], char *const envp[], const struct mapsrace_spawn_action *actions,
    int action_count, const sigset_t *default_signals, const sigset_t *mask, int new_process_group, void *stack,
    size_t stack_size) {
    struct mapsrace_spawn_request request = {
        .path = path, .argv = argv, .envp = envp, .actions = actions, .action_count = action_count,
        .default_signals = default_signals, .mask = mask, .new_process_group = new_process_group, .error = 0,
    };
    /* Every signal blocked until the child has reset the handlers. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    /* The stack grows down on every architecture Linux runs mapsrace on. */
    uintptr_t top = ((uintptr_t)stack + stack_size) & ~(uintptr_t)15;
    pid_t child = clone(mapsrace_spawn_child, (void *)top, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
    int failure = child < 0 ? errno : request.error;
    if (child > 0 && failure != 0) {
        /* Exec failed: the child has exited; reap it. */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return failure != 0 ? -failure : child;
}
