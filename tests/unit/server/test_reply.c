/* Unit tests for server/reply.c over a real libmicrohttpd daemon and a raw
 * socket client: each family's body and headers, the ACME nonce hook. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"

/* What the access handler does for the next request. */
static enum err_family next_family;
static enum err_code next_err;
static int next_kind; /* 0 problem, 1 json success, 2 bytes with ETag */
static int nonce_calls;

static const char *test_nonce(struct server *srv, char out[ACME_NONCE_MAX])
{
	(void)srv;
	nonce_calls++;
	snprintf(out, ACME_NONCE_MAX, "nonce-%d", nonce_calls);
	return out;
}

static struct server srv;

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **req_cls)
{
	struct request req;

	(void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size;
	(void)req_cls;
	memset(&req, 0, sizeof req);
	req.srv = &srv;
	req.conn = conn;
	req.family = next_family;
	snprintf(req.id, sizeof req.id, "req-1234");
	if (next_kind == 1)
		return reply_json_steal(&req, 200, json_pack("{s:b}", "ok", 1));
	if (next_kind == 3) {
		/* A handler parsing {"subject": 7} with a spec. */
		const char *subject = NULL;
		struct json_spec spec[] = {json_spec_string("subject", &subject, 8, 0),
					   json_spec_end()};
		enum spec_status st;
		/* No cmocka assertion here: this runs on the daemon's thread. */
		req.json = json_pack("{s:i}", "subject", 7);
		st = spec_parse_body(&req, spec);
		json_decref(req.json);
		return SPEC_HANDLER_RESULT(st);
	}
	if (next_kind == 2)
		return reply_bytes(&req, 200, "application/pem-certificate-chain", "PEM\n", 4,
				   "\"v7\"");
	return reply_problem(&req, next_err, "detail %d", 42);
}

static struct MHD_Daemon *daemon_start(unsigned short *port)
{
	struct MHD_Daemon *d =
		MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, access_cb, NULL,
				 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	const union MHD_DaemonInfo *di;

	assert_non_null(d);
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*port = di->port;
	return d;
}

/* One request, the whole raw response (headers and body) into out. */
static void fetch(unsigned short port, char *out, size_t size)
{
	static const char rq[] = "GET /x HTTP/1.1\r\nHost: ca.example:8443\r\n"
				 "Connection: close\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t n = 0;
	ssize_t r;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(write(fd, rq, sizeof rq - 1), (ssize_t)(sizeof rq - 1));
	while (n + 1 < size && (r = read(fd, out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd);
}

static void run(enum err_family fam, int kind, enum err_code err, char *out, size_t size)
{
	unsigned short port;
	struct MHD_Daemon *d = daemon_start(&port);

	next_family = fam;
	next_kind = kind;
	next_err = err;
	fetch(port, out, size);
	MHD_stop_daemon(d);
}

static void test_orchard_problem(void **state)
{
	char r[4096];
	struct log_fault_counts before, after;
	(void)state;
	log_fault_counts(&before);
	run(ERR_FAMILY_ORCHARD, 0, ERR_INVALID_FIELD, r, sizeof r);
	log_fault_counts(&after);
	assert_non_null(strstr(r, "HTTP/1.1 400"));
	assert_non_null(strstr(r, "Content-Type: application/problem+json"));
	assert_non_null(strstr(r, "\"type\":\"https://orchard.dev/problems/invalid-field\""));
	assert_non_null(strstr(r, "\"detail\":\"detail 42\""));
	assert_non_null(strstr(r, "\"request_id\":\"req-1234\""));
	assert_null(strstr(r, "Replay-Nonce"));
	assert_null(strstr(r, "Link:"));
	/* A 4xx is the peer's fault, counted as bad input, not as our bug. */
	assert_int_equal(after.bad_input, before.bad_input + 1);
	assert_int_equal(after.bugs, before.bugs);
}

static void test_internal_error_is_our_bug(void **state)
{
	char r[4096];
	struct log_fault_counts before, after;
	(void)state;
	log_fault_counts(&before);
	run(ERR_FAMILY_ORCHARD, 0, ERR_INTERNAL, r, sizeof r);
	log_fault_counts(&after);
	assert_non_null(strstr(r, "HTTP/1.1 500"));
	assert_int_equal(after.bugs, before.bugs + 1);
	assert_int_equal(after.bad_input, before.bad_input);
}

static void test_acme_problem_without_hook(void **state)
{
	char r[4096];
	(void)state;
	srv.acme_nonce = NULL;
	run(ERR_FAMILY_ACME, 0, ERR_ACME_BAD_NONCE, r, sizeof r);
	assert_non_null(strstr(r, "HTTP/1.1 400"));
	assert_non_null(strstr(r, "Content-Type: application/problem+json"));
	assert_non_null(strstr(r, "\"type\":\"urn:ietf:params:acme:error:badNonce\""));
	assert_non_null(strstr(r, "Link: <https://ca.example:8443/acme/directory>;rel=\"index\""));
	assert_null(strstr(r, "Replay-Nonce"));
}

static void test_acme_hook_called_on_errors_and_successes(void **state)
{
	char r[4096];
	int calls;
	(void)state;
	srv.acme_nonce = test_nonce;
	calls = nonce_calls;
	run(ERR_FAMILY_ACME, 0, ERR_ACME_BAD_ATTESTATION_STATEMENT, r, sizeof r);
	assert_int_equal(nonce_calls, calls + 1);
	assert_non_null(strstr(r, "Replay-Nonce: nonce-"));
	assert_non_null(strstr(r, "urn:ietf:params:acme:error:badAttestationStatement"));
	run(ERR_FAMILY_ACME, 1, ERR_INTERNAL, r, sizeof r);
	assert_int_equal(nonce_calls, calls + 2);
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "Replay-Nonce: nonce-"));
	assert_non_null(strstr(r, "Link: <https://ca.example:8443/acme/directory>"));
	/* An operator request never asks for a nonce. */
	run(ERR_FAMILY_ORCHARD, 1, ERR_INTERNAL, r, sizeof r);
	assert_int_equal(nonce_calls, calls + 2);
	srv.acme_nonce = NULL;
}

static void test_generic_code_speaks_the_request_protocol(void **state)
{
	char r[4096];
	(void)state;
	run(ERR_FAMILY_ACME, 0, ERR_NOT_FOUND, r, sizeof r);
	assert_non_null(strstr(r, "HTTP/1.1 404"));
	assert_non_null(strstr(r, "\"type\":\"urn:ietf:params:acme:error:malformed\""));
	run(ERR_FAMILY_ACME, 0, ERR_DB_UNAVAILABLE, r, sizeof r);
	assert_non_null(strstr(r, "\"type\":\"urn:ietf:params:acme:error:serverInternal\""));
	run(ERR_FAMILY_DPS, 0, ERR_INVALID_FIELD, r, sizeof r);
	assert_non_null(strstr(r, "\"errorCode\":400004"));
	run(ERR_FAMILY_DPS, 0, ERR_AUTH_MISSING, r, sizeof r);
	assert_non_null(strstr(r, "\"errorCode\":401002"));
}

static void test_dps_body(void **state)
{
	char r[4096];
	const char *ts;
	(void)state;
	run(ERR_FAMILY_DPS, 0, ERR_DPS_UNAUTHORIZED, r, sizeof r);
	assert_non_null(strstr(r, "HTTP/1.1 401"));
	assert_non_null(strstr(r, "Content-Type: application/json; charset=utf-8"));
	assert_non_null(strstr(r, "x-ms-error-code: 401002"));
	assert_non_null(strstr(r, "{\"errorCode\":401002,\"trackingId\":\"req-1234\","
				  "\"message\":\"detail 42\",\"timestampUtc\":\""));
	ts = strstr(r, "\"timestampUtc\":\"") + strlen("\"timestampUtc\":\"");
	/* 2026-12-01T15:00:00.1234567Z */
	assert_int_equal(strlen(ts), 28 + 2);
	assert_true(ts[10] == 'T' && ts[19] == '.' && ts[27] == 'Z');
	/* An ACME or DPS code keeps its family on any route. */
	run(ERR_FAMILY_ORCHARD, 0, ERR_DPS_THROTTLED, r, sizeof r);
	assert_non_null(strstr(r, "\"errorCode\":429001"));
	assert_non_null(strstr(r, "Retry-After: 1"));
}

static void test_bytes_with_etag(void **state)
{
	char r[4096];
	(void)state;
	run(ERR_FAMILY_ORCHARD, 2, ERR_INTERNAL, r, sizeof r);
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "Content-Type: application/pem-certificate-chain"));
	assert_non_null(strstr(r, "ETag: \"v7\""));
	assert_non_null(strstr(r, "\r\n\r\nPEM\n"));
}

static void test_spec_failure_names_the_pointer(void **state)
{
	char r[4096];
	(void)state;
	run(ERR_FAMILY_ORCHARD, 3, ERR_INTERNAL, r, sizeof r);
	assert_non_null(strstr(r, "HTTP/1.1 400"));
	assert_non_null(strstr(r, "\"type\":\"https://orchard.dev/problems/invalid-field\""));
	assert_non_null(strstr(r, "\"detail\":\"/subject: must be a string\""));
	assert_non_null(strstr(r, "\"pointer\":\"/subject\""));
	run(ERR_FAMILY_ACME, 3, ERR_INTERNAL, r, sizeof r);
	assert_non_null(strstr(r, "\"type\":\"urn:ietf:params:acme:error:malformed\""));
	assert_non_null(strstr(r, "\"pointer\":\"/subject\""));
	run(ERR_FAMILY_DPS, 3, ERR_INTERNAL, r, sizeof r);
	assert_non_null(strstr(r, "\"errorCode\":400004"));
	assert_non_null(strstr(r, "\"message\":\"/subject: must be a string\""));
}

static void test_every_code_has_a_sane_row(void **state)
{
	(void)state;
	for (int i = 0; i < ERR__COUNT; i++) {
		const struct err_info *e = &err_table[i];
		assert_true(e->http_status >= 400 && e->http_status < 600);
		assert_true(e->code >= 1000 && e->code <= 9999);
		assert_non_null(e->title);
		if (e->family == ERR_FAMILY_DPS) {
			assert_null(e->type);
			/* Azure's codes begin with the HTTP status. */
			assert_int_equal(e->azure_code / 1000, e->http_status);
		} else {
			assert_non_null(e->type);
			assert_int_equal(e->azure_code, 0);
		}
	}
}

/* A flood of bad input writes a bounded number of lines and counts all. */
static void test_bad_input_logging_is_sampled(void **state)
{
	struct log_fault_counts before, after;
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	(void)state;
	assert_true(saved >= 0 && null >= 0);
	dup2(null, STDERR_FILENO);
	log_set_level(LOG_WARN);
	log_fault_counts(&before);
	for (int i = 0; i < 1000; i++)
		log_bad_input("junk", "i", "x");
	log_fault_counts(&after);
	log_set_level(LOG_ERROR + 1);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	assert_int_equal(after.bad_input - before.bad_input, 1000);
	/* At most two one-second windows can pass during the loop. */
	assert_true(after.bad_input_suppressed - before.bad_input_suppressed >=
		    1000 - 2 * LOG_BAD_INPUT_PER_SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orchard_problem),
		cmocka_unit_test(test_internal_error_is_our_bug),
		cmocka_unit_test(test_acme_problem_without_hook),
		cmocka_unit_test(test_acme_hook_called_on_errors_and_successes),
		cmocka_unit_test(test_generic_code_speaks_the_request_protocol),
		cmocka_unit_test(test_dps_body),
		cmocka_unit_test(test_bytes_with_etag),
		cmocka_unit_test(test_spec_failure_names_the_pointer),
		cmocka_unit_test(test_every_code_has_a_sane_row),
		cmocka_unit_test(test_bad_input_logging_is_sampled),
	};
	log_set_level(LOG_ERROR + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
