#ifndef BATON_CBATONSYS_H
#define BATON_CBATONSYS_H
// Thin helpers over Linux syscalls Swift cannot reach directly (recvmmsg/sendmmsg
// need _GNU_SOURCE, epoll_event is packed). No policy lives here: the relay logic is Swift.
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define BATON_BATCH 32
#define BATON_BUFSZ 2048
#define BATON_HEADROOM 64
/// Bytes kept free after every received datagram, for what the relay may add in place: an
/// SRTP/SRTCP trailer (index + tag) or a transcoded payload that is longer than the original.
#define BATON_TAILROOM 512

/// A socket address of either family, with its length.
typedef struct baton_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} baton_addr;

/// Receive/send buffers, iovecs and addresses for one batch, allocated once per relay thread (opaque).
typedef struct baton_batch baton_batch;

baton_batch *baton_batch_new(void);
void baton_batch_free(baton_batch *b);
/// recvmmsg up to BATON_BATCH datagrams (non-blocking); returns count, 0 when none, -errno on error.
int baton_batch_recv(int fd, baton_batch *b);
unsigned baton_batch_len(const baton_batch *b, int i);
const struct sockaddr_storage *baton_batch_addr(const baton_batch *b, int i);
unsigned char *baton_batch_data(baton_batch *b, int i);
/// Change datagram i's length in place (SRTP trailer, transcoded payload); at most BATON_BUFSZ.
void baton_batch_set_len(baton_batch *b, int i, unsigned len);
/// Queue datagram i of the receive batch for sending at slot j to dest.
void baton_batch_queue(baton_batch *b, int i, int j, const baton_addr *dest);
/// sendmmsg the first n queued datagrams on fd; returns how many were sent, -errno on error.
int baton_batch_send(int fd, baton_batch *b, int n);

/// Compare address (family, IP and port).
int baton_addr_equal(const baton_addr *a, const struct sockaddr_storage *b);
/// Compare family and IP only (the port may differ): the source check before latching.
int baton_addr_same_ip(const baton_addr *a, const struct sockaddr_storage *b);
void baton_addr_set(baton_addr *a, const struct sockaddr_storage *b);
/// Fill from presentation text ("127.0.0.1" or "::1") and port; returns 0 on success.
int baton_addr_from_string(baton_addr *a, const char *ip, uint16_t port);
/// Write "ip" into buf (size >= 64) and return port; -1 on error.
int baton_addr_to_string(const baton_addr *a, char *buf, size_t size);

/// UDP socket bound to ip:port, non-blocking, close-on-exec. Returns fd or -errno.
int baton_udp_bind(const char *ip, uint16_t port);
/* A released relay socket kept bound for the next call: park shrinks its receive buffer to
   the kernel's minimum (a stray sender cannot pile up memory); unpark restores it and
   discards what queued meanwhile, returning how many datagrams it dropped (-errno when the
   buffer could not be restored; what queued is discarded all the same). */
void baton_udp_park(int fd);
int baton_udp_unpark(int fd);
/* Discards what is queued on fd (bounded: 256 datagrams); returns how many. */
int baton_udp_drain(int fd);

int baton_epoll_create(void);
int baton_epoll_add(int ep, int fd, uint64_t data);
int baton_epoll_del(int ep, int fd);
/// Wait for up to max events; data of ready fds is written to out. Returns count or -errno.
int baton_epoll_wait(int ep, uint64_t *out, int max, int timeout_ms);
int baton_eventfd(void);
void baton_eventfd_signal(int fd);
void baton_eventfd_drain(int fd);
/* Per calling thread: while the hold depth is above 0, relay commands this thread queues do
   not signal the relay thread's eventfd; the releaser signals once (MediaRelay.holdWakeups). */
void baton_wakeups_hold(int delta);
int baton_wakeups_held(void);
/// nanosleep for ns nanoseconds (EINTR ends it early).
void baton_sleep_nanos(int64_t ns);
/// Name the calling thread (up to 15 characters; shown by top -H, ps -L, /proc/.../comm).
void baton_thread_name(const char *name);
/// Pin the calling thread to one CPU; returns 0 on success, -errno otherwise.
int baton_pin_cpu(int cpu);
#endif
