#!/bin/bash
# The depot's compiled forms (docs/depot.md): publishing the example app
# makes orchardd compile it in the background with orchard-wasm; the
# operator sees the state; a device downloads the .cwasm (ETag, Range) and
# its statement, which verifies with openssl against GET /depot/key and
# binds module, target, compiler and the .cwasm's digest; the .cwasm runs
# with orchard-wasm and answers HTTP. A module the compiler refuses is
# recorded as failed with its reason, and the package stays usable.
# Targets devices report in their twins are compiled for too (without
# configuring them); hostile or unproducible ones are ignored, logged once.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
trap 'kill $APP 2>/dev/null; fixture_cleanup' EXIT
APP=
PKG="$ROOT/$BUILD/orchard-pkg"
WASM="$ROOT/$BUILD/orchard-wasm"
jqb() { jq -r "$1" <<<"$BODY"; }
TARGET=$(uname -m)-linux-gnu

pg_start || exit 1
orchardd_start --depot-compile-level 0 || exit 1
W=(-H "Authorization: Bearer $(token depot:write depot:read)")
D="$TMP/pkg"
mkdir -p "$D/app" "$D/bad"
"$PKG" keygen --out "$D/alice.key" >/dev/null
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d "$(jq -n --rawfile k "$D/alice.pub" '{publicKey: $k}')"
cp "$ROOT/$BUILD/wasm/examples/httpd.wasm" "$D/app/app.wasm"
echo '{"publisher":"alice","name":"httpd","version":"1.0.0","capabilities":{"listen":[8080]}}' >"$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd.opkg" >/dev/null
printf '\0asm\1\0\0\0\1\177\1' >"$D/bad/app.wasm" # a type section longer than the file
echo '{"publisher":"alice","name":"broken","version":"1.0.0"}' >"$D/bad/manifest.json"
"$PKG" build "$D/bad" --key "$D/alice.key" --out "$D/broken.opkg" >/dev/null

http GET /depot/key
expect_eq "GET /depot/key serves the depot's Ed25519 key without credentials" "200 Ed25519" "$STATUS $(jqb .algorithm)"
jqb .publicKey >"$D/depot.pub"
KID=$(jqb .keyId)
expect_eq "the depot key is kept 0600 under the data folder" 600 "$(stat -c %a "$TMP/var/keys/depot-ed25519.pem")"
expect_eq "its id is the SHA-256 of its SubjectPublicKeyInfo" "$KID" \
	"$(openssl pkey -pubin -in "$D/depot.pub" -outform DER | sha256sum | cut -d' ' -f1)"

for f in httpd broken; do
	http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/$f.opkg"
done
expect_eq "both publish at once (compiling is not the request's work)" 201 "$STATUS"

# wait_state NAME: polls the operator view until the host target's
# compilation has finished; STATE is then its state, BODY the view.
wait_state() {
	for _ in $(seq 1 600); do
		http GET "/depot/packages/alice/$1/1.0.0/compiled" "${W[@]}"
		STATE=$(jq -r --arg t "$TARGET" '.compiled[] | select(.target == $t) | .state' <<<"$BODY")
		[[ -n "$STATE" && "$STATE" != compiling ]] && return
		sleep 0.2
	done
}
wait_state httpd
expect_eq "the example app compiles for the host target" ready "$STATE"
expect_eq "... the operator sees target, compiler and digest" "$TARGET true true" \
	"$(jqb '.targets[0]') $(jqb '.compiled[0].compiler | test("wabt")') $(jqb '.compiled[0].cwasm | startswith("sha256:")')"
wait_state broken
expect_eq "a module the compiler refuses is recorded as failed" failed "$STATE"
expect "... with the compiler's reason" test -n "$(jqb '.compiled[0].error // empty')"

# --- a device downloads ---------------------------------------------------------
http PUT "/enrollments/dev-1?$AV" -H "Authorization: Bearer $(token all)" "${JSON[@]}" \
	-d '{"registrationId":"dev-1","attestation":{"type":"symmetricKey"}}'
DK=$(jqb .attestation.symmetricKey.primaryKey)
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
http PUT "/$SCOPE/registrations/dev-1/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/dev-1" "$DK")" \
	"${JSON[@]}" -d '{"registrationId":"dev-1"}'
SAS=(-H "Authorization: $(SKN= dps_sas "hub.example.test/devices/dev-1" "$DK")")
P=/depot/alice/pkg/httpd/1.0.0/compiled/$TARGET

http GET "$P/statement" "${SAS[@]}"
expect_eq "the device reads the statement" 200 "$STATUS"
STMT_CW=$(jqb .cwasm)
jqb .statement | tr -d '\n' >"$D/statement"
jqb .signature | base64 -d >"$D/statement.sig"
expect "the statement verifies with the depot key (openssl)" \
	openssl pkeyutl -verify -pubin -inkey "$D/depot.pub" -rawin -in "$D/statement" -sigfile "$D/statement.sig"
MOD_SHA=$(sha256sum "$D/app/app.wasm" | cut -d' ' -f1)
expect_eq "it binds the module, target and type, in canonical form" "sha256:$MOD_SHA $TARGET orchard-compiled/1 $KID" \
	"$(jq -r '.module + " " + .target + " " + .type' "$D/statement") $(jqb .keyId)"
expect_eq "... canonical: what jq -jcS writes" "$(jq -jcS . "$D/statement")" "$(cat "$D/statement")"
cp "$D/statement" "$D/statement.orig"
printf 'x' >>"$D/statement"
expect_fail "a changed statement does not verify" \
	openssl pkeyutl -verify -pubin -inkey "$D/depot.pub" -rawin -in "$D/statement" -sigfile "$D/statement.sig"

rm -f "$TMP/body"
http GET "$P" "${SAS[@]}" 2>/dev/null
cp "$TMP/body" "$D/app.cwasm"
CW=$(sha256sum "$D/app.cwasm" | cut -d' ' -f1)
expect_eq "the device downloads the .cwasm the statement names, ETag its digest" \
	"200 sha256:$CW sha256:$CW sha256:$CW" \
	"$STATUS $STMT_CW $(jq -r .cwasm "$D/statement.orig") $(grep -i '^etag:' <<<"$HEADERS" | tr -d '" \r' | cut -d: -f2-)"
expect "... whose header names the module and compiler" grep -aq "module-sha256 $MOD_SHA" "$D/app.cwasm"
http GET "$P" "${SAS[@]}" -H "If-None-Match: \"sha256:$CW\"" 2>/dev/null
expect_eq "If-None-Match: 304" 304 "$STATUS"
http GET "$P" "${SAS[@]}" -H "Range: bytes=100-" 2>/dev/null
cp "$TMP/body" "$D/tail"
expect_eq "Range: the rest, 206" "206 $(tail -c +101 "$D/app.cwasm" | sha256sum | cut -d' ' -f1)" "$STATUS $(sha256sum <"$D/tail" | cut -d' ' -f1)"
http GET "$P" "${SAS[@]}" -H "Range: bytes=99999999-" 2>/dev/null
expect_problem "a range past the end is 416" 416 depot-range-not-satisfiable
http GET "/depot/alice/pkg/httpd/1.0.0/compiled/riscv64-linux-gnu" "${SAS[@]}"
expect_problem "a target not compiled is 404" 404 depot-compiled-not-found
http GET "/depot/alice/pkg/broken/1.0.0/compiled/$TARGET" "${SAS[@]}"
expect_problem "a failed compilation serves nothing" 404 depot-compiled-not-found
http GET "/depot/alice/pkg/httpd/1.0.0/compiled/x%20y" "${SAS[@]}"
expect_problem "a bad target name is 400" 400 depot-bad-target
http GET "/depot/alice/pkg/httpd/9.0.0/compiled/$TARGET" "${SAS[@]}"
expect_problem "an unknown package is 404" 404 depot-package-not-found
http GET "$P"
expect_eq "no credential, no compiled form" 401 "$STATUS"
http GET /depot/packages/alice/httpd/1.0.0/compiled
expect_eq "the operator view needs a token" 401 "$STATUS"

# --- it runs ------------------------------------------------------------------------
HP=$(python3 -c 'import socket,random
for _ in range(200):
    p = random.randrange(20000, 32000)
    try:
        socket.socket().bind(("127.0.0.1", p)); print(p); break
    except OSError: pass')
"$WASM" run --listen "$HP" "$D/app.cwasm" "$HP" >"$D/run.out" 2>&1 &
APP=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$HP/" && break
	sleep 0.05
done
expect_eq "the downloaded compiled form runs with orchard-wasm and answers" \
	"Hello from an Orchard WebAssembly app!" "$(curl -s "http://127.0.0.1:$HP/")"
kill $APP 2>/dev/null
wait $APP 2>/dev/null
APP=

# A second package with the same module shares the compiled form.
sed -i 's/1.0.0/1.0.1/' "$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd2.opkg" >/dev/null
http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/httpd2.opkg"
http GET "/depot/packages/alice/httpd/1.0.1/compiled" "${W[@]}"
expect_eq "a package sharing a module shares its compiled form at once" "ready sha256:$CW" \
	"$(jqb '.compiled[0].state') $(jqb '.compiled[0].cwasm')"
expect_eq "one compiled row per module and target" 2 "$(psql_q 'SELECT count(*) FROM depot_compiled')"

# Shutdown does not wait for a compilation: the compiler is killed and the
# row stays "compiling" for the next start.
cp "$ROOT/$BUILD/wasm/examples/httpd.wasm" "$D/app/app.wasm"
printf '\0\4\3abc' >>"$D/app/app.wasm" # a custom section: another module, valid
sed -i 's/1.0.1/2.0.0/' "$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd3.opkg" >/dev/null
http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/httpd3.opkg"
for _ in $(seq 1 100); do
	[[ "$(psql_q "SELECT count(*) FROM depot_compiled WHERE state = 'compiling'")" == 1 ]] && break
	sleep 0.05
done
t0=$(date +%s%N)
orchardd_stop
expect "orchardd stops within 3 s while compiling" test $((($(date +%s%N) - t0) / 1000000)) -lt 3000
SHA3=$(sha256sum <"$D/app/app.wasm" | cut -d' ' -f1)
expect_eq "... and the interrupted compilation is left to resume" compiling \
	"$(psql_q "SELECT state FROM depot_compiled WHERE module_sha256 = '$SHA3'")"

# A kill -9 while compiling leaves the row "compiling" too: the next start
# compiles both again (this start resumes the first one: it may be
# compiling when the second is published, and is then killed as well).
orchardd_start --depot-compile-level 0 || exit 1
printf '\0\4\3abd' >>"$D/app/app.wasm"
sed -i 's/2.0.0/3.0.0/' "$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd4.opkg" >/dev/null
http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/httpd4.opkg"
SHA4=$(sha256sum <"$D/app/app.wasm" | cut -d' ' -f1)
for _ in $(seq 1 400); do
	[[ "$(psql_q "SELECT state FROM depot_compiled WHERE module_sha256 = '$SHA4'")" == compiling ]] && break
	sleep 0.05
done
kill -KILL "$OPID"
wait "$OPID" 2>/dev/null
expect_eq "killed while compiling, the row says compiling" compiling \
	"$(psql_q "SELECT state FROM depot_compiled WHERE module_sha256 = '$SHA4'")"
orchardd_start --depot-compile-level 0 || exit 1
W=(-H "Authorization: Bearer $(token depot:write depot:read)")
settled() { # SHA: waits until its compiled form is no longer compiling, prints its state
	local st
	for _ in $(seq 1 600); do
		st=$(psql_q "SELECT state FROM depot_compiled WHERE module_sha256 = '$1'")
		[[ "$st" != compiling ]] && break
		sleep 0.2
	done
	echo "$st"
}
expect_eq "the next start compiles it again" ready "$(settled "$SHA4")"
expect_eq "... and the one shutdown interrupted" ready "$(settled "$SHA3")"
expect_eq "... but retries no failed one" failed "$(psql_q "SELECT d.state FROM depot_compiled d JOIN depot_packages p ON p.module_sha256 = d.module_sha256 WHERE p.name = 'broken'")"
orchardd_stop

# --- targets devices report ---------------------------------------------------------
# No configured target: a module published now gets no compiled form until
# a device reports its target in its twin (reported.agent.target); then it
# is compiled for that target, with no operator action. Targets of a bad
# form or that the compiler cannot make are ignored, logged once each.
psql_q "UPDATE twins SET reported = reported - 'agent'" >/dev/null
orchardd_start --depot-compile-level 0 --depot-compile-targets '' || exit 1
W=(-H "Authorization: Bearer $(token depot:write depot:read)")
printf '\0\4\3abe' >>"$D/app/app.wasm"
sed -i 's/3.0.0/4.0.0/' "$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd5.opkg" >/dev/null
http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/httpd5.opkg"
SHA5=$(sha256sum <"$D/app/app.wasm" | cut -d' ' -f1)
expect_eq "no configured target, no device reporting one: published, nothing to compile" "201 []" \
	"$STATUS $(http GET /depot/packages/alice/httpd/4.0.0/compiled "${W[@]}"; jq -c .targets <<<"$BODY")"
report() { # TARGET-JSON: dev-1 reports it as its agent's target
	http PATCH /devices/dev-1/twin/reported "${SAS[@]}" "${JSON[@]}" -d "{\"agent\":{\"target\":$1}}"
}
for bad in '"riscv64-linux-gnu"' '"x86_64-linux-gnu; rm -rf /"' '"../../x86_64-linux-gnu"' \
	"\"$(printf 'a%.0s' {1..200})-linux-gnu\"" '"X86_64-LINUX-GNU"' '"x86_64-linux-gnu\n{\"msg\":\"forged\"}"' '42' '"riscv64-linux-gnu"'; do
	report "$bad"
	[[ "$STATUS" == 200 ]] || break
done
expect_eq "a device reports hostile and unproducible targets: its twin takes them" 200 "$STATUS"
report "\"$TARGET\""
expect_eq "... then the host's own" 200 "$STATUS"
for _ in $(seq 1 600); do
	ST5=$(psql_q "SELECT state FROM depot_compiled WHERE module_sha256 = '$SHA5'")
	[[ "$ST5" == ready || "$ST5" == failed ]] && break
	sleep 0.2
done
expect_eq "the depot compiles the published module for the reported target" ready "$ST5"
expect_eq "... and for it alone" "$TARGET" "$(psql_q "SELECT string_agg(target, ',') FROM depot_compiled WHERE module_sha256 = '$SHA5'")"
http GET /depot/packages/alice/httpd/4.0.0/compiled "${W[@]}"
expect_eq "the operator view lists the reported target" "[\"$TARGET\"]" "$(jq -c .targets <<<"$BODY")"
expect_eq "the bogus targets compiled nothing" 0 \
	"$(psql_q "SELECT count(*) FROM depot_compiled WHERE target NOT IN ('$TARGET')")"
expect_eq "each ignored target is logged once (riscv64 reported twice)" "1 5" \
	"$(grep -c 'cannot produce' "$OLOG") $(grep -c 'reported target of a bad form' "$OLOG")"
expect_eq "... shown bounded and defanged (no line forged into the log)" "0 0" \
	"$(grep -c '"msg":"forged"' "$OLOG") $(grep 'reported target' "$OLOG" | grep -c 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')"
expect "orchardd is still up" kill -0 "$OPID"
report "\"$TARGET\""
expect_eq "reporting a known target again queues nothing new" "1" \
	"$(grep -c 'compiling for a target devices report' "$OLOG")"
orchardd_stop
# The next start reads the targets twins report; a publish then compiles
# for them at once. (Its PATH has a folder where a cross compiler appears
# below.)
mkdir -p "$TMP/xbin"
export PATH="$TMP/xbin:$PATH"
orchardd_start --depot-compile-level 0 --depot-compile-targets '' || exit 1
W=(-H "Authorization: Bearer $(token depot:write depot:read)")
http GET /depot/packages/alice/httpd/4.0.0/compiled "${W[@]}"
expect_eq "after a restart the reported target is known from the twins" "[\"$TARGET\"]" "$(jq -c .targets <<<"$BODY")"
printf '\0\4\3abf' >>"$D/app/app.wasm"
sed -i 's/4.0.0/5.0.0/' "$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd6.opkg" >/dev/null
http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/httpd6.opkg"
SHA6=$(sha256sum <"$D/app/app.wasm" | cut -d' ' -f1)
for _ in $(seq 1 600); do
	ST6=$(psql_q "SELECT state FROM depot_compiled WHERE module_sha256 = '$SHA6'")
	[[ "$ST6" == ready || "$ST6" == failed ]] && break
	sleep 0.2
done
expect_eq "... and a module published then is compiled for it" "201 ready" "$STATUS $ST6"

# A target ignored for want of its cross compiler is taken once the
# compiler is on PATH, without a restart: each report looks again. (This
# "compiler" fails, so its compilations are recorded as failed.)
report '"riscv64-linux-gnu"'
expect_eq "no riscv64 cross compiler: the reported target is ignored" "200 1" "$STATUS $(grep -c 'cannot produce' "$OLOG")"
printf '#!/bin/sh\necho "no riscv64 sysroot here" >&2\nexit 1\n' >"$TMP/xbin/riscv64-linux-gnu-gcc"
chmod +x "$TMP/xbin/riscv64-linux-gnu-gcc"
report '"riscv64-linux-gnu"'
for _ in $(seq 1 100); do
	RV=$(psql_q "SELECT count(*) FILTER (WHERE state = 'failed') || '/' || count(*) FROM depot_compiled WHERE target = 'riscv64-linux-gnu'")
	[[ "$RV" != 0/* && "${RV%/*}" == "${RV#*/}" ]] && break
	sleep 0.1
done
expect_eq "once it is installed, the next report takes the target (logged once each)" "1 1" \
	"$(grep 'compiling for a target devices report' "$OLOG" | grep -c riscv64) $(grep -c 'cannot produce' "$OLOG")"
expect "... and the published modules are compiled for it (failed here, each recorded)" \
	test "${RV%/*}" -gt 0 -a "${RV%/*}" == "${RV#*/}"
orchardd_stop
tap_done
