/* maps-dirfd: opens its own and its child's maps in the ways that do not
 * spell out an absolute /proc/PID/maps path, reads each whole with read(2)
 * in 4096-byte requests and saves what it read to read-NN.txt in the
 * working directory (the tracer's test compares them with the trace).
 * Prints one line per read: "NN TARGET-PID RESOLVED-PATH".
 *
 *  00 openat(open("/proc/self"), "maps")          itself
 *  01 openat(open("/proc/CHILD"), "maps")         the child
 *  02 openat(open("/proc/CHILD/task/CHILD"), "maps")
 *  03 openat(open("/proc/thread-self"), "smaps")  itself, smaps
 *  04 openat(open("/proc"), "CHILD/maps")
 *  05 openat(dup(/proc/CHILD descriptor), "./maps")
 *  06 openat(open("/proc/self/task"), "../../CHILD/maps")
 *  07 chdir("/proc/CHILD"), open("maps")          through the working directory
 *  08 openat(AT_FDCWD, "../PID/maps") from there  itself
 *  09 open("/proc//PID/./maps")                   itself
 * and, not maps: openat(/proc/CHILD descriptor, "status") (read, not saved).
 * The child waits on a pipe and exits when the parent closes it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char directory[4096];
static int saved;

static void save(int fd, int target, const char *how) {
    static char buffer[4096];
    char name[sizeof directory + 32];
    snprintf(name, sizeof name, "%s/read-%02d.txt", directory, saved);
    int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || out < 0) { perror(how); exit(2); }
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
        if (write(out, buffer, (size_t)n) != n) { perror("write"); exit(2); }
    if (n < 0) { perror("read"); exit(2); }
    close(out);
    close(fd);
    printf("%02d %d %s\n", saved, target, how);
    saved++;
}

static int opendir_fd(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) { perror(path); exit(2); }
    return fd;
}

int main(void) {
    if (!getcwd(directory, sizeof directory)) return 2;
    int gate[2];
    if (pipe(gate) != 0) return 2;
    pid_t child = fork();
    if (child < 0) return 2;
    if (child == 0) {
        close(gate[1]);
        char byte;
        while (read(gate[0], &byte, 1) > 0) {}
        _exit(0);
    }
    close(gate[0]);
    pid_t self = getpid();
    char path[128], relative[128];

    int selfDir = opendir_fd("/proc/self");
    save(openat(selfDir, "maps", O_RDONLY), self, "self-dirfd");
    close(selfDir);

    snprintf(path, sizeof path, "/proc/%d", child);
    int childDir = opendir_fd(path);
    save(openat(childDir, "maps", O_RDONLY), child, "child-dirfd");

    snprintf(path, sizeof path, "/proc/%d/task/%d", child, child);
    int taskDir = opendir_fd(path);
    save(openat(taskDir, "maps", O_RDONLY), child, "child-task-dirfd");
    close(taskDir);

    int threadDir = opendir_fd("/proc/thread-self");
    save(openat(threadDir, "smaps", O_RDONLY), self, "thread-self-dirfd-smaps");
    close(threadDir);

    int procDir = opendir_fd("/proc");
    snprintf(relative, sizeof relative, "%d/maps", child);
    save(openat(procDir, relative, O_RDONLY), child, "proc-dirfd");
    close(procDir);

    int copy = dup(childDir);
    save(openat(copy, "./maps", O_RDONLY), child, "dup-dirfd");
    close(copy);

    int tasks = opendir_fd("/proc/self/task");
    snprintf(relative, sizeof relative, "../../%d/maps", child);
    save(openat(tasks, relative, O_RDONLY), child, "dotdot-dirfd");
    close(tasks);

    /* Not a maps file: followed by nobody. */
    char status[256];
    int statusFD = openat(childDir, "status", O_RDONLY);
    if (statusFD < 0 || read(statusFD, status, sizeof status) <= 0) { perror("status"); return 2; }
    close(statusFD);
    close(childDir);

    snprintf(path, sizeof path, "/proc/%d", child);
    if (chdir(path) != 0) { perror("chdir"); return 2; }
    save(open("maps", O_RDONLY), child, "cwd");
    snprintf(relative, sizeof relative, "../%d/maps", self);
    save(openat(AT_FDCWD, relative, O_RDONLY), self, "cwd-dotdot");

    snprintf(path, sizeof path, "/proc//%d/./maps", self);
    save(open(path, O_RDONLY), self, "absolute-unnormalized");

    close(gate[1]);
    int status_;
    waitpid(child, &status_, 0);
    return WIFEXITED(status_) && WEXITSTATUS(status_) == 0 ? 0 : 3;
}
