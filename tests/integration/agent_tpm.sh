#!/bin/bash
# orchard-agent on a TPM device (swtpm over its socket TCTI, no resource
# manager): real orchardd and PostgreSQL. The agent reads its EK and SRK,
# is refused while its EK is not enrolled and while its enrollment is
# disabled (logging each refusal, backing off), registers once the operator
# enables it (401 + authenticationKey, ActivateCredential, Import, TPM2_HMAC),
# reports, runs the app its twin names; a restart does not register again;
# a kill -9 with objects left in the TPM, and during TPM work, recovers.
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
orchardd_start || exit 1
O=(-H "Authorization: Bearer $(token all)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
D="$TMP/agenttpm"
mkdir -p "$D"
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
cat >"$D/agent.conf" <<CFG
# a TPM device: no registration_id (derived from the EK), no symmetric_key
url = $URL
id_scope = $SCOPE
ca_file = $TMP/var/pki/root.pem
state_dir = $D/state
publisher_key = $D/alice.pub
tcti = $TPM2TOOLS_TCTI
CFG
start_agent() {
	"$AGENT" --config "$D/agent.conf" >>"$D/agent.log" 2>&1 &
	APID=$!
}
stop_agent() { { kill -9 "$APID" && wait "$APID"; } 2>/dev/null; APID=; }
enroll() { # STATUS: the individual enrollment pinning the EK
	http PUT "/enrollments/$REG?$AV" "${O[@]}" "${JSON[@]}" -d '{"registrationId":"'"$REG"'",
		"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$EK"'"}},"provisioningStatus":"'"$1"'"}'
}
regs() { psql_q "SELECT count(*) || ' ' || coalesce(max(operation_id), '') FROM dps_registrations WHERE registration_id = '$REG' AND status = 'assigned'"; }
transient() { tpm2_getcap handles-transient 2>/dev/null | grep -c '0x'; }
no_transient() { [[ $(transient) == 0 ]]; }

# --- not enrolled, then disabled: refused, logged, retried ------------------------------------
T0=$SECONDS
start_agent
expect "an EK that is not enrolled: the agent logs the refusal" wait_for 20 logged_more '"registration refused".*"401"' 0
expect "the registration ID is derived from the EK (as DPS's TPM clients do)" \
	grep -q "\"read the TPM's EK and SRK\".*\"registrationId\":\"$REG\".*\"from\":\"EK\"" "$D/agent.log"
N=$(logged '"registration refused"')
enroll disabled
expect_eq "the operator enrolls the EK, disabled" 200 "$STATUS"
http PATCH "/twins/$REG" "${O[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":{"package":"alice/pkg/hello/1.0.0","grants":{"listen":['"$P1,$P2"'],"memoryMiB":32}}}}}'
expect_eq "and names the app in desired" 200 "$STATUS"
expect "a disabled enrollment: refused again, the agent keeps trying" wait_for 30 logged_more '"registration refused"' "$N"
expect_eq "... and nothing is assigned" "0 " "$(regs)"
enroll enabled
expect_eq "the operator enables the enrollment" 200 "$STATUS"
if wait_for 60 answers "$P1"; then tap_ok "the agent registers with its TPM and the app answers on its granted port ($((SECONDS - T0)) s)"; else tap_nok "the app answers on $P1" "$(tail -20 "$D/agent.log")"; fi
for step in '"DPS challenged the TPM' '"the TPM signed the registration SAS"' '"the TPM imported the hub key"' '"registered"' '"got a device certificate"'; do
	expect "the log says: $step" grep -q "$step" "$D/agent.log"
done
expect "reported.agent.version" wait_for 10 reported_is .properties.reported.agent.version 0.1.0
expect "reported.app shows it running" wait_for 10 reported_is '.properties.reported.app | .package + " " + .state' "alice/pkg/hello/1.0.0 running"
REGS=$(regs)
expect_eq "one registration" 1 "${REGS%% *}"
expect_eq "registration.json is 0600" 600 "$(stat -c %a "$D/state/registration.json")"
expect "it keeps the hub key's blobs (public and SRK-wrapped private)" \
	jq -e '.tpm.keyPublic and .tpm.keyPrivate and .deviceId == "'"$REG"'"' "$D/state/registration.json"
HUBKEY=$(psql_q "SELECT device_key FROM dps_registrations WHERE registration_id = '$REG'")
expect_fail "the hub key itself is nowhere in state_dir" grep -rqF "$HUBKEY" "$D/state"
expect_fail "nor in the log, nor any SAS" grep -qE "$HUBKEY|SharedAccessSignature|sig=" "$D/agent.log"
expect "no transient object left in the TPM" wait_for 5 no_transient

# --- restart: no new registration ---------------------------------------------------------------
kill -TERM "$APID" && wait "$APID"
expect_eq "SIGTERM stops the agent (exit 0)" 0 "$?"
APID=
NS=$(logged '"the TPM signed a device SAS"') NR=$(logged '"renewal planned inside the ARI window"')
start_agent
expect "a restarted agent runs the app again" wait_for 30 answers "$P1"
expect "... without registering again" grep -q '"registered before"' "$D/agent.log"
expect "... with its saved certificate (ARI asked where to renew it)" wait_for 10 logged_more '"renewal planned inside the ARI window"' "$NR"
expect_eq "... over mutual TLS: no device SAS" "$NS" "$(logged '"the TPM signed a device SAS"')"
expect_eq "... the registration is the same (count, operation)" "$REGS" "$(regs)"

# --- kill -9 with objects left in the TPM ---------------------------------------------------------
stop_agent
for _ in 1 2 3; do tpm2_createprimary -C o -G ecc256 -c "$D/junk.ctx" >/dev/null 2>&1; done
expect_eq "a crash left three transient objects (swtpm is full)" 3 "$(transient)"
start_agent
http PATCH "/twins/$REG" "${O[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":{"package":"alice/pkg/hello/2.0.0"}}}}'
if wait_for 30 answers "$P2"; then tap_ok "restarted on a full TPM, it recovers and follows a switch to 2.0.0"; else tap_nok "2.0.0 answers" "$(tail -20 "$D/agent.log")"; fi
expect "... it flushed what the crash left" grep -q '"flushed objects a crash left in the TPM".*"count":"3"' "$D/agent.log"
expect "... and left none itself" wait_for 5 no_transient

# --- kill -9 during TPM work (registering again from scratch) -----------------------------------------
stop_agent
rm -f "$D/state/registration.json"
for delay in 0.2 0.5; do
	start_agent
	sleep "$delay"
	stop_agent
done
NS=$(logged '"the TPM signed a device SAS"')
start_agent
expect "killed twice during registration, it registers on the next start" wait_for 60 logged_more '"msg":"registered"' 1
expect "... and runs its app" wait_for 30 answers "$P2"
expect_eq "... and reports over mutual TLS with its saved certificate (no device SAS)" "$NS" "$(logged '"the TPM signed a device SAS"')"
expect_fail "no TPM_RC_OBJECT_MEMORY (0x902) ever" grep -q '0x902' "$D/agent.log"
expect "... no transient object left" wait_for 5 no_transient

# --- the hub rejects the device: it registers again -----------------------------------------------
REGS=$(regs)
http DELETE "/registrations/$REG?$AV" "${O[@]}"
expect_eq "the operator deletes the device's registration" 204 "$STATUS"
http PATCH "/twins/$REG" "${O[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":{"package":"alice/pkg/hello/1.0.0"}}}}'
expect "the hub rejects the device (401): the agent registers again" wait_for 30 logged_more '"the hub rejects the device' 0
expect "... is assigned again" wait_for 30 bash -c "[[ \$(psql \"$ORCHARD_DATABASE_URL\" -Atc \"SELECT count(*) FROM dps_registrations WHERE registration_id = '$REG' AND status = 'assigned'\") == 1 ]]"
expect "... and follows its twin again" wait_for 30 answers "$P1"
kill -TERM "$APID" && wait "$APID"
APID=
expect_fail "SIGTERM stops its app too" answers "$P1"

# --- a TPM enrollment group admits a second TPM by its EK certificate ----------------------------------
swtpm_stop
swtpm_start "$TMP/tpm2" >/dev/null || { tap_nok "second swtpm starts"; tap_done; exit 1; }
ROOTS=$(jq -Rs . <<<"$(cat "$SWTPM_DIR"/ca/*cert*.pem)")
http PUT "/enrollmentGroups/agents?$AV" "${O[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"agents",
	"attestation":{"type":"tpm","tpm":{"rootCertificates":['"$ROOTS"']}},
	"initialTwin":{"properties":{"desired":{"app":{"package":"alice/pkg/hello/1.0.0","grants":{"listen":['"$P1"']}}}}}}'
expect_eq "the operator creates a TPM group naming the swtpm CA" 200 "$STATUS"
# this one has a persistent SRK (0x81000001), as tpm2-tools' users make it
swtpm_t tpm2_createprimary -C o -g sha256 -G rsa2048:aes128cfb -c "$D/srk.ctx" &&
	swtpm_t tpm2_evictcontrol -C o -c "$D/srk.ctx" 0x81000001
sed -e "s|^state_dir = .*|state_dir = $D/state2|" -e "s|^tcti = .*|tcti = $TPM2TOOLS_TCTI|" "$D/agent.conf" >"$D/agent2.conf"
T0=$(date +%s%N)
"$AGENT" --config "$D/agent2.conf" >>"$D/agent2.log" 2>&1 &
APID=$!
if wait_for 30 answers "$P1"; then
	tap_ok "a device with only a group: it sends its EK certificate, registers and runs the app ($((($(date +%s%N) - T0) / 1000000)) ms from power-on)"
else
	tap_nok "the group device's app answers" "$(tail -20 "$D/agent2.log")"
fi
echo "# agent $(grep VmRSS /proc/$APID/status | tr -s ' \t' ' ')"
expect "... its log says it has an EK certificate" grep -q '"ekCertificate":"yes"' "$D/agent2.log"
REG2=$(jq -r .deviceId "$D/state2/registration.json")
expect_eq "... assigned from the group" "group agents" "$(psql_q "SELECT enrollment_kind || ' ' || enrollment_id FROM dps_registrations WHERE registration_id = '$REG2'")"
kill -TERM "$APID" && wait "$APID"
APID=
tap_done
