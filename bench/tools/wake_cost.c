
/*
 * What waking a sleeping peer costs the waker, in system time: round
 * trips of 200 bytes over a loopback TCP connection from a process on
 * core 0 to an echo process on core 1, with the echo process blocked in
 * read() between messages ("sleep": each message wakes it), or polling
 * with recv(MSG_DONTWAIT) ("spin": it never sleeps); core 1 may also run
 * a busy loop of another process (nice 19) meanwhile, so that it never
 * halts.  Printed: the round trip's wall time, and the sender's user and
 * system time a round trip (getrusage()).  bench/README.md says why:
 * the JWT group's cold verification serves at a fifth of the no-auth
 * rate, the load core then sleeps between requests, and the proxy's
 * kernel time a request grows.
 *
 *   gcc -O2 -o wake_cost bench/tools/wake_cost.c
 *   wake_cost sleep|spin [COUNT]
 */

#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>


#define MSG_LEN  200


static void
pin(int cpu)
{
    cpu_set_t  set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);

    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        perror("sched_setaffinity");
        exit(1);
    }
}


static double
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


static double
tv_us(struct timeval *a, struct timeval *b)
{
    return (b->tv_sec - a->tv_sec) * 1e6 + (b->tv_usec - a->tv_usec);
}


static void
echo(int s, int spin)
{
    char     buf[MSG_LEN];
    ssize_t  n;

    for ( ;; ) {
        do {
            n = spin ? recv(s, buf, sizeof(buf), MSG_DONTWAIT)
                     : read(s, buf, sizeof(buf));
        } while (spin && n < 0);

        if (n <= 0 || write(s, buf, n) != n) {
            _exit(0);
        }
    }
}


int
main(int argc, char **argv)
{
    int                 ls, s, one, spin;
    long                i, count;
    char                buf[MSG_LEN];
    pid_t               pid;
    double              t0, t1;
    size_t              got;
    ssize_t             n;
    socklen_t           len;
    struct rusage       r0, r1;
    struct sockaddr_in  sin;

    if (argc < 2 || (strcmp(argv[1], "sleep") && strcmp(argv[1], "spin"))) {
        fprintf(stderr, "usage: wake_cost sleep|spin [COUNT]\n");
        return 2;
    }

    spin = (strcmp(argv[1], "spin") == 0);
    count = (argc > 2) ? atol(argv[2]) : 20000;
    one = 1;

    ls = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    if (ls == -1
        || bind(ls, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(ls, 1) != 0
        || getsockname(ls, (struct sockaddr *) &sin, &len) != 0)
    {
        perror("listen");
        return 1;
    }

    pid = fork();

    if (pid == 0) {
        pin(1);
        s = accept(ls, NULL, NULL);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        echo(s, spin);
    }

    pin(0);

    s = socket(AF_INET, SOCK_STREAM, 0);

    if (s == -1 || connect(s, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        perror("connect");
        return 1;
    }

    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(buf, 'x', sizeof(buf));

    t0 = 0;

    /* a thousand round trips first, not counted */

    for (i = -1000; i < count; i++) {

        if (i == 0) {
            getrusage(RUSAGE_SELF, &r0);
            t0 = now_us();
        }

        if (write(s, buf, sizeof(buf)) != sizeof(buf)) {
            perror("write");
            return 1;
        }

        for (got = 0; got < sizeof(buf); got += n) {
            n = read(s, buf + got, sizeof(buf) - got);
            if (n <= 0) {
                perror("read");
                return 1;
            }
        }
    }

    t1 = now_us();
    getrusage(RUSAGE_SELF, &r1);

    printf("echo side %s: %ld round trips, %.1f us each; the sender's "
           "user %.2f us, system %.2f us a round trip\n",
           argv[1], count, (t1 - t0) / count,
           tv_us(&r0.ru_utime, &r1.ru_utime) / count,
           tv_us(&r0.ru_stime, &r1.ru_stime) / count);

    close(s);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);

    return 0;
}
