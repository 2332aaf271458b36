// What libsrtp2 itself costs per srtp_protect on this machine, with no relay around it:
// the floor under Baton's SRTP actions. Debian builds libsrtp2 with the NSS crypto
// backend; this prints the cost per packet (172-byte RTP, PCMU 20 ms) per suite for 1, 10
// and 200 sessions used round-robin (many calls).
//   gcc -O2 -o tools/bench/out/srtp_probe tools/bench/srtp_probe.c $(pkg-config --cflags --libs libsrtp2)
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static double run(int sessions, int gcm, int n) {
    srtp_t *s = calloc(sessions, sizeof *s);
    for (int k = 0; k < sessions; k++) {
        srtp_policy_t p;
        memset(&p, 0, sizeof p);
        if (gcm) { srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp); srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp); }
        else { srtp_crypto_policy_set_rtp_default(&p.rtp); srtp_crypto_policy_set_rtcp_default(&p.rtcp); }
        unsigned char key[64];
        memset(key, k + 1, sizeof key);
        p.key = key;
        p.ssrc.type = ssrc_any_outbound;
        p.window_size = 128;
        if (srtp_create(&s[k], &p) != srtp_err_status_ok) { fprintf(stderr, "srtp_create failed\n"); exit(1); }
    }
    unsigned char buf[2048];
    double t0 = now();
    for (int i = 0; i < n; i++) {
        memset(buf, 0xd5, 172);
        buf[0] = 0x80; buf[1] = 0; buf[2] = (i / sessions) >> 8; buf[3] = i / sessions; buf[11] = 1;
        int len = 172;
        srtp_protect(s[i % sessions], buf, &len);
    }
    double us = (now() - t0) / n * 1e6;
    for (int k = 0; k < sessions; k++) srtp_dealloc(s[k]);
    free(s);
    return us;
}

int main(void) {
    srtp_init();
    printf("%s alone, µs per srtp_protect (172-byte packets)\n", srtp_get_version_string());
    printf("sessions  AES_CM_128_HMAC_SHA1_80  AEAD_AES_128_GCM\n");
    int counts[] = {1, 10, 200};
    for (int c = 0; c < 3; c++) printf("%8d  %23.2f  %16.2f\n", counts[c], run(counts[c], 0, 60000), run(counts[c], 1, 60000));
    return 0;
}
