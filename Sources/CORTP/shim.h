#ifndef BATON_CORTP_SHIM_H
#define BATON_CORTP_SHIM_H
#include <ortp/ortp.h>
// av_profile is a mutable global; Swift 6 cannot touch it directly.
static inline RtpProfile *baton_ortp_av_profile(void) { return &av_profile; }
#endif
