/* lxm-probe: a static binary the tests put inside containers to see what the
 * container sees. Each subcommand prints "key=value" lines.
 *   syscalls   try denied syscalls, print the errno name of each
 *   status     uid, Seccomp line, CapBnd of this process and of pid 1
 *   mknod DIR  try to make a block device node in DIR and open it
 *   counter F  write an increasing counter to file F every 100 ms (forever)
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case EEXIST: return "EEXIST";
    default: return "OTHER";
    }
}

static void try_syscall(const char *name, long nr, long a, long b, long c, long d) {
    errno = 0;
    long r = syscall(nr, a, b, c, d, 0, 0);
    printf("%s=%s\n", name, r < 0 ? errname(errno) : "OK");
}

static void print_status_lines(const char *path, const char *prefix) {
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f) {
        printf("%s_error=%s\n", prefix, errname(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Seccomp:", 8) || !strncmp(line, "CapBnd:", 7) || !strncmp(line, "Uid:", 4) ||
            !strncmp(line, "NoNewPrivs:", 11)) {
            char *colon = strchr(line, ':');
            *colon = 0;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            printf("%s_%s=%s\n", prefix, line, v);
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: lxm-probe syscalls|status|mknod DIR|counter FILE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "syscalls")) {
        char handle[128] = {0};
        try_syscall("open_by_handle_at", SYS_open_by_handle_at, AT_FDCWD, (long)handle, O_RDONLY, 0);
        try_syscall("init_module", SYS_init_module, 0, 0, (long)"", 0);
        try_syscall("finit_module", SYS_finit_module, -1, (long)"", 0, 0);
        try_syscall("delete_module", SYS_delete_module, (long)"lxm_nope", 0, 0, 0);
        try_syscall("kexec_load", SYS_kexec_load, 0, 0, 0, 0);
        try_syscall("kexec_file_load", SYS_kexec_file_load, -1, -1, 0, 0);
        return 0;
    }
    if (!strcmp(argv[1], "status")) {
        printf("uid=%d\n", (int)getuid());
        print_status_lines("/proc/self/status", "self");
        print_status_lines("/proc/1/status", "init");
        return 0;
    }
    if (!strcmp(argv[1], "mknod") && argc > 2) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lxm-probe-disk", argv[2]);
        unlink(path);
        int r = mknod(path, S_IFBLK | 0600, makedev(8, 0));
        printf("mknod=%s\n", r < 0 ? errname(errno) : "OK");
        if (r == 0) {
            int fd = open(path, O_RDONLY);
            printf("open=%s\n", fd < 0 ? errname(errno) : "OK");
            unlink(path);
        }
        return 0;
    }
    if (!strcmp(argv[1], "counter") && argc > 2) {
        for (unsigned long i = 0;; ++i) {
            FILE *f = fopen(argv[2], "w");
            if (f) {
                fprintf(f, "%lu\n", i);
                fclose(f);
            }
            usleep(100000);
        }
    }
    fprintf(stderr, "lxm-probe: unknown command %s\n", argv[1]);
    return 2;
}
