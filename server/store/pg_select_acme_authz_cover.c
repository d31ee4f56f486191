/* RFC 8555 section 7.6's third way to revoke: whether an account holds a
 * valid authorization for every identifier of a certificate. */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_authz_cover(struct store_conn *c, const char *account,
					    const char *identifiers, bool *covered)
{
	/* A wildcard name is covered by the wildcard authorization of its
	 * base name, as newOrder made it. */
	static struct store_stmt st = {
		"select_acme_authz_cover",
		"SELECT count(*) = jsonb_array_length($2::jsonb) AND count(*) > 0"
		" FROM jsonb_array_elements($2::jsonb) i WHERE EXISTS (SELECT 1 FROM acme_authzs a"
		" WHERE a.account_id = $1 AND a.identifier_type = i->>'type'"
		" AND a.identifier_value = regexp_replace(i->>'value', '^\\*\\.', '')"
		" AND a.wildcard = ((i->>'value') LIKE '*.%')"
		" AND acme_authz_state(a.status, a.expires_at) = 'valid')",
		0};
	const char *p[] = {account, identifiers};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);

	*covered = qs == STORE_ONE && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return qs;
}
