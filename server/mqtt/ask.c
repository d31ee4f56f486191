/* ask.c: the plugin's credential questions to orchardd over its Unix
 * sockets, and what it reads off a credential first (server/mqtt/ask.h):
 * built into orchard_mqtt.so. */
#include "server/mqtt/ask.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#define ASK_TIMEOUT_MS 3000
#define SAS_SKEW 300 /* seconds past se a SAS is accepted: DPS_SAS_SKEW */

/* Asked in turn from the one that last answered, so one orchardd down
 * leaves the others answering. */
static struct {
	char path[ASK_SOCKETS_MAX][sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n, cur;
	int fd;
} ask_state = {.fd = -1};

int plugin_ask_sockets(const char *paths)
{
	for (const char *p = paths; *(p += strspn(p, " \t")) != '\0';) {
		size_t n = strcspn(p, " \t");

		if (ask_state.n == ASK_SOCKETS_MAX || n >= sizeof ask_state.path[0]) {
			ask_state.n = 0;
			return -1;
		}
		memcpy(ask_state.path[ask_state.n], p, n);
		ask_state.path[ask_state.n++][n] = '\0';
		p += n;
	}
	return ask_state.n > 0 ? 0 : -1;
}

void plugin_ask_close(void)
{
	if (ask_state.fd >= 0)
		close(ask_state.fd);
	ask_state.fd = -1;
}

static int ask_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (ask_state.fd >= 0)
		return 0;
	memcpy(sa.sun_path, ask_state.path[ask_state.cur], sizeof sa.sun_path);
	ask_state.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ask_state.fd < 0)
		return -1;
	if (connect(ask_state.fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "orchard: connect %s: %s",
				     ask_state.path[ask_state.cur], strerror(errno));
		plugin_ask_close();
		return -1;
	}
	return 0;
}

/* Writes all of buf[0..n) before the deadline. */
static int send_all(const char *buf, size_t n, long long deadline)
{
	while (n > 0) {
		struct pollfd p = {.fd = ask_state.fd, .events = POLLOUT};
		long long left = deadline - plugin_now_ms();
		ssize_t w;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		w = send(ask_state.fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		buf += w, n -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without its '\n') before the deadline. */
static int recv_line(char *out, size_t max, long long deadline)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = {.fd = ask_state.fd, .events = POLLIN};
		long long left = deadline - plugin_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		r = recv(ask_state.fd, out + n, 1, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return -1;
		if (out[n] == '\n') {
			out[n] = '\0';
			return 0;
		}
		if (++n >= max)
			return -1;
	}
}

bool plugin_ask(char kind, const char *name, const char *password)
{
	char line[64];

	for (int attempt = 0; attempt <= ask_state.n; attempt++) {
		long long deadline = plugin_now_ms() + ASK_TIMEOUT_MS;
		char head[4] = {kind, ' ', '\0'};

		if (attempt > 0 && ask_state.fd < 0)
			ask_state.cur = (ask_state.cur + 1) % ask_state.n; /* that one is down */
		if (ask_connect() != 0)
			continue;
		if (send_all(head, 2, deadline) == 0 &&
		    send_all(name, strlen(name), deadline) == 0 &&
		    send_all("\n", 1, deadline) == 0 &&
		    send_all(password, strlen(password), deadline) == 0 &&
		    send_all("\n", 1, deadline) == 0 && recv_line(line, sizeof line, deadline) == 0)
			return strcmp(line, "OK") == 0;
		plugin_ask_close();
	}
	return false;
}

bool plugin_field_ok(const char *s)
{
	size_t n = s ? strnlen(s, FIELD_MAX + 1) : 0;

	return n > 0 && n <= FIELD_MAX && strpbrk(s, "\r\n") == NULL;
}

long long plugin_sas_until(const char *password)
{
	const char *se = strstr(password, "se=");

	while (se != NULL && se != password && se[-1] != '&' && se[-1] != ' ')
		se = strstr(se + 3, "se=");
	return se ? strtoll(se + 3, NULL, 10) + SAS_SKEW : 0;
}

/* Hex of serial without leading zeros, as plugin_serial_same() compares them. */
static void serial_hex(const ASN1_INTEGER *serial, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", hex && strlen(hex) < cap ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
}

bool plugin_serial_same(const char *a, const char *b, size_t blen)
{
	const char *end = b + blen;

	while (*a == '0')
		a++;
	while (b < end && *b == '0')
		b++;
	return a[0] != '\0' && strlen(a) == (size_t)(end - b) &&
	       strncasecmp(a, b, (size_t)(end - b)) == 0;
}

char *plugin_cert_b64(struct mosquitto *client, long long *until, char *serial, size_t cap)
{
	X509 *cert = mosquitto_client_certificate(client);
	unsigned char *der = NULL;
	char *b64 = NULL;
	struct tm tm;
	int n;

	if (cert != NULL && (n = i2d_X509(cert, &der)) > 0 && (n + 2) / 3 * 4 < FIELD_MAX &&
	    (b64 = malloc((size_t)(n + 2) / 3 * 4 + 1)) != NULL) {
		EVP_EncodeBlock((unsigned char *)b64, der, n);
		*until = ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1
				 ? (long long)timegm(&tm) + SAS_SKEW
				 : 0;
		serial_hex(X509_get0_serialNumber(cert), serial, cap);
	}
	OPENSSL_free(der);
	X509_free(cert);
	return b64;
}
