/* deny: runs a command under a seccomp filter that makes one facility fail,
 * the way a container's profile does, to test how mapsrace reports it.
 *   deny ptrace CMD...    ptrace(2) fails with EPERM
 *   deny seccomp CMD...   prctl(PR_SET_SECCOMP) and seccomp(2) fail with EINVAL
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: deny ptrace|seccomp CMD...\n"); return 64; }
    struct sock_filter ptrace_filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter seccomp_filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_SECCOMP, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program;
    if (strcmp(argv[1], "ptrace") == 0) {
        program.len = sizeof ptrace_filter / sizeof ptrace_filter[0];
        program.filter = ptrace_filter;
    } else if (strcmp(argv[1], "seccomp") == 0) {
        program.len = sizeof seccomp_filter / sizeof seccomp_filter[0];
        program.filter = seccomp_filter;
    } else {
        fprintf(stderr, "deny: unknown facility %s\n", argv[1]);
        return 64;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 1; }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) { perror("seccomp"); return 1; }
    execvp(argv[2], argv + 2);
    perror("execvp");
    return 127;
}
