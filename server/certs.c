/* The CA inside orchardd: opened from the configuration, every issue
 * recorded, and a CRL cache that a revocation anywhere makes stale (the
 * revoking statement notifies EVENTS_CERT_REVOKED). */
#include "server/certs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/pki.h"

#define CRL_MAX_AGE 60		    /* seconds a cached CRL is served */
#define CRL_NEXT_UPDATE (24 * 3600) /* what the CRL promises */

static char *path_join2(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (p != NULL) {
		memcpy(p, a, la);
		p[la] = '/';
		memcpy(p + la + 1, b, lb + 1);
	}
	return p;
}

struct pki_ca *certs_ca_open(const struct config *cfg)
{
	char err[512];
	char *dir = path_join2(cfg->data_dir, "pki");
	const char *base = cfg->crl_base_url, *host = base ? strstr(base, "://") : NULL;
	char crl[1100] = "", att_crl[1100] = "";

	/* The base names orchardd's own paths (pki_ca_open checks the rest);
	 * a trailing '/' is dropped so "http://crl.example/" does not give
	 * "//pki/crl". */
	if (base != NULL) {
		size_t blen = strlen(base);

		if (host == NULL || host[3] == '\0' || host[3] == '/') {
			log_kv(LOG_ERROR, "--crl-base-url names no host", "url", base, NULL);
			free(dir);
			return NULL;
		}
		if (base[blen - 1] == '/')
			blen--;
		snprintf(crl, sizeof crl, "%.*s/pki/crl", (int)blen, base);
		snprintf(att_crl, sizeof att_crl, "%.*s/attestation/crl", (int)blen, base);
	}
	struct pki_ca_config c = {
		.dir = dir,
		.key_type = cfg->ca_key_type,
		.import_root = cfg->ca_root,
		.import_cert = cfg->ca_cert,
		.import_key = cfg->ca_key,
		.passphrase = getenv("ORCHARD_CA_PASSPHRASE"),
		.profiles = cfg->ca_profiles,
		.crl_url = base ? crl : NULL,
		.att_crl_url = base ? att_crl : NULL,
	};
	struct pki_ca *ca = dir ? pki_ca_open(&c, err, sizeof err) : NULL;

	if (ca == NULL) {
		log_kv(LOG_ERROR, "cannot open the CA", "error", dir ? err : "out of memory", NULL);
	} else {
		char names[256] = "";
		size_t off = 0;
		for (const char *const *p = pki_ca_profiles(ca); *p && off < sizeof names; p++)
			off += (size_t)snprintf(names + off, sizeof names - off, "%s%s",
						off ? " " : "", *p);
		log_kv(LOG_INFO, "CA ready", "dir", dir, "imported", cfg->ca_cert ? "yes" : "no",
		       "passphrase", c.passphrase ? "set" : "unset", "profiles", names, "crl_url",
		       base ? crl : "none", NULL);
	}
	free(dir);
	return ca;
}

enum store_qs certs_record(struct store_conn *c, const struct pki_cert *cert, const char *profile,
			   const struct certs_origin *origin)
{
	struct store_cert row = {
		.serial = (char *)cert->serial,
		.sans = (char *)cert->sans_text,
		.key_type = (char *)cert->key_type,
		.profile = (char *)profile,
		.not_before = cert->not_before,
		.not_after = cert->not_after,
		.acme_account_id = origin ? (char *)origin->acme_account_id : NULL,
		.acme_order_id = origin ? (char *)origin->acme_order_id : NULL,
		.dps_registration = origin ? (char *)origin->dps_registration : NULL,
		.der = cert->der,
		.der_len = cert->der_len,
	};

	return store_insert_certificate(c, &row);
}

struct cert_get {
	const char *serial;
	struct store_cert *row;
};

static enum store_qs cert_get_cb(struct store_conn *c, void *cls)
{
	struct cert_get *g = cls;

	return store_select_certificate(c, g->serial, g->row);
}

enum store_qs certs_select(struct server *srv, const char *serial, struct store_cert *out)
{
	struct cert_get g = {serial, out};

	return store_run(srv->store, cert_get_cb, &g);
}

/* Two CRLs: the intermediate's (0) and the attestation CA's (1). */
struct crl_slot {
	uint8_t *der;
	size_t len;
	time_t built;
	int stale; /* a revocation was announced since it was built */
};

struct certs_crl {
	pthread_mutex_t lock;
	struct crl_slot slot[2];
	struct event_sub sub;
};

static void crl_on_revoked(void *cls, const char *payload)
{
	struct certs_crl *cache = cls;

	(void)payload; /* a serial, or NULL after a reconnect: stale either way */
	pthread_mutex_lock(&cache->lock);
	cache->slot[0].stale = cache->slot[1].stale = 1;
	pthread_mutex_unlock(&cache->lock);
}

struct certs_crl *certs_crl_new(struct events *ev)
{
	struct certs_crl *cache = calloc(1, sizeof *cache);

	if (cache == NULL)
		return NULL;
	pthread_mutex_init(&cache->lock, NULL);
	if (ev != NULL && events_subscribe(ev, &cache->sub, EVENTS_CERT_REVOKED, "", crl_on_revoked,
					   cache) != 0) {
		pthread_mutex_destroy(&cache->lock);
		free(cache);
		return NULL;
	}
	return cache;
}

void certs_crl_free(struct certs_crl *cache, struct events *ev)
{
	if (cache == NULL)
		return;
	if (ev != NULL)
		events_unsubscribe(ev, &cache->sub);
	pthread_mutex_destroy(&cache->lock);
	free(cache->slot[0].der);
	free(cache->slot[1].der);
	free(cache);
}

struct revoked_q {
	bool att;
	struct store_cert_page page;
};

static enum store_qs revoked_cb(struct store_conn *c, void *cls)
{
	struct revoked_q *q = cls;

	store_cert_page_free(&q->page);
	return store_select_revoked_certificates(c, q->att, &q->page);
}

/* Builds a CRL from the database now. */
static int crl_build(struct server *srv, bool att, uint8_t **der, size_t *len, int *db)
{
	struct revoked_q q = {att, {0}};
	struct pki_revoked *r = NULL;
	struct timespec ts;
	int rc = -1;

	if (store_run(srv->store, revoked_cb, &q) < 0) {
		*db = 1;
		return -1;
	}
	if (q.page.n > 0 && (r = calloc(q.page.n, sizeof *r)) == NULL)
		goto out;
	for (size_t i = 0; i < q.page.n; i++) {
		r[i].serial = q.page.rows[i].serial;
		r[i].revoked_at = q.page.rows[i].revoked_at;
		r[i].reason = q.page.rows[i].reason;
	}
	/* The CRL number grows with time: milliseconds since the epoch. */
	clock_gettime(CLOCK_REALTIME, &ts);
	rc = (att ? pki_crl_att : pki_crl)(srv->ca, r, q.page.n,
					   (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
					   CRL_NEXT_UPDATE, der, len);
out:
	free(r);
	store_cert_page_free(&q.page);
	return rc;
}

static int crl_get(struct server *srv, bool att, uint8_t **der, size_t *len, int *db)
{
	struct certs_crl *cache = srv->crl;
	struct crl_slot *s = &cache->slot[att];
	time_t now = time(NULL);
	uint8_t *fresh = NULL;
	size_t flen = 0;
	int rc = -1;

	*db = 0;
	/* Built outside the lock: a rare race builds twice, harmlessly. */
	pthread_mutex_lock(&cache->lock);
	if (s->der == NULL || s->stale || now - s->built >= CRL_MAX_AGE) {
		/* Cleared before the read, so a revocation announced during it
		 * marks the result stale again. */
		s->stale = 0;
		pthread_mutex_unlock(&cache->lock);
		if (crl_build(srv, att, &fresh, &flen, db) != 0) {
			pthread_mutex_lock(&cache->lock);
			s->stale = 1; /* never serve the old one as current */
			pthread_mutex_unlock(&cache->lock);
			return -1;
		}
		pthread_mutex_lock(&cache->lock);
		free(s->der);
		s->der = fresh;
		s->len = flen;
		s->built = now;
	}
	if ((*der = malloc(s->len)) != NULL) {
		memcpy(*der, s->der, s->len);
		*len = s->len;
		rc = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	return rc;
}

int certs_crl_get(struct server *srv, uint8_t **der, size_t *len, int *db)
{
	return crl_get(srv, false, der, len, db);
}

int certs_att_crl_get(struct server *srv, uint8_t **der, size_t *len, int *db)
{
	return crl_get(srv, true, der, len, db);
}
