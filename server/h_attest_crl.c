/* GET /attestation/crl: the attestation CA's CRL (DER), the revoked AK
 * certificates. Public, as CRLs are: a relying party that checks an AK
 * certificate of Orchard's needs it without an operator token. Cached
 * (server/certs.c), rebuilt when a revocation is announced. */
#include <stdlib.h>

#include "pki/pki.h"
#include "server/certs.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"

int h_attest_crl(struct request *req)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int db = 0, ret;

	if (pki_ca_att_pem(req->srv->ca) == NULL)
		return reply_problem(req, ERR_ATTEST_INTERNAL, "this CA has no attestation CA");
	if (certs_att_crl_get(req->srv, &der, &len, &db) != 0)
		return reply_problem(req, db ? ERR_DB_UNAVAILABLE : ERR_PKI_SIGNING_FAILED, NULL);
	ret = reply_bytes(req, 200, "application/pkix-crl", der, len, NULL);
	free(der);
	return ret;
}
