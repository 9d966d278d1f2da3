/* shm-names: attaches SysV shared memory and names anonymous memory, and
 * reads its own maps in 64-byte read(2)s between the changes.
 *
 *   shm-names
 *
 * 1. A private segment of 3 pages + 100 bytes attached read-write, then
 *    again SHM_RDONLY; a second segment of 2 pages attached SHM_EXEC.
 * 2. prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME): an 8-page private anonymous
 *    mapping named "alpha" on its first 4 pages, page 1 renamed "beta",
 *    page 2's name cleared (NULL), and a name "gamma" on a range spanning
 *    two adjacent mappings of different protection; one shared anonymous
 *    page named "delta". On a kernel without CONFIG_ANON_VMA_NAME every
 *    such call fails with EINVAL (and changes nothing).
 * 3. One page in the middle of the read-write attach unmapped (its line
 *    splits in two), the page above it made read-only and writable again
 *    (three lines), then every attach detached with shmdt (the first
 *    removes all its pieces) and both segments removed.
 *
 * Prints "shmid A B" and "prctl R1 R2 R3 R4 R5" (0 or errno) on stdout.
 * Exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif

static void fail(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, strerror(errno));
    exit(1);
}

static void read_self(void) {
    char buffer[64];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open /proc/self/maps");
    while (read(fd, buffer, sizeof buffer) > 0) {}
    close(fd);
}

static int name(void *start, size_t length, const char *text) {
    return prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)start, length, (unsigned long)text) == 0 ? 0 : errno;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    int a = shmget(IPC_PRIVATE, 3 * page + 100, IPC_CREAT | 0600);
    int b = shmget(IPC_PRIVATE, 2 * page, IPC_CREAT | 0600);
    if (a < 0 || b < 0) fail("shmget");
    char *rw = shmat(a, NULL, 0);
    if (rw == (void *)-1) fail("shmat");
    rw[0] = 1;
    read_self();
    char *ro = shmat(a, NULL, SHM_RDONLY);
    char *ex = shmat(b, NULL, SHM_EXEC);
    if (ro == (void *)-1 || ex == (void *)-1) fail("shmat");
    read_self();

    char *anon = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED) fail("mmap");
    /* Two adjacent mappings of different protection: two lines. */
    char *pair = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pair == MAP_FAILED) fail("mmap");
    if (mmap(pair + 2 * page, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
        fail("mmap fixed");
    char *shared = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) fail("mmap shared");
    int r1 = name(anon, 4 * page, "alpha");
    read_self();
    int r2 = name(anon + page, page, "beta");
    int r3 = name(anon + 2 * page, page, NULL);
    read_self();
    int r4 = name(pair + page, 2 * page, "gamma");
    int r5 = name(shared, page, "delta");
    read_self();

    if (munmap(rw + page, page) != 0) fail("munmap");
    read_self();
    /* Page 2 made read-only (cut off its line), then writable again (a
     * line of its own now: the kernel does not merge it back). */
    if (mprotect(rw + 2 * page, page, PROT_READ) != 0) fail("mprotect");
    read_self();
    if (mprotect(rw + 2 * page, page, PROT_READ | PROT_WRITE) != 0) fail("mprotect");
    read_self();
    if (shmdt(rw) != 0 || shmdt(ro) != 0 || shmdt(ex) != 0) fail("shmdt");
    read_self();
    shmctl(a, IPC_RMID, NULL);
    shmctl(b, IPC_RMID, NULL);
    printf("shmid %d %d\nprctl %d %d %d %d %d\n", a, b, r1, r2, r3, r4, r5);
    return 0;
}
