/* Structured logging: one JSON object per line on stderr, carrying the
 * current request's ID. Never pass a secret to these functions. */
#ifndef ORCHARD_LOG_H
#define ORCHARD_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Messages below this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Sets the request ID that this thread's log lines carry; NULL clears it.
 * The string must outlive its use (it belongs to the request). */
void log_set_request_id(const char *id);

/* Logs msg at level, with optional key/value string pairs ending in NULL:
 * log_kv(LOG_INFO, "listening", "addr", "127.0.0.1:8443", NULL). */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/* "Our bug" (an internal error that becomes a 500) and "bad peer input"
 * (a client error that becomes a 4xx), each naming where it happened. */
#define log_bug(what) log_kv(LOG_ERROR, (what), "where", __FILE__ ":" LOG_STR(__LINE__), NULL)
#define log_bad_input(what) log_kv(LOG_WARN, (what), "where", __FILE__ ":" LOG_STR(__LINE__), NULL)
#define LOG_STR(x) LOG_STR2(x)
#define LOG_STR2(x) #x

#endif
