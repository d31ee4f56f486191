#!/bin/bash
# orchard-agent end to end (symmetric-key device): real orchardd and
# PostgreSQL, packages built and published with orchard-pkg from the example
# httpd app. The agent registers through DPS, follows desired.app set by an
# operator PATCH, runs the app on its granted port, reports each step,
# switches versions within seconds, refuses (and reports) a package signed
# by a key it does not trust, one asking for an ungranted port and a missing
# one while the last good app keeps answering, restarts a killed app,
# resumes after kill -9 without registering again, survives a full disk
# (a file size limit) and stops on SIGTERM.
# Compiled forms: the agent pins the depot key, runs the depot's signed
# .cwasm for its target ("engine": "aot"), and falls back to the
# interpreter (saying why) for a statement that does not verify with the
# pinned key or names another module; such a form is never run.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
APID=
agent_cleanup() {
	[[ -n "$APID" ]] && { kill -9 "$APID" && wait "$APID"; } 2>/dev/null
	fixture_cleanup
}
trap agent_cleanup EXIT
[[ -n "${KEEP_LOG:-}" ]] && trap 'cp "$D/agent.log" "$KEEP_LOG"; agent_cleanup' EXIT
jqb() { jq -r "$1" <<<"$BODY"; }
engine_is() { reported_is '.properties.reported.app | .engine + " " + .engineReason' "$1"; }
desired() { http PATCH /twins/agent-1 "${O[@]}" "${JSON[@]}" -d "{\"properties\":{\"desired\":{\"app\":$1}}}"; }

pg_start || exit 1
orchardd_start --depot-compile-level 0 || exit 1
O=(-H "Authorization: Bearer $(token all)")
DEV=agent-1
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
D="$TMP/agent"
. "$(dirname "$0")/../lib/agent.sh"
P1=$(freeport) P2=$(freeport) P3=$(freeport)

# --- packages ------------------------------------------------------------------------
expect "publisher alice is registered" agent_publisher
expect "publish 1.0.0 (port $P1)" pkg 1.0.0 "$P1" "$D/alice.key"
expect "publish 2.0.0 (port $P2)" pkg 2.0.0 "$P2" "$D/alice.key"
expect "publish 2.1.0 (port $P3, not granted)" pkg 2.1.0 "$P3" "$D/alice.key"
# pkgm VERSION MODULE ARGS CAPS [PUBLISHER KEY]: a package of any module
pkgm() {
	mkdir -p "$D/m"
	cp "$2" "$D/m/app.wasm"
	jq -c --argjson a "$3" --argjson c "$4" '.args = $a | .capabilities = ({memoryMiB: 16} + $c)' \
		<<<"{\"publisher\":\"${5:-alice}\",\"name\":\"hello\",\"version\":\"$1\"}" >"$D/m/manifest.json"
	"$PKG" build "$D/m" --key "${6:-$D/alice.key}" --out "$D/m.opkg" >/dev/null &&
		"$PKG" publish "$D/m.opkg" --url "$URL" --token "$(token depot:write)" \
			--cacert "$TMP/var/pki/root.pem" >/dev/null
}
make -C "$ROOT" --no-print-directory -s BUILD="$BUILD" "$BUILD/wasm/tests/wasi_core.wasm" \
	"$BUILD/wasm/tests/agent_escape.wasm" >&2 || tap_nok "test guests build"
expect "publish 1.1.0 (port $P1)" pkgm 1.1.0 "$WASM" "[\"$P1\"]" "{\"listen\":[$P1]}"
expect "publish 2.3.0, a module that loops forever (cpuSeconds 1)" pkgm 2.3.0 \
	"$ROOT/$BUILD/wasm/tests/wasi_core.wasm" '["spin"]' "{\"listen\":[$P1],\"cpuSeconds\":1}"
expect "publish 2.4.0, a module that opens a path it was not granted" pkgm 2.4.0 \
	"$ROOT/$BUILD/wasm/tests/agent_escape.wasm" '["open","/etc/passwd"]' '{}'
expect "publish 2.5.0, the httpd on port $P3 with only $P1 granted" pkgm 2.5.0 "$WASM" "[\"$P3\"]" "{\"listen\":[$P1]}"
expect "publish 2.6.0 (port $P1)" pkgm 2.6.0 "$WASM" "[\"$P1\"]" "{\"listen\":[$P1]}"
"$PKG" keygen --out "$D/bob.key" >/dev/null
http PUT /depot/publishers/bob "${O[@]}" "${JSON[@]}" -d "$(jq -n --rawfile k "$D/bob.pub" '{publicKey: $k}')"
expect "publish bob/pkg/hello/1.0.0 (a publisher the device does not know)" pkgm 1.0.0 "$WASM" "[\"$P1\"]" \
	"{\"listen\":[$P1]}" bob "$D/bob.key"
TARGET=$(uname -m)-linux-gnu
compiled_ready() {
	http GET /depot/packages/alice/hello/1.0.0/compiled "${O[@]}"
	[[ "$(jq -r --arg t "$TARGET" '.compiled[] | select(.target == $t) | .state' <<<"$BODY")" == ready ]]
}
expect "the depot compiles the app for this target" wait_for 120 compiled_ready

# --- a symmetric-key device and its desired app -----------------------------------------
http PUT "/enrollments/agent-1?$AV" "${O[@]}" "${JSON[@]}" -d '{"registrationId":"agent-1","attestation":{"type":"symmetricKey"}}'
KEY=$(jqb .attestation.symmetricKey.primaryKey)
GRANTS="{\"listen\":[$P1,$P2],\"memoryMiB\":32}"
desired "{\"package\":\"alice/pkg/hello/1.0.0\",\"grants\":$GRANTS}"
expect_eq "an operator names the app in desired" 200 "$STATUS"

# --- config ----------------------------------------------------------------------------
cfg() {
	cat <<CFG
# orchard-agent test device
url = $URL
id_scope = $SCOPE
ca_file = $TMP/var/pki/root.pem
state_dir = $D/state
publisher_key = $D/alice.pub
registration_id = agent-1
symmetric_key = $KEY
CFG
}
cfg >"$D/agent.conf"
expect_fail "no --config is a usage error" "$AGENT"
expect_fail "a missing config file is refused" "$AGENT" --config "$D/none.conf"
{ cfg; echo "colour = blue"; } >"$D/bad.conf"
expect_fail "an unknown setting is refused" "$AGENT" --config "$D/bad.conf"
cfg | grep -v '^publisher_key' >"$D/bad.conf"
expect_fail "a config without publisher_key is refused" "$AGENT" --config "$D/bad.conf"
{ cfg | grep -v '^publisher_key'; echo "publisher_key = $D/alice.key"; } >"$D/bad.conf"
expect_fail "a private key as publisher_key is refused" "$AGENT" --config "$D/bad.conf"

start_agent() {
	"$AGENT" --config "$D/agent.conf" >>"$D/agent.log" 2>&1 &
	APID=$!
}

# Orchard's certificate must chain to ca_file: another root, and nothing
# is sent (no registration), the agent retries.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-root -days 1 \
	-keyout "$D/other-root.key" -out "$D/other-root.pem" 2>/dev/null
cfg | sed "s|^ca_file = .*|ca_file = $D/other-root.pem|; s|^state_dir = .*|state_dir = $D/state-badca|" >"$D/badca.conf"
"$AGENT" --config "$D/badca.conf" >"$D/badca.log" 2>&1 &
BPID=$!
expect "a server certificate that does not chain to ca_file is refused" \
	wait_for 10 grep -q '"msg":"request failed".*"error":"unable to get local issuer certificate"' "$D/badca.log"
kill -TERM "$BPID"
wait "$BPID"
expect_fail "... and the device is not registered" test -e "$D/state-badca/registration.json"
T0=$SECONDS
start_agent
if wait_for 60 answers "$P1"; then tap_ok "the app answers HTTP on its granted port ($((SECONDS - T0)) s from start)"; else tap_nok "the app answers on $P1" "$(tail -20 "$D/agent.log")"; fi
echo "# agent $(grep VmRSS /proc/$APID/status | tr -s ' \t' ' '), binary $(stat -c %s "$AGENT") bytes"
expect_eq "state_dir is created 0700" 700 "$(stat -c %a "$D/state")"
expect "reported.app shows it running" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/1.0.0 running"
expect_eq "reported.agent.version" "0.1.0" "$(reported .properties.reported.agent.version)"
expect "reported.app.since is a time" grep -q '^20[0-9-]*T' <<<"$(reported .properties.reported.app.since)"
expect_eq "reported.agent.target" "$TARGET" "$(reported .properties.reported.agent.target)"
expect_eq "it runs the depot's compiled form (reported.app.engine)" aot "$(reported .properties.reported.app.engine)"
expect_eq "... from the .cwasm it downloaded" "orchard-cwasm 1" "$(head -1 "$D/state/pkg/alice/hello/1.0.0/compiled.cwasm")"
http GET /depot/key
expect_eq "the depot key is pinned in state_dir on first use" "$(jqb .publicKey)" "$(cat "$D/state/depot.pub")"

# --- switch -------------------------------------------------------------------------------
T0=$SECONDS
desired "{\"package\":\"alice/pkg/hello/2.0.0\",\"grants\":$GRANTS}"
if wait_for 20 answers "$P2"; then tap_ok "a new desired version answers within $((SECONDS - T0)) s"; else tap_nok "2.0.0 answers" "$(tail -20 "$D/agent.log")"; fi
expect_fail "... and the old one stopped" answers "$P1"
expect "reported.app follows" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/2.0.0 running"

# --- refusals: the last good app keeps running -------------------------------------------------
err_is() { reported_is '.properties.reported.app.error.package' "$1"; }
desired "{\"package\":\"alice/pkg/hello/2.1.0\",\"grants\":$GRANTS}"
expect "a manifest asking for an ungranted port is refused and reported" wait_for 20 err_is alice/pkg/hello/2.1.0
expect "... saying why" grep -q "listen port" <<<"$(reported .properties.reported.app.error.reason)"
expect "... the last good app keeps answering" answers "$P2"
expect_fail "... the refused one never listened" answers "$P3"
expect_eq "... reported.app still names it" "alice/pkg/hello/2.0.0 running" "$(reported '.properties.reported.app | .package + " " + .state')"

# Orchard refuses desired state naming a missing package (the depot's twin
# check), so the device never sees it and keeps its app.
desired "{\"package\":\"alice/pkg/hello/9.9.9\",\"grants\":$GRANTS}"
expect_problem "desired state naming a missing package is refused" 422 depot-desired-package-unknown
expect "... the last good app keeps answering" answers "$P2"
expect_eq "... and the device still reports it" "alice/pkg/hello/2.0.0 running" "$(reported '.properties.reported.app | .package + " " + .state')"

# A module that traps at once: the old app comes back (rollback).
TRAP="$ROOT/$BUILD/wasm/tests/div_zero.wasm"
make -C "$ROOT" --no-print-directory -s BUILD="$BUILD" "$BUILD/wasm/tests/div_zero.wasm" >&2 || tap_nok "div_zero.wasm builds"
cp "$TRAP" "$D/app/app.wasm"
expect "publish 2.2.0, a module that traps (port $P1)" pkg 2.2.0 "$P1" "$D/alice.key"
cp "$WASM" "$D/app/app.wasm"
desired "{\"package\":\"alice/pkg/hello/2.2.0\",\"grants\":$GRANTS}"
expect "an app that traps at start is reported" wait_for 20 err_is alice/pkg/hello/2.2.0
expect "... saying why" grep -q "did not start" <<<"$(reported .properties.reported.app.error.reason)"
expect "... and the last good app runs again (rollback)" wait_for 10 answers "$P2"
expect_eq "... reported.app names it" "alice/pkg/hello/2.0.0 running" "$(reported '.properties.reported.app | .package + " " + .state')"

# The depot's key for alice rotates to a key the device does not trust.
http PUT /depot/publishers/alice "${O[@]}" "${JSON[@]}" -d "$(jq -n --rawfile k "$D/other.pub" '{publicKey: $k}')"
expect "publish 3.0.0 signed with a key the device does not trust" pkg 3.0.0 "$P1" "$D/other.key"
desired "{\"package\":\"alice/pkg/hello/3.0.0\",\"grants\":$GRANTS}"
expect "a wrong-signature package is refused and reported" wait_for 20 err_is alice/pkg/hello/3.0.0
expect "... saying why" grep -q "signature" <<<"$(reported .properties.reported.app.error.reason)"
expect "... the last good app keeps answering" answers "$P2"
expect_fail "... the refused one never ran" answers "$P1"
expect_fail "... and its module was never fetched" test -e "$D/state/pkg/alice/hello/3.0.0/module.wasm"

# A package from a publisher the device has no key for.
desired "{\"package\":\"bob/pkg/hello/1.0.0\",\"grants\":$GRANTS}"
expect "a package of a publisher the device does not know is refused and reported" wait_for 20 err_is bob/pkg/hello/1.0.0
expect "... saying why" grep -q "trusted publisher key" <<<"$(reported .properties.reported.app.error.reason)"
expect "... the last good app keeps answering" answers "$P2"
expect_fail "... and its module was never fetched" test -e "$D/state/pkg/bob/hello/1.0.0/module.wasm"

# Apps that start and then misbehave: each is stopped, the last good app
# runs again (rollback) and reported.app.error says why.
bad_app() { # VERSION REASON WHAT
	desired "{\"package\":\"alice/pkg/hello/$1\",\"grants\":$GRANTS}"
	expect "$3 is refused and reported" wait_for 30 err_is "alice/pkg/hello/$1"
	expect "... saying why" grep -q "$2" <<<"$(reported .properties.reported.app.error.reason)"
	expect "... the last good app runs again" wait_for 10 answers "$P2"
	expect_eq "... reported.app names it" "alice/pkg/hello/2.0.0 running" \
		"$(reported '.properties.reported.app | .package + " " + .state')"
}
bad_app 2.3.0 "CPU budget of 1 s" "an app that loops forever (cpuSeconds 1)"
bad_app 2.4.0 "exited with status 3" "an app that opens a path it was not granted"
expect_fail "... which it could not read" grep -q ESCAPED "$D/agent.log"
bad_app 2.5.0 "exited with status 1" "an app that opens a port it was not granted"
expect_fail "... which never listened" answers "$P3"

# A resumed download that began with wrong bytes: the digest refuses it,
# it is fetched whole again at once and runs.
M6="$D/state/pkg/alice/hello/2.6.0"
mkdir -p "$M6"
head -c "$(stat -c %s "$WASM")" /dev/zero >"$M6/module.part"
desired "{\"package\":\"alice/pkg/hello/2.6.0\",\"grants\":$GRANTS}"
expect "a resumed module that does not match its digest is fetched whole again and runs" wait_for 20 answers "$P1"
expect "... the digest refused the first" grep -q '"resumed module download did not match its digest' "$D/agent.log"
expect_eq "... the module is the published one" "$(sha256sum <"$WASM")" "$(sha256sum <"$M6/module.wasm")"

# A new module whose compiled form is not ready when the device gets it:
# interpreted at first, restarted compiled once the depot has compiled it.
http PUT /depot/publishers/alice "${O[@]}" "${JSON[@]}" -d "$(jq -n --rawfile k "$D/alice.pub" '{publicKey: $k}')"
{ cat "$WASM"; printf '\0\5\4test'; } >"$D/app27.wasm" # a custom section: another module, the same app
expect "publish 2.7.0, a module not compiled yet (port $P1)" pkgm 2.7.0 "$D/app27.wasm" "[\"$P1\"]" "{\"listen\":[$P1]}"
desired "{\"package\":\"alice/pkg/hello/2.7.0\",\"grants\":$GRANTS}"
expect "a module whose compiled form is not ready runs interpreted" \
	wait_for 20 engine_is "interpreter no compiled form for this target (yet)"
expect "... and is restarted compiled once the depot has it" \
	wait_for 60 reported_is '.properties.reported.app | .package + " " + .engine' "alice/pkg/hello/2.7.0 aot"
expect "... and answers" wait_for 10 answers "$P1"

# --- Orchard down during an update: the app keeps running; the update lands when it is back ------
desired "{\"package\":\"alice/pkg/hello/2.0.0\",\"grants\":$GRANTS}"
expect "back to 2.0.0" wait_for 20 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/2.0.0 running"
OURL=$URL OPORT=$PORT
# The agent, stopped, has the update in its long poll's socket when
# Orchard goes away: it learns of 1.1.0 and cannot fetch it.
kill -STOP "$APID"
desired "{\"package\":\"alice/pkg/hello/1.1.0\",\"grants\":$GRANTS}"
sleep 0.5 # orchardd answers the long poll (nothing to wait on: the agent is stopped)
orchardd_stop
kill -CONT "$APID"
expect "Orchard down during an update: the agent could not fetch it" \
	wait_for 10 grep -q '"desired app refused","package":"alice/pkg/hello/1.1.0","reason":"Orchard unreachable"' "$D/agent.log"
expect "... the current app keeps answering" answers "$P2"
"$ORCHARDD" --data-dir "$TMP/var" --listen "127.0.0.1:$OPORT" 2>>"$TMP/orchardd2.log" &
OPID=$!
URL=$OURL
expect "orchardd is back on its port" wait_for 20 "${CURL[@]}" -f "$URL/healthz"
expect "Orchard back: the update lands" wait_for 30 answers "$P1"
expect "... reported" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/1.1.0 running"
desired "{\"package\":\"alice/pkg/hello/2.0.0\",\"grants\":$GRANTS}"
expect "... and the one after" wait_for 20 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/2.0.0 running"
expect_eq "a package that runs clears reported.app.error" null "$(reported .properties.reported.app.error)"

# --- crash, kill -9, SIGTERM ------------------------------------------------------------------
desired "{\"package\":\"alice/pkg/hello/2.0.0\",\"grants\":$GRANTS}"
CHILD=$(pgrep -P "$APID" | head -1)
kill -9 "$CHILD"
expect "a killed app is restarted" wait_for 20 answers "$P2"
expect "... and reported running again" wait_for 10 reported_is '.properties.reported.app.state' running

NREG=$(grep -c '"msg":"registered"' "$D/agent.log")
{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
APID=
expect "kill -9 of the agent ends its app" wait_for 5 bash -c "! curl -s --max-time 1 http://127.0.0.1:$P2/"
start_agent
expect "a restarted agent resumes the last good app" wait_for 30 answers "$P2"
expect "... without registering again" grep -q '"registered before"' "$D/agent.log"
expect_eq "... (one registration in all)" "1 1" "$NREG $(grep -c '"msg":"registered"' "$D/agent.log")"

# --- compiled forms that must never run ---------------------------------------------------
C2="$D/state/pkg/alice/hello/2.0.0"
cp "$C2/compiled.json" "$D/compiled.good"
cp "$D/state/depot.pub" "$D/depot.good"
restart_agent() {
	{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
	wait_for 5 bash -c "! curl -s --max-time 1 http://127.0.0.1:$P2/"
	start_agent # not in expect's subshell: APID must stay this shell's
	wait_for 30 answers "$P2"
}
# A statement the depot really signed, but naming another module.
OTHER="sha256:$(sha256sum <"$TRAP" | cut -d' ' -f1)"
jq -r .statement "$D/compiled.good" | jq -jcS --arg m "$OTHER" '.module = $m' >"$D/stmt"
openssl pkeyutl -sign -inkey "$TMP/var/keys/depot-ed25519.pem" -rawin -in "$D/stmt" -out "$D/stmt.sig"
jq -n --rawfile s "$D/stmt" --arg g "$(base64 -w0 <"$D/stmt.sig")" '{statement: $s, signature: $g}' >"$C2/compiled.json"
restart_agent
expect "a depot-signed compiled form of another module: the app answers" answers "$P2"
expect "... interpreted, never the .cwasm (reported.app.engine says why)" wait_for 10 engine_is "interpreter the compiled form is another module's"
# A pinned depot key that does not verify the statement (a forged one, or
# a depot key swapped under the device).
cp "$D/compiled.good" "$C2/compiled.json"
cp "$D/other.pub" "$D/state/depot.pub"
restart_agent
expect "a compiled form whose signature does not verify: the app answers" answers "$P2"
expect "... interpreted, never the .cwasm" wait_for 10 engine_is "interpreter the compiled form's signature does not verify with the pinned depot key"
expect_eq "... the pinned key is never replaced by Orchard's" "$(cat "$D/other.pub")" "$(cat "$D/state/depot.pub")"
cp "$D/depot.good" "$D/state/depot.pub"
restart_agent
expect "with the depot's key pinned again: the app answers" answers "$P2"
expect "... compiled (aot)" wait_for 10 reported_is .properties.reported.app.engine aot

# A module changed on disk is never run: the resume refuses it, the twin's
# desired package is fetched again.
M="$D/state/pkg/alice/hello/2.0.0/module.wasm"
GOOD=$(sha256sum <"$M")
{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
wait_for 5 bash -c "! curl -s --max-time 1 http://127.0.0.1:$P2/"
printf 'X' | dd of="$M" bs=1 seek=100 conv=notrunc 2>/dev/null
start_agent
expect "a tampered module on disk is fetched again and runs" wait_for 30 answers "$P2"
expect "... the resume refused it (digest)" grep -q '"cannot resume the last app".*digest' "$D/agent.log"
expect_eq "... the module on disk is the published one again" "$GOOD" "$(sha256sum <"$M")"
# A partial download (module.part) is resumed, not started over.
M1="$D/state/pkg/alice/hello/1.0.0/module.wasm"
GOOD1=$(sha256sum <"$WASM")
{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
head -c 5000 "$M1" >"${M1%.wasm}.part"
rm -f "$M1"
start_agent
wait_for 30 answers "$P2"
desired "{\"package\":\"alice/pkg/hello/1.0.0\",\"grants\":$GRANTS}"
expect "a partial module download is resumed and runs" wait_for 30 answers "$P1"
expect_eq "... the module is the published one" "$GOOD1" "$(sha256sum <"$M1")"

# --- a full disk ------------------------------------------------------------------------------
# Without root: the agent runs under a 64 KiB file size limit, so writing
# the new module (176 KiB) into state_dir fails (EFBIG, as ENOSPC would).
# The error is reported, the last good app keeps answering; once the limit
# is lifted (prlimit on the running agent: space is back) the update lands.
{ cat "$WASM"; printf '\0\5\4disk'; } >"$D/app29.wasm"
expect "publish 2.9.0, a new module (port $P2)" pkgm 2.9.0 "$D/app29.wasm" "[\"$P2\"]" "{\"listen\":[$P2]}"
{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
wait_for 5 bash -c "! curl -s --max-time 1 http://127.0.0.1:$P1/"
(
	ulimit -S -f 64
	exec "$AGENT" --config "$D/agent.conf"
) >"$D/agent-disk.log" 2>&1 &
APID=$!
expect "under a 64 KiB file size limit the agent resumes its app" wait_for 30 answers "$P1"
desired "{\"package\":\"alice/pkg/hello/2.9.0\",\"grants\":$GRANTS}"
expect "a module that does not fit on the disk is reported" wait_for 20 err_is alice/pkg/hello/2.9.0
expect "... saying why" grep -q "disk full" <<<"$(reported .properties.reported.app.error.reason)"
expect "... the agent lives on" kill -0 "$APID"
expect "... the last good app keeps answering" answers "$P1"
expect_fail "... the new one does not" answers "$P2"
M9="$D/state/pkg/alice/hello/2.9.0"
expect_eq "... what fit is kept to resume from, nothing more" 65536 "$(stat -c %s "$M9/module.part" 2>&1)"
expect_fail "... and no module.wasm" test -e "$M9/module.wasm"
prlimit --pid "$APID" --fsize=unlimited:
expect "space back: the update lands" wait_for 30 answers "$P2"
expect "... reported running" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/2.9.0 running"
expect_eq "... the error cleared" null "$(reported .properties.reported.app.error)"
expect_eq "... the module is the published one" "$(sha256sum <"$D/app29.wasm")" "$(sha256sum <"$M9/module.wasm")"
cat "$D/agent-disk.log" >>"$D/agent.log"
kill -TERM "$APID"
wait "$APID"
expect_eq "SIGTERM stops the agent (exit 0)" 0 "$?"
APID=
expect_fail "... and its app" answers "$P1"
expect_fail "no secret in the agent's log" grep -qF "$KEY" "$D/agent.log"
tap_done
