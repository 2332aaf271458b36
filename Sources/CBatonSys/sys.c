#define _GNU_SOURCE
#include "CBatonSys.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

/// Receive/send buffers, iovecs and addresses for one batch, allocated once per relay thread.
struct baton_batch {
    struct mmsghdr msgs[BATON_BATCH];
    struct iovec iov[BATON_BATCH];
    struct sockaddr_storage addrs[BATON_BATCH];
    struct mmsghdr out[BATON_BATCH];
    struct iovec outiov[BATON_BATCH];
    unsigned char bufs[BATON_BATCH][BATON_HEADROOM + BATON_BUFSZ];
};

baton_batch *baton_batch_new(void) {
    baton_batch *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    for (int i = 0; i < BATON_BATCH; i++) {
        b->iov[i].iov_base = b->bufs[i] + BATON_HEADROOM;
        b->iov[i].iov_len = BATON_BUFSZ - BATON_TAILROOM;
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i].msg_hdr.msg_name = &b->addrs[i];
        b->msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
        b->out[i].msg_hdr.msg_iov = &b->outiov[i];
        b->out[i].msg_hdr.msg_iovlen = 1;
    }
    return b;
}
void baton_batch_free(baton_batch *b) { free(b); }

int baton_batch_recv(int fd, baton_batch *b) {
    for (int i = 0; i < BATON_BATCH; i++) b->msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
    int n;
    do { n = recvmmsg(fd, b->msgs, BATON_BATCH, MSG_DONTWAIT, NULL); } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    return n;
}
unsigned baton_batch_len(const baton_batch *b, int i) { return b->msgs[i].msg_len; }
const struct sockaddr_storage *baton_batch_addr(const baton_batch *b, int i) { return &b->addrs[i]; }
unsigned char *baton_batch_data(baton_batch *b, int i) { return b->bufs[i] + BATON_HEADROOM; }
void baton_batch_set_len(baton_batch *b, int i, unsigned len) { b->msgs[i].msg_len = len <= BATON_BUFSZ ? len : BATON_BUFSZ; }

void baton_batch_queue(baton_batch *b, int i, int j, const baton_addr *dest) {
    b->outiov[j].iov_base = b->bufs[i] + BATON_HEADROOM;
    b->outiov[j].iov_len = b->msgs[i].msg_len;
    b->out[j].msg_hdr.msg_name = (void *)&dest->ss;
    b->out[j].msg_hdr.msg_namelen = dest->len;
}
int baton_batch_send(int fd, baton_batch *b, int n) {
    int sent = 0;
    while (sent < n) {
        int r = sendmmsg(fd, b->out + sent, (unsigned)(n - sent), MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            return sent > 0 ? sent : -errno;
        }
        if (r == 0) break;
        sent += r;
    }
    return sent;
}

int baton_addr_equal(const baton_addr *a, const struct sockaddr_storage *b) {
    if (a->ss.ss_family != b->ss_family) return 0;
    if (b->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (b->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    return 0;
}
int baton_addr_same_ip(const baton_addr *a, const struct sockaddr_storage *b) {
    if (a->ss.ss_family != b->ss_family) return 0;
    if (b->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (b->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)b;
        return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    return 0;
}
void baton_addr_set(baton_addr *a, const struct sockaddr_storage *b) {
    a->ss = *b;
    a->len = b->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}
int baton_addr_from_string(baton_addr *a, const char *ip, uint16_t port) {
    memset(a, 0, sizeof(*a));
    struct sockaddr_in *v4 = (void *)&a->ss;
    struct sockaddr_in6 *v6 = (void *)&a->ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons(port); a->len = sizeof(*v4); return 0;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons(port); a->len = sizeof(*v6); return 0;
    }
    return -1;
}
int baton_addr_to_string(const baton_addr *a, char *buf, size_t size) {
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const void *)&a->ss;
        if (!inet_ntop(AF_INET, &v4->sin_addr, buf, (socklen_t)size)) return -1;
        return ntohs(v4->sin_port);
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const void *)&a->ss;
        if (!inet_ntop(AF_INET6, &v6->sin6_addr, buf, (socklen_t)size)) return -1;
        return ntohs(v6->sin6_port);
    }
    return -1;
}

#define BATON_RELAY_RCVBUF (1 << 20)

int baton_udp_bind(const char *ip, uint16_t port) {
    baton_addr a;
    if (baton_addr_from_string(&a, ip, port) != 0) return -EINVAL;
    int fd = socket(a.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* The receive side takes a peer's bursts while the relay thread is busy elsewhere; the
       send side needs no more than the default (a sendmmsg batch is at most 64 datagrams). */
    int size = BATON_RELAY_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (bind(fd, (struct sockaddr *)&a.ss, a.len) != 0) { int e = errno; close(fd); return -e; }
    return fd;
}

void baton_udp_park(int fd) {
    int size = 0;   /* the kernel clamps to its minimum: a parked port queues a packet or two */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

int baton_udp_drain(int fd) {
    char b[1];
    int n = 0;
    /* MSG_TRUNC with a 1-byte buffer discards each datagram whole; bounded. */
    while (n < 256 && recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) >= 0) n++;
    return n;
}

int baton_udp_unpark(int fd) {
    int size = BATON_RELAY_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0) {
        int e = errno;
        baton_udp_drain(fd);
        return -e;
    }
    return baton_udp_drain(fd);
}

int baton_epoll_create(void) { int r = epoll_create1(EPOLL_CLOEXEC); return r < 0 ? -errno : r; }
int baton_epoll_add(int ep, int fd, uint64_t data) {
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}
int baton_epoll_del(int ep, int fd) { return epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0; }
int baton_epoll_wait(int ep, uint64_t *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(ep, evs, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) out[i] = evs[i].data.u64;
    return n;
}
int baton_eventfd(void) { int r = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); return r < 0 ? -errno : r; }
void baton_eventfd_signal(int fd) { uint64_t one = 1; ssize_t r = write(fd, &one, sizeof(one)); (void)r; }
void baton_eventfd_drain(int fd) { uint64_t v; ssize_t r = read(fd, &v, sizeof(v)); (void)r; }
static _Thread_local int baton_hold_depth;
void baton_wakeups_hold(int delta) { baton_hold_depth += delta; if (baton_hold_depth < 0) baton_hold_depth = 0; }
int baton_wakeups_held(void) { return baton_hold_depth > 0; }
int baton_pin_cpu(int cpu) {
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void baton_sleep_nanos(int64_t ns) {
    struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
    nanosleep(&ts, NULL);
}

void baton_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }
