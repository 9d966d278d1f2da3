/* raw-reader: reads /proc/PID/maps (PID = argv[1], or itself) with raw
 * read(2) syscalls of SIZE bytes (argv[2], default 1000), not through libc's
 * read wrapper, as Breakpad and the sanitizers do. Prints the bytes read. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char path[64];
    if (argc > 1) snprintf(path, sizeof path, "/proc/%s/maps", argv[1]);
    else snprintf(path, sizeof path, "/proc/self/maps");
    long size = argc > 2 ? atol(argv[2]) : 1000;
    static char buffer[1 << 20];
    if (size <= 0 || size > (long)sizeof buffer) return 64;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    long n, total = 0;
    while ((n = syscall(SYS_read, fd, buffer, size)) > 0) total += n;
    syscall(SYS_close, fd);
    printf("raw-reader bytes=%ld\n", total);
    return n < 0 ? 1 : 0;
}
