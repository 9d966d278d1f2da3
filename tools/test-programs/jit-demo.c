/* jit-demo: THREADS threads (argv[1], default 4) that each map, protect and
 * unmap pages ROUNDS times (argv[2], default 200), concurrently, the way a
 * JIT's code cache churns, then stays LINGER milliseconds (argv[3], default 0)
 * with its mappings in place. It never reads a maps file itself. Exits 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int rounds = 200;

static void *churn(void *argument) {
    (void)argument;
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < rounds; i++) {
        char *code = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (code == MAP_FAILED) { perror("mmap"); exit(1); }
        code[0] = (char)i;
        if (mprotect(code, 2 * page, PROT_READ | PROT_EXEC) != 0) { perror("mprotect"); exit(1); }
        if (munmap(code, 4 * page) != 0) { perror("munmap"); exit(1); }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2) rounds = atoi(argv[2]);
    if (threads < 1 || threads > 64 || rounds < 1) return 64;
    pthread_t ids[64];
    for (int t = 0; t < threads; t++)
        if (pthread_create(&ids[t], NULL, churn, NULL) != 0) { perror("pthread_create"); return 1; }
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    int linger = argc > 3 ? atoi(argv[3]) : 0;
    if (linger > 0) usleep((useconds_t)linger * 1000);
    printf("jit-demo threads=%d rounds=%d\n", threads, rounds);
    return 0;
}
