/* procmap-query: opens /proc/self/maps, asks PROCMAP_QUERY (Linux 6.11+)
 * for the mapping that holds main's code, then reads the file whole with
 * read(2). Prints "query RESULT ERRNO START END" and "read BYTES". With
 * the argument "query-only" it never reads. The struct is in
 * procmap-query.h (older headers lack it). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "procmap-query.h"

int main(int argc, char **argv) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 2; }
    struct query q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uint64_t)(uintptr_t)&main;
    int result = ioctl(fd, QUERY_REQUEST, &q);
    printf("query %d %d %llx %llx\n", result, result == 0 ? 0 : errno, (unsigned long long)q.vma_start,
           (unsigned long long)q.vma_end);
    if (argc > 1 && strcmp(argv[1], "query-only") == 0) { close(fd); return 0; }
    static char buffer[4096];
    long total = 0, n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) total += n;
    close(fd);
    printf("read %ld\n", total);
    return n < 0 ? 2 : 0;
}
