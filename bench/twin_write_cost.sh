#!/bin/bash
# What a desired PATCH's write costs PostgreSQL alone, without HTTP: pgbench
# (8 clients, orchardd's pool) runs the one-twin write orchardd sent before
# the batch (now server/store/pg_update_twins_if.c), built up a part at a time over 10,000
# twins, beside the single-row UPDATE that bench/twins.sh takes as the
# ceiling. An orchardd listens as in production, so NOTIFY signals it.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
SECONDS_EACH=${BENCH_SECONDS:-5}
pg_start >/dev/null
orchardd_start || exit 1
psql "$ORCHARD_DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "INSERT INTO twins (device_id, etag, desired, reported)
	SELECT 'bench-' || i, substr(md5(i::text), 1, 12), '{\"\$version\":1}', '{\"\$version\":1}'
	FROM generate_series(0, 9999) i" || exit 1
D='{"w": 1, "$metadata": {"w": {"$lastUpdated": "2026-12-01T00:00:00.0000000Z", "$lastUpdatedVersion": 2}, "$lastUpdated": "2026-12-01T00:00:00.0000000Z", "$lastUpdatedVersion": 2}, "$version": 2}'
R='{"$metadata": {"$lastUpdated": "2026-12-01T00:00:00.0000000Z"}, "$version": 1}'
U="UPDATE twins SET etag = md5(random()::text), version = :v, tags = '{}'::jsonb, desired = '$D'::jsonb,
	reported = '$R'::jsonb, updated_at = now() WHERE device_id = 'bench-' || :i
	RETURNING device_id, version, desired->>'\$version' AS dv"
H="h AS (INSERT INTO twin_history (device_id, version, sections, actor_kind, actor, patch)
	SELECT device_id, version, ARRAY['desired'], 'operator', 'jti-12345678', '{\"properties\":{\"desired\":{\"w\":1}}}' FROM u)"
A="a AS (INSERT INTO audit_log (subject, jti, method, path, route, params, status, request_id)
	SELECT 'op', 'jti-12345678', 'PATCH', '/twins/bench-1', '/twins/{deviceId}', '{\"deviceId\":\"bench-1\"}', 200, 'r' FROM u RETURNING id)"
N="pg_notify('orchard_twin', u.device_id || ' ' || u.dv), (SELECT pg_notify('orchard_audit', a.id::text) FROM a)"
script() { printf '\\set i random(0, 9999)\n\\set v random(100, 1000000000000)\n%s;\n' "$(tr '\n\t' '  ' <<<"$1")" >"$TMP/$2.sql"; }
script "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1 + :i" ceiling
script "$U" update
script "WITH u AS ($U), $H SELECT 1 FROM u" history
script "WITH u AS ($U), $H, $A SELECT a.id FROM u, a" audit
script "WITH u AS ($U), $H, $A SELECT $N FROM u" notify
# Eight twins' changes in one statement (a group commit in orchardd): rows/s.
U8=$(sed "s/WHERE device_id = 'bench-' || :i/WHERE device_id IN (SELECT 'bench-' || ((:i + 1250 * g) % 10000) FROM generate_series(0, 7) g)/" <<<"$U")
A8=$(sed 's/FROM u RETURNING id/FROM u RETURNING id, subject/' <<<"$A")
N8="pg_notify('orchard_twin', u.device_id || ' ' || u.dv) FROM u UNION ALL SELECT pg_notify('orchard_audit', max(a.id)::text) FROM a"
script "WITH u AS ($U8), $H, $A8 SELECT $N8" batch8
pg_admin "CREATE DATABASE pgbench OWNER orchard"
pgbench -h "$PGDIR/run" -U orchard -i -s 1 -q pgbench >/dev/null 2>&1
run() {
	pgbench -h "$PGDIR/run" -U orchard -n -M prepared -f "$TMP/$1.sql" -c 8 -j 2 -T "$SECONDS_EACH" \
		"$2" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3; exit}'
}
ceiling=$(run ceiling pgbench)
printf '%-60s %8s %6s\n' "statement (pgbench, 8 clients)" "tps" "ratio"
printf '%-60s %8s\n' "single-row UPDATE (the ceiling)" "$ceiling"
for s in update history audit notify batch8; do
	case $s in
	update) what="the twin's UPDATE (three jsonb columns, GIN-indexed)" ;;
	history) what="+ its history row" ;;
	audit) what="+ the audit row (= orchardd's PATCH write, notify after commit)" ;;
	notify) what="+ pg_notify twin and audit in it (the write before 0027)" ;;
	batch8) what="the same for 8 twins a statement (rows/s)" ;;
	esac
	t=$(run $s orchard)
	[[ $s == batch8 ]] && t=$((t * 8))
	printf '%-60s %8s %5.0f%%\n' "$what" "$t" "$(awk -v a="$t" -v b="$ceiling" 'BEGIN { print 100 * a / b }')"
done
