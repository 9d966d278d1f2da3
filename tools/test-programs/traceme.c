/* traceme: forks a child that calls ptrace(PTRACE_TRACEME) and stops itself
 * with SIGSTOP; the parent waits for that stop (which only a tracer sees),
 * resumes the child with PTRACE_CONT, and waits for it to exit. The child
 * then reads its own maps (with its parent as its only tracer) and exits 7,
 * or, if that fails, with the errno (38, ENOSYS, under mapsrace: the seccomp
 * filter stays and the parent asks for no seccomp stops).
 * The parent reads its own maps, prints "child PID exited 7" and exits with
 * status 5, so that a recording can tell the program's status from its own.
 * Exits 2 when anything fails (the parent's wait sees no stop, PTRACE_TRACEME
 * fails). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static long read_maps(void) {
    static char buffer[4096];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) return -1;
    long total = 0, n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) total += n;
    close(fd);
    return n < 0 ? -1 : total;
}

int main(void) {
    pid_t child = fork();
    if (child < 0) return 2;
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) { perror("PTRACE_TRACEME"); _exit(2); }
        raise(SIGSTOP);
        /* Under mapsrace the seccomp filter stays: open fails with ENOSYS. */
        long got = read_maps();
        _exit(got > 0 ? 7 : got == -1 ? (errno > 0 && errno < 256 ? errno : 2) : 2);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
        fprintf(stderr, "traceme: no SIGSTOP stop of the child (status %#x)\n", status);
        kill(child, SIGKILL);
        return 2;
    }
    if (ptrace(PTRACE_CONT, child, NULL, NULL) != 0) { perror("PTRACE_CONT"); return 2; }
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
        fprintf(stderr, "traceme: child did not exit (status %#x)\n", status);
        return 2;
    }
    if (read_maps() <= 0) return 2;
    printf("child %d exited %d\n", child, WEXITSTATUS(status));
    fflush(stdout);
    return 5;
}
