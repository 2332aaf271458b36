#ifndef BATON_COPUS_SHIM_H
#define BATON_COPUS_SHIM_H
#include <opus/opus.h>
// OPUS_SET_BITRATE and friends are variadic macros; Swift cannot call them.
static inline int baton_opus_set_bitrate(OpusEncoder *enc, int bps) {
    return opus_encoder_ctl(enc, OPUS_SET_BITRATE(bps));
}
static inline int baton_opus_set_complexity(OpusEncoder *enc, int c) {
    return opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(c));
}
#endif
