#ifndef MAPSRACE_FASTPATH_H
#define MAPSRACE_FASTPATH_H

// The contract between the fast-path preload library (MapsracePreload, loaded
// into traced programs with LD_PRELOAD) and the tracer (CTracer, MapsTracer):
// fixed addresses, the trampoline's layout and the ring's layout. Both sides
// include this one header, so they cannot disagree.

#include <stdint.h>

/// The trampoline page: the one `syscall` instruction the seccomp filter lets
/// the hot mutations through without a ptrace stop. Fixed, because the filter
/// is installed (by `_traced-exec`) before the program and its preload exist.
#define MAPSRACE_TRAMPOLINE_ADDRESS 0x6d5a00000000ULL
/// The instruction pointer the kernel reports for a syscall made from the
/// trampoline: the address right after its `syscall` instruction.
#define MAPSRACE_TRAMPOLINE_SYSCALL_END_OFFSET 25ULL

/// The ring: one per address space, at a fixed address, so that the tracer
/// finds it with process_vm_readv without asking the tracee.
#define MAPSRACE_RING_ADDRESS 0x6d5a00010000ULL
#define MAPSRACE_RING_MAGIC 0x676e6972656d616dULL /* "mamering" little-endian */
#define MAPSRACE_RING_HEADER_BYTES 4096ULL
#define MAPSRACE_RING_DEFAULT_RECORDS 65536ULL
/// The environment variable that asks for a smaller ring (a power of two, at
/// least 2): `record --fast-path-ring N` (hidden), to test the full-ring fallback.
#define MAPSRACE_RING_RECORDS_VARIABLE "MAPSRACE_FAST_PATH_RING"

/// The ring's first page. `head` is the next sequence number a tracee thread
/// claims (atomic compare-and-swap); `drained` the first one the tracer has
/// not taken yet (written only by the tracer, with process_vm_writev). Slot
/// `s % capacity` may be claimed only while `s - drained < capacity`.
struct mapsrace_ring_header {
    uint64_t magic;
    uint64_t capacity;
    uint64_t record_bytes;
    uint64_t reserved0[5];
    uint64_t head; /* offset 64: its own cache line */
    uint64_t reserved1[7];
    uint64_t drained; /* offset 128 */
    uint64_t reserved2[7];
};

/// One mutation made through the trampoline. `commit` is written last (a
/// release store) with `sequence + 1`: a slot is complete when it holds the
/// sequence number the reader expects.
struct mapsrace_ring_record {
    uint64_t commit;
    uint32_t number; /* the syscall number */
    uint32_t tid;    /* gettid() of the calling thread */
    uint64_t args[6];
    int64_t result;  /* the raw return value (-errno on failure) */
    uint64_t t_begin; /* CLOCK_MONOTONIC right before the syscall instruction */
    uint64_t t_end;   /* CLOCK_MONOTONIC right after it */
    uint64_t reserved[5];
};

_Static_assert(sizeof(struct mapsrace_ring_header) == 192, "ring header layout");
_Static_assert(sizeof(struct mapsrace_ring_record) == 128, "ring record layout");

#endif
