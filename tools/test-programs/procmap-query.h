/* The PROCMAP_QUERY ioctl's argument (Linux 6.11+, include/uapi/linux/fs.h
 * `struct procmap_query`), declared here because older headers lack it;
 * shared by the test programs that query maps. */
#ifndef MAPSRACE_TEST_PROCMAP_QUERY_H
#define MAPSRACE_TEST_PROCMAP_QUERY_H
#include <stdint.h>
#include <sys/ioctl.h>

struct query {
    uint64_t size, query_flags, query_addr;
    uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};

#define QUERY_REQUEST _IOWR('f', 17, struct query)
#define COVERING_OR_NEXT 0x10
#endif
