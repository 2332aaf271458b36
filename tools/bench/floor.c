// Floor probe: the least a userspace forwarder can do on this machine. One UDP socket on
// 127.0.0.1:PORT; every datagram from port p goes back out to port p^1 (the generator's call
// pairs are even/odd), in batches with recvmmsg/sendmmsg. Pinned to CPU if given.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define B 32
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: floor PORT [CPU]\n"); return 2; }
    if (argc > 2) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(atoi(argv[2]), &s); sched_setaffinity(0, sizeof s, &s); }
    signal(SIGTERM, on_term); signal(SIGINT, on_term);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int sz = 4 << 20; setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz); setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(fd, (void *)&me, sizeof me) != 0) { perror("bind"); return 2; }
    struct timeval tv = { 0, 200000 }; setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static unsigned char bufs[B][2048];
    struct mmsghdr msgs[B]; struct iovec iov[B]; struct sockaddr_in addrs[B];
    while (!stop) {
        for (int i = 0; i < B; i++) {
            iov[i].iov_base = bufs[i]; iov[i].iov_len = sizeof bufs[i];
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &addrs[i]; msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
        int n = recvmmsg(fd, msgs, B, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        for (int i = 0; i < n; i++) {
            addrs[i].sin_port = htons(ntohs(addrs[i].sin_port) ^ 1);
            iov[i].iov_len = msgs[i].msg_len;
        }
        sendmmsg(fd, msgs, n, 0);
    }
    return 0;
}
