/* Schema migrations: db/migrations/NNNN_name.sql, embedded at build time,
 * applied in order, once, each in its own transaction, under a lock. */
#ifndef ORCHARD_MIGRATE_H
#define ORCHARD_MIGRATE_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;

/* Applies every pending migration to the database at url, holding a
 * PostgreSQL advisory lock so concurrent starters take turns. Refuses
 * (returns -1) when an applied migration's checksum differs from the file
 * built in. Returns 0 when the schema is current. */
int migrate_apply(const char *url);

#endif
