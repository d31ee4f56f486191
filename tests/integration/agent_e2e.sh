#!/bin/bash
# The whole device story, end to end (issue 13): one swtpm device from
# power-on to its app answering HTTP: DPS TPM flow → AK certificate from
# the attestation CA → a device certificate by device-attest-01 for a key
# the TPM holds (its quote and the boot's TCG event log meeting the fleet
# policy: a PCR value, a required event, secure boot) → the twin, reported and the depot over mutual TLS with
# that key (no SAS) → download, verify, run. Then an operator switches the
# desired version and the device follows within seconds; the certificate
# (device-client profile at 30 s here, --ca-profiles) is renewed inside its
# ARI window with `replaces` while the app keeps running; a quote that
# fails the fleet policy is refused, reported and retried with backoff, the
# app still answering and the SAS taking over once the certificate
# expires; an agent restarted with an expired certificate attests again
# from scratch once the policy is fixed; a revoked certificate is replaced. Real orchardd, PostgreSQL and swtpm.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
. "$(dirname "$0")/../lib/swtpm.sh"
APID=
cleanup() {
	[[ -n "$APID" ]] && { kill -9 "$APID" && wait "$APID"; } 2>/dev/null
	swtpm_cleanup
	fixture_cleanup
}
trap cleanup EXIT
[[ -n "${KEEP_LOG:-}" ]] && trap 'cp "$D/agent.log" "$KEEP_LOG"; cleanup' EXIT

pg_start || exit 1
mkdir -p "$TMP/e2e"
cat >"$TMP/e2e/profiles" <<'P'
tls-server     7d   digitalSignature serverAuth  p256,p384,rsa,ed25519
device-client  30s  digitalSignature clientAuth  p256,p384,rsa,ed25519
shortlived     6h   digitalSignature serverAuth,clientAuth p256
P
orchardd_start --depot-compile-level 0 --ca-profiles "$TMP/e2e/profiles" || exit 1
O=(-H "Authorization: Bearer $(token all)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
D="$TMP/e2e"
. "$(dirname "$0")/../lib/agent.sh"
P1=$(freeport) P2=$(freeport)
expect "publisher alice is registered" agent_publisher
expect "publish 1.0.0 (port $P1)" pkg 1.0.0 "$P1" "$D/alice.key"
expect "publish 2.0.0 (port $P2)" pkg 2.0.0 "$P2" "$D/alice.key"

swtpm_start "$TMP/tpm" >/dev/null || { tap_nok "swtpm starts"; tap_done; exit 1; }
swtpm_t tpm2_readpublic -c 0x81010001 -o "$D/ek.pub"
EK=$(base64 -w0 <"$D/ek.pub")
REG=$(ek_registration_id "$D/ek.pub")
DEV=$REG
# A measured boot: secure boot on, a boot loader and a kernel in PCRs 7
# and 8, and its TCG log, which the agent sends with its quote.
"$ROOT/tests/integration/device_attest/mklog.py" "$D/boot.log" 7:sb:1 8:ipl:grub 8:ipl:vmlinuz-6.1 >"$D/boot.digests"
while read -r pcr dig; do swtpm_t tpm2_pcrextend "$pcr:sha256=$dig"; done <"$D/boot.digests"
KERNEL=$(sed -n 3p "$D/boot.digests" | cut -d' ' -f2)
P7=$(tpm2_pcrread sha256:7 | sed -n 's/^ *7 *: *0x//p' | tr A-F a-f)
cat >"$D/agent.conf" <<CFG
url = $URL
id_scope = $SCOPE
ca_file = $TMP/var/pki/root.pem
state_dir = $D/state
publisher_key = $D/alice.pub
tcti = $TPM2TOOLS_TCTI
event_log = $D/boot.log
CFG
start_agent() {
	"$AGENT" --config "$D/agent.conf" >>"$D/agent.log" 2>&1 &
	APID=$!
}
gone() { ! answers "$1"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//'; }
policy() { # PCR7-VALUE
	http PUT "/attestation/policies/individual/$REG" "${O[@]}" "${JSON[@]}" -d '{"pcrs":{"sha256":{"7":["'"$1"'"]}}}'
}

http PUT "/enrollments/$REG?$AV" "${O[@]}" "${JSON[@]}" -d '{"registrationId":"'"$REG"'",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$EK"'"}},
	"initialTwin":{"properties":{"desired":{"app":{"package":"alice/pkg/hello/1.0.0"}}}}}'
expect_eq "an operator enrolls the EK; the initial twin names 1.0.0 (no grants: as the manifest asks)" 200 "$STATUS"
http PUT "/attestation/policies/individual/$REG" "${O[@]}" "${JSON[@]}" \
	-d '{"pcrs":{"sha256":{"7":["'"$P7"'"]}},"requiredEvents":{"sha256":{"8":["'"$KERNEL"'"]}},"secureBoot":true}'
expect_eq "and sets the fleet policy (the quote gate: PCR 7 as measured, the kernel's event in PCR 8, secure boot)" 200 "$STATUS"

# --- power-on to serving -----------------------------------------------------------------------
T0=$SECONDS
start_agent
if wait_for 60 answers "$P1"; then tap_ok "power-on to the app answering on $P1: $((SECONDS - T0)) s"; else tap_nok "the app answers on $P1" "$(tail -20 "$D/agent.log")"; fi
for step in '"registered"' '"the attestation CA issued the AK certificate"' '"got a device certificate"'; do
	expect "the log says: $step" grep -q "$step" "$D/agent.log"
done
expect "reported.agent.version" wait_for 10 reported_is .properties.reported.agent.version 0.1.0
expect "reported.app: 1.0.0 running" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/1.0.0 running"
expect "reported.attestation: passed, with a time" wait_for 10 reported_is '.properties.reported.attestation | .verdict + " " + (.at | length | tostring)' "passed 20"
SERIAL=$(serial_of "$D/state/tls/cert.pem")
expect_eq "reported.certificate names the certificate in state_dir" "$SERIAL" "$(reported '.properties.reported.certificate.serial' | sed 's/^0*//')"
NA=$(date -d "$(openssl x509 -in "$D/state/tls/cert.pem" -noout -enddate | cut -d= -f2)" -u +%Y-%m-%dT%H:%M:%SZ)
expect_eq "... and its expiry" "$NA" "$(reported .properties.reported.certificate.expires)"
expect "... and its ARI certID" reported_is '.properties.reported.certificate.certId | test("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$")' true
expect "the certificate is a clientAuth one naming the device (PermanentIdentifier)" \
	bash -c "openssl x509 -in '$D/state/tls/cert.pem' -noout -text | grep -q 'TLS Web Client Authentication'"
expect_eq "state_dir/tls is 0700, its files 0600" "700 600 600 600 600 600" \
	"$(stat -c %a "$D/state/tls" "$D/state/tls/"{tls.pub,tls.priv,cert.pem,ak.pem,account.pem} | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the authorization recorded the policy's verdict: passed" "t" \
	"$(psql_q "SELECT (attestation_verdict::jsonb->>'passed') FROM acme_authzs WHERE attestation_verdict IS NOT NULL ORDER BY 1 LIMIT 1" | head -c1)"
expect_eq "mutual TLS, not the SAS: the TPM never signed a device SAS" 0 "$(logged '"the TPM signed a device SAS"')"
expect_fail "no key, SAS or certificate body in the log" grep -qE "SharedAccessSignature|sig=|BEGIN" "$D/agent.log"

# --- an operator switches the version ----------------------------------------------------------------
T1=$SECONDS
http PATCH "/twins/$REG" "${O[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":{"package":"alice/pkg/hello/2.0.0","grants":{"listen":['"$P2"'],"memoryMiB":32}}}}}'
expect_eq "the operator PATCHes desired to 2.0.0" 200 "$STATUS"
if wait_for 20 answers "$P2"; then tap_ok "the device switches: 2.0.0 answers on $P2 ($((SECONDS - T1)) s)"; else tap_nok "2.0.0 answers" "$(tail -20 "$D/agent.log")"; fi
expect_fail "  and 1.0.0 is stopped" answers "$P1"
expect "reported.app: 2.0.0 running" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/2.0.0 running"
expect "  then compiled, once the depot's form is ready (reported.app.engine aot)" wait_for 30 reported_is .properties.reported.app.engine aot
SINCE=$(reported .properties.reported.app.since)
SERIAL=$(serial_of "$D/state/tls/cert.pem")
tpm_free() { [[ $(timeout 3 tpm2_getcap handles-transient | grep -c 0x) == 0 ]]; }
# Within 10 s, not at once: a loaded machine may catch the agent inside a
# TLS handshake that signs with the TPM; one that held it through the
# long-poll would fail.
expect "while the agent long-polls over mutual TLS the TPM is free (tpm2_getcap answers) and holds no object" wait_for 10 tpm_free

# --- renewal inside the ARI window ---------------------------------------------------------------------
expect "the certificate is renewed inside its ARI window" wait_for 40 logged_more '"renewed the device certificate"' "$(logged '"renewed the device certificate"')"
expect "... with replaces (the order names the serial it replaces)" \
	test "$(psql_q "SELECT count(*) FROM acme_orders WHERE replaces IS NOT NULL")" -ge 1
expect "reported.certificate names the new serial" wait_for 10 reported_is '.properties.reported.certificate.serial | ltrimstr("0")' "$(serial_of "$D/state/tls/cert.pem")"
expect_fail "  (a new certificate)" test "$SERIAL" == "$(serial_of "$D/state/tls/cert.pem")"
expect "the app kept answering" answers "$P2"
expect_eq "  without a restart (reported.app.since unchanged)" "$SINCE" "$(reported .properties.reported.app.since)"
expect_eq "  and still over mutual TLS (no device SAS)" 0 "$(logged '"the TPM signed a device SAS"')"

# --- a quote that fails the policy ----------------------------------------------------------------------
mkdir -p "$D/old" && cp "$D/state/tls/"{tls.pub,tls.priv,ak.pem,cert.pem} "$D/old/"
policy "$(printf '11%.0s' {1..32})"
expect_eq "the operator's policy now wants another PCR 7" 200 "$STATUS"
expect "the next renewal is refused and logged" wait_for 40 logged_more '"attestation refused"' 0
expect "reported.attestation: refused, with the policy's reason" wait_for 10 reported_is \
	'.properties.reported.attestation | .verdict + " " + (.detail | test("polic") | tostring)' "refused true"
expect "it is retried with backoff" wait_for 30 logged_more '"attestation refused"' 1
expect "the app keeps answering" answers "$P2"
expect "the certificate expires: the device falls back to its TPM-signed SAS" wait_for 40 logged_more '"the TPM signed a device SAS"' 0
# Off while its certificate expired: a restart attests from scratch. (The
# running agent has dropped its expired certificate: the files it had
# before the policy changed are put back.)
{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
APID=
expect "kill -9 of the agent ends its app" wait_for 5 gone "$P2"
cp "$D/old/"* "$D/state/tls/"
expect_fail "  (the certificate in state_dir has expired)" openssl x509 -in "$D/state/tls/cert.pem" -noout -checkend 0
policy "$P7"
expect_eq "the operator restores the policy" 200 "$STATUS"
N=$(logged '"got a device certificate"') A=$(logged '"the attestation CA issued the AK certificate"')
start_agent
expect "restarted, the agent resumes the last good app" wait_for 30 answers "$P2"
expect "  finds its certificate expired while it was off" wait_for 10 grep -q '"the certificate expired while the agent was off' "$D/agent.log"
expect "  and attests again from scratch (AK exchange, no replaces): a certificate" wait_for 40 logged_more '"got a device certificate"' "$N"
expect "  (the AK certificate issued again)" logged_more '"the attestation CA issued the AK certificate"' "$A"
expect "reported.attestation: passed again, the refusal's detail cleared" wait_for 10 reported_is '.properties.reported.attestation | .verdict + " " + (.detail | tostring)' "passed null"
expect "the app still answers" answers "$P2"

# --- revoked: dropped, attested again ----------------------------------------------------------------------
S=$(openssl x509 -in "$D/state/tls/cert.pem" -noout -serial | cut -d= -f2 | awk '{printf "%32s", tolower($0)}' | tr ' ' 0)
N=$(logged 'got a device certificate\|renewed the device certificate')
http POST "/pki/certificates/$S/revoke" "${O[@]}" "${JSON[@]}" -d '{"reason":"keyCompromise"}'
expect_eq "an operator revokes the device certificate" 204 "$STATUS"
expect "the hub refuses it (or ARI says renew now): the agent gets a new certificate" wait_for 40 logged_more 'got a device certificate\|renewed the device certificate' "$N"
expect "the app still answers" answers "$P2"

# A crash between the key's and the certificate's writes: a pair that
# does not match (here the AK certificate as cert.pem) means attest again.
kill -TERM "$APID" && wait "$APID"
APID=
cp "$D/state/tls/ak.pem" "$D/state/tls/cert.pem"
N=$(logged '"got a device certificate"')
start_agent
expect "a certificate that is not the saved key's: the agent attests again" wait_for 40 logged_more '"got a device certificate"' "$N"
expect "  (it said why)" grep -q '"the certificate.s TPM key does not load: attesting again"' "$D/agent.log"
expect "  and the app answers" wait_for 20 answers "$P2"

kill -TERM "$APID" && wait "$APID"
expect_eq "SIGTERM stops the agent (exit 0)" 0 "$?"
APID=
expect_eq "no transient object left in the TPM" "" "$(tpm2_getcap handles-transient 2>/dev/null)"
expect_eq "no sanitizer report" "" "$(grep -l Sanitizer "$D/agent.log" 2>/dev/null)"
tap_done
