/* fast-path: mutations for the tracer's fast-path tests (FastPathTests). Each
 * mode makes a known number of calls with recognizable arguments (lengths of
 * 3 or 5 pages) and prints what it made, one line per process:
 *   "<pid> mprotect <n> raw <r>" or, for threads, "<tid> thread <n>".
 * Every mode reads /proc/self/maps once at the end (so a recording has a
 * snapshot).
 *
 *   fast-path threads T N   T threads, each N rounds of mmap(5 pages),
 *                           mprotect(3 pages), munmap(5 pages), concurrently
 *   fast-path fork N        N mprotect(3 pages) in the parent, then a fork;
 *                           the child makes 3N, the parent N more meanwhile
 *   fast-path raw N         N raw syscall(SYS_mprotect) and N libc mprotect
 *   fast-path exec N        N mprotect, then execve of itself with an
 *                           environment without LD_PRELOAD ("after N")
 *   fast-path after N       N mprotect (what `exec` runs)
 *   fast-path exec-keep N   N mprotect, then execve of itself with its own
 *                           environment ("after N")
 *   fast-path vfork N       N mprotect, a vfork whose child makes 3N (in the
 *                           parent's memory) and _exits, then N more; the
 *                           parent prints the child's line for it
 *   fast-path unmap-ring N  N mprotect, then a libc munmap of 16 MiB at the
 *                           trampoline's address (trampoline and ring), then
 *                           N more */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long page;
static int rounds;

static void read_maps_once(void) {
    char buffer[65536];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) { perror("open"); exit(1); }
    while (read(fd, buffer, sizeof buffer) > 0) {}
    close(fd);
}

static char *arena(void) {
    char *p = mmap(NULL, 5 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    return p;
}

static void protect(char *p, int n, int raw) {
    for (int i = 0; i < n; i++) {
        int protection = i % 2 ? PROT_READ | PROT_WRITE : PROT_READ;
        long r = raw ? syscall(SYS_mprotect, p, 3 * page, protection) : mprotect(p, 3 * page, protection);
        if (r != 0) { perror("mprotect"); exit(1); }
    }
}

static void *churn(void *argument) {
    (void)argument;
    for (int i = 0; i < rounds; i++) {
        char *p = arena();
        p[0] = 1;
        if (mprotect(p, 3 * page, PROT_READ) != 0) { perror("mprotect"); exit(1); }
        if (munmap(p, 5 * page) != 0) { perror("munmap"); exit(1); }
    }
    printf("%ld thread %d\n", (long)syscall(SYS_gettid), rounds);
    return NULL;
}

int main(int argc, char **argv) {
    page = sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) { fprintf(stderr, "usage: fast-path MODE ... N\n"); return 2; }
    const char *mode = argv[1];
    if (strcmp(mode, "threads") == 0 && argc > 3) {
        int count = atoi(argv[2]);
        rounds = atoi(argv[3]);
        pthread_t threads[64];
        if (count > 64) count = 64;
        for (int i = 0; i < count; i++) pthread_create(&threads[i], NULL, churn, NULL);
        for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
        read_maps_once();
        return 0;
    }
    rounds = atoi(argv[2]);
    char *p = arena();
    if (strcmp(mode, "fork") == 0) {
        protect(p, rounds, 0);
        pid_t child = fork();
        if (child < 0) { perror("fork"); return 1; }
        if (child == 0) {
            protect(p, 3 * rounds, 0);
            printf("%d mprotect %d raw 0\n", getpid(), 3 * rounds);
            read_maps_once();
            _exit(0);
        }
        protect(p, rounds, 0);
        int status = 0;
        waitpid(child, &status, 0);
        printf("%d mprotect %d raw 0\n", getpid(), 2 * rounds);
        read_maps_once();
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    if (strcmp(mode, "raw") == 0) {
        protect(p, rounds, 1);
        protect(p, rounds, 0);
        printf("%d mprotect %d raw %d\n", getpid(), rounds, rounds);
        read_maps_once();
        return 0;
    }
    if (strcmp(mode, "exec") == 0) {
        protect(p, rounds, 0);
        printf("%d mprotect %d raw 0\n", getpid(), rounds);
        char *arguments[] = {argv[0], "after", argv[2], NULL};
        char *environment[] = {"PATH=/usr/bin:/bin", NULL};
        execve("/proc/self/exe", arguments, environment);
        perror("execve");
        return 1;
    }
    if (strcmp(mode, "exec-keep") == 0) {
        protect(p, rounds, 0);
        printf("%d mprotect %d raw 0\n", getpid(), rounds);
        char *arguments[] = {argv[0], "after", argv[2], NULL};
        extern char **environ;
        execve("/proc/self/exe", arguments, environ);
        perror("execve");
        return 1;
    }
    if (strcmp(mode, "vfork") == 0) {
        protect(p, rounds, 0);
        pid_t child = vfork();
        if (child < 0) { perror("vfork"); return 1; }
        if (child == 0) {
            protect(p, 3 * rounds, 0);
            _exit(0);
        }
        protect(p, rounds, 0);
        int status = 0;
        waitpid(child, &status, 0);
        printf("%d mprotect %d raw 0\n", child, 3 * rounds);
        printf("%d mprotect %d raw 0\n", getpid(), 2 * rounds);
        read_maps_once();
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    if (strcmp(mode, "unmap-ring") == 0) {
        protect(p, rounds, 0);
        /* MAPSRACE_TRAMPOLINE_ADDRESS; the ring follows it within 16 MiB. */
        if (munmap((void *)0x6d5a00000000UL, 16UL << 20) != 0) { perror("munmap"); return 1; }
        protect(p, rounds, 0);
        printf("%d mprotect %d raw 0\n", getpid(), 2 * rounds);
        read_maps_once();
        return 0;
    }
    if (strcmp(mode, "after") == 0) {
        protect(p, rounds, 0);
        printf("%d mprotect %d raw 0 after-exec%s\n", getpid(), rounds, getenv("LD_PRELOAD") ? " preload" : "");
        read_maps_once();
        return 0;
    }
    fprintf(stderr, "fast-path: unknown mode %s\n", mode);
    return 2;
}
