/* Migration runner. Checksums are SHA-256 of the embedded SQL, recorded in
 * schema_migrations; an edited, already-applied file stops orchardd. */
#include "server/store/migrate.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/log.h"
#include "server/store/store_pg.h"

/* Any constant works; this one spells "orchard". */
#define MIGRATE_LOCK_KEY "7233170353446912100"
#define MIGRATE_CONNECT_MS 10000

static void migration_checksum(const struct migration *m, char out[65])
{
	uint8_t md[32];
	unsigned mdlen = 0;

	EVP_Digest(m->sql, strlen(m->sql), md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, sizeof md, out);
}

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *res = PQexec(pg, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok) {
		char err[300];
		snprintf(err, sizeof err, "%.*s", (int)strcspn(PQerrorMessage(pg), "\n"),
			 PQerrorMessage(pg));
		log_kv(LOG_ERROR, "migration step failed", "step", what, "error", err, NULL);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/* Looks up version in the applied set; returns its checksum or NULL. */
static const char *applied_checksum(const PGresult *applied, int version)
{
	for (int i = 0; i < PQntuples(applied); i++)
		if (strtol(PQgetvalue(applied, i, 0), NULL, 10) == version)
			return PQgetvalue(applied, i, 1);
	return NULL;
}

static PGresult *read_applied(PGconn *pg)
{
	PGresult *res = PQexec(pg, "SELECT version, checksum FROM schema_migrations");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

int migrate_applied_current(const PGresult *applied)
{
	int current = 1;

	for (int i = 0; i < migrations_count; i++) {
		char sum[65];
		const char *have = applied_checksum(applied, migrations[i].version);
		migration_checksum(&migrations[i], sum);
		if (have == NULL || strcmp(have, sum) != 0)
			current = 0;
	}
	return current;
}

static int migration_run(PGconn *pg, const struct migration *m, const char *sum)
{
	char version[16];
	const char *params[] = {version, m->name, sum};
	PGresult *res;

	snprintf(version, sizeof version, "%d", m->version);
	if (exec_ok(pg, "BEGIN", "begin") != 0)
		return -1;
	if (exec_ok(pg, m->sql, m->name) != 0)
		goto fail;
	res = PQexecParams(
		pg, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
		3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	if (exec_ok(pg, "COMMIT", "commit") != 0)
		return -1;
	log_kv(LOG_INFO, "migration applied", "name", m->name, NULL);
	return 0;
fail:
	exec_ok(pg, "ROLLBACK", "rollback");
	return -1;
}

int migrate_apply(const char *url)
{
	/* No statement_timeout: a second starter waits for the lock. */
	PGconn *pg = store_connect_until(url, store_now_ms() + MIGRATE_CONNECT_MS, 0);
	PGresult *applied = NULL;
	int rc = -1, locked = 0;

	if (pg == NULL)
		return -1;
	/* Session-level lock: a second orchardd waits here until the first
	 * has finished, then finds nothing left to do. */
	if (exec_ok(pg, "SET client_min_messages = warning", "settings") != 0 ||
	    exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock") != 0)
		goto out;
	locked = 1;
	if (exec_ok(pg,
		    "CREATE TABLE IF NOT EXISTS schema_migrations ("
		    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())",
		    "schema_migrations") != 0)
		goto out;
	applied = read_applied(pg);
	if (applied == NULL)
		goto out;
	for (int i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		char sum[65];
		const char *have = applied_checksum(applied, m->version);
		migration_checksum(m, sum);
		if (have != NULL && strcmp(have, sum) != 0) {
			log_kv(LOG_ERROR, "applied migration was changed; refusing to start",
			       "name", m->name, "applied_checksum", have, "file_checksum", sum,
			       NULL);
			goto out;
		}
		if (have == NULL && migration_run(pg, m, sum) != 0)
			goto out;
	}
	rc = 0;
out:
	if (locked)
		exec_ok(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
	PQclear(applied);
	PQfinish(pg);
	return rc;
}
