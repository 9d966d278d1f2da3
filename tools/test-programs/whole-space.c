/* whole-space: changes lines all over its address space, not only in an
 * anonymous arena, and reads its own maps in small reads between changes.
 *
 *   whole-space FILE [ROUNDS] [fallback]
 *
 * It maps FILE (created, 16 pages) shared and privately, grows the heap with
 * sbrk, mprotects pages of the file mapping and of the heap, shrinks the
 * heap, grows its stack by touching 1 MiB below it (no syscall explains
 * that line), then forks a child that changes its own copy differently
 * (unmaps the private file mapping, protects part of the file mapping and
 * of the heap, grows the heap) and reads its own maps too. Every read of
 * /proc/self/maps is 64-byte read(2)s from offset 0 to end of file.
 *
 * With `fallback`, the child also puts two anonymous mappings it has
 * touched (so each has its own anon_vma) side by side with mremap: the
 * kernel keeps them two lines, which the syscalls cannot tell apart from
 * one, so the exact line model does not validate.
 *
 * No stdio or malloc: the heap is only what sbrk makes. Exits 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char *what) {
    write(2, what, strlen(what));
    write(2, " failed\n", 8);
    _exit(1);
}

static void read_self(size_t chunk) {
    char buffer[256];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open /proc/self/maps");
    ssize_t got;
    while ((got = read(fd, buffer, chunk)) > 0) {}
    if (got < 0) fail("read");
    close(fd);
}

static __attribute__((noinline)) void grow_stack(size_t bytes) {
    volatile char *below = alloca(bytes);
    for (size_t i = 0; i < bytes; i += 4096) below[i] = 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "whole-space.data";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    int fallback = argc > 3 && strcmp(argv[3], "fallback") == 0;
    long page = sysconf(_SC_PAGESIZE);

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 16 * page) != 0) fail("create the file");
    char *shared = mmap(NULL, 16 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *private = mmap(NULL, 8 * page, PROT_READ, MAP_PRIVATE, fd, 4 * page);
    if (shared == MAP_FAILED || private == MAP_FAILED) fail("mmap the file");
    shared[0] = 1;

    char *grown = sbrk(32 * page);
    if (grown == (void *)-1) fail("sbrk");
    char *heap = (char *)(((uintptr_t)grown + page - 1) & ~(uintptr_t)(page - 1));
    memset(heap, 1, 16 * page);

    read_self(64);
    for (int r = 0; r < rounds; r++) {
        if (mprotect(shared + (r % 8) * page, page, PROT_READ) != 0) fail("mprotect file");
        if (mprotect(heap + (r % 8) * page, page, PROT_READ) != 0) fail("mprotect heap");
        read_self(64);
        if (mprotect(shared + (r % 8) * page, page, PROT_READ | PROT_WRITE) != 0) fail("mprotect file back");
        if (r % 2 == 0 && mprotect(heap + (r % 8) * page, page, PROT_READ | PROT_WRITE) != 0) fail("mprotect heap back");
    }
    if (sbrk(-8 * page) == (void *)-1) fail("sbrk shrink");
    grow_stack(1 << 20);
    read_self(64);

    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        if (munmap(private, 8 * page) != 0) fail("munmap");
        if (mprotect(shared + 4 * page, 4 * page, PROT_NONE) != 0) fail("child mprotect file");
        if (sbrk(16 * page) == (void *)-1) fail("child sbrk");
        if (mprotect(heap + 2 * page, page, PROT_NONE) != 0) fail("child mprotect heap");
        for (int r = 0; r < rounds; r++) {
            read_self(100);
            if (mprotect(shared + 12 * page, page, r % 2 ? PROT_READ : PROT_NONE) != 0) fail("child toggle");
        }
        if (fallback) {
            char *a = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            char *b = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (a == MAP_FAILED || b == MAP_FAILED) fail("mmap anonymous");
            a[0] = 1;
            b[0] = 1;
            if (munmap(a + 2 * page, 2 * page) != 0) fail("munmap half");
            if (mremap(b, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, a + 2 * page) == MAP_FAILED) fail("mremap");
            read_self(100);
        }
        _exit(0);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("the child");
    read_self(64);
    return 0;
}
