#!/bin/bash
# Runs the storage core's tests (tests/unit/server/test_store.c) against a
# private PostgreSQL; the binary prints TAP itself.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
pg_start || exit 1
CMOCKA_MESSAGE_OUTPUT=TAP "$ROOT/$BUILD/tests/unit/server/test_store" 2>&1 | grep -v '^1\.\.'
exit "${PIPESTATUS[0]}"
