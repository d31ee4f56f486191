#!/bin/bash
# The depot end to end with the real tool: orchard-pkg keygen/build/publish
# against orchardd; publishers (bad keys, rotation with key history);
# every refused upload (unknown publisher, wrong signature, another key,
# digest mismatch, truncated, oversized, not a package, existing version)
# with its status and type and nothing stored; a device downloading with
# its own SAS (manifest whose signature verifies with openssl, module with
# ETag, If-None-Match, Range, resume); yank (devices still download).
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
trap fixture_cleanup EXIT
PKG="$ROOT/$BUILD/orchard-pkg"
jqb() { jq -r "$1" <<<"$BODY"; }
counts() { psql_q "SELECT (SELECT count(*) FROM depot_packages) || ' ' || (SELECT count(*) FROM depot_modules) || ' ' || (SELECT count(*) FROM depot_publisher_keys)"; }
W=()

# dl OUT PATH [curl args]: a download into OUT (binary: not into $BODY)
dl() {
	local out=$1
	shift
	rm -f "$TMP/body"
	http GET "$@" 2>/dev/null
	if [[ -f "$TMP/body" ]]; then cp "$TMP/body" "$out"; else : >"$out"; fi
}

pg_start || exit 1
orchardd_start --depot-max-module 65536 || exit 1
W=(-H "Authorization: Bearer $(token depot:write depot:read)")
R=(-H "Authorization: Bearer $(token depot:read)")
D="$TMP/pkg"
mkdir -p "$D/app" "$D/big"

# --- keygen ------------------------------------------------------------------------
"$PKG" keygen --out "$D/alice.key" >/dev/null
expect_eq "keygen writes the private key 0600 and NAME.pub" "600 644" \
	"$(stat -c %a "$D/alice.key") $(stat -c %a "$D/alice.pub")"
expect "the public key is Ed25519 PEM" grep -q "BEGIN PUBLIC KEY" "$D/alice.pub"
expect_fail "keygen never overwrites a key" "$PKG" keygen --out "$D/alice.key"
"$PKG" keygen --out "$D/bob.key" >/dev/null
"$PKG" keygen --out "$D/alice2.key" >/dev/null
expect_fail "keygen without --out is a usage error" "$PKG" keygen

# --- build -------------------------------------------------------------------------
{ printf '\0asm\1\0\0\0'; head -c 3000 /dev/urandom; } >"$D/app/app.wasm"
manifest() { # VERSION [PUBLISHER]
	printf '{"publisher":"%s","name":"hello","version":"%s","args":["--port","8080"],"env":{"MODE":"demo"},"capabilities":{"listen":[8080],"dir":true}}' "${2:-alice}" "$1" >"$D/app/manifest.json"
}
manifest 1.0.0
expect "build signs a package" "$PKG" build "$D/app" --key "$D/alice.key" --out "$D/hello-1.opkg"
expect_eq "an .opkg starts with its magic" "OPKG" "$(head -c 4 "$D/hello-1.opkg")"
cp "$D/app/manifest.json" "$D/good.json"
echo '{"publisher":"alice","name":"hello","version":"1","module":"sha256:00"}' >"$D/app/manifest.json"
expect_fail "build refuses a manifest that names its module" "$PKG" build "$D/app" --key "$D/alice.key" --out "$D/x.opkg"
echo '{"publisher":"alice","name":"hello","version":"1","capabilities":{"listen":[0]}}' >"$D/app/manifest.json"
expect_fail "build refuses a bad manifest" "$PKG" build "$D/app" --key "$D/alice.key" --out "$D/x.opkg"
expect_fail "build refuses a public key as signing key" "$PKG" build "$D/app" --key "$D/alice.pub" --out "$D/x.opkg"

publish() { # FILE
	http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$1"
}

# --- publishers ----------------------------------------------------------------------
manifest 1.0.0
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/hello-1.opkg" >/dev/null
"$PKG" publish "$D/hello-1.opkg" --url "$URL" --token "$(token depot:write)" --cacert "$TMP/var/pki/root.pem" >"$D/out" 2>&1
expect_eq "publish before the publisher exists exits 2" "2" "$?"
expect "... saying why" grep -q depot-unknown-publisher "$D/out"
expect_eq "... and nothing is stored" "0 0 0" "$(counts)"

pubjson() { jq -n --rawfile k "$1" '{publicKey: $k}'; }
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d "$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout | jq -Rs '{publicKey: .}')"
expect_problem "a P-256 key is refused" 400 depot-bad-public-key
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d '{"publicKey":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}'
expect_problem "garbage PEM is refused" 400 depot-bad-public-key
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d '{"key":"x"}'
expect_problem "a body without publicKey is refused" 400 invalid-field
http PUT /depot/publishers/packages "${W[@]}" "${JSON[@]}" -d "$(pubjson "$D/alice.pub")"
expect_problem "\"packages\" is no publisher name" 400 depot-bad-name
http PUT /depot/publishers/Alice "${W[@]}" "${JSON[@]}" -d "$(pubjson "$D/alice.pub")"
expect_problem "names are lower case" 400 depot-bad-name
http PUT /depot/publishers/alice "${R[@]}" "${JSON[@]}" -d "$(pubjson "$D/alice.pub")"
expect_eq "depot:read may not register a publisher" 403 "$STATUS"
http PUT /depot/publishers/alice "${JSON[@]}" -d "$(pubjson "$D/alice.pub")"
expect_eq "nor may anyone without a token" 401 "$STATUS"
expect_eq "refusals store nothing" "0 0 0" "$(counts)"
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d "$(pubjson "$D/alice.pub")"
expect_eq "an operator registers a publisher (201)" "201 alice 1" "$STATUS $(jqb .name) $(jqb '.keys|length')"
KID1=$(jqb .keyId)
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d "$(pubjson "$D/alice.pub")"
expect_eq "the same key again is 200, one key" "200 1 $KID1" "$STATUS $(jqb '.keys|length') $(jqb .keyId)"
http PUT /depot/publishers/bob "${W[@]}" "${JSON[@]}" -d "$(pubjson "$D/bob.pub")"
http GET /depot/publishers "${R[@]}"
expect_eq "GET /depot/publishers lists them" "alice bob" "$(jqb '[.publishers[].name]|join(" ")')"
http GET /depot/publishers/carol "${R[@]}"
expect_problem "an unknown publisher is 404" 404 depot-publisher-not-found

# --- publish ---------------------------------------------------------------------------
"$PKG" publish "$D/hello-1.opkg" --url "$URL" --token "$(token depot:write)" --cacert "$TMP/var/pki/root.pem" >"$D/out"
expect_eq "orchard-pkg publish succeeds" 0 "$?"
WASM_SHA=$(sha256sum "$D/app/app.wasm" | cut -d' ' -f1)
expect_eq "... with the module's digest and size" "sha256:$WASM_SHA 3008 alice/pkg/hello/1.0.0" \
	"$(jq -r '.module + " " + (.size|tostring) + " " + .package' "$D/out")"
expect_eq "one package, one module, two keys" "1 1 2" "$(counts)"
publish "$D/hello-1.opkg"
expect_problem "the same version again is 409" 409 depot-package-exists
expect_eq "... and stores nothing" "1 1 2" "$(counts)"

# Bad uploads of version 2.0.0, each refused with nothing stored.
manifest 2.0.0
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/hello-2.opkg" >/dev/null
"$PKG" build "$D/app" --key "$D/bob.key" --out "$D/hello-2-bob.opkg" >/dev/null
MLEN=$((16#$(od -An -tx1 -j8 -N4 "$D/hello-2.opkg" | tr -d ' \n')))
SIGOFF=$((8 + 4 + MLEN + 4))
flip() { # FILE OFFSET OUT: one bit changed
	cp "$1" "$3"
	printf "$(printf '\\%03o' $((0x$(od -An -tx1 -j"$2" -N1 "$1" | tr -d ' ') ^ 1)))" |
		dd of="$3" bs=1 seek="$2" conv=notrunc status=none
}
flip "$D/hello-2.opkg" $SIGOFF "$D/badsig.opkg"
publish "$D/badsig.opkg"
expect_problem "a wrong signature is refused" 422 depot-bad-signature
publish "$D/hello-2-bob.opkg"
expect_problem "a package signed with another publisher's key is refused" 422 depot-bad-signature
SIZE=$(stat -c %s "$D/hello-2.opkg")
flip "$D/hello-2.opkg" $((SIZE - 1)) "$D/digest.opkg"
publish "$D/digest.opkg"
expect_problem "a module that is not the manifest's digest is refused" 422 depot-digest-mismatch
head -c $((SIZE - 100)) "$D/hello-2.opkg" >"$D/trunc.opkg"
publish "$D/trunc.opkg"
expect_problem "a truncated upload is refused" 400 depot-package-truncated
head -c 20 "$D/hello-2.opkg" >"$D/trunc2.opkg"
publish "$D/trunc2.opkg"
expect_problem "one cut in the manifest too" 400 depot-package-truncated
echo "hello" >"$D/junk.opkg"
publish "$D/junk.opkg"
expect_problem "something else is not a package" 400 depot-bad-package
flip "$D/hello-2.opkg" 12 "$D/manifest.opkg"
publish "$D/manifest.opkg"
expect_problem "a manifest changed after signing is refused" 400 depot-bad-manifest
manifest 2.0.0 carol
"$PKG" keygen --out "$D/carol.key" >/dev/null
"$PKG" build "$D/app" --key "$D/carol.key" --out "$D/carol.opkg" >/dev/null
publish "$D/carol.opkg"
expect_problem "an unknown publisher is refused" 422 depot-unknown-publisher
cp "$D/good.json" "$D/big/manifest.json"
sed -i 's/"1.0.0"/"9.0.0"/' "$D/big/manifest.json"
head -c 70000 /dev/urandom >"$D/big/app.wasm"
"$PKG" build "$D/big" --key "$D/alice.key" --out "$D/big.opkg" >/dev/null
publish "$D/big.opkg"
expect_problem "a module over --depot-max-module is refused" 413 depot-package-too-large
head -c 300000 /dev/urandom >"$D/huge.opkg"
publish "$D/huge.opkg"
expect_problem "a body over the upload cap is refused before it is read" 413 body-too-large
http POST /depot/packages "${R[@]}" --data-binary "@$D/hello-2.opkg"
expect_eq "depot:read may not publish" 403 "$STATUS"
expect_eq "no refused upload stored anything" "1 1 2" "$(counts)"
expect_eq "... not even a module" "$WASM_SHA" "$(psql_q 'SELECT string_agg(sha256, ) FROM depot_modules' 2>/dev/null || psql_q "SELECT string_agg(sha256, ',') FROM depot_modules")"
publish "$D/hello-2.opkg"
expect_eq "the good 2.0.0 publishes; its module is shared (same bytes)" "201 2 1" "$STATUS $(counts | cut -d' ' -f1-2)"

manifest 3.0.0
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/hello-3.opkg" >/dev/null
pids=()
for i in 1 2 3 4; do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' \
		--data-binary "@$D/hello-3.opkg" "$URL/depot/packages" >"$D/race.$i" &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "four concurrent publishes of one version: one 201, three 409" "201 409 409 409" \
	"$(cat "$D"/race.* | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... one package stored" "3" "$(counts | cut -d' ' -f1)"
http GET "/depot/packages?publisher=alice" "${R[@]}"
expect_eq "GET /depot/packages lists a publisher's" "3" "$(jqb '.packages|length')"
http GET /depot/packages/alice/hello/1.0.0 "${R[@]}"
expect_eq "GET one: the manifest, its module and key" "sha256:$WASM_SHA $KID1 8080" \
	"$(jqb '.manifest.module + " " + .keyId + " " + (.manifest.capabilities.listen[0]|tostring)')"
http GET /depot/packages/alice/hello/7.0.0 "${R[@]}"
expect_problem "an unknown version is 404" 404 depot-package-not-found

# --- a device downloads ------------------------------------------------------------------
http PUT "/enrollments/dev-1?$AV" -H "Authorization: Bearer $(token all)" "${JSON[@]}" \
	-d '{"registrationId":"dev-1","attestation":{"type":"symmetricKey"}}'
DK=$(jqb .attestation.symmetricKey.primaryKey)
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
http PUT "/$SCOPE/registrations/dev-1/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/dev-1" "$DK")" \
	"${JSON[@]}" -d '{"registrationId":"dev-1"}'
expect_eq "a device registers" 200 "$STATUS"
SAS=(-H "Authorization: $(SKN= dps_sas "hub.example.test/devices/dev-1" "$DK")")
P=/depot/alice/pkg/hello/1.0.0
http GET $P "${SAS[@]}"
expect_eq "the device reads the manifest with its own SAS" "200 sha256:$WASM_SHA false" "$STATUS $(jqb .module) $(jqb .yanked)"
jq -jcS .manifest <<<"$BODY" >"$D/canon.json"
jqb .signature | base64 -d >"$D/sig.bin"
expect "its signature verifies with the publisher's key (openssl)" \
	openssl pkeyutl -verify -pubin -inkey "$D/alice.pub" -rawin -in "$D/canon.json" -sigfile "$D/sig.bin"
dl "$D/dl.wasm" $P/module "${SAS[@]}"
expect "the module downloads whole" cmp "$D/dl.wasm" "$D/app/app.wasm"
expect_eq "with ETag the digest, as application/wasm" "200 \"sha256:$WASM_SHA\" application/wasm" \
	"$STATUS $(grep -i '^etag:' <<<"$HEADERS" | cut -d' ' -f2) $(grep -i '^content-type:' <<<"$HEADERS" | cut -d' ' -f2)"
ETAG="\"sha256:$WASM_SHA\""
dl "$D/nm" $P/module "${SAS[@]}" -H "If-None-Match: $ETAG"
expect_eq "If-None-Match with the digest is 304, no body" "304 0" "$STATUS $(stat -c %s "$D/nm")"
dl "$D/dl2.wasm" $P/module "${SAS[@]}" -H 'If-None-Match: "sha256:0000", W/"x"'
expect_eq "another ETag gets the bytes" 200 "$STATUS"
dl "$D/part1" $P/module "${SAS[@]}" -H "Range: bytes=0-999"
expect_eq "Range: 206 with Content-Range" "206 bytes 0-999/3008 1000" \
	"$STATUS $(grep -i '^content-range:' <<<"$HEADERS" | cut -d' ' -f2-) $(stat -c %s "$D/part1")"
dl "$D/part2" $P/module "${SAS[@]}" -H "Range: bytes=1000-"
cat "$D/part1" "$D/part2" >"$D/resumed"
expect "a resumed download is the module" cmp "$D/resumed" "$D/app/app.wasm"
dl "$D/tail" $P/module "${SAS[@]}" -H "Range: bytes=-8"
expect_eq "a suffix range" "206 $(tail -c 8 "$D/app/app.wasm" | od -An -tx1 | tr -d ' \n')" "$STATUS $(od -An -tx1 "$D/tail" | tr -d ' \n')"
http GET $P/module "${SAS[@]}" -H "Range: bytes=3008-"
expect_problem "a range past the end is 416" 416 depot-range-not-satisfiable
expect "... with Content-Range: bytes */size" grep -qi '^content-range: bytes \*/3008' <<<"$HEADERS"
http GET $P/module "${SAS[@]}" -H "Range: bytes=0-1,5-6"
expect_problem "several ranges are 416" 416 depot-range-not-satisfiable
http GET $P/module "${SAS[@]}" -H "Range: bytes=9-2"
expect_problem "a backwards range is 416" 416 depot-range-not-satisfiable
http GET $P/module
expect_problem "no credential is 401" 401 twin-device-unauthorized
http GET $P/module -H "Authorization: $(SKN= dps_sas "hub.example.test/devices/dev-1" "$(head -c 32 /dev/urandom | base64)")"
expect_problem "a forged SAS is 401" 401 twin-device-unauthorized
http GET $P/module "${R[@]}"
expect_problem "an operator token is no device credential" 401 twin-device-unauthorized
http GET /depot/alice/pkg/hello/4.0.0/module "${SAS[@]}"
expect_problem "an unknown package is 404" 404 depot-package-not-found
http GET /depot/alice/pkg/hello/4.0.0/module "${SAS[@]}" -H "If-None-Match: $ETAG"
expect_problem "... also with If-None-Match" 404 depot-package-not-found

# --- key rotation ------------------------------------------------------------------------
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d "$(pubjson "$D/alice2.pub")"
expect_eq "a PUT with a new key rotates (200, two keys, the old retired)" "200 2 1" \
	"$STATUS $(jqb '.keys|length') $(jqb '[.keys[]|select(.retiredAt != null)]|length')"
manifest 1.1.0
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/old.opkg" >/dev/null
publish "$D/old.opkg"
expect_problem "the retired key no longer publishes" 422 depot-bad-signature
"$PKG" build "$D/app" --key "$D/alice2.key" --out "$D/new.opkg" >/dev/null
publish "$D/new.opkg"
expect_eq "the new key does" 201 "$STATUS"
http GET $P "${SAS[@]}"
jq -jcS .manifest <<<"$BODY" >"$D/canon.json"
jqb .signature | base64 -d >"$D/sig.bin"
expect_eq "1.0.0 still names the old key" "$KID1" "$(jqb .keyId)"
expect "... and still verifies with it" \
	openssl pkeyutl -verify -pubin -inkey "$D/alice.pub" -rawin -in "$D/canon.json" -sigfile "$D/sig.bin"

# --- yank ----------------------------------------------------------------------------------
http PATCH /depot/packages/alice/hello/1.0.0 "${R[@]}" "${JSON[@]}" -d '{"yanked":true}'
expect_eq "depot:read may not yank" 403 "$STATUS"
http PATCH /depot/packages/alice/hello/1.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked":"yes"}'
expect_problem "yanked must be a boolean" 400 invalid-field
http PATCH /depot/packages/alice/hello/8.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked":true}'
expect_problem "yanking an unknown version is 404" 404 depot-package-not-found
http PATCH /depot/packages/alice/hello/1.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked":true}'
expect_eq "an operator yanks a version" "200 true" "$STATUS $(jqb .yanked)"
http GET $P "${SAS[@]}"
expect_eq "a device still reads a yanked manifest (marked)" "200 true" "$STATUS $(jqb .yanked)"
dl "$D/dl3.wasm" $P/module "${SAS[@]}"
expect "... and its module" cmp "$D/dl3.wasm" "$D/app/app.wasm"
http PATCH /depot/packages/alice/hello/1.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked":false}'
expect_eq "and restores it" "200 false null" "$STATUS $(jqb .yanked) $(jqb .yankedAt)"
expect_fail "the database refuses any other change to a package" \
	psql "$ORCHARD_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "UPDATE depot_packages SET size = 1"
expect_fail "... or its deletion" \
	psql "$ORCHARD_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "DELETE FROM depot_packages"
expect "publishes and yanks are audited" test "$(psql_q "SELECT count(*) FROM audit_log WHERE route LIKE '/depot/%'" 2>/dev/null || echo 0)" -gt 0
orchardd_stop
expect_eq "orchardd stops cleanly (no leak under ASan)" 0 "$?"

tap_done
