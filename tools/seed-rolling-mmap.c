/*
 * seed-rolling-mmap: the seed's own experiment (notes "Race conditions in
 * procfs", yakubin), its Linux listing unchanged: an arena of 65000 pages,
 * every other one PROT_READ, a shuffled rolling read-write page, a forked
 * child copying /proc/<parent>/maps 20 times to ./saved-maps-NN.txt with
 * Chromium's fread pattern (4 KiB, then 64 KiB), after one copy to
 * ./saved-maps.txt. It prints the arena's start and end.
 *
 * The listing in the notes leaves out its includes and two helpers
 * (`do_nothing`, the SIGCHLD handler, and `shuffle`, which shuffles the page
 * pointers and returns non-zero on failure); they are written here, marked
 * below. Everything between the markers is the listing as published.
 *
 *   cc -std=gnu11 -O2 -Wall -Wextra -o rolling-mmap tools/seed-rolling-mmap.c
 *   mapsrace record -- ./rolling-mmap      # snapshots = its saved-maps-NN.txt
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- not in the listing: its two helpers --- */
static void do_nothing(int signal) { (void)signal; }

/* Fisher-Yates with SplitMix64 seeded from the clock. */
static int shuffle(void **items, size_t count) {
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) { perror("clock_gettime"); return 1; }
    uint64_t state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32);
    for (size_t i = count - 1; i > 0; i--) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        size_t j = (size_t)(z % (i + 1));
        void *swap = items[i];
        items[i] = items[j];
        items[j] = swap;
    }
    return 0;
}
/* --- the listing, as published --- */

void linux_copy_maps_to_file(const char* dst, pid_t pid) {
    const size_t big_chunk_size = 1 << 16;
    const size_t small_chunk_size = 1 << 12;

    char maps_path[26] = {0};
    snprintf(maps_path, (sizeof maps_path) - 1, "/proc/%u/maps", (unsigned) pid);

    FILE* src_fp = fopen(maps_path, "r");
    if (src_fp == NULL) {
        perror("fopen");
        return;
    }

    FILE* dst_fp = fopen(dst, "w");
    if (dst_fp == NULL) {
        perror("fopen");
        return;
    }

    char chunk[big_chunk_size];
    for (size_t chunk_size = small_chunk_size; ; chunk_size = big_chunk_size) {
        size_t n = fread(chunk, 1, chunk_size, src_fp);
        if (0 < n) {
            size_t m = fwrite(chunk, 1, n, dst_fp);
            if (n != m) {
                fprintf(stderr, "fwrite failed\n");
                return;
            }
        }
        if (n < chunk_size) {
            if (ferror(src_fp)) {
                fprintf(stderr, "fread failed\n");
                return;
            }
            if (feof(src_fp)) {
                break;
            }
        }
    }

    if (fflush(dst_fp)) {
        perror("fflush");
        return;
    }

    fclose(src_fp);
    fclose(dst_fp);
}

#ifdef __linux__
#define copy_maps_to_file linux_copy_maps_to_file
#endif

void copy_maps_n_times(pid_t pid, int n) {
    assert(n < 100);
    for (int i = 0; i < n; i++) {
        char dstPathBuf[30] = {0};
        snprintf(dstPathBuf, sizeof dstPathBuf - 1, "./saved-maps-%02d.txt", i);
        copy_maps_to_file(dstPathBuf, pid);
    }
}

int main() {
    struct sigaction act = {0};
    act.sa_handler = do_nothing;
    if (sigaction(SIGCHLD, &act, NULL) != 0) {
        perror("sigaction");
        return 1;
    }

    pid_t pid = getpid();

    size_t pagesize = sysconf(_SC_PAGESIZE);
    size_t total = 65000;

    void** pages = mmap(NULL, total * sizeof *pages, PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) {
        perror("mmap");
        return 2;
    }

#ifdef MAP_NORESERVE
    int noreserve = MAP_NORESERVE;
#else
    int noreserve = 0;
#endif

    void* arena = mmap(NULL, total * pagesize, PROT_NONE,
            MAP_PRIVATE | MAP_ANONYMOUS | noreserve, -1, 0);
    if (pages == MAP_FAILED) {
        perror("mmap");
        return 3;
    }

    printf("%p %p\n", arena, arena + total * pagesize);

    for (size_t i = 0; i < total; i++) {
        pages[i] = arena + i * pagesize;
        if (i % 2 == 0 && mprotect(pages[i], pagesize, PROT_READ) != 0) {
            perror("mprotect read");
            return 4;
        }
    }

    if (shuffle(pages, total)) {
        return 5;
    }

    if (mprotect(pages[0], pagesize, PROT_READ | PROT_WRITE) != 0) {
        perror("mprotect prot_read_write");
        return 6;
    }

    copy_maps_to_file("./saved-maps.txt", pid);

    if (fork() == 0) {
        copy_maps_n_times(pid, 20);
        return 0;
    }

    int ret = 0;

    for (size_t i = 1; i < total; i++) {
        if (mprotect(pages[i], pagesize, PROT_READ | PROT_WRITE) != 0) {
            perror("mprotect prot_read_write");
            ret = 7;
            break;
        }
        if (mprotect(pages[i - 1], pagesize, PROT_NONE) != 0) {
            perror("mprotect prot_none");
            ret = 8;
            break;
        }
    }

    int child_pid;
    do {
        int stat_loc;
        child_pid = wait(&stat_loc);
    } while (child_pid < 0 && errno == EINTR);

    if (child_pid < 0) {
        perror("wait");
        ret = 9;
    }

    return ret;
}
