#!/bin/bash
# The depot: publish/s (orchard-pkg packages of a 16 KiB module, 4
# keep-alive TLS connections), device downloads of a 1 MiB module (wrk,
# 16 keep-alive connections, device SAS; streamed from PostgreSQL in
# 256 KiB chunks): requests/s, MiB/s and p99, orchardd's peak RSS during
# them; and the time to compile the example app (build/wasm/examples/
# httpd.wasm) after its publish at the default -O2.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT
SECONDS_EACH=${BENCH_SECONDS:-10}
NPUB=${BENCH_DEPOT_PUBLISHES:-400}
PKG=$BUILD/orchard-pkg
MiB=$((1 << 20))

pg_start >/dev/null || exit 1
orchardd_start || exit 1
W=(-H "Authorization: Bearer $(token all)")
D="$TMP/bench"
mkdir -p "$D/app" "$D/pkgs"
"$PKG" keygen --out "$D/alice.key" >/dev/null
"${CURL[@]}" -o /dev/null "${W[@]}" -X PUT -H 'Content-Type: application/json' \
	-d "$(jq -n --rawfile k "$D/alice.pub" '{publicKey: $k}')" "$URL/depot/publishers/alice"

# --- publish/s ---------------------------------------------------------------
{ printf '\0asm\1\0\0\0'; head -c $((16 * 1024 - 8)) /dev/urandom; } >"$D/app/app.wasm"
for i in $(seq 1 "$NPUB"); do
	echo "{\"publisher\":\"alice\",\"name\":\"p\",\"version\":\"$i\"}" >"$D/app/manifest.json"
	"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/pkgs/$i.opkg" >/dev/null
done
publish_list() { # FIRST STEP: curl arguments for every STEP-th package from FIRST
	local i sep=()
	for ((i = $1; i <= NPUB; i += $2)); do
		printf '%s\0' "${sep[@]}" -sS -o /dev/null -w '%{http_code}\n' --cacert "$TMP/var/pki/root.pem" \
			"${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/pkgs/$i.opkg" \
			"$URL/depot/packages"
		sep=(--next)
	done
}
t0=$(date +%s.%N)
for c in 1 2 3 4; do
	publish_list "$c" 4 | xargs -0 curl >"$D/codes.$c" &
	PUBS+=($!)
done
wait "${PUBS[@]}"
t1=$(date +%s.%N)
ok=$(cat "$D"/codes.* | grep -c '^201$')
pub_rate=$(awk -v n="$ok" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

# --- downloads of a 1 MiB module -------------------------------------------------
{ printf '\0asm\1\0\0\0'; head -c $((MiB - 8)) /dev/urandom; } >"$D/app/app.wasm"
echo '{"publisher":"alice","name":"big","version":"1"}' >"$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/big.opkg" >/dev/null
"${CURL[@]}" -o /dev/null "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/big.opkg" "$URL/depot/packages"
DK=$("${CURL[@]}" "${W[@]}" -X PUT -H 'Content-Type: application/json' \
	-d '{"registrationId":"dev-1","attestation":{"type":"symmetricKey"}}' "$URL/enrollments/dev-1?$AV" |
	jq -r .attestation.symmetricKey.primaryKey)
SCOPE=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT value FROM dps_settings WHERE name = 'id_scope'")
"${CURL[@]}" -o /dev/null -X PUT -H "Authorization: $(dps_sas "$SCOPE/registrations/dev-1" "$DK")" \
	-H 'Content-Type: application/json' -d '{"registrationId":"dev-1"}' "$URL/$SCOPE/registrations/dev-1/register?$AV"
SAS=$(SKN= dps_sas "hub.example.test/devices/dev-1" "$DK")
echo 5 >"/proc/$OPID/clear_refs"
base_kb=$(awk '/VmRSS/ {print $2}' "/proc/$OPID/status")
out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -H "Authorization: $SAS" "$URL/depot/alice/pkg/big/1/module" 2>&1)
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$OPID/status")
dl_rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
dl_p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
dl_bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
orchardd_stop >/dev/null 2>&1

# --- compiling the example app -------------------------------------------------------
orchardd_start || exit 1
W=(-H "Authorization: Bearer $(token all)")
cp "$BUILD/wasm/examples/httpd.wasm" "$D/app/app.wasm"
echo '{"publisher":"alice","name":"httpd","version":"1"}' >"$D/app/manifest.json"
"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/httpd.opkg" >/dev/null
t0=$(date +%s.%N)
"${CURL[@]}" -o /dev/null "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/httpd.opkg" "$URL/depot/packages"
state=
for _ in $(seq 1 1200); do
	state=$("${CURL[@]}" "${W[@]}" "$URL/depot/packages/alice/httpd/1/compiled" | jq -r '.compiled[0].state // empty')
	[[ -n "$state" && "$state" != compiling ]] && break
	sleep 0.1
done
t1=$(date +%s.%N)
compile_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

echo "depot: publish ${pub_rate}/s ($ok of $NPUB packages, 16 KiB modules, 4 connections)"
echo "depot: 1 MiB module downloads, 16 connections: ${dl_rate:-?} req/s = ${dl_rate:-0} MiB/s, p99 ${dl_p99:-?}, non-2xx ${dl_bad:-0}"
echo "depot: orchardd RSS ${base_kb} KiB before, peak +$(((peak_kb - base_kb) / 1024)) MiB during the downloads"
echo "depot: httpd.wasm published to compiled form ($state) in ${compile_s} s (-O2)"
