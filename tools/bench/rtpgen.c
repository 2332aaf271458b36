// Paced bidirectional RTP load generator for tools/bench.
// Reads "callerPort relayA calleePort relayB" lines (one call each), sends PCMU-sized RTP
// (172 bytes, 20 ms, 50 pps each direction = 100 pps per call) for `seconds`, receives what the relay
// forwards, and prints: offered pps, relayed pps, loss %, one-way latency p50/p99/p99.9 (µs)
// and whether the generator kept its schedule. Loopback only; bounded in time.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct { int fd; uint16_t self, relay; uint16_t seq; } leg_t;

static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }
static int cmp64(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: rtpgen CALLFILE SECONDS [CPU]\n"); return 2; }
    double seconds = atof(argv[2]);
    if (argc > 3) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(atoi(argv[3]), &s); sched_setaffinity(0, sizeof s, &s); }
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror("callfile"); return 2; }
    int cap = 16384, n = 0;
    leg_t *legs = calloc(cap, sizeof(leg_t));
    unsigned a, ra, b, rb;
    int ep = epoll_create1(0);
    while (fscanf(f, "%u %u %u %u", &a, &ra, &b, &rb) == 4 && n + 2 <= cap) {
        unsigned pairs[2][2] = {{a, ra}, {b, rb}};
        for (int k = 0; k < 2; k++) {
            leg_t *l = &legs[n];
            l->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            int sz = 1 << 20; setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
            struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(pairs[k][0]), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
            if (bind(l->fd, (void *)&me, sizeof me) != 0) { perror("bind"); return 2; }
            l->self = pairs[k][0]; l->relay = pairs[k][1];
            struct epoll_event ev = { .events = EPOLLIN, .data.u32 = n };
            epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev);
            n++;
        }
    }
    fclose(f);
    if (n == 0) { fprintf(stderr, "no calls\n"); return 2; }
    uint64_t interval = 20000000ull;                      // 20 ms per leg
    uint64_t start = now_ns() + 100000000ull, end = start + (uint64_t)(seconds * 1e9);
    uint64_t *next = calloc(n, sizeof(uint64_t));
    for (int i = 0; i < n; i++) next[i] = start + (interval * (uint64_t)i) / (uint64_t)n;   // spread evenly
    size_t maxlat = (size_t)(seconds * 50 * n) + 1024;
    uint64_t *lat = malloc(maxlat * sizeof(uint64_t));
    size_t nlat = 0;
    uint64_t sent = 0, recvd = 0, late = 0;
    unsigned char pkt[172] = { 0x80, 0x00 };
    unsigned char buf[2048];
    struct epoll_event evs[256];
    int cursor = 0;
    uint64_t drain_end = end + 500000000ull;
    for (;;) {
        uint64_t t = now_ns();
        if (t >= drain_end) break;
        // Send every leg whose time has come (round robin from cursor).
        if (t < end) {
            for (int k = 0; k < n; k++) {
                int i = (cursor + k) % n;
                if (next[i] > t) continue;
                if (t - next[i] > 10000000ull) late++;       // more than 10 ms behind schedule
                leg_t *l = &legs[i];
                l->seq++;
                pkt[2] = l->seq >> 8; pkt[3] = l->seq & 0xff;
                uint64_t ts = now_ns();
                memcpy(pkt + 12, &ts, 8);
                struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(l->relay), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                if (sendto(l->fd, pkt, sizeof pkt, 0, (void *)&to, sizeof to) == sizeof pkt) sent++;
                next[i] += interval;
            }
            cursor = (cursor + 1) % n;
        }
        int m = epoll_wait(ep, evs, 256, 0);
        for (int e = 0; e < m; e++) {
            leg_t *l = &legs[evs[e].data.u32];
            for (;;) {
                ssize_t r = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
                if (r <= 0) break;
                recvd++;
                if (r >= 20 && nlat < maxlat) { uint64_t ts; memcpy(&ts, buf + 12, 8); uint64_t now = now_ns(); if (now > ts) lat[nlat++] = now - ts; }
            }
        }
        if (m == 0 && t < end) {
            // Sleep until the earliest next send, at most 1 ms.
            uint64_t soonest = UINT64_MAX;
            for (int i = 0; i < n; i += (n > 64 ? n / 64 : 1)) if (next[i] < soonest) soonest = next[i];
            if (soonest > t + 200000) { struct timespec s = { 0, (long)((soonest - t) > 1000000 ? 1000000 : (soonest - t)) }; nanosleep(&s, NULL); }
        } else if (m == 0) {
            struct timespec s = { 0, 1000000 }; nanosleep(&s, NULL);
        }
    }
    qsort(lat, nlat, sizeof(uint64_t), cmp64);
    double dur = (double)(end - start) / 1e9;
    double offered = sent / dur, relayed = recvd / dur;
    double target = n * 50.0;
    printf("legs=%d target_pps=%.0f offered_pps=%.0f relayed_pps=%.0f loss_pct=%.3f p50_us=%.0f p99_us=%.0f p999_us=%.0f late_sends=%llu generator_limited=%s\n",
           n, target, offered, relayed, sent ? 100.0 * (double)(sent - (recvd > sent ? sent : recvd)) / sent : 0.0,
           nlat ? lat[nlat / 2] / 1e3 : 0.0, nlat ? lat[(size_t)(nlat * 0.99)] / 1e3 : 0.0, nlat ? lat[(size_t)(nlat * 0.999)] / 1e3 : 0.0,
           (unsigned long long)late, (offered < 0.98 * target || late > sent / 100) ? "yes" : "no");
    return 0;
}
