/* The read loops of the tools mapsrace's --reader profiles follow, written
 * as plain C from the tools' sources (docs/readers.md names each file), for
 * comparing request sizes under strace with the reader process's
 * (Tests/MapsRecorderTests/ToolProfileStraceTests.swift).
 *
 *   reader-loops TOOL PATH   read PATH the way TOOL reads the maps, once
 *   reader-loops hold LINES  map LINES separate pages, then wait for a signal
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *area; /* room for every byte any loop reads */
#define AREA_BYTES (128u << 20)

static int open_or_die(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror(path); exit(1); }
    return fd;
}

/* read(2) of `request` bytes until end of file (crashpad 4096, hotspot 32,
 * perf 8192). */
static void fixed(const char *path, size_t request) {
    int fd = open_or_die(path);
    char *buffer = malloc(request);
    while (read(fd, buffer, request) > 0) {}
    free(buffer);
    close(fd);
}

/* Breakpad's LineReader: hand out every whole line first; read only when
 * none is left, into what the partial line leaves of 512 bytes. */
static void breakpad(const char *path) {
    int fd = open_or_die(path);
    char buffer[512];
    size_t used = 0;
    for (;;) {
        char *newline;
        while ((newline = memchr(buffer, '\n', used)) != NULL) {
            size_t length = (size_t)(newline - buffer) + 1;
            memmove(buffer, buffer + length, used - length);
            used -= length;
        }
        if (used == sizeof buffer) break;
        ssize_t got = read(fd, buffer + used, sizeof buffer - used);
        if (got <= 0) break;
        used += (size_t)got;
    }
    close(fd);
}

/* DynamoRIO's maps iterator: 4103 bytes first; when no whole line is left,
 * move the partial line to the front and read as many bytes as were used. */
static void dynamorio(const char *path) {
    static char buffer[4103 + 1];
    int fd = open_or_die(path);
    ssize_t got = read(fd, buffer, 4103);
    size_t filled = got > 0 ? (size_t)got : 0;
    while (got > 0) {
        char *last = memrchr(buffer, '\n', filled);
        if (last == NULL) break;
        size_t used = (size_t)(last - buffer) + 1, partial = filled - used;
        memmove(buffer, buffer + used, partial);
        got = read(fd, buffer + partial, used);
        if (got <= 0) break;
        filled = partial + (size_t)got;
    }
    close(fd);
}

/* The sanitizers' ReadFileToBuffer: a one-page buffer filled with reads of
 * what is left of it; when it fills before end of file, reopen with twice
 * the size (64 MiB at most). */
static void sanitizer(const char *path) {
    const size_t most = 1u << 26;
    for (size_t size = 4096;; size = size * 2 < most ? size * 2 : most) {
        int fd = open_or_die(path);
        size_t length = 0;
        int at_end = 0;
        while (length < size) {
            ssize_t got = read(fd, area + length, size - length);
            if (got < 0) exit(1);
            length += (size_t)got;
            if (got == 0 || length == most) { at_end = 1; break; }
        }
        close(fd);
        if (at_end) break;
    }
}

/* Go's growslice for bytes: the capacity append gives a full slice. */
static size_t go_next_capacity(size_t old_capacity, size_t needed) {
    static const size_t classes[] = {
        8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384,
        416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688,
        3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288,
        13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};
    size_t capacity = old_capacity;
    if (needed > 2 * capacity) capacity = needed;
    else if (old_capacity < 256) capacity = 2 * capacity;
    else while (capacity < needed) capacity += (capacity + 3 * 256) / 4;
    if (capacity <= 32768) {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
            if (classes[i] >= capacity) return classes[i];
    }
    return (capacity + 8191) / 8192 * 8192;
}

/* Go's os.ReadFile for a file whose stat size is 0. */
static void go(const char *path) {
    int fd = open_or_die(path);
    size_t capacity = 512, length = 0;
    for (;;) {
        if (length >= capacity) capacity = go_next_capacity(capacity, capacity + 1);
        ssize_t got = read(fd, area + length, capacity - length);
        if (got <= 0) break;
        length += (size_t)got;
    }
    close(fd);
}

/* gdb's target_fileio_read_alloc_1 with one byte of padding (stralloc). */
static void gdb(const char *path) {
    int fd = open_or_die(path);
    size_t allocated = 4096, position = 0;
    for (;;) {
        ssize_t got = pread(fd, area + position, allocated - position - 1, (off_t)position);
        if (got <= 0) break;
        position += (size_t)got;
        if (allocated < position * 2) allocated *= 2;
    }
    close(fd);
}

/* Valgrind's read_procselfmaps_into_buf. */
static void valgrind(const char *path) {
    static char buffer[100000];
    int fd = open_or_die(path);
    size_t total = 0;
    ssize_t got;
    do {
        got = read(fd, buffer + total, sizeof buffer - total);
        if (got >= 0) total += (size_t)got;
    } while (got > 0 && total < sizeof buffer);
    close(fd);
}

static void hold(int lines) {
    long page = sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, (size_t)page * (size_t)lines * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) { perror("mmap"); exit(1); }
    for (int i = 0; i < lines; i++) mprotect(base + (size_t)i * 2 * (size_t)page, (size_t)page, PROT_READ);
    printf("ready\n");
    fflush(stdout);
    pause();
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s TOOL PATH | hold LINES\n", argv[0]); return 64; }
    const char *tool = argv[1], *path = argv[2];
    if (strcmp(tool, "hold") == 0) { hold(atoi(path)); return 0; }
    area = mmap(NULL, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) { perror("mmap"); return 1; }
    if (strcmp(tool, "crashpad") == 0) fixed(path, 4096);
    else if (strcmp(tool, "hotspot") == 0) fixed(path, 32);
    else if (strcmp(tool, "perf") == 0) fixed(path, 8192);
    else if (strcmp(tool, "breakpad") == 0) breakpad(path);
    else if (strcmp(tool, "dynamorio") == 0) dynamorio(path);
    else if (strcmp(tool, "sanitizer") == 0) sanitizer(path);
    else if (strcmp(tool, "go") == 0) go(path);
    else if (strcmp(tool, "gdb") == 0) gdb(path);
    else if (strcmp(tool, "valgrind") == 0) valgrind(path);
    else { fprintf(stderr, "unknown tool %s\n", tool); return 64; }
    return 0;
}
