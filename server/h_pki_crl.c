/* /pki/chain and /pki/crl: what relying parties fetch, for operators
 * (pki:admin) today: the issuing chain as PEM and the CRL as DER. */
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"
#include "server/certs.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"

int h_pki_chain(struct request *req)
{
	const char *pem = pki_ca_chain_pem(req->srv->ca);

	return reply_bytes(req, 200, "application/pem-certificate-chain", pem, strlen(pem), NULL);
}

int h_pki_crl(struct request *req)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int db = 0, ret;

	if (certs_crl_get(req->srv, &der, &len, &db) != 0)
		return reply_problem(req, db ? ERR_DB_UNAVAILABLE : ERR_PKI_SIGNING_FAILED, NULL);
	ret = reply_bytes(req, 200, "application/pkix-crl", der, len, NULL);
	free(der);
	return ret;
}
