/* The HTTP edge: refuses what libmicrohttpd 0.9.75 accepts but RFC 9112 does
 * not, puts one deadline on a request's whole header and body, and counts
 * libmicrohttpd's own refusals. Why each rule exists: docs/internals/edge.md. */
#include "server/edge.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"

const char *const edge_kind_names[EDGE_NKINDS] = {
	"mhd_400", "mhd_414", "mhd_431", "mhd_505", "mhd_other_status", "mhd_message", "deadline",
};

/* One connection libmicrohttpd accepted; it is its socket context. */
struct edge_conn {
	struct edge_conn *prev, *next;
	struct edge *e;
	MHD_socket fd;
	/* Monotonic ms by which the request must be in; 0 while a handler
	 * has it (a long-poll may wait as long as it likes). */
	_Atomic int64_t deadline_ms;
	/* What edge_uri_log() found wrong with the target, for edge_screen()
	 * to answer: ERR__COUNT when nothing. */
	_Atomic int uri_err;
};

struct edge {
	int64_t deadline_ms;
	pthread_mutex_t lock; /* guards the list; a node lives from STARTED to CLOSED */
	struct edge_conn head;
	pthread_t thread;
	bool thread_running;
	pthread_cond_t stop_cond;
	bool stopping;
	atomic_uint_fast64_t counts[EDGE_NKINDS];
	_Atomic int64_t last_log_s; /* sampled logging: one line a second */
	atomic_uint_fast64_t unlogged;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the rules ------------------------------------------------------------ */

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static bool scan_fail(struct edge_scan *s, enum err_code err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records the first failure; returns false, so a rule reads as one line. */
static bool scan_fail(struct edge_scan *s, enum err_code err, const char *fmt, ...)
{
	va_list ap;

	if (s->err != ERR__COUNT)
		return false; /* the first reason is the one reported */
	s->err = err;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof s->detail, fmt, ap);
	va_end(ap);
	return false;
}

void edge_scan_init(struct edge_scan *s)
{
	memset(s, 0, sizeof *s);
	s->err = ERR__COUNT;
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return n > 0;
}

/* Returns false once a rule fails (recorded in s). */
static bool scan_field(struct edge_scan *s, const char *name, size_t name_len, const char *value,
		       size_t value_len, bool damaged)
{
	/* Only a valid token name is quoted back; 40 bytes say enough. */
	int q = name_len > 40 ? 40 : (int)name_len;

	if (name_len == 0)
		return scan_fail(s, ERR_BAD_HEADER, "an empty header name");
	for (size_t i = 0; i < name_len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == ' ' || c == '\t')
			return scan_fail(s, ERR_BAD_HEADER,
					 "whitespace between a header name and its colon");
		if (!is_tchar(c))
			return scan_fail(s, ERR_BAD_HEADER,
					 "byte 0x%02x in a header name is not a token character",
					 c);
	}
	if (damaged)
		return scan_fail(s, ERR_BAD_HEADER, "a NUL or a folded line at header %.*s", q,
				 name);
	/* RFC 9110 5.5: CR, LF and NUL are invalid in a value; the other
	 * controls are refused too rather than passed on to handlers. */
	for (size_t i = 0; i < value_len; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return scan_fail(s, ERR_BAD_HEADER, "control byte 0x%02x in header %.*s", c,
					 q, name);
	}
	if (name_is(name, name_len, "Content-Length")) {
		if (++s->content_length > 1)
			return scan_fail(s, ERR_BAD_FRAMING, "more than one Content-Length header");
		if (value_len > 19 || !all_digits(value, value_len))
			return scan_fail(s, ERR_BAD_FRAMING, "Content-Length is not a number");
	} else if (name_is(name, name_len, "Transfer-Encoding")) {
		if (++s->transfer_encoding > 1)
			return scan_fail(s, ERR_BAD_FRAMING,
					 "more than one Transfer-Encoding header");
		/* RFC 9112 6.3: a final coding other than chunked leaves the
		 * length to the connection's close; nothing else is meant. */
		if (!name_is(value, value_len, "chunked"))
			return scan_fail(s, ERR_BAD_FRAMING,
					 "Transfer-Encoding other than exactly chunked");
	} else if (name_is(name, name_len, "Host")) {
		if (++s->host > 1)
			return scan_fail(s, ERR_BAD_HOST, "more than one Host header");
	}
	return true;
}

void edge_scan_field(struct edge_scan *s, const char *name, size_t name_len, const char *value,
		     size_t value_len, bool damaged)
{
	if (s->err == ERR__COUNT)
		scan_field(s, name, name_len, value, value_len, damaged);
}

enum err_code edge_scan_finish(struct edge_scan *s, bool http11)
{
	if (s->content_length > 0 && s->transfer_encoding > 0)
		scan_fail(s, ERR_BAD_FRAMING, "both Content-Length and Transfer-Encoding");
	if (http11 && s->host == 0)
		scan_fail(s, ERR_BAD_HOST, "HTTP/1.1 without a Host header");
	return s->err;
}

enum err_code edge_check_uri(const char *uri, size_t len)
{
	const char *q = memchr(uri, '?', len);
	size_t params = 0;

	if (len > EDGE_MAX_URI)
		return ERR_URI_TOO_LONG;
	if (q == NULL)
		return ERR__COUNT;
	/* '&' + 1 bounds the parameters libmicrohttpd will make. */
	params = 1;
	for (const char *p = q; p < uri + len; p++)
		params += *p == '&';
	return params > EDGE_MAX_PARAMS ? ERR_TOO_MANY_PARAMETERS : ERR__COUNT;
}

/* --- sampled logging -------------------------------------------------------- */

/* Hostile clients must not write a line per request: one line a second at
 * most, saying how many went unlogged since the last one. */
static void edge_log_sampled(struct edge *e, const char *msg, const char *detail)
{
	int64_t sec = now_ms() / 1000, last;
	char unlogged[24];

	if (e == NULL) {
		log_kv(LOG_WARN, msg, "detail", detail, NULL);
		return;
	}
	last = atomic_load(&e->last_log_s);
	if (last == sec || !atomic_compare_exchange_strong(&e->last_log_s, &last, sec)) {
		atomic_fetch_add_explicit(&e->unlogged, 1, memory_order_relaxed);
		return;
	}
	snprintf(unlogged, sizeof unlogged, "%lu", (unsigned long)atomic_exchange(&e->unlogged, 0));
	log_kv(LOG_WARN, msg, "detail", detail, "unlogged_since_last", unlogged, NULL);
}

/* --- the screen on the first access-handler call ------------------------------ */

struct screen_ctx {
	struct edge_scan scan;
	const char *prev_end; /* end of the previous field's value */
	const char *prev_name;
	size_t prev_name_len;
	const char *prev_value;
	size_t prev_value_len;
	bool have_prev;
};

/* libmicrohttpd 0.9.75 cuts a value at a NUL (it uses strlen) and appends a
 * folded line to a copy elsewhere in its pool. Its fields lie in arrival
 * order in the read buffer, each line's CR and LF overwritten with NULs,
 * so a field is intact when the next one starts right after those NULs. */
static bool field_intact(const char *value_end, const char *next_name)
{
	if (next_name == NULL) /* the last field: the empty line's NULs follow */
		return value_end[1] == '\0';
	if (next_name == value_end + 1)
		return true; /* bare LF */
	return next_name == value_end + 2 && value_end[1] == '\0';
}

static void screen_flush(struct screen_ctx *sc, const char *next_name)
{
	if (!sc->have_prev)
		return;
	edge_scan_field(&sc->scan, sc->prev_name, sc->prev_name_len, sc->prev_value,
			sc->prev_value_len, !field_intact(sc->prev_end, next_name));
}

static enum MHD_Result screen_field(void *cls, enum MHD_ValueKind kind, const char *key,
				    size_t key_size, const char *value, size_t value_size)
{
	struct screen_ctx *sc = cls;

	(void)kind;
	if (value == NULL) {
		value = "";
		value_size = 0;
	}
	screen_flush(sc, key);
	sc->prev_name = key;
	sc->prev_name_len = key_size;
	sc->prev_value = value;
	sc->prev_value_len = value_size;
	sc->prev_end = value + value_size;
	sc->have_prev = true;
	return MHD_YES;
}

static struct edge_conn *conn_state(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

bool edge_screen(struct request *req, const char *version)
{
	struct edge_conn *ec = conn_state(req->conn);
	struct screen_ctx sc = {0};
	enum err_code err;

	if (ec != NULL && (err = (enum err_code)atomic_load(&ec->uri_err)) != ERR__COUNT) {
		atomic_store(&ec->uri_err, ERR__COUNT);
		edge_log_sampled(req->srv->edge, "request refused at the edge",
				 "request target too long or too many query parameters");
		if (err == ERR_URI_TOO_LONG)
			reply_problem(req, err, "the limit is %d bytes", EDGE_MAX_URI);
		else
			reply_problem(req, err, "the limit is %d", EDGE_MAX_PARAMS);
		return false;
	}
	edge_scan_init(&sc.scan);
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, screen_field, &sc);
	screen_flush(&sc, NULL);
	err = edge_scan_finish(&sc.scan, version != NULL && strcmp(version, "HTTP/1.1") == 0);
	if (err == ERR__COUNT)
		return true;
	edge_log_sampled(req->srv->edge, "request refused at the edge", sc.scan.detail);
	reply_problem(req, err, "%s", sc.scan.detail);
	return false;
}

/* --- connections and their deadline -------------------------------------------- */

void edge_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			    enum MHD_ConnectionNotificationCode code)
{
	struct edge *e = cls;
	struct edge_conn *ec = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		ec = calloc(1, sizeof *ec);
		if (ec == NULL || ci == NULL) {
			free(ec); /* untracked: no deadline, no worse than before */
			return;
		}
		ec->e = e;
		ec->fd = ci->connect_fd;
		atomic_store(&ec->uri_err, ERR__COUNT);
		atomic_store(&ec->deadline_ms, e->deadline_ms ? now_ms() + e->deadline_ms : 0);
		pthread_mutex_lock(&e->lock);
		ec->next = e->head.next;
		ec->prev = &e->head;
		e->head.next->prev = ec;
		e->head.next = ec;
		pthread_mutex_unlock(&e->lock);
		*socket_context = ec;
		return;
	}
	if (ec == NULL)
		return;
	/* libmicrohttpd closes the socket after this notification, so the
	 * deadline thread never shuts down a descriptor number reused since. */
	pthread_mutex_lock(&e->lock);
	ec->prev->next = ec->next;
	ec->next->prev = ec->prev;
	pthread_mutex_unlock(&e->lock);
	free(ec);
	*socket_context = NULL;
}

void *edge_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct edge_conn *ec = conn_state(c);
	size_t len = strlen(uri);
	enum err_code err = edge_check_uri(uri, len);

	(void)cls;
	if (err != ERR__COUNT && ec != NULL) {
		/* libmicrohttpd 0.9.75 splits the query right after this call,
		 * into its pool; when the pool runs out it queues a 431, then
		 * overwrites that state and waits for the idle timeout. The
		 * buffer is libmicrohttpd's and writable: ending the query at
		 * its first byte leaves nothing to split, and edge_screen()
		 * answers instead. */
		char *q = memchr(uri, '?', len);
		if (q != NULL)
			q[1] = '\0';
		atomic_store(&ec->uri_err, (int)err);
	}
	return NULL; /* the request context stays request_access()'s */
}

void edge_request_received(struct MHD_Connection *c)
{
	struct edge_conn *ec = conn_state(c);

	if (ec != NULL)
		atomic_store(&ec->deadline_ms, 0);
}

void edge_request_done(struct MHD_Connection *c)
{
	struct edge_conn *ec = conn_state(c);

	if (ec != NULL && ec->e->deadline_ms)
		atomic_store(&ec->deadline_ms, now_ms() + ec->e->deadline_ms);
}

/* Once a second, shuts down the sockets of requests past their deadline:
 * libmicrohttpd then reads end-of-file and closes the connection in its
 * own thread. libmicrohttpd has no call to close a connection from outside,
 * and its own timeout restarts on every byte. */
static void *edge_deadline_main(void *arg)
{
	struct edge *e = arg;
	struct timespec wake;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &wake);
		wake.tv_sec += 1;
		pthread_cond_timedwait(&e->stop_cond, &e->lock, &wake);
		int64_t now = now_ms();
		for (struct edge_conn *ec = e->head.next; ec != &e->head; ec = ec->next) {
			int64_t d = atomic_load(&ec->deadline_ms);
			if (d == 0 || d > now ||
			    !atomic_compare_exchange_strong(&ec->deadline_ms, &d, 0))
				continue;
			shutdown(ec->fd, SHUT_RDWR);
			atomic_fetch_add_explicit(&e->counts[EDGE_DEADLINE], 1,
						  memory_order_relaxed);
			edge_log_sampled(e,
					 "connection closed: request not complete by its deadline",
					 "slow header or body");
		}
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

struct edge *edge_new(long deadline_s)
{
	struct edge *e = calloc(1, sizeof *e);
	pthread_condattr_t ca;

	if (e == NULL)
		return NULL;
	e->deadline_ms = (int64_t)deadline_s * 1000;
	e->head.next = e->head.prev = &e->head;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (e->deadline_ms > 0) {
		if (pthread_create(&e->thread, NULL, edge_deadline_main, e) != 0) {
			log_kv(LOG_ERROR, "cannot start the request deadline thread", NULL);
			edge_free(e);
			return NULL;
		}
		e->thread_running = true;
	}
	return e;
}

/* Call after the daemons stopped: every connection is closed by then. */
void edge_free(struct edge *e)
{
	if (e == NULL)
		return;
	if (e->thread_running) {
		pthread_mutex_lock(&e->lock);
		e->stopping = true;
		pthread_cond_signal(&e->stop_cond);
		pthread_mutex_unlock(&e->lock);
		pthread_join(e->thread, NULL);
	}
	pthread_cond_destroy(&e->stop_cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* --- libmicrohttpd's own log ---------------------------------------------------- */

/* Its refusals (a header over the pool, a URI over the buffer, a bad
 * request line, an unknown version) are sent by libmicrohttpd with its own
 * HTML body; all orchardd sees is this line, so it is what gets counted. */
void edge_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct edge *e = cls;
	enum edge_kind kind = EDGE_MHD_MESSAGE;
	char msg[512];
	va_list copy;

	va_copy(copy, ap);
	if (strstr(fmt, "HTTP response code is %u") != NULL) {
		unsigned status = va_arg(copy, unsigned);
		kind = status == 400   ? EDGE_MHD_400
		       : status == 414 ? EDGE_MHD_414
		       : status == 431 ? EDGE_MHD_431
		       : status == 505 ? EDGE_MHD_505
				       : EDGE_MHD_OTHER_STATUS;
		/* The rest of that line is libmicrohttpd's HTML body. */
		snprintf(msg, sizeof msg, "refused a request with HTTP %u", status);
	} else {
		vsnprintf(msg, sizeof msg, fmt, ap);
		msg[strcspn(msg, "\n")] = '\0';
	}
	va_end(copy);
	if (e == NULL) {
		log_kv(LOG_WARN, "libmicrohttpd", "detail", msg, NULL);
		return;
	}
	atomic_fetch_add_explicit(&e->counts[kind], 1, memory_order_relaxed);
	edge_log_sampled(e, "libmicrohttpd", msg);
}

void edge_get_counts(const struct edge *e, uint64_t out[EDGE_NKINDS])
{
	for (int k = 0; k < EDGE_NKINDS; k++)
		out[k] = e ? atomic_load_explicit(&e->counts[k], memory_order_relaxed) : 0;
}
