/* JSON-lines logger. Each line is built in one buffer and written with one
 * write(2), so lines from concurrent threads never interleave. */
#include "common/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static __thread const char *request_id;
static const char *level_names[] = {"debug", "info", "warn", "error"};
static atomic_ullong n_bugs, n_bad_input, n_suppressed;
/* Bad-input sampling: the second the window started, the lines written in
 * it, and the lines suppressed since the last one written. */
static atomic_llong bad_window;
static atomic_uint bad_in_window;
static atomic_ullong bad_pending;

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_set_request_id(const char *id)
{
	request_id = id;
}

#define LOG_FAST_PAIRS 16
#define LOG_FAST_LINE 2048

/* Plain text: printable ASCII without '"' or '\\', which JSON writes as it
 * is. */
static int log_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

static char *log_put(char *p, const char *end, const char *key, const char *value)
{
	size_t k = strlen(key), v = value ? strlen(value) : 4;

	if (p == NULL || (size_t)(end - p) < k + v + 6)
		return NULL;
	*p++ = ',';
	*p++ = '"';
	memcpy(p, key, k);
	p += k;
	*p++ = '"';
	*p++ = ':';
	if (value == NULL) {
		memcpy(p, "null", 4);
		return p + 4;
	}
	*p++ = '"';
	memcpy(p, value, v);
	p += v;
	*p++ = '"';
	return p;
}

/* The line written directly when every key and value is plain and no key
 * comes twice (what almost every line is); the same bytes as the jansson
 * path below. 0 when written, -1 when that path must build it. */
static int log_emit_plain(const char *when, enum log_level level, const char *msg,
			  const char *where, const char *suppressed, va_list kv)
{
	const char *key[LOG_FAST_PAIRS + 6], *val[LOG_FAST_PAIRS + 6];
	/* end leaves room for the closing '}' and the newline */
	char line[LOG_FAST_LINE], *p = line, *end = line + sizeof line - 2;
	size_t n = 0;
	va_list ap;

	key[n] = "time", val[n++] = when;
	key[n] = "level", val[n++] = level_names[level];
	key[n] = "msg", val[n++] = msg;
	if (request_id != NULL)
		key[n] = "request_id", val[n++] = request_id;
	if (where != NULL)
		key[n] = "where", val[n++] = where;
	if (suppressed != NULL)
		key[n] = "suppressed", val[n++] = suppressed;
	va_copy(ap, kv);
	for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
		if (n == LOG_FAST_PAIRS + 6)
			break;
		key[n] = k;
		val[n++] = va_arg(ap, const char *);
	}
	va_end(ap);
	if (n == LOG_FAST_PAIRS + 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!log_plain(key[i]) || (val[i] != NULL && !log_plain(val[i])))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(key[i], key[j]) == 0)
				return -1;
	}
	for (size_t i = 0; i < n && p != NULL; i++)
		p = log_put(p, end, key[i], val[i]);
	if (p == NULL)
		return -1;
	line[0] = '{';
	*p++ = '}';
	*p++ = '\n';
	/* One write per line keeps lines whole across threads. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)(p - line));
	(void)w;
	return 0;
}

/* where and suppressed are extra pairs, each skipped when NULL. */
static void log_emit(enum log_level level, const char *msg, const char *where,
		     const char *suppressed, va_list kv)
{
	struct timespec ts;
	struct tm tm;
	char when[64];
	json_t *o;
	char *line = NULL;
	const char *k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	/* jansson's object and dump cost a finalize about 1% of orchardd's CPU
	 * (perf, bench/acme.sh); it stays for text that needs escaping. */
	if (log_emit_plain(when, level, msg, where, suppressed, kv) == 0)
		return;
	if ((o = json_object()) == NULL)
		return;
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "msg", json_string(msg));
	if (request_id != NULL)
		json_object_set_new(o, "request_id", json_string(request_id));
	if (where != NULL)
		json_object_set_new(o, "where", json_string(where));
	if (suppressed != NULL)
		json_object_set_new(o, "suppressed", json_string(suppressed));
	while ((k = va_arg(kv, const char *)) != NULL) {
		const char *v = va_arg(kv, const char *);
		json_object_set_new(o, k, v ? json_string(v) : json_null());
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line != NULL) {
		/* One write per line keeps lines whole across threads. */
		size_t n = strlen(line);
		line[n] = '\n';
		ssize_t w = write(STDERR_FILENO, line, n + 1);
		(void)w;
	}
	free(line);
	json_decref(o);
}

void log_kv(enum log_level level, const char *msg, ...)
{
	va_list ap;

	if (level < min_level)
		return;
	va_start(ap, msg);
	log_emit(level, msg, NULL, NULL, ap);
	va_end(ap);
}

void log_bug_at(const char *file, int line, const char *what, ...)
{
	char where[160];
	va_list ap;

	atomic_fetch_add_explicit(&n_bugs, 1, memory_order_relaxed);
	if (LOG_ERROR < min_level)
		return;
	snprintf(where, sizeof where, "%s:%d", file, line);
	va_start(ap, what);
	log_emit(LOG_ERROR, what, where, NULL, ap);
	va_end(ap);
}

/* True when this bad-input line may be written; *skipped receives how many
 * were suppressed since the last line written. Races between threads at a
 * second boundary can let a few extra lines through, never fewer. */
static int bad_input_sample(unsigned long long *skipped)
{
	struct timespec ts;
	long long now, win;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (long long)ts.tv_sec;
	win = atomic_load_explicit(&bad_window, memory_order_relaxed);
	if (win != now && atomic_compare_exchange_strong(&bad_window, &win, now))
		atomic_store_explicit(&bad_in_window, 0, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&bad_in_window, 1, memory_order_relaxed) >=
	    LOG_BAD_INPUT_PER_SEC) {
		atomic_fetch_add_explicit(&bad_pending, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&n_suppressed, 1, memory_order_relaxed);
		return 0;
	}
	*skipped = atomic_exchange_explicit(&bad_pending, 0, memory_order_relaxed);
	return 1;
}

void log_bad_input_at(const char *file, int line, const char *what, ...)
{
	char where[160], skipped_text[24];
	unsigned long long skipped = 0;
	va_list ap;

	atomic_fetch_add_explicit(&n_bad_input, 1, memory_order_relaxed);
	if (LOG_WARN < min_level || !bad_input_sample(&skipped))
		return;
	snprintf(where, sizeof where, "%s:%d", file, line);
	snprintf(skipped_text, sizeof skipped_text, "%llu", skipped);
	va_start(ap, what);
	log_emit(LOG_WARN, what, where, skipped ? skipped_text : NULL, ap);
	va_end(ap);
}

void log_fault_counts(struct log_fault_counts *out)
{
	out->bugs = atomic_load_explicit(&n_bugs, memory_order_relaxed);
	out->bad_input = atomic_load_explicit(&n_bad_input, memory_order_relaxed);
	out->bad_input_suppressed = atomic_load_explicit(&n_suppressed, memory_order_relaxed);
}
