/* The workload bench/syscall_overhead.py times: a syscall scapula does not record
 * (getppid, through syscall() so no libc cache can answer it) and one pair it does
 * (open + close of one file). Prints ns per call for each. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s N_GETPPID N_OPENCLOSE FILE\n", argv[0]);
        return 2;
    }
    long n_ppid = atol(argv[1]), n_open = atol(argv[2]);
    const char *path = argv[3];

    /* Warm-up: page in the code and the file's dentry before timing. */
    for (int i = 0; i < 1000; i++)
        syscall(SYS_getppid);

    double t0 = now_ns();
    for (long i = 0; i < n_ppid; i++)
        syscall(SYS_getppid);
    double t1 = now_ns();

    for (long i = 0; i < n_open; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        close(fd);
    }
    double t2 = now_ns();

    printf("getppid_ns %.2f\n", n_ppid ? (t1 - t0) / n_ppid : 0.0);
    printf("openclose_ns %.2f\n", n_open ? (t2 - t1) / n_open : 0.0);
    return 0;
}
