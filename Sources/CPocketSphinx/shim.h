#ifndef BATON_CPOCKETSPHINX_SHIM_H
#define BATON_CPOCKETSPHINX_SHIM_H
// pocketsphinx 5prealpha (Debian libpocketsphinx-dev): keyword spotting on the caller's audio.
#include <stdint.h>
#include <pocketsphinx.h>
#endif
