/* procmap-walk: walks maps with PROCMAP_QUERY (Linux 6.11+) the way a
 * profiler does (COVERING_OR_NEXT from address 0, each next query at the
 * previous answer's end, until ENOENT), keeps the raw answers, and only
 * after the walk renders them as the maps lines the kernel prints
 * ("%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ", a named mapping padded to
 * column 72, a space and the name). Modes:
 *   self OUT          walk /proc/self/maps, write the text to OUT, then ask
 *                     one single query (the mapping of main), print
 *                     "walk QUERIES LINES" and "single RESULT ERRNO"
 *   child N PREFIX    fork a child that maps, protects and unmaps pages in a
 *                     loop; walk /proc/CHILD/maps N times, each text to
 *                     PREFIX-NN.txt; print "walk I QUERIES"
 *   smaps             one query on /proc/self/smaps (no ioctl there: what a
 *                     kernel without PROCMAP_QUERY answers), print
 *                     "smaps RESULT ERRNO"
 *   einval            two queries the kernel refuses (size 16, an unknown
 *                     query flag), print "einval RESULT ERRNO" for each
 *   noname            a walk of /proc/self/maps that asks for no names,
 *                     print "noname QUERIES LINES"
 *   walks N           N walks of /proc/self/maps, nothing written (for
 *                     tools/bench-procmap-query.sh), print "walks QUERIES"
 * The struct is declared in procmap-query.h: older headers lack it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procmap-query.h"

#define MAX_ANSWERS 4096
#define NAME_ROOM 4097

static struct query answers[MAX_ANSWERS];
static char names[MAX_ANSWERS][NAME_ROOM];

/* One walk into answers[]: the number of answers, -1 on an error other than ENOENT. */
static int names_asked = 1;

static int walk(int fd, int *queries) {
    uint64_t address = 0;
    int count = 0;
    *queries = 0;
    while (count < MAX_ANSWERS) {
        struct query *q = &answers[count];
        memset(q, 0, sizeof *q);
        q->size = sizeof *q;
        q->query_flags = COVERING_OR_NEXT;
        q->query_addr = address;
        if (names_asked) {
            q->vma_name_addr = (uint64_t)(uintptr_t)names[count];
            q->vma_name_size = NAME_ROOM;
        }
        int result = ioctl(fd, QUERY_REQUEST, q);
        (*queries)++;
        if (result != 0) return errno == ENOENT ? count : -1;
        address = q->vma_end;
        count++;
    }
    return -1;
}

static void render(FILE *out, int count) {
    for (int i = 0; i < count; i++) {
        struct query *q = &answers[i];
        char line[8192];
        int n = snprintf(line, sizeof line, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
                         (unsigned long long)q->vma_start, (unsigned long long)q->vma_end,
                         q->vma_flags & 1 ? 'r' : '-', q->vma_flags & 2 ? 'w' : '-', q->vma_flags & 4 ? 'x' : '-',
                         q->vma_flags & 8 ? 's' : 'p', (unsigned long long)q->vma_offset, q->dev_major, q->dev_minor,
                         (unsigned long long)q->inode);
        if (q->vma_name_size > 0) {
            while (n < 72) line[n++] = ' ';
            line[n++] = ' ';
            memcpy(line + n, names[i], q->vma_name_size - 1);
            n += q->vma_name_size - 1;
        }
        line[n++] = '\n';
        fwrite(line, 1, n, out);
    }
}

static int write_walk(const char *path, int count) {
    FILE *out = fopen(path, "w");
    if (!out) { perror(path); return 2; }
    render(out, count);
    fclose(out);
    return 0;
}

static void mutate_forever(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *area = mmap(NULL, 64 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) _exit(3);
    for (unsigned i = 0;; i++) {
        int slot = (i * 7) % 64;
        mprotect(area + slot * page, page, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE);
        if (i % 5 == 0) {
            munmap(area + ((slot + 3) % 64) * page, page);
            mmap(area + ((slot + 3) % 64) * page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: procmap-walk self OUT | child N PREFIX | smaps | einval\n"); return 2; }
    if (strcmp(argv[1], "self") == 0 && argc == 3) {
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 2; }
        int queries;
        int count = walk(fd, &queries);
        if (count < 0) { perror("PROCMAP_QUERY"); return 2; }
        struct query single;
        memset(&single, 0, sizeof single);
        single.size = sizeof single;
        single.query_addr = (uint64_t)(uintptr_t)&main;
        int result = ioctl(fd, QUERY_REQUEST, &single);
        printf("single %d %d\n", result, result == 0 ? 0 : errno);
        close(fd);
        printf("walk %d %d\n", queries, count);
        return write_walk(argv[2], count);
    }
    if (strcmp(argv[1], "child") == 0 && argc == 4) {
        int walks = atoi(argv[2]);
        pid_t child = fork();
        if (child < 0) { perror("fork"); return 2; }
        if (child == 0) mutate_forever();
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/maps", child);
        usleep(20000);
        int status = 0;
        for (int i = 0; i < walks && status == 0; i++) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) { perror("open"); status = 2; break; }
            int queries;
            int count = walk(fd, &queries);
            close(fd);
            if (count < 0) { perror("PROCMAP_QUERY"); status = 2; break; }
            printf("walk %d %d\n", i, queries);
            char out[4096];
            snprintf(out, sizeof out, "%s-%02d.txt", argv[3], i);
            status = write_walk(out, count);
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return status;
    }
    if (strcmp(argv[1], "smaps") == 0) {
        int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 2; }
        struct query q;
        memset(&q, 0, sizeof q);
        q.size = sizeof q;
        q.query_flags = COVERING_OR_NEXT;
        int result = ioctl(fd, QUERY_REQUEST, &q);
        printf("smaps %d %d\n", result, result == 0 ? 0 : errno);
        close(fd);
        return 0;
    }
    if (strcmp(argv[1], "einval") == 0) {
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 2; }
        struct query q;
        memset(&q, 0, sizeof q);
        q.size = 16;
        q.query_flags = COVERING_OR_NEXT;
        int result = ioctl(fd, QUERY_REQUEST, &q);
        printf("einval %d %d\n", result, result == 0 ? 0 : errno);
        memset(&q, 0, sizeof q);
        q.size = sizeof q;
        q.query_flags = COVERING_OR_NEXT | 0x8000;
        result = ioctl(fd, QUERY_REQUEST, &q);
        printf("einval %d %d\n", result, result == 0 ? 0 : errno);
        close(fd);
        return 0;
    }
    if (strcmp(argv[1], "walks") == 0 && argc == 3) {
        int walks = atoi(argv[2]), total = 0;
        for (int i = 0; i < walks; i++) {
            int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
            if (fd < 0) { perror("open"); return 2; }
            int queries;
            int count = walk(fd, &queries);
            close(fd);
            if (count < 0) { perror("PROCMAP_QUERY"); return 2; }
            total += queries;
        }
        printf("walks %d\n", total);
        return 0;
    }
    if (strcmp(argv[1], "noname") == 0) {
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 2; }
        names_asked = 0;
        int queries;
        int count = walk(fd, &queries);
        close(fd);
        printf("noname %d %d\n", queries, count);
        return count < 0 ? 2 : 0;
    }
    fprintf(stderr, "procmap-walk: unknown mode %s\n", argv[1]);
    return 2;
}
