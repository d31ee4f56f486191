#!/bin/bash
# The docs guard: the shell examples of README.md and docs/*.md run as a
# user would run them after `make run`, in a second terminal at the top of
# the tree (build/orchardd token issue, --cacert var/pki/root.pem,
# https://127.0.0.1:8443 becoming this test's orchardd). Each page gets a
# fresh orchardd, database and var/, as a first `make run` would. Which
# blocks run and how a block says it is not run: tests/lib/doc_blocks.py.
# A block fails on a command's non-zero exit (set -e) or a curl answering
# an HTTP error its comment does not name; one TAP line per block.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
# The plain build only: the pages' text is the same for both builds, and
# the server paths they run are the other tests' under ASan too (80 s of
# a 15-minute suite).
[[ "$BUILD" != build ]] && { tap_done; exit 0; }
# DOCS_PAGES="docs/x.md ..." runs only those; DOCS_KEEP=DIR keeps each
# page's script (page.N.sh) and what it printed (out.N) there.
[[ -n "${DOCS_KEEP:-}" ]] && trap 'cp "$TMP"/out.* "$TMP"/page.* "$DOCS_KEEP"/ 2>/dev/null; fixture_cleanup' EXIT

# The pages covered, in this order; each starts from nothing (a fresh
# orchardd, database and var/); docs/errors.md is generated, with no blocks.
PAGES=(${DOCS_PAGES:-README.md docs/twins.md docs/dps.md docs/pki.md docs/depot.md docs/attestation.md
	docs/verifier.md docs/wasm.md docs/agent.md docs/acme.md docs/mqtt.md})
# page_script PAGE [PRELUDE...]: the page's blocks as one script, after the
# prelude pages' blocks (run, not counted as the page's); PORTS: a sed
# script that moves the page's fixed ports to this test's.
page_script() {
	local - page=$1 p
	set -o pipefail
	shift
	{
		for p; do
			python3 tests/lib/doc_blocks.py "$p" "$PORT" "$TMP/tmp.$n" | grep -v '^__docs_block\|^# skip' || return
		done
		python3 tests/lib/doc_blocks.py "$page" "$PORT" "$TMP/tmp.$n"
	} | sed "$PORTS"
}
# why OUT: what a failed page printed last, and docs.sh's own lines
why() { tail -c 1000 "$1"; echo; grep -a '^docs.sh:' "$1"; }

# The pages' jq is the user's (Debian's jq), not the suite's gojq.
PATH=${PATH//$ROOT\/tests\/lib\/bin:/}
pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
BASE_URL=$ORCHARD_DATABASE_URL
n=0
for page in "${PAGES[@]}"; do
	n=$((n + 1))
	[[ -n "$OPID" ]] && orchardd_stop
	rm -rf "$TMP/var"
	pg_admin "CREATE DATABASE docs_$n OWNER orchard" || { tap_nok "$page: a database"; continue; }
	export ORCHARD_DATABASE_URL="${BASE_URL/dbname=orchard/dbname=docs_$n}"
	# docs/mqtt.md: make run's broker (8883) and the page's X.509 listener
	# (8884) on free ports, and the reader has followed twins.md (pump-7
	# registered; TOKEN, KEY, sas): its blocks run first, uncounted.
	prelude=() PORTS=
	if [[ "$page" == docs/mqtt.md ]]; then
		command -v mosquitto >/dev/null || { tap_ok "$page # SKIP mosquitto not installed"; continue; }
		orchardd_mqtt_start || { tap_nok "$page: orchardd and its broker start"; continue; }
		prelude=(docs/twins.md) PORTS="s/\b8883\b/$MPORT/g; s/\b8884\b/$XPORT/g"
	else
		orchardd_start || { tap_nok "$page: orchardd starts"; continue; }
	fi
	# The user's working folder: the tree, with this test's build and var.
	W="$TMP/work.$n"
	mkdir -p "$W"
	for f in "$ROOT"/*; do
		case ${f##*/} in build | build-san | var) ;; *) ln -s "$f" "$W/" ;; esac
	done
	ln -s "$ROOT/$BUILD" "$W/build"
	ln -s "$TMP/var" "$W/var"
	mkdir -p "$TMP/tmp.$n" # the page's /tmp/
	page_script "$page" "${prelude[@]}" >"$TMP/page.$n.sh" || { tap_nok "$page: its blocks"; continue; }
	grep '^# skip' "$TMP/page.$n.sh" | sed "s|^# skip \([0-9]*\) |# $page:\1 not run: |"
	(cd "$W" && exec timeout -k 5 60 bash "$ROOT/tests/lib/docs_shell.sh" "$TMP/page.$n.sh" \
		3>"$TMP/reached.$n" >"$TMP/out.$n" 2>&1 </dev/null)
	rc=$?
	mapfile -t reached <"$TMP/reached.$n"
	total=$(grep -c '^__docs_block' "$TMP/page.$n.sh")
	for ((i = 0; i < ${#reached[@]}; i++)); do
		if ((i == ${#reached[@]} - 1 && rc != 0)); then
			tap_nok "$page:${reached[$i]} runs" "$(why "$TMP/out.$n")"
		else
			tap_ok "$page:${reached[$i]} runs"
		fi
	done
	((${#reached[@]} < total)) && tap_nok "$page: $((total - ${#reached[@]})) blocks after a failure not run"
	((rc != 0 && ${#reached[@]} == 0)) && tap_nok "$page: fails before its first block" "$(why "$TMP/out.$n")"
done
orchardd_stop
expect_eq "orchardd exits 0" 0 "$?"
tap_done
