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

/* "Our bug" (an internal error that becomes a 5xx) and "bad peer input"
 * (a client error that becomes a 4xx), each naming the file:line where it
 * happened, with optional key/value string pairs (no NULL needed):
 * log_bad_input("subject refused", "pointer", "/subject").
 * Bad-input lines are sampled: at most LOG_BAD_INPUT_PER_SEC lines a second
 * process-wide, so a hostile client cannot flood the log; the next line that
 * is written says how many were suppressed, and the counters below see all. */
#define log_bug(...) log_bug_at(__FILE__, __LINE__, __VA_ARGS__, NULL)
#define log_bad_input(...) log_bad_input_at(__FILE__, __LINE__, __VA_ARGS__, NULL)
#define LOG_BAD_INPUT_PER_SEC 20

void log_bug_at(const char *file, int line, const char *what, ...) __attribute__((sentinel));
void log_bad_input_at(const char *file, int line, const char *what, ...) __attribute__((sentinel));

/* Totals since start, for /metrics: bugs, bad inputs, bad-input lines that
 * the sampling suppressed. */
struct log_fault_counts {
	unsigned long long bugs;
	unsigned long long bad_input;
	unsigned long long bad_input_suppressed;
};
void log_fault_counts(struct log_fault_counts *out);

#endif
