/* JSON-lines logger. Each line is built in one buffer and written with one
 * write(2), so lines from concurrent threads never interleave. */
#include "common/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static __thread const char *request_id;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_set_request_id(const char *id)
{
	request_id = id;
}

static void log_emit(enum log_level level, const char *msg, va_list kv)
{
	struct timespec ts;
	struct tm tm;
	char when[64];
	json_t *o = json_object();
	char *line = NULL;
	const char *k;

	if (o == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "msg", json_string(msg));
	if (request_id != NULL)
		json_object_set_new(o, "request_id", json_string(request_id));
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
	log_emit(level, msg, ap);
	va_end(ap);
}
