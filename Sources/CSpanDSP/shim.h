#ifndef BATON_CSPANDSP_SHIM_H
#define BATON_CSPANDSP_SHIM_H
// spandsp 0.0.6 (Debian libspandsp-dev): in-band DTMF and the speech level. Debian's package
// ships no top-level spandsp.h, so the headers the DTMF receiver and power meter need, in
// their dependency order.
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/complex.h>
#include <spandsp/tone_detect.h>
#include <spandsp/tone_generate.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
#include <spandsp/power_meter.h>
#endif
