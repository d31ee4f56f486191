/* A load client for IoT Hub over MQTT (bench/mqtt.sh): connects N devices
 * of one symmetric-key enrollment group (registered before, named
 * "{prefix}-{i:07}", keys derived from the group key as Azure's SDKs do)
 * to the broker over TLS with libmosquitto, as the SDK does (clean session
 * false, IoT Hub's username and device SAS), all on one thread polling
 * every socket. Then:
 *   1. --patches K: one operator PATCH /twins/{id} of desired at a time
 *      (libcurl, keep-alive) to a device picked in turn, timed until that
 *      device's MQTT handler has the push: p50/p99/max;
 *   2. the same K times with a cloud-to-device message (POST
 *      /devices/{id}/commands) until the device has it;
 *   3. --seconds S: every device sends reported PATCHes back to back (one
 *      outstanding each) for S seconds: 204s per second.
 * Prints one line per figure; exits 1 when a device could not connect or
 * a push never came.
 *
 *   mqtt_load --port P --https URL --token T --cacert root.pem --hub H
 *             --group-key B64 [--devices N] [--prefix p] [--patches K]
 *             [--seconds S] [--ready-file F]
 */
#include <curl/curl.h>
#include <mosquitto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct dev {
	struct mosquitto *m;
	char id[64];
	bool connected, subscribed;
	int subacks;
	long long want; /* the desired "bench" value or "c2d N" message awaited, 0: none */
	double got_at;	/* when it came */
	int outstanding;
	long long done;
};

static struct dev *devs;
static int ndev = 1000, nlive, port, npatch = 200, seconds = 5;
static const char *https_url, *token, *cacert, *hub = "127.0.0.1", *prefix = "mq", *ready_file;
static unsigned char gkey[64];
static int gkey_len;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* strict percent-encoding (encodeURIComponent) */
static void urlenc(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in && o + 4 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.!~*'()", c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	out[o] = '\0';
}

/* IoT Hub's device SAS for id, valid an hour. */
static void sas(const char *id, char *out, size_t cap)
{
	unsigned char dkey[32], sig[32];
	unsigned dlen = 0, slen = 0;
	char sr[256], raw[256], msg[320], dk64[64], sig64[64], sigenc[128];
	long long se = (long long)time(NULL) + 3600;

	HMAC(EVP_sha256(), gkey, gkey_len, (const unsigned char *)id, strlen(id), dkey, &dlen);
	EVP_EncodeBlock((unsigned char *)dk64, dkey, (int)dlen);
	(void)dk64; /* the device key itself, as the SDK would hold it */
	snprintf(raw, sizeof raw, "%s/devices/%s", hub, id);
	urlenc(raw, sr, sizeof sr);
	snprintf(msg, sizeof msg, "%s\n%lld", sr, se);
	HMAC(EVP_sha256(), dkey, (int)dlen, (const unsigned char *)msg, strlen(msg), sig, &slen);
	EVP_EncodeBlock((unsigned char *)sig64, sig, (int)slen);
	urlenc(sig64, sigenc, sizeof sigenc);
	snprintf(out, cap, "SharedAccessSignature sr=%s&sig=%s&se=%lld", sr, sigenc, se);
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct dev *d = obj;
	char c2d[128];
	char *subs[] = {"$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#"};

	if (rc != 0) {
		fprintf(stderr, "%s: CONNACK %d\n", d->id, rc);
		return;
	}
	d->connected = true;
	mosquitto_subscribe_multiple(m, NULL, 2, subs, 0, 0, NULL);
	/* the SDK's QoS for cloud-to-device messages */
	snprintf(c2d, sizeof c2d, "devices/%s/messages/devicebound/#", d->id);
	mosquitto_subscribe(m, NULL, c2d, 1);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
	(void)m, (void)mid, (void)n, (void)q;
	struct dev *d = obj;

	d->subscribed = ++d->subacks == 2; /* the twin's topics, then its messages' */
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct dev *d = obj;
	const char *p;

	(void)m;
	if (strncmp(msg->topic, "$iothub/twin/res/", 17) == 0) {
		if (strncmp(msg->topic + 17, "204/", 4) == 0)
			d->done++;
		d->outstanding = 0;
	} else if (strncmp(msg->topic, "$iothub/twin/PATCH/properties/desired/", 38) == 0 &&
		   msg->payloadlen > 0 && (p = strstr(msg->payload, "\"bench\":")) != NULL &&
		   d->want != 0 && strtoll(p + 8, NULL, 10) == d->want) {
		d->got_at = now_s();
		d->want = 0;
	} else if (strncmp(msg->topic, "devices/", 8) == 0 &&
		   strstr(msg->topic, "/messages/devicebound/") != NULL && msg->payloadlen > 4 &&
		   strncmp(msg->payload, "c2d ", 4) == 0 && d->want != 0 &&
		   strtoll((const char *)msg->payload + 4, NULL, 10) == d->want) {
		d->got_at = now_s(); /* libmosquitto ends every payload with a NUL */
		d->want = 0;
	}
}

/* One pass over every socket: read, write, keepalive. */
static void pump(int timeout_ms)
{
	static struct pollfd *p;
	int n = 0;

	if (p == NULL && (p = calloc((size_t)ndev, sizeof *p)) == NULL)
		exit(2);
	for (int i = 0; i < nlive; i++) {
		int fd = mosquitto_socket(devs[i].m);

		p[i] = (struct pollfd){
			.fd = fd,
			.events =
				(short)(POLLIN | (mosquitto_want_write(devs[i].m) ? POLLOUT : 0))};
		n += fd >= 0;
	}
	if (n > 0)
		poll(p, (nfds_t)nlive, timeout_ms);
	for (int i = 0; i < nlive; i++) {
		struct mosquitto *m = devs[i].m;

		if (p[i].fd < 0)
			continue;
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
			mosquitto_loop_read(m, 1);
		if (mosquitto_want_write(m))
			mosquitto_loop_write(m, 1);
		mosquitto_loop_misc(m);
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p, (void)u;
	return s * n;
}

/* npatch operator requests over REST, one at a time, each to a device
 * picked in turn and timed until that device's MQTT handler has what it
 * carried: a desired PATCH ("bench": k) or, with c2d, a cloud-to-device
 * message ("c2d k"). Prints p50/p99/max; returns the number missed (no
 * arrival within 5 s), or -1 when a request was refused. */
static int timed_sends(CURL *c, bool c2d, double *lat)
{
	char url[512], body[128];
	int missed = 0;

	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, c2d ? "POST" : "PATCH");
	for (int k = 1; k <= npatch; k++) {
		struct dev *d = &devs[(k * 7919) % ndev];
		double start, end;
		long code = 0;

		if (c2d) {
			snprintf(url, sizeof url, "%s/devices/%s/commands", https_url, d->id);
			snprintf(body, sizeof body, "{\"body\":\"c2d %d\"}", k);
		} else {
			snprintf(url, sizeof url, "%s/twins/%s", https_url, d->id);
			snprintf(body, sizeof body, "{\"properties\":{\"desired\":{\"bench\":%d}}}",
				 k);
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		d->want = k;
		d->got_at = 0;
		start = now_s();
		if (curl_easy_perform(c) != CURLE_OK ||
		    (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code),
		     code != (c2d ? 201 : 200))) {
			fprintf(stderr, "%s %s: HTTP %ld\n", c2d ? "POST" : "PATCH", url, code);
			return -1;
		}
		for (end = start + 5; d->want != 0 && now_s() < end;)
			pump(5);
		if (d->want != 0) {
			missed++;
			d->want = 0;
			continue;
		}
		lat[k - 1 - missed] = (d->got_at - start) * 1000;
	}
	qsort(lat, (size_t)(npatch - missed), sizeof *lat, cmp_d);
	if (npatch - missed > 0)
		printf("%s (REST) -> device handler: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
		       " over %d (missed %d)\n",
		       c2d ? "cloud-to-device message" : "desired PATCH",
		       lat[(npatch - missed) / 2], lat[(npatch - missed) * 99 / 100],
		       lat[npatch - missed - 1], npatch - missed, missed);
	return missed;
}

int main(int argc, char **argv)
{
	char user[256], pass[512], body[128], auth[4096], topic[128];
	struct curl_slist *h = NULL;
	double t0, *lat;
	int connected = 0, missed = 0, m2 = 0;
	long long total = 0;
	CURL *c;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--port"))
			port = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "--https"))
			https_url = v;
		else if (!strcmp(k, "--token"))
			token = v;
		else if (!strcmp(k, "--cacert"))
			cacert = v;
		else if (!strcmp(k, "--hub"))
			hub = v;
		else if (!strcmp(k, "--prefix"))
			prefix = v;
		else if (!strcmp(k, "--devices"))
			ndev = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "--patches"))
			npatch = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "--seconds"))
			seconds = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "--ready-file"))
			ready_file = v;
		else if (!strcmp(k, "--group-key") && strlen(v) <= 80) {
			size_t n = strlen(v);

			gkey_len = EVP_DecodeBlock(gkey, (const unsigned char *)v, (int)n);
			for (; n > 0 && v[n - 1] == '='; n--)
				gkey_len--; /* DecodeBlock counts the padding */
		}
	}
	if (!port || !https_url || !token || !cacert || gkey_len <= 0 || ndev < 1) {
		fprintf(stderr,
			"usage: mqtt_load --port P --https URL --token T --cacert F --hub H"
			" --group-key B64 [--devices N] [--prefix p] [--patches K] [--seconds S]\n");
		return 2;
	}
	mosquitto_lib_init();
	if ((devs = calloc((size_t)ndev, sizeof *devs)) == NULL ||
	    (lat = calloc((size_t)npatch + 1, sizeof *lat)) == NULL)
		return 2;
	t0 = now_s();
	for (int i = 0; i < ndev; i++) {
		struct dev *d = &devs[i];

		snprintf(d->id, sizeof d->id, "%s-%07d", prefix, i);
		if ((d->m = mosquitto_new(d->id, false, d)) == NULL)
			return 2;
		nlive = i + 1;
		snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", hub, d->id);
		sas(d->id, pass, sizeof pass);
		mosquitto_username_pw_set(d->m, user, pass);
		mosquitto_tls_set(d->m, cacert, NULL, NULL, NULL, NULL);
		mosquitto_int_option(d->m, MOSQ_OPT_TCP_NODELAY, 1);
		mosquitto_connect_callback_set(d->m, on_connect);
		mosquitto_subscribe_callback_set(d->m, on_subscribe);
		mosquitto_message_callback_set(d->m, on_message);
		if (mosquitto_connect(d->m, "127.0.0.1", port, 180) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "%s: cannot connect\n", d->id);
			return 1;
		}
		if (i % 50 == 49)
			pump(0); /* keep the handshakes moving */
	}
	for (double end = now_s() + 60; now_s() < end;) {
		connected = 0;
		for (int i = 0; i < ndev; i++)
			connected += devs[i].subscribed;
		if (connected == ndev)
			break;
		pump(50);
	}
	printf("connected and subscribed: %d of %d devices in %.1f s\n", connected, ndev,
	       now_s() - t0);
	if (connected != ndev)
		return 1;
	for (double end = now_s() + 1; now_s() < end;)
		pump(20); /* orchardd hears of every subscription */
	if (ready_file != NULL) {
		FILE *f = fopen(ready_file, "w");
		if (f)
			fclose(f);
		for (double end = now_s() + 3; now_s() < end;)
			pump(20); /* the script samples the processes meanwhile */
	}

	/* 1, 2. a desired PATCH, then a cloud-to-device message, over REST */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	if ((missed = timed_sends(c, false, lat)) < 0 || (m2 = timed_sends(c, true, lat)) < 0)
		return 1;
	missed += m2;

	/* 2. reported PATCHes from every device, one outstanding each */
	t0 = now_s();
	for (long long rid = 1; now_s() < t0 + seconds; rid++) {
		for (int i = 0; i < ndev; i++) {
			struct dev *d = &devs[i];

			if (d->outstanding)
				continue;
			snprintf(topic, sizeof topic,
				 "$iothub/twin/PATCH/properties/reported/?$rid=%lld", rid);
			snprintf(body, sizeof body, "{\"n\":%lld}", rid);
			mosquitto_publish(d->m, NULL, topic, (int)strlen(body), body, 0, false);
			d->outstanding = 1;
		}
		pump(5);
	}
	for (int i = 0; i < ndev; i++)
		total += devs[i].done;
	printf("reported updates: %.0f/s (%lld answered 204 in %d s, %d devices)\n",
	       (double)total / seconds, total, seconds, ndev);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	for (int i = 0; i < ndev; i++) {
		mosquitto_disconnect(devs[i].m);
		mosquitto_destroy(devs[i].m);
	}
	mosquitto_lib_cleanup();
	return missed > 0;
}
