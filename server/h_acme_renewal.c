/* ACME Renewal Information (RFC 9773): GET /acme/renewal-info/{certID}
 * suggests when to renew one of this CA's certificates: from two thirds of
 * its lifetime on, or at once when it is revoked. Public: the identifier
 * names a certificate, and certificates are public. */
#include <string.h>
#include <time.h>

#include "acme/ari.h"
#include "common/timefmt.h"
#include "pki/pki.h"
#include "server/acme.h"
#include "server/certs.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/store/pki.h"

int h_acme_renewal_info(struct request *req)
{
	uint8_t aki[ACME_ARI_AKI_MAX], ours[ACME_ARI_AKI_MAX];
	size_t aki_len = 0, ours_len = sizeof ours;
	char serial[33], start_s[TIMEFMT_RFC3339_LEN], end_s[TIMEFMT_RFC3339_LEN];
	struct store_cert row = {0};
	long long start, end;
	long retry;
	enum store_qs qs;
	int ret;

	if (acme_ari_parse(req->params[0], aki, &aki_len, serial) != 0)
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "not a certificate identifier: base64url(AKI) \".\" "
				     "base64url(serial)");
	/* Every certificate of ours names the intermediate's key. */
	if (req->srv->ca == NULL || pki_ca_key_id(req->srv->ca, ours, &ours_len) != 0 ||
	    ours_len != aki_len || memcmp(ours, aki, aki_len) != 0)
		return reply_problem(req, ERR_ACME_NOT_FOUND, "not a certificate this CA issued");
	qs = certs_select(req->srv, serial, &row);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_ACME_NOT_FOUND, "no such certificate");
	acme_ari_window(row.not_before, row.not_after, row.revoked_at != 0, (long long)time(NULL),
			&start, &end, &retry);
	store_cert_free(&row);
	timefmt_rfc3339(start, start_s);
	timefmt_rfc3339(end, end_s);
	req->retry_after_s = retry;
	ret = acme_reply_json(
		req, 200,
		json_pack("{s:{s:s, s:s}}", "suggestedWindow", "start", start_s, "end", end_s),
		NULL, NULL, NULL);
	return ret;
}
