/* The fast path of `mapsrace record -- CMD` (docs/recording.md): loaded into
   traced programs with LD_PRELOAD, it interposes the hot mutations
   (mprotect, pkey_mprotect, munmap, anonymous mmap, mremap, madvise), makes
   each one from a trampoline page whose `syscall` instruction the seccomp
   filter lets through without a ptrace stop, and logs it into a per-process
   ring the tracer drains with process_vm_readv.

   Per call: no allocation, no lock (one compare-and-swap to claim a slot), no
   formatting, no I/O; two CLOCK_MONOTONIC reads (vDSO) and a gettid.
   Whatever this library does not take (file-backed mmap, a full ring, a
   process where the fixed addresses are taken, any call that does not come
   through these wrappers) is made with libc's syscall(), which the filter
   traces: the ptrace path, as without the library. */
#define _GNU_SOURCE
#include "mapsrace_fastpath.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)

/* mov %rdi,%rax; mov %rsi,%rdi; mov %rdx,%rsi; mov %rcx,%rdx; mov %r8,%r10;
   mov %r9,%r8; mov 8(%rsp),%r9; syscall; ret -- a C-callable
   long f(long nr, long a0, ..., long a5). */
static const unsigned char trampoline_code[] = {
    0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6, 0x48, 0x89, 0xca, 0x4d, 0x89, 0xc2,
    0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05, 0xc3,
};
_Static_assert(sizeof trampoline_code == MAPSRACE_TRAMPOLINE_SYSCALL_END_OFFSET + 1, "syscall; ret at the end");

typedef long (*trampoline_fn)(long, long, long, long, long, long, long);

static struct mapsrace_ring_header *ring_header;
static struct mapsrace_ring_record *ring_records;
static uint64_t ring_capacity;
static uint64_t reserved_end;

static inline uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

/* A call that touches the trampoline or the ring takes the traced path: the
   tracer then sees it (and the program gets what the kernel does). */
static inline int touches_reserved(uint64_t start, uint64_t length) {
    uint64_t end = start + length;
    return end < start || (start < reserved_end && end > MAPSRACE_TRAMPOLINE_ADDRESS);
}

static inline long as_libc_result(long raw) {
    if (raw < 0 && raw > -4096) {
        errno = (int)-raw;
        return -1;
    }
    return raw;
}

static long traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return syscall(nr, a0, a1, a2, a3, a4, a5);
}

/* A call that touches the trampoline or the ring may unmap, replace or
   protect them: the fast path ends here for the whole process (later calls
   would write into memory that is no longer the ring, or fault), before the
   call is made on the traced path. The tracer drains the ring at that call's
   entry stop. */
static long traced_touching_reserved(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    __atomic_store_n(&ring_header, NULL, __ATOMIC_RELEASE);
    return traced(nr, a0, a1, a2, a3, a4, a5);
}

/* The fast path: claim a slot, make the syscall from the trampoline, fill the
   slot, commit it. Falls back to the traced path when the ring is full. */
static long logged(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    struct mapsrace_ring_header *header = __atomic_load_n(&ring_header, __ATOMIC_ACQUIRE);
    if (header == NULL) return traced(nr, a0, a1, a2, a3, a4, a5);
    uint64_t sequence = __atomic_load_n(&header->head, __ATOMIC_RELAXED);
    for (;;) {
        uint64_t drained = __atomic_load_n(&header->drained, __ATOMIC_ACQUIRE);
        if (sequence - drained >= ring_capacity) return traced(nr, a0, a1, a2, a3, a4, a5);
        if (__atomic_compare_exchange_n(&header->head, &sequence, sequence + 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            break;
    }
    struct mapsrace_ring_record *record = &ring_records[sequence & (ring_capacity - 1)];
    trampoline_fn trampoline = (trampoline_fn)(uintptr_t)MAPSRACE_TRAMPOLINE_ADDRESS;
    uint64_t t_begin = monotonic_ns();
    long raw = trampoline(nr, a0, a1, a2, a3, a4, a5);
    uint64_t t_end = monotonic_ns();
    record->number = (uint32_t)nr;
    record->tid = (uint32_t)syscall(SYS_gettid);
    record->args[0] = (uint64_t)a0;
    record->args[1] = (uint64_t)a1;
    record->args[2] = (uint64_t)a2;
    record->args[3] = (uint64_t)a3;
    record->args[4] = (uint64_t)a4;
    record->args[5] = (uint64_t)a5;
    record->result = raw;
    record->t_begin = t_begin;
    record->t_end = t_end;
    __atomic_store_n(&record->commit, sequence + 1, __ATOMIC_RELEASE);
    return raw;
}

int mprotect(void *address, size_t length, int protection) {
    if (touches_reserved((uint64_t)(uintptr_t)address, length))
        return (int)as_libc_result(traced_touching_reserved(SYS_mprotect, (long)address, (long)length, protection, 0, 0, 0));
    return (int)as_libc_result(logged(SYS_mprotect, (long)address, (long)length, protection, 0, 0, 0));
}

int pkey_mprotect(void *address, size_t length, int protection, int key) {
    /* As glibc's wrapper: key -1 is a plain mprotect. */
    if (key == -1) return mprotect(address, length, protection);
    if (touches_reserved((uint64_t)(uintptr_t)address, length))
        return (int)as_libc_result(traced_touching_reserved(SYS_pkey_mprotect, (long)address, (long)length, protection, key, 0, 0));
    return (int)as_libc_result(logged(SYS_pkey_mprotect, (long)address, (long)length, protection, key, 0, 0));
}

int munmap(void *address, size_t length) {
    if (touches_reserved((uint64_t)(uintptr_t)address, length))
        return (int)as_libc_result(traced_touching_reserved(SYS_munmap, (long)address, (long)length, 0, 0, 0, 0));
    return (int)as_libc_result(logged(SYS_munmap, (long)address, (long)length, 0, 0, 0, 0));
}

int madvise(void *address, size_t length, int advice) {
    if (touches_reserved((uint64_t)(uintptr_t)address, length))
        return (int)as_libc_result(traced_touching_reserved(SYS_madvise, (long)address, (long)length, advice, 0, 0, 0));
    return (int)as_libc_result(logged(SYS_madvise, (long)address, (long)length, advice, 0, 0, 0));
}

void *mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset) {
    long raw;
    /* A file-backed mapping stays on the traced path: its file identity is
       read at the entry stop. */
    if (touches_reserved((uint64_t)(uintptr_t)address, length))
        raw = traced_touching_reserved(SYS_mmap, (long)address, (long)length, protection, flags, fd, (long)offset);
    else if (!(flags & MAP_ANONYMOUS))
        raw = traced(SYS_mmap, (long)address, (long)length, protection, flags, fd, (long)offset);
    else
        raw = logged(SYS_mmap, (long)address, (long)length, protection, flags, fd, (long)offset);
    return (void *)as_libc_result(raw);
}

void *mmap64(void *address, size_t length, int protection, int flags, int fd, off_t offset)
    __attribute__((alias("mmap")));

void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...) {
    long new_address = 0;
    if (flags & MREMAP_FIXED) {
        va_list more;
        va_start(more, flags);
        new_address = (long)va_arg(more, void *);
        va_end(more);
    }
    long raw;
    if (touches_reserved((uint64_t)(uintptr_t)old_address, old_size)
        || ((flags & MREMAP_FIXED) && touches_reserved((uint64_t)new_address, new_size)))
        raw = traced_touching_reserved(SYS_mremap, (long)old_address, (long)old_size, (long)new_size, flags, new_address, 0);
    else
        raw = logged(SYS_mremap, (long)old_address, (long)old_size, (long)new_size, flags, new_address, 0);
    return (void *)as_libc_result(raw);
}

/* Maps the trampoline and the ring at their fixed addresses (through the
   traced path, so the tracer logs both mappings and learns of the ring).
   Without them the wrappers above only forward to the traced path. */
__attribute__((constructor)) static void mapsrace_fast_path_start(void) {
    const char *wanted = getenv(MAPSRACE_RING_RECORDS_VARIABLE);
    if (wanted == NULL) return;
    uint64_t capacity = strtoull(wanted, NULL, 10);
    if (capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity > (1ULL << 24)) return;
    long page = syscall(SYS_mmap, (long)MAPSRACE_TRAMPOLINE_ADDRESS, 4096L, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1L, 0L);
    if (page != (long)MAPSRACE_TRAMPOLINE_ADDRESS) {
        if (page != -1) syscall(SYS_munmap, page, 4096L);
        return;
    }
    memcpy((void *)(uintptr_t)MAPSRACE_TRAMPOLINE_ADDRESS, trampoline_code, sizeof trampoline_code);
    if (syscall(SYS_mprotect, page, 4096L, PROT_READ | PROT_EXEC) != 0) {
        syscall(SYS_munmap, page, 4096L);
        return;
    }
    uint64_t bytes = MAPSRACE_RING_HEADER_BYTES + capacity * sizeof(struct mapsrace_ring_record);
    long ring = syscall(SYS_mmap, (long)MAPSRACE_RING_ADDRESS, (long)bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1L, 0L);
    if (ring != (long)MAPSRACE_RING_ADDRESS) {
        if (ring != -1) syscall(SYS_munmap, ring, (long)bytes);
        syscall(SYS_munmap, page, 4096L);
        return;
    }
    struct mapsrace_ring_header *header = (struct mapsrace_ring_header *)(uintptr_t)MAPSRACE_RING_ADDRESS;
    header->capacity = capacity;
    header->record_bytes = sizeof(struct mapsrace_ring_record);
    __atomic_store_n(&header->magic, MAPSRACE_RING_MAGIC, __ATOMIC_RELEASE);
    ring_records = (struct mapsrace_ring_record *)(uintptr_t)(MAPSRACE_RING_ADDRESS + MAPSRACE_RING_HEADER_BYTES);
    ring_capacity = capacity;
    reserved_end = MAPSRACE_RING_ADDRESS + bytes;
    __atomic_store_n(&ring_header, header, __ATOMIC_RELEASE);
}

#endif

/* SwiftPM links this library with swiftc, which adds the Swift runtime
   (-lswiftCore, and swiftrt.o unless -nostartfiles, see Package.swift). This
   object needs none of it: an autolink entry (read by swift-autolink-extract,
   placed before -lswiftCore on the link line) turns on --as-needed, so the
   library's only dependency is libc and a traced program loads nothing else. */
__attribute__((section(".swift1_autolink_entries"), used)) static const char mapsrace_link_as_needed[] = "-Wl,--as-needed";
