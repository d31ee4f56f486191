/* GET /acme/directory and newNonce (HEAD, GET): RFC 8555 sections 7.1.1
 * and 7.2. Every ACME reply carries a fresh Replay-Nonce (server/reply.c),
 * so newNonce itself only says how to cache it. */
#include <string.h>

#include "pki/pki.h"
#include "server/acme.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"

int h_acme_directory(struct request *req)
{
	static const struct {
		const char *name, *path;
	} urls[] = {
		{"newNonce", "/acme/new-nonce"},   {"newAccount", "/acme/new-account"},
		{"newOrder", "/acme/new-order"},   {"revokeCert", "/acme/revoke-cert"},
		{"keyChange", "/acme/key-change"}, {"renewalInfo", "/acme/renewal-info"},
	};
	json_t *dir = json_object();
	char url[ACME_URL_MAX];

	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		if (!acme_url(req, urls[i].path, url, sizeof url)) {
			json_decref(dir);
			return reply_problem(req, ERR_ACME_MALFORMED,
					     "the Host header is not a plain host");
		}
		json_object_set_new(dir, urls[i].name, json_string(url));
	}
	json_t *profiles = json_object();
	/* The CA's profiles (draft-aaron-acme-profiles): name and description. */
	for (const char *const *p = req->srv->ca ? pki_ca_profiles(req->srv->ca) : NULL; p && *p;
	     p++)
		json_object_set_new(profiles, *p,
				    json_string(pki_profile_describe(req->srv->ca, *p)));
	json_object_set_new(dir, "meta",
			    json_pack("{s:b, s:o}", "externalAccountRequired",
				      req->srv->cfg.acme_eab_required != 0, "profiles", profiles));
	return reply_json_steal(req, 200, dir);
}

int h_acme_new_nonce(struct request *req)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	int ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* Section 7.2: 200 for HEAD, 204 for GET. */
	ret = reply_queue(req, strcmp(req->method, "HEAD") == 0 ? 200 : 204, resp);
	MHD_destroy_response(resp);
	return ret;
}
