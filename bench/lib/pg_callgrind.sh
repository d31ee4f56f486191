#!/bin/bash
# Instructions per execution of one SQL statement in PostgreSQL, counted
# by callgrind, which the machine's load does not move: `postgres --single`
# runs PREP once, then EXEC N1 times, on a fresh copy of a stopped cluster's
# data directory; again with N2; the difference over N2 - N1 is one
# execution (start-up, PREP and exit cancel out). A fresh copy per run keeps
# the table state equal, so one statement's figure repeats to about 0.1%.
# Single-user mode prints each result row (a few K, the same in both runs).
#   bench/lib/pg_callgrind.sh DATADIR PREP.sql EXEC.sql [N1 N2]   (40 240)
# DATADIR: a stopped cluster, e.g. scripts/pg-cluster start DIR, pg_restore
# ACME_BENCH_DUMPDB's orchard.dump into it, VACUUM ANALYZE, pg-cluster stop.
# PREP.sql: statements run once (PREPARE p AS ...; rows EXEC needs), joined
# into one line. EXEC.sql: one line, {i} replaced by 0..N-1 (fresh ids),
# e.g. EXECUTE p('ord{i}', ...). A run that logs an ERROR stops the script.
set -euo pipefail
data=$(realpath "$1") prep=$2 exec=$3 n1=${4:-40} n2=${5:-240}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
owner=$(stat -c %U "$data")
work=$(mktemp -d /tmp/orchard-test.pgcg.XXXXXX)
trap 'rm -rf "$work"' EXIT
[[ $(id -u) -eq 0 ]] && chown "$owner" "$work"
as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
run() { # N -> total instructions
	rm -rf "$work/pg" "$work/cg.out"
	cp -a "$data" "$work/pg"
	{
		tr '\n' ' ' <"$prep"
		echo
		for ((i = 0; i < $1; i++)); do tr '\n' ' ' <"$exec" | sed "s/{i}/$i/g"; echo; done
	} | as_owner valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
		"$bin/postgres" --single -D "$work/pg" -c fsync=off -c synchronous_commit=off orchard \
		>"$work/out.log" 2>&1
	if grep -q 'ERROR' "$work/out.log"; then grep -m 3 ERROR "$work/out.log" >&2; exit 1; fi
	awk '/^(summary|totals):/ {print $2; exit}' "$work/cg.out"
}
a=$(run "$n1")
b=$(run "$n2")
awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) -v f="$exec" \
	'BEGIN { printf "%s: %.1f K instructions per execution\n", f, (b - a) / n / 1000 }'
