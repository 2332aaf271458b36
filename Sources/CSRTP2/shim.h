#ifndef BATON_CSRTP2_SHIM_H
#define BATON_CSRTP2_SHIM_H
#include <srtp2/srtp.h>
#endif
