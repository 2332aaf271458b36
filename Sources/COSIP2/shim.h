#ifndef BATON_COSIP2_SHIM_H
#define BATON_COSIP2_SHIM_H
// libosip2's headers assume these are already included.
#include <time.h>
#include <sys/time.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_message.h>
#include <osipparser2/sdp_message.h>
#include <osipparser2/osip_port.h>
#endif
