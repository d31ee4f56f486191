#!/bin/bash
# DPS-compatible provisioning against a real PostgreSQL: the service API
# (enrollments and groups, keys, etags), the ID scope, and device
# registration with symmetric-key SAS tokens, every refusal in Azure's
# error bodies.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --dps-hub hub.example.test || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read)")
R=(-H "Authorization: Bearer $(token enrollments:read)")

# --- ID scope ----------------------------------------------------------------
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
expect "an ID scope is made on first start: 0ne + 8 upper-case hex" grep -qE '^0ne[0-9A-F]{8}$' <<<"$SCOPE"
expect "and logged" grep -q "\"id_scope\":\"$SCOPE\"" "$OLOG"
orchardd_stop
orchardd_start --dps-hub hub.example.test
expect_eq "a restart keeps it" "$SCOPE" "$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")"

# --- service API: individual enrollment --------------------------------------
http PUT "/enrollments/dev-01?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"dev-01",
	"attestation":{"type":"symmetricKey"},"provisioningStatus":"enabled",
	"initialTwin":{"tags":{"site":"a"},"properties":{"desired":{"app":"blink"}}}}'
expect_eq "PUT creates an individual enrollment" 200 "$STATUS"
PK=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
SK=$(jq -r .attestation.symmetricKey.secondaryKey <<<"$BODY")
ETAG=$(jq -r .etag <<<"$BODY")
expect_eq "keys are generated: 64 random bytes each" "64 64" "$(base64 -d <<<"$PK" | wc -c) $(base64 -d <<<"$SK" | wc -c)"
expect "the two keys differ" test "$PK" != "$SK"
expect "the reply carrying keys is never cached" grep -qi '^cache-control: no-store' <<<"$HEADERS"
expect "ETag header is the body's etag, quoted" grep -qi "^etag: \"$ETAG\"" <<<"$HEADERS"
expect_eq "Azure's shape" "dev-01 symmetricKey enabled blink a" \
	"$(jq -r '[.registrationId, .attestation.type, .provisioningStatus, .initialTwin.properties.desired.app, .initialTwin.tags.site] | join(" ")' <<<"$BODY")"
expect "createdDateTimeUtc and lastUpdatedDateTimeUtc" jq -e '(.createdDateTimeUtc|test("Z$")) and (.lastUpdatedDateTimeUtc|test("Z$"))' <<<"$BODY"
http GET "/enrollments/dev-01?$AV" "${R[@]}"
expect_eq "GET reads it with enrollments:read" "200 dev-01 $ETAG" "$STATUS $(jq -r '.registrationId + " " + .etag' <<<"$BODY")"
expect_eq "GET does not show the keys" "null" "$(jq -c .attestation.symmetricKey.primaryKey <<<"$BODY")"
http GET "/ENROLLMENTS/dev-01?$AV" "${R[@]}"
expect_eq "paths match in any case" 200 "$STATUS"
http POST "/enrollments/dev-01/attestationmechanism?$AV" "${W[@]}"
expect_eq "attestationmechanism shows the keys" "200 $PK" "$STATUS $(jq -r .symmetricKey.primaryKey <<<"$BODY")"
http POST "/enrollments/dev-01/attestationmechanism?$AV" "${R[@]}"
expect_dps "attestationmechanism needs enrollments:write" 403 403000

# etags
http PUT "/enrollments/dev-01?$AV" "${W[@]}" "${JSON[@]}" -H 'If-Match: "stale"' -d '{"attestation":{"type":"symmetricKey"}}'
expect_dps "PUT with a stale If-Match is 412" 412 412002
http PUT "/enrollments/dev-01?$AV" "${W[@]}" "${JSON[@]}" -H "If-Match: \"$ETAG\"" \
	-d '{"registrationId":"dev-01","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":null}},"initialTwin":{"properties":{"desired":{"app":"v2"}}}}'
expect_eq "PUT with the current If-Match replaces" 200 "$STATUS"
ETAG2=$(jq -r .etag <<<"$BODY")
expect "the etag changes" test "$ETAG2" != "$ETAG"
expect_eq "a replacement without keys keeps them" "$PK $SK" "$(jq -r '.attestation.symmetricKey | .primaryKey + " " + .secondaryKey' <<<"$BODY")"
expect_eq "the new twin is stored" v2 "$(psql_q "SELECT initial_twin->'properties'->'desired'->>'app' FROM dps_enrollments WHERE id = 'dev-01'")"
http PUT "/enrollments/dev-new?$AV" "${W[@]}" "${JSON[@]}" -H 'If-Match: *' -d '{"attestation":{"type":"symmetricKey"}}'
expect_dps "If-Match on an enrollment that does not exist is 412" 412 412002
http DELETE "/enrollments/dev-01?$AV" "${W[@]}" -H "If-Match: \"$ETAG\""
expect_dps "DELETE with a stale If-Match is 412" 412 412002

# bad input
KEY16=$(head -c 16 /dev/urandom | base64)
bad_put() { # NAME BODY [PATH]
	http PUT "${3:-/enrollments/dev-bad}?$AV" "${W[@]}" "${JSON[@]}" -d "$2"
	expect_dps "$1" 400 400004
}
bad_put "attestation missing" '{"registrationId":"dev-bad"}'
bad_put "registrationId differing from the path" '{"registrationId":"other","attestation":{"type":"symmetricKey"}}'
bad_put "unknown attestation type" '{"attestation":{"type":"psk"}}'
bad_put "x509 not yet" '{"attestation":{"type":"x509"}}'
bad_put "key not base64" '{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"!!"}}}'
bad_put "key too short" '{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$(head -c 8 /dev/urandom | base64)"'"}}}'
bad_put "provisioningStatus not enabled/disabled" '{"attestation":{"type":"symmetricKey"},"provisioningStatus":"on"}'
bad_put "initialTwin desired not an object" '{"attestation":{"type":"symmetricKey"},"initialTwin":{"properties":{"desired":3}}}'
bad_put "initialTwin with a key the twin refuses" '{"attestation":{"type":"symmetricKey"},"initialTwin":{"properties":{"desired":{"$bad":1}}}}'
bad_put "capabilities.iotEdge not a boolean" '{"attestation":{"type":"symmetricKey"},"capabilities":{"iotEdge":"yes"}}'
bad_put "registration ID with a bad character" '{"attestation":{"type":"symmetricKey"}}' "/enrollments/dev%21x"
bad_put "a group has no deviceId" '{"attestation":{"type":"symmetricKey"},"deviceId":"d"}' "/enrollmentGroups/g-bad"
http PUT "/enrollments/dev-bad?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":'
expect_dps "malformed JSON" 400 400004
http PUT "/enrollments/dev-bad?$AV" "${W[@]}" -H "Content-Type: text/plain" -d '{}'
expect_eq "wrong media type is 415 in Azure's body" "415" "$STATUS"
http PUT "/enrollments/dev-bad" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"}}'
expect_dps "api-version missing" 400 400004
http PUT "/enrollments/dev-bad?api-version=1999-01-01" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"}}'
expect_dps "api-version unknown" 400 400004
http PUT "/enrollments/dev-bad?$AV" "${R[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"}}'
expect_dps "PUT needs enrollments:write" 403 403000
http GET "/enrollments/dev-01?$AV"
expect_dps "no token: 401 in Azure's body" 401 401002
http GET "/enrollments/nobody?$AV" "${R[@]}"
expect_dps "unknown enrollment: 404" 404 404000
expect_eq "nothing was written by the refusals" 0 "$(psql_q "SELECT count(*) FROM dps_enrollments WHERE id IN ('dev-bad','g-bad','dev-new')")"

# --- groups --------------------------------------------------------------------
GK=$(head -c 32 /dev/urandom | base64 -w0)
http PUT "/enrollmentGroups/line-3?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"line-3",
	"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$GK"'"}},"initialTwin":{"tags":{"line":3}}}'
expect_eq "PUT creates a group with the given key" "200 line-3 $GK" \
	"$STATUS $(jq -r '.enrollmentGroupId + " " + .attestation.symmetricKey.primaryKey' <<<"$BODY")"
GETAG=$(jq -r .etag <<<"$BODY")
http GET "/enrollmentgroups/line-3?$AV" "${R[@]}"
expect_eq "GET by the lower-case path Node's service SDK uses" "200 line-3" "$STATUS $(jq -r .enrollmentGroupId <<<"$BODY")"
http PUT "/enrollmentGroups/line-4?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"},"provisioningStatus":"disabled"}'
G4K=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
expect_eq "a disabled group" "200 disabled" "$STATUS $(jq -r .provisioningStatus <<<"$BODY")"

# --- device registration ---------------------------------------------------------
DAV="api-version=2019-03-31"
register() { # REGID AUTH [SCOPE] [API]: PUT register
	http PUT "/${3:-$SCOPE}/registrations/$1/register?${4:-$DAV}" -H "Authorization: $2" \
		-H "Content-Type: application/json; charset=utf-8" -d "{\"registrationId\":\"$1\"}"
}
poll() { # REGID AUTH OPID
	http GET "/$SCOPE/registrations/$1/operations/$3?$DAV" -H "Authorization: $2" \
		-H "Content-Type: application/json; charset=utf-8" -d '{}'
}
A=$(dps_sas "$SCOPE/registrations/dev-01" "$PK")
register dev-01 "$A"
OP=$(jq -r .operationId <<<"$BODY")
expect_eq "register answers 200 assigned at once (no poll needed)" "200 assigned dev-01" \
	"$STATUS $(jq -r '.status + " " + .registrationState.deviceId' <<<"$BODY")"
expect "and no Retry-After" bash -c '! grep -qi "^retry-after" <<<"$1"' _ "$HEADERS"
poll dev-01 "$A" "$OP"
expect_eq "the operation is assigned" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"
expect_eq "registrationState: id, hub, device, status" "dev-01 hub.example.test dev-01 assigned" \
	"$(jq -r '.registrationState | [.registrationId, .assignedHub, .deviceId, .status] | join(" ")' <<<"$BODY")"
expect "registrationState has times and an etag" jq -e '.registrationState | (.createdDateTimeUtc|test("Z$")) and (.lastUpdatedDateTimeUtc|test("Z$")) and (.etag|length > 0)' <<<"$BODY"
expect_eq "the registrations table records the device" "dev-01 individual assigned" \
	"$(psql_q "SELECT device_id || ' ' || enrollment_kind || ' ' || status FROM dps_registrations WHERE registration_id = 'dev-01'")"
register dev-01 "$(dps_sas "$SCOPE/registrations/dev-01" "$SK")"
expect_eq "the secondary key works too" 200 "$STATUS"
OP2=$(jq -r .operationId <<<"$BODY")
poll dev-01 "$A" "$OP"
expect_dps "an older operation ID is gone" 404 404000
poll dev-01 "$A" "$OP2"
expect_eq "registering again: the same device, still one row" "200 dev-01 1" \
	"$STATUS $(jq -r .registrationState.deviceId <<<"$BODY") $(psql_q "SELECT count(*) FROM dps_registrations")"
TW=(-H "Authorization: Bearer $(token twins:read twins:write)")
http GET /twins/dev-01 "${TW[@]}"
expect_eq "the assigned device has a twin seeded with initialTwin" "200 v2" "$STATUS $(jq -r .properties.desired.app <<<"$BODY")"
http PATCH /twins/dev-01 "${TW[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":"v3"}}}'
register dev-01 "$A"
http GET /twins/dev-01 "${TW[@]}"
expect_eq "registering again keeps the twin" "200 v3" "$STATUS $(jq -r .properties.desired.app <<<"$BODY")"
http POST "/$SCOPE/registrations/dev-01?$DAV" -H "Authorization: $A" "${JSON[@]}" -d '{"registrationId":"dev-01"}'
expect_eq "the registration status query" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"

# sr variants: C SDK %2f, C#/Python %2F, IoT Edge lower-case, no skn, empty skn
for sr in "$SCOPE%2fregistrations%2fdev-01" "$SCOPE%2Fregistrations%2Fdev-01" "${SCOPE,,}/registrations/dev-01"; do
	register dev-01 "$(dps_sas "$sr" "$PK")"
	expect_eq "sr as $sr" 200 "$STATUS"
done
SKN="" register dev-01 "$(SKN="" dps_sas "$SCOPE/registrations/dev-01" "$PK")"
expect_eq "no skn" 200 "$STATUS"
register dev-01 "$(SKN="&skn=" dps_sas "$SCOPE/registrations/dev-01" "$PK")"
expect_eq "an empty skn" 200 "$STATUS"
for v in 2021-06-01 2021-10-01 2021-11-01-preview 2025-07-01-preview; do
	register dev-01 "$A" "$SCOPE" "api-version=$v"
	expect_eq "api-version $v" 200 "$STATUS"
done

# groups: derived device key
DK=$(dps_derive "$GK" "sensor-7")
register sensor-7 "$(dps_sas "$SCOPE/registrations/sensor-7" "$DK")"
OPG=$(jq -r .operationId <<<"$BODY")
poll sensor-7 "$(dps_sas "$SCOPE/registrations/sensor-7" "$DK")" "$OPG"
expect_eq "a group-derived key registers and is assigned" "200 assigned sensor-7" \
	"$STATUS $(jq -r .status <<<"$BODY") $(jq -r .registrationState.deviceId <<<"$BODY")"
expect_eq "recorded under the group" "group line-3" \
	"$(psql_q "SELECT enrollment_kind || ' ' || enrollment_id FROM dps_registrations WHERE registration_id = 'sensor-7'")"
http GET /twins/sensor-7 "${TW[@]}"
expect_eq "its twin carries the group's tags" "200 3" "$STATUS $(jq -r .tags.line <<<"$BODY")"

# disabled
D4=$(dps_derive "$G4K" "sensor-8")
register sensor-8 "$(dps_sas "$SCOPE/registrations/sensor-8" "$D4")"
poll sensor-8 "$(dps_sas "$SCOPE/registrations/sensor-8" "$D4")" "$(jq -r .operationId <<<"$BODY")"
expect_eq "a disabled group: the operation ends disabled, no hub" "200 disabled disabled null" \
	"$STATUS $(jq -r '.status + " " + .registrationState.status' <<<"$BODY") $(jq -c .registrationState.assignedHub <<<"$BODY")"
expect_eq "and no twin" 0 "$(psql_q "SELECT count(*) FROM twins WHERE device_id = 'sensor-8'")"
http PUT "/enrollments/dev-01?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"},"provisioningStatus":"disabled"}'
register dev-01 "$A"
poll dev-01 "$A" "$(jq -r .operationId <<<"$BODY")"
expect_eq "a disabled individual enrollment: disabled" "200 disabled" "$STATUS $(jq -r .status <<<"$BODY")"
http PUT "/enrollments/dev-01?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"},"provisioningStatus":"enabled"}'

# refusals
now=$(date +%s)
register dev-01 "$(dps_sas "$SCOPE/registrations/dev-01" "$PK" $((now - 3600)))"
expect_dps "an expired token" 401 401002
register dev-01 "$(dps_sas "$SCOPE/registrations/dev-01" "$PK" $((now + 400 * 86400)))"
expect_dps "a far-future-dated token" 401 401002
register dev-01 "$(dps_sas "$SCOPE/registrations/dev-01" "$KEY16")"
expect_dps "a wrong key" 401 401002
register dev-01 "$(dps_sas "$SCOPE/registrations/dev-01" "$GK")"
expect_dps "a group key used as an individual key" 401 401002
register dev-01 "$(dps_sas "$SCOPE/registrations/dev-01" "$(dps_derive "$GK" dev-01)")"
expect_dps "a group-derived key for a registration that has an individual enrollment" 401 401002
register sensor-7 "$(dps_sas "$SCOPE/registrations/dev-01" "$PK")"
expect_dps "a SAS for another registration ID" 401 401002
register dev-01 "$(dps_sas "0ne00000000/registrations/dev-01" "$PK")" 0ne00000000
expect_dps "a wrong ID scope" 401 401002
register unknown-9 "$(dps_sas "$SCOPE/registrations/unknown-9" "$KEY16")"
expect_dps "an unknown registration" 401 401002
register dev-01 "${A/sig=/sig=AAAA}"
expect_dps "a forged signature" 401 401002
register dev-01 "${A%%&se=*}"
expect_dps "no se" 401 401002
register dev-01 "Bearer abc"
expect_dps "not a SAS" 401 401002
http PUT "/$SCOPE/registrations/dev-01/register?$DAV" -H "Content-Type: application/json" -d '{}'
expect_dps "no Authorization" 401 401002
register dev-01 "$A" "$SCOPE" "api-version=2000-01-01"
expect_dps "an unknown api-version" 400 400004
http PUT "/$SCOPE/registrations/dev-01/register?$DAV" -H "Authorization: $A" "${JSON[@]}" -d '{"registrationId":"other"}'
expect_dps "a body naming another registration ID" 400 400004
http PUT "/$SCOPE/registrations/dev-01/register?$DAV" -H "Authorization: $A" "${JSON[@]}" -d '{"registrationId":'
expect_dps "malformed JSON" 400 400004
A9=$(dps_sas "$SCOPE/registrations/sensor-9" "$(dps_derive "$GK" sensor-9)")
poll sensor-9 "$A9" "4.0"
expect_dps "polling before registering: registration not found" 404 404201
expect "no key or signature in the log" bash -c "! grep -qF -e '$PK' -e '$GK' -e '$DK' '$OLOG'"

# registration states in the service API
http GET "/registrations/sensor-7?$AV" "${R[@]}"
expect_eq "GET /registrations/{id}" "200 sensor-7 assigned" "$STATUS $(jq -r '.deviceId + " " + .status' <<<"$BODY")"
http DELETE "/registrations/sensor-7?$AV" "${W[@]}" -H 'If-Match: "stale"'
expect_dps "DELETE /registrations/{id} with a stale etag" 412 412002
http DELETE "/registrations/sensor-7?$AV" "${R[@]}"
expect_dps "DELETE /registrations/{id} needs enrollments:write" 403 403000
http DELETE "/registrations/sensor-7?$AV" "${W[@]}"
expect_eq "DELETE /registrations/{id}" 204 "$STATUS"
http GET "/registrations/sensor-7?$AV" "${R[@]}"
expect_dps "then it is gone" 404 404201
expect_eq "the twin stays" 1 "$(psql_q "SELECT count(*) FROM twins WHERE device_id = 'sensor-7'")"

# concurrent registrations of one ID: one row
pids=()
for i in 1 2 3 4 5 6 7 8; do
	"${CURL[@]}" -o /dev/null -X PUT "$URL/$SCOPE/registrations/sensor-9/register?$DAV" -H "Authorization: $A9" "${JSON[@]}" -d '{}' &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "eight concurrent registrations of one ID: one device" "1 1" \
	"$(psql_q "SELECT count(*) || ' ' || count(DISTINCT device_id) FROM dps_registrations WHERE registration_id = 'sensor-9'")"

http DELETE "/enrollmentGroups/line-3?$AV" "${W[@]}" -H "If-Match: \"$GETAG\""
expect_eq "DELETE with the current etag" 204 "$STATUS"
register sensor-7 "$(dps_sas "$SCOPE/registrations/sensor-7" "$DK")"
expect_dps "a deleted group's key no longer registers" 401 401002
http DELETE "/enrollments/dev-01?$AV" "${W[@]}"
expect_eq "DELETE without If-Match" 204 "$STATUS"
http DELETE "/enrollments/dev-01?$AV" "${W[@]}"
expect_dps "DELETE again: 404" 404 404000

# --- configured ID scope ---------------------------------------------------------
orchardd_stop
orchardd_start --id-scope 0ne0000ABCD
expect_eq "ORCHARD_ID_SCOPE / --id-scope is stored" 0ne0000ABCD "$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")"
orchardd_stop
expect_eq "orchardd stops cleanly" 0 $?
tap_done
