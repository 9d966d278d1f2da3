/*
 * rolling-mmap: the seed's rolling-mprotect experiment as a plain C program,
 * with no logging at all, for comparing mapsrace's recording cost with what
 * strace costs on the same workload (tools/bench-record.sh).
 *
 * Same workload as `mapsrace record --workload rolling`: an arena of N
 * private anonymous PROT_NONE pages (MAP_NORESERVE) between two shared guard
 * pages, even pages PROT_READ, the page order shuffled with SplitMix64 +
 * Fisher-Yates (the same seed gives the same order as mapsrace), the first
 * page read-write, then for i in 1..N-1: page i read-write, page i-1 none.
 * A forked reader reads /proc/<mutator>/maps K times back to back with the
 * chosen strategy while the loop runs, using real stdio FILEs.
 *
 *   cc -O2 -o rolling-mmap tools/rolling-mmap.c
 *   ./rolling-mmap [--pages N] [--snapshots K] [--seed S] [--reader chromium|pmap|cat|read:SIZE]
 *
 * Prints two lines: the reader's "reader bytes=B" (bytes read over all
 * snapshots), then "pages=N seed=S reader=R snapshots=K mutator_loop_ns=T".
 * A bad or missing option value is a usage error (exit 64).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix_state;

static uint64_t splitmix_next(void) {
    uint64_t z = (splitmix_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound): Lemire's multiply-and-reject, as mapsrace does it. */
static uint64_t splitmix_below(uint64_t bound) {
    unsigned __int128 product = (unsigned __int128)splitmix_next() * bound;
    if ((uint64_t)product < bound) {
        uint64_t threshold = (0 - bound) % bound;
        while ((uint64_t)product < threshold) {
            product = (unsigned __int128)splitmix_next() * bound;
        }
    }
    return (uint64_t)(product >> 64);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* One snapshot, Chromium's ReadFileToString on a size-0 file. */
static size_t read_chromium(const char *path, char *chunk) {
    FILE *file = fopen(path, "r");
    if (file == NULL) die("fopen maps");
    size_t total = 0, size = 4096, got;
    while ((got = fread(chunk, 1, size, file)) > 0) {
        total += got;
        if (got < size || feof(file)) break;
        size = 65536;
    }
    fclose(file);
    return total;
}

/* One snapshot, procps pmap's fgets loop. */
static size_t read_pmap(const char *path, char *line) {
    FILE *file = fopen(path, "r");
    if (file == NULL) die("fopen maps");
    size_t total = 0;
    while (fgets(line, 1024, file) != NULL) total += strlen(line);
    fclose(file);
    return total;
}

/* One snapshot, a read(2) loop of `size` bytes. */
static size_t read_plain(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open maps");
    size_t total = 0;
    ssize_t got;
    while ((got = read(fd, buffer, size)) > 0) total += (size_t)got;
    if (got < 0) die("read maps");
    close(fd);
    return total;
}

/* The largest read:SIZE, as in mapsrace. */
#define MAXIMUM_READ_SIZE 4194304ULL

static int usage(const char *program, const char *problem, const char *value) {
    if (problem != NULL) fprintf(stderr, "%s: %s%s\n", program, problem, value != NULL ? value : "");
    fprintf(stderr, "usage: %s [--pages N] [--snapshots K] [--seed S] [--reader chromium|pmap|cat|read:SIZE]\n", program);
    return 64;
}

/* A whole decimal number from `minimum` to `maximum`, nothing after it. */
static int parse_number(const char *text, unsigned long long minimum, unsigned long long maximum,
                        unsigned long long *value) {
    if (text[0] < '0' || text[0] > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || parsed < minimum || parsed > maximum) return -1;
    *value = parsed;
    return 0;
}

int main(int argc, char **argv) {
    unsigned long long pages = 65000, snapshots = 20, seed = 1;
    const char *reader = "chromium";
    for (int i = 1; i < argc; i += 2) {
        const char *option = argv[i];
        if (i + 1 >= argc) return usage(argv[0], "missing value for ", option);
        const char *value = argv[i + 1];
        int bad;
        if (strcmp(option, "--pages") == 0) bad = parse_number(value, 2, UINT32_MAX, &pages);
        else if (strcmp(option, "--snapshots") == 0) bad = parse_number(value, 1, 1000000, &snapshots);
        else if (strcmp(option, "--seed") == 0) bad = parse_number(value, 0, UINT64_MAX, &seed);
        else if (strcmp(option, "--reader") == 0) { reader = value; bad = 0; }
        else return usage(argv[0], "unknown option ", option);
        if (bad) return usage(argv[0], "bad value ", value);
    }
    size_t read_size = 0;
    if (strncmp(reader, "read:", 5) == 0) {
        unsigned long long size;
        if (parse_number(reader + 5, 1, MAXIMUM_READ_SIZE, &size) != 0)
            return usage(argv[0], "read:SIZE needs SIZE from 1 to 4194304, got ", reader);
        read_size = (size_t)size;
    } else if (strcmp(reader, "cat") == 0) {
        read_size = 131072;
    } else if (strcmp(reader, "chromium") != 0 && strcmp(reader, "pmap") != 0) {
        return usage(argv[0], "unknown reader ", reader);
    }

    size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
    uint32_t *order = malloc((size_t)pages * sizeof *order);
    char *read_buffer = malloc(read_size > 65536 ? read_size : 65536);
    if (order == NULL || read_buffer == NULL) die("malloc");
    for (unsigned long long i = 0; i < pages; i++) order[i] = (uint32_t)i;
    splitmix_state = seed;
    for (unsigned long long i = pages - 1; i > 0; i--) {
        unsigned long long j = splitmix_below((uint64_t)i + 1);
        uint32_t swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }

    char *mapping = mmap(NULL, (size_t)(pages + 2) * page_size, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) die("mmap arena");
    if (mmap(mapping, page_size, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
        mmap(mapping + (size_t)(pages + 1) * page_size, page_size, PROT_NONE,
             MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
        die("mmap guard");
    char *arena = mapping + page_size;
    for (unsigned long long i = 0; i < pages; i += 2)
        if (mprotect(arena + (size_t)i * page_size, page_size, PROT_READ) != 0) die("mprotect read");
    if (mprotect(arena + (size_t)order[0] * page_size, page_size, PROT_READ | PROT_WRITE) != 0)
        die("mprotect read-write");

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)getpid());
    int ready[2];
    if (pipe(ready) != 0) die("pipe");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        close(ready[0]);
        if (write(ready[1], "r", 1) != 1) _exit(1);
        close(ready[1]);
        size_t total = 0;
        for (unsigned long long k = 0; k < snapshots; k++) {
            if (read_size > 0) total += read_plain(path, read_buffer, read_size);
            else if (strcmp(reader, "pmap") == 0) total += read_pmap(path, read_buffer);
            else total += read_chromium(path, read_buffer);
        }
        printf("reader bytes=%zu\n", total);
        fflush(stdout);
        _exit(0);
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) die("reader never got ready");
    close(ready[0]);

    uint64_t begin = now_ns();
    for (unsigned long long i = 1; i < pages; i++) {
        if (mprotect(arena + (size_t)order[i] * page_size, page_size, PROT_READ | PROT_WRITE) != 0)
            die("mprotect read-write");
        if (mprotect(arena + (size_t)order[i - 1] * page_size, page_size, PROT_NONE) != 0)
            die("mprotect none");
    }
    uint64_t end = now_ns();

    int status;
    if (waitpid(child, &status, 0) != child) die("waitpid");
    fflush(stdout);
    printf("pages=%llu seed=%llu reader=%s snapshots=%llu mutator_loop_ns=%" PRIu64 "\n",
           pages, seed, reader, snapshots, end - begin);
    munmap(mapping, (size_t)(pages + 2) * page_size);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
