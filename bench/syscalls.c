/* The workloads of the benches.
 *
 * `syscalls N_GETPPID N_OPENCLOSE FILE [N_SPAWN]` (bench/syscall_overhead.py) times a
 * syscall scapula does not record (getppid, through syscall() so no libc cache can
 * answer it), one pair it does (open + close of one file), and optionally process
 * creation (fork, exec of /bin/true, wait: where the process facts are read); prints
 * ns per call (per spawn) for each.
 *
 * `syscalls storm EVENTS_PER_S SECONDS FILE` (bench/consumer.py) does open+close
 * (two recorded events) at a steady rate, 0 meaning as fast as it can; prints the
 * rate it reached. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Paced in slices of 1 ms so the rate is steady at the scale the recorder polls
 * at (100 ms), not one burst per second. */
static int storm(double rate, double seconds, const char *path)
{
    double start = now_ns(), end = start + seconds * 1e9;
    long pairs = 0;
    for (;;) {
        double t = now_ns();
        if (t >= end)
            break;
        long due = rate > 0 ? (long)((t - start) * 1e-9 * rate / 2) + 1 : pairs + 1000;
        while (pairs < due) {
            int fd = open(path, O_RDONLY);
            if (fd < 0) {
                perror(path);
                return 1;
            }
            close(fd);
            pairs++;
        }
        if (rate > 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    printf("storm_events_per_s %.0f\n", 2 * pairs / ((now_ns() - start) * 1e-9));
    printf("storm_events %ld\n", 2 * pairs);
    return 0;
}

/* fork + exec /bin/true + wait, n times; ns per spawn, or -1 on a failure. */
static double spawn(long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0)
            return -1;
    }
    return n ? (now_ns() - t0) / n : 0.0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "storm") == 0)
        return storm(atof(argv[2]), atof(argv[3]), argv[4]);
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s N_GETPPID N_OPENCLOSE FILE [N_SPAWN]\n", argv[0]);
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
    if (argc == 5) {
        double per = spawn(atol(argv[4]));
        if (per < 0) {
            fprintf(stderr, "spawn: /bin/true failed\n");
            return 1;
        }
        printf("spawn_ns %.0f\n", per);
    }
    return 0;
}
