#ifndef BATON_COSIP2_SHIM_H
#define BATON_COSIP2_SHIM_H
// libosip2's headers assume these are already included.
#include <time.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_message.h>
#include <osipparser2/sdp_message.h>
#include <osipparser2/osip_port.h>

// Thin accessors for what libosip2 exposes only as macros or through
// struct fields. Strings returned are allocated by libosip2: free with baton_osip_free.

static inline void baton_osip_free(void *p) { if (p) osip_free(p); }

static void baton_osip_trace_sink(const char *fi, int li, osip_trace_level_t level, const char *chfr, va_list ap) {
    (void)fi; (void)li; (void)level; (void)chfr; (void)ap;
}
/// Routes libosip2's own trace into a sink and disables it: Baton logs parse errors itself,
/// at a rate limit.
static inline void baton_osip_quiet(void) {
    osip_trace_initialize_func(END_TRACE_LEVEL, &baton_osip_trace_sink);
    for (int l = 0; l < END_TRACE_LEVEL; l++) osip_trace_disable_level((osip_trace_level_t)l);
}
static inline int baton_osip_is_request(const osip_message_t *m) { return m->sip_method != NULL; }

static inline char *baton_osip_req_uri(const osip_message_t *m) {
    char *s = NULL; if (m->req_uri && osip_uri_to_str(m->req_uri, &s) == 0) return s; return NULL;
}
static inline int baton_osip_set_req_uri(osip_message_t *m, const char *uri) {
    osip_uri_t *u = NULL;
    if (osip_uri_init(&u) != 0) return -1;
    if (osip_uri_parse(u, uri) != 0) { osip_uri_free(u); return -1; }
    if (m->req_uri) osip_uri_free(m->req_uri);
    m->req_uri = u;
    return 0;
}
static inline char *baton_osip_uri_host(const osip_uri_t *u) { return (u && u->host) ? osip_strdup(u->host) : NULL; }
static inline char *baton_osip_uri_user(const osip_uri_t *u) { return (u && u->username) ? osip_strdup(u->username) : NULL; }
static inline int baton_osip_uri_port(const osip_uri_t *u) { return (u && u->port) ? atoi(u->port) : 0; }
static inline char *baton_osip_uri_transport(const osip_uri_t *u) {
    osip_uri_param_t *p = NULL;
    if (!u || osip_uri_param_get_byname((osip_list_t *)&u->url_params, "transport", &p) != 0 || !p || !p->gvalue) return NULL;
    return osip_strdup(p->gvalue);
}
static inline const osip_uri_t *baton_osip_req_uri_ptr(const osip_message_t *m) { return m->req_uri; }
/// The Request-URI's scheme ("sip", "tel", ...; osip_free it); NULL without one.
static inline char *baton_osip_req_uri_scheme(const osip_message_t *m) {
    return m->req_uri && m->req_uri->scheme ? osip_strdup(m->req_uri->scheme) : NULL;
}
/// Whether the Request-URI carries `?headers` (parsed into url_headers by libosip2).
static inline int baton_osip_req_uri_has_headers(const osip_message_t *m) {
    return m->req_uri && osip_list_size(&m->req_uri->url_headers) > 0;
}
/// The start line's version ("SIP/2.0"; osip_free it).
static inline char *baton_osip_version(const osip_message_t *m) { return m->sip_version ? osip_strdup(m->sip_version) : NULL; }
/// The number of Accept header values (libosip2 keeps them in their own list).
static inline int baton_osip_accept_count(const osip_message_t *m) { return osip_list_size(&m->accepts); }
/// The `pos`th Accept value as "type/subtype" (osip_free it); "" for an empty Accept.
static inline char *baton_osip_accept(const osip_message_t *m, int pos) {
    osip_accept_t *a = (osip_accept_t *)osip_list_get(&m->accepts, pos);
    if (!a) return NULL;
    if (!a->type || !a->subtype) return osip_strdup("");
    size_t n = strlen(a->type) + strlen(a->subtype) + 2;
    char *s = (char *)osip_malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "%s/%s", a->type, a->subtype);
    return s;
}
static inline const osip_uri_t *baton_osip_from_uri(const osip_message_t *m) { return m->from ? m->from->url : NULL; }
static inline const osip_uri_t *baton_osip_to_uri(const osip_message_t *m) { return m->to ? m->to->url : NULL; }
static inline const osip_uri_t *baton_osip_contact_uri(const osip_message_t *m, int pos) {
    osip_contact_t *c = (osip_contact_t *)osip_list_get(&m->contacts, pos);
    return c ? c->url : NULL;
}
static inline osip_uri_t *baton_osip_uri_parse(const char *text) {
    osip_uri_t *u = NULL;
    if (osip_uri_init(&u) != 0) return NULL;
    if (osip_uri_parse(u, text) != 0) { osip_uri_free(u); return NULL; }
    return u;
}
static inline void baton_osip_uri_free(osip_uri_t *u) { if (u) osip_uri_free(u); }
static inline char *baton_osip_uri_str(const osip_uri_t *u) { char *s = NULL; if (u && osip_uri_to_str(u, &s) == 0) return s; return NULL; }

static inline char *baton_osip_call_id(const osip_message_t *m) {
    char *s = NULL; if (m->call_id && osip_call_id_to_str(m->call_id, &s) == 0) return s; return NULL;
}
static inline char *baton_osip_from(const osip_message_t *m) { char *s = NULL; if (m->from && osip_from_to_str(m->from, &s) == 0) return s; return NULL; }
static inline char *baton_osip_to(const osip_message_t *m) { char *s = NULL; if (m->to && osip_to_to_str(m->to, &s) == 0) return s; return NULL; }
static inline char *baton_osip_tag(const osip_from_t *f) {
    osip_generic_param_t *p = NULL;
    if (!f || osip_from_get_tag((osip_from_t *)f, &p) != 0 || !p || !p->gvalue) return NULL;
    return osip_strdup(p->gvalue);
}
static inline char *baton_osip_from_tag(const osip_message_t *m) { return baton_osip_tag(m->from); }
static inline char *baton_osip_to_tag(const osip_message_t *m) { return baton_osip_tag(m->to); }
static inline int baton_osip_set_to_tag(osip_message_t *m, const char *tag) {
    if (!m->to) return -1; return osip_to_set_tag(m->to, osip_strdup(tag));
}
static inline int baton_osip_set_from_tag(osip_message_t *m, const char *tag) {
    osip_generic_param_t *p = NULL;
    if (!m->from) return -1;
    if (osip_from_get_tag(m->from, &p) == 0 && p) { if (p->gvalue) osip_free(p->gvalue); p->gvalue = osip_strdup(tag); return 0; }
    return osip_from_set_tag(m->from, osip_strdup(tag));
}
/// Replaces From/To entirely.
static inline int baton_osip_replace_from(osip_message_t *m, const char *v) {
    if (m->from) { osip_from_free(m->from); m->from = NULL; } return osip_message_set_from(m, v);
}
static inline int baton_osip_replace_to(osip_message_t *m, const char *v) {
    if (m->to) { osip_to_free(m->to); m->to = NULL; } return osip_message_set_to(m, v);
}
static inline int baton_osip_replace_call_id(osip_message_t *m, const char *v) {
    if (m->call_id) { osip_call_id_free(m->call_id); m->call_id = NULL; } return osip_message_set_call_id(m, v);
}
static inline int baton_osip_replace_cseq(osip_message_t *m, const char *v) {
    if (m->cseq) { osip_cseq_free(m->cseq); m->cseq = NULL; } return osip_message_set_cseq(m, v);
}
static inline char *baton_osip_cseq_number(const osip_message_t *m) { return (m->cseq && m->cseq->number) ? osip_strdup(m->cseq->number) : NULL; }
static inline char *baton_osip_cseq_method(const osip_message_t *m) { return (m->cseq && m->cseq->method) ? osip_strdup(m->cseq->method) : NULL; }

static inline int baton_osip_via_count(const osip_message_t *m) { return osip_list_size(&m->vias); }
static inline char *baton_osip_via(const osip_message_t *m, int pos) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos); char *s = NULL;
    if (v && osip_via_to_str(v, &s) == 0) return s; return NULL;
}
static inline char *baton_osip_via_param(const osip_message_t *m, int pos, const char *name) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos); osip_generic_param_t *p = NULL;
    if (!v || osip_via_param_get_byname(v, (char *)name, &p) != 0 || !p) return NULL;
    return osip_strdup(p->gvalue ? p->gvalue : "");
}
static inline char *baton_osip_via_host(const osip_message_t *m, int pos) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos); return (v && v->host) ? osip_strdup(v->host) : NULL;
}
static inline int baton_osip_via_port(const osip_message_t *m, int pos) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos); return (v && v->port) ? atoi(v->port) : 0;
}
static inline char *baton_osip_via_protocol(const osip_message_t *m, int pos) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos); return (v && v->protocol) ? osip_strdup(v->protocol) : NULL;
}
static inline int baton_osip_via_set_param(osip_message_t *m, int pos, const char *name, const char *value) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos); osip_generic_param_t *p = NULL;
    if (!v) return -1;
    if (osip_via_param_get_byname(v, (char *)name, &p) == 0 && p) {
        if (p->gvalue) osip_free(p->gvalue);
        p->gvalue = value ? osip_strdup(value) : NULL;
        return 0;
    }
    return osip_via_param_add(v, osip_strdup(name), value ? osip_strdup(value) : NULL);
}
static inline int baton_osip_remove_via(osip_message_t *m, int pos) {
    osip_via_t *v = (osip_via_t *)osip_list_get(&m->vias, pos);
    if (!v) return -1; osip_list_remove(&m->vias, pos); osip_via_free(v); return 0;
}
static inline int baton_osip_remove_all_vias(osip_message_t *m) {
    while (osip_list_size(&m->vias) > 0) baton_osip_remove_via(m, 0); return 0;
}
/// Adds a Via at the top (osip_message_set_via appends).
static inline int baton_osip_prepend_via(osip_message_t *m, const char *v) {
    osip_via_t *via = NULL;
    if (osip_via_init(&via) != 0) return -1;
    if (osip_via_parse(via, v) != 0) { osip_via_free(via); return -1; }
    osip_list_add(&m->vias, via, 0); return 0;
}
static inline int baton_osip_contact_count(const osip_message_t *m) { return osip_list_size(&m->contacts); }
static inline char *baton_osip_contact(const osip_message_t *m, int pos) {
    osip_contact_t *c = (osip_contact_t *)osip_list_get(&m->contacts, pos); char *s = NULL;
    if (c && osip_contact_to_str(c, &s) == 0) return s; return NULL;
}
static inline char *baton_osip_contact_param(const osip_message_t *m, int pos, const char *name) {
    osip_contact_t *c = (osip_contact_t *)osip_list_get(&m->contacts, pos); osip_generic_param_t *p = NULL;
    if (!c || osip_contact_param_get_byname(c, (char *)name, &p) != 0 || !p || !p->gvalue) return NULL;
    return osip_strdup(p->gvalue);
}
static inline void baton_osip_remove_contacts(osip_message_t *m) {
    osip_list_special_free(&m->contacts, (void (*)(void *))&osip_contact_free);
}
static inline void baton_osip_remove_routes(osip_message_t *m) {
    osip_list_special_free(&m->routes, (void (*)(void *))&osip_route_free);
    osip_list_special_free(&m->record_routes, (void (*)(void *))&osip_record_route_free);
}
static inline int baton_osip_record_route_count(const osip_message_t *m) { return osip_list_size(&m->record_routes); }
static inline char *baton_osip_record_route(const osip_message_t *m, int pos) {
    osip_record_route_t *r = (osip_record_route_t *)osip_list_get(&m->record_routes, pos); char *s = NULL;
    if (r && osip_record_route_to_str(r, &s) == 0) return s; return NULL;
}
static inline char *baton_osip_header(const osip_message_t *m, const char *name, int pos) {
    osip_header_t *h = NULL;
    if (osip_message_header_get_byname(m, name, pos, &h) < 0 || !h || !h->hvalue) return NULL;
    return osip_strdup(h->hvalue);
}
/// The next generic header called `name` at or after *pos (value copied, osip_free it); *pos
/// moves past it. NULL when there is none.
static inline char *baton_osip_header_next(const osip_message_t *m, const char *name, int *pos) {
    osip_header_t *h = NULL;
    int found = osip_message_header_get_byname(m, name, *pos, &h);
    if (found < 0 || !h) return NULL;
    *pos = found + 1;
    return h->hvalue ? osip_strdup(h->hvalue) : osip_strdup("");
}
/// The `pos`th Authorization (proxy == 0) or Proxy-Authorization (proxy != 0) header as text
/// (osip_free it); libosip2 keeps these in their own lists, not among the generic headers.
static inline char *baton_osip_authorization(const osip_message_t *m, int proxy, int pos) {
    osip_authorization_t *a = NULL; char *s = NULL;
    if (proxy) osip_message_get_proxy_authorization(m, pos, &a); else osip_message_get_authorization(m, pos, &a);
    if (!a || osip_authorization_to_str(a, &s) != 0) return NULL;
    return s;
}
/// Removes every Authorization and Proxy-Authorization header (kept in their own lists).
static inline void baton_osip_remove_authorizations(osip_message_t *m) {
    osip_list_special_free(&m->authorizations, (void (*)(void *)) &osip_authorization_free);
    osip_list_special_free(&m->proxy_authorizations, (void (*)(void *)) &osip_authorization_free);
}
/// Removes every generic header called `name`.
static inline void baton_osip_remove_header(osip_message_t *m, const char *name) {
    osip_header_t *h = NULL; int pos;
    while ((pos = osip_message_header_get_byname(m, name, 0, &h)) >= 0 && h) {
        osip_list_remove(&m->headers, pos); osip_header_free(h); h = NULL;
    }
}
static inline char *baton_osip_content_type(const osip_message_t *m) {
    char *s = NULL; if (m->content_type && osip_content_type_to_str(m->content_type, &s) == 0) return s; return NULL;
}
static inline int baton_osip_content_length(const osip_message_t *m) {
    return (m->content_length && m->content_length->value) ? atoi(m->content_length->value) : -1;
}
static inline int baton_osip_body_count(const osip_message_t *m) { return osip_list_size(&m->bodies); }
static inline const char *baton_osip_body(const osip_message_t *m, size_t *len) {
    osip_body_t *b = (osip_body_t *)osip_list_get(&m->bodies, 0);
    if (!b) { *len = 0; return NULL; } *len = b->length; return b->body;
}
static inline void baton_osip_clear_body(osip_message_t *m) {
    osip_list_special_free(&m->bodies, (void (*)(void *))&osip_body_free);
    if (m->content_type) { osip_content_type_free(m->content_type); m->content_type = NULL; }
    if (m->content_length) { osip_content_length_free(m->content_length); m->content_length = NULL; }
}
static inline int baton_osip_set_status(osip_message_t *m, int code, const char *reason) {
    osip_message_set_status_code(m, code);
    osip_message_set_reason_phrase(m, osip_strdup(reason));
    if (!m->sip_version) m->sip_version = osip_strdup("SIP/2.0");
    return 0;
}
static inline int baton_osip_set_request_line(osip_message_t *m, const char *method, const char *uri) {
    osip_message_set_method(m, osip_strdup(method));
    if (!m->sip_version) m->sip_version = osip_strdup("SIP/2.0");
    return baton_osip_set_req_uri(m, uri);
}
/// Copies Via list, From, To, Call-ID and CSeq from a request into a response.
static inline int baton_osip_copy_dialog_headers(osip_message_t *resp, const osip_message_t *req) {
    int r = 0;
    if (req->from) r |= osip_from_clone(req->from, &resp->from);
    if (req->to) r |= osip_to_clone(req->to, &resp->to);
    if (req->call_id) r |= osip_call_id_clone(req->call_id, &resp->call_id);
    if (req->cseq) r |= osip_cseq_clone(req->cseq, &resp->cseq);
    r |= osip_list_clone(&req->vias, &resp->vias, (int (*)(void *, void **))&osip_via_clone);
    return r;
}

/// Copies the request's Record-Route headers into a dialog-creating response (RFC 3261
/// §12.1.1: the UAS copies them, in order).
static inline int baton_osip_copy_record_routes(osip_message_t *resp, const osip_message_t *req) {
    return osip_list_clone(&req->record_routes, &resp->record_routes, (int (*)(void *, void **))&osip_record_route_clone);
}
static inline int baton_osip_route_count(const osip_message_t *m) { return osip_list_size(&m->routes); }
static inline char *baton_osip_route(const osip_message_t *m, int pos) {
    osip_route_t *r = (osip_route_t *)osip_list_get(&m->routes, pos); char *s = NULL;
    if (r && osip_route_to_str(r, &s) == 0) return s; return NULL;
}

// SDP (sdp_message_t) helpers.
static inline int baton_sdp_media_count(sdp_message_t *s) { return osip_list_size(&s->m_medias); }
static inline void baton_sdp_replace(char **field, const char *value) {
    if (*field) osip_free(*field); *field = osip_strdup(value);
}
/// Session-level c= address (NULL if none).
static inline const char *baton_sdp_session_caddr(sdp_message_t *s) {
    return (s->c_connection && s->c_connection->c_addr) ? s->c_connection->c_addr : NULL;
}
static inline const char *baton_sdp_media_caddr(sdp_message_t *s, int pos) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    sdp_connection_t *c = m ? (sdp_connection_t *)osip_list_get(&m->c_connections, 0) : NULL;
    return (c && c->c_addr) ? c->c_addr : NULL;
}
static inline const char *baton_sdp_media_field(sdp_message_t *s, int pos, int which) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    if (!m) return NULL;
    switch (which) { case 0: return m->m_media; case 1: return m->m_port; case 2: return m->m_proto; default: return NULL; }
}
/// Rewrites c= (session and media level), o= address and m= port, and any a=rtcp: line, of media `pos`.
static inline int baton_sdp_anchor(sdp_message_t *s, int pos, const char *addr, const char *addrtype, int port) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    if (!m) return -1;
    char buf[16]; snprintf(buf, sizeof buf, "%d", port);
    baton_sdp_replace(&m->m_port, buf);
    if (s->c_connection) { baton_sdp_replace(&s->c_connection->c_addr, addr); baton_sdp_replace(&s->c_connection->c_addrtype, addrtype); }
    for (int i = 0; i < osip_list_size(&m->c_connections); i++) {
        sdp_connection_t *c = (sdp_connection_t *)osip_list_get(&m->c_connections, i);
        baton_sdp_replace(&c->c_addr, addr); baton_sdp_replace(&c->c_addrtype, addrtype);
    }
    if (s->o_addr) { baton_sdp_replace(&s->o_addr, addr); baton_sdp_replace(&s->o_addrtype, addrtype); }
    for (int i = 0; i < osip_list_size(&m->a_attributes); i++) {
        sdp_attribute_t *a = (sdp_attribute_t *)osip_list_get(&m->a_attributes, i);
        if (a->a_att_field && strcmp(a->a_att_field, "rtcp") == 0) {
            char v[16]; snprintf(v, sizeof v, "%d", port + 1);
            baton_sdp_replace(&a->a_att_value, v);
        }
    }
    return 0;
}
static inline int baton_sdp_is_ice_attribute(const char *f) {
    static const char *names[] = { "candidate", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite",
                                   "remote-candidates", "end-of-candidates", "ice-mismatch", NULL };
    for (int i = 0; names[i]; i++) if (f && strcmp(f, names[i]) == 0) return 1;
    return 0;
}
static inline void baton_sdp_strip_ice_list(osip_list_t *attrs) {
    int i = 0;
    while (i < osip_list_size(attrs)) {
        sdp_attribute_t *a = (sdp_attribute_t *)osip_list_get(attrs, i);
        if (a && baton_sdp_is_ice_attribute(a->a_att_field)) { osip_list_remove(attrs, i); sdp_attribute_free(a); }
        else i++;
    }
}
/// Removes ICE attributes (candidates, credentials, options) at session and media level.
static inline void baton_sdp_strip_ice(sdp_message_t *s) {
    baton_sdp_strip_ice_list(&s->a_attributes);
    for (int i = 0; i < osip_list_size(&s->m_medias); i++) {
        sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, i);
        baton_sdp_strip_ice_list(&m->a_attributes);
    }
}
/// Sets the transport protocol of media `pos` (m= line, e.g. "RTP/AVP").
static inline int baton_sdp_set_proto(sdp_message_t *s, int pos, const char *proto) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    if (!m) return -1; baton_sdp_replace(&m->m_proto, proto); return 0;
}
/// Value of a=rtcp:PORT for media `pos`, or 0.
static inline int baton_sdp_media_rtcp_port(sdp_message_t *s, int pos) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    if (!m) return 0;
    for (int i = 0; i < osip_list_size(&m->a_attributes); i++) {
        sdp_attribute_t *a = (sdp_attribute_t *)osip_list_get(&m->a_attributes, i);
        if (a->a_att_field && strcmp(a->a_att_field, "rtcp") == 0 && a->a_att_value) return atoi(a->a_att_value);
    }
    return 0;
}
/// Number of formats (payload types) on media `pos`'s m= line.
static inline int baton_sdp_format_count(sdp_message_t *s, int pos) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    return m ? osip_list_size(&m->m_payloads) : 0;
}
static inline const char *baton_sdp_format(sdp_message_t *s, int pos, int i) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    return m ? (const char *)osip_list_get(&m->m_payloads, i) : NULL;
}
/// Empties media `pos`'s format list (then add them back in the wanted order).
static inline int baton_sdp_clear_formats(sdp_message_t *s, int pos) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    if (!m) return -1;
    while (osip_list_size(&m->m_payloads) > 0) {
        char *f = (char *)osip_list_get(&m->m_payloads, 0);
        osip_list_remove(&m->m_payloads, 0);
        osip_free(f);
    }
    return 0;
}
static inline int baton_sdp_add_format(sdp_message_t *s, int pos, const char *format) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    if (!m) return -1;
    return osip_list_add(&m->m_payloads, osip_strdup(format), -1) < 0 ? -1 : 0;
}
/// Attributes of media `pos` (pos -1: session level).
static inline osip_list_t *baton_sdp_attrs(sdp_message_t *s, int pos) {
    if (pos < 0) return &s->a_attributes;
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&s->m_medias, pos);
    return m ? &m->a_attributes : NULL;
}
static inline int baton_sdp_attr_count(sdp_message_t *s, int pos) {
    osip_list_t *l = baton_sdp_attrs(s, pos);
    return l ? osip_list_size(l) : 0;
}
/// Field (which 0) or value (which 1) of attribute i of media `pos`; NULL if absent.
static inline const char *baton_sdp_attr(sdp_message_t *s, int pos, int i, int which) {
    osip_list_t *l = baton_sdp_attrs(s, pos);
    sdp_attribute_t *a = l ? (sdp_attribute_t *)osip_list_get(l, i) : NULL;
    if (!a) return NULL;
    return which == 0 ? a->a_att_field : a->a_att_value;
}
static inline int baton_sdp_attr_remove(sdp_message_t *s, int pos, int i) {
    osip_list_t *l = baton_sdp_attrs(s, pos);
    sdp_attribute_t *a = l ? (sdp_attribute_t *)osip_list_get(l, i) : NULL;
    if (!a) return -1;
    osip_list_remove(l, i);
    sdp_attribute_free(a);
    return 0;
}
/// Appends a=field:value (value NULL: a=field) to media `pos`.
static inline int baton_sdp_attr_add(sdp_message_t *s, int pos, const char *field, const char *value) {
    osip_list_t *l = baton_sdp_attrs(s, pos);
    sdp_attribute_t *a = NULL;
    if (!l || sdp_attribute_init(&a) != 0) return -1;
    a->a_att_field = osip_strdup(field);
    a->a_att_value = value ? osip_strdup(value) : NULL;
    return osip_list_add(l, a, -1) < 0 ? -1 : 0;
}
#endif
