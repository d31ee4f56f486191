#!/bin/bash
# The DPS service SAS: shared access policies (PUT/GET/DELETE
# /dps/policies/{name}, POST .../rotate) made with an operator token, and
# the service API authenticated by "SharedAccessSignature sr={host}&sig=
# &se=&skn={policy}" with the policy's rights (least privilege), against a
# real PostgreSQL. Every refusal is a 401/403 Azure body and changes nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read)")
HOST=127.0.0.1
# svc_sas POLICY KEY [SE] [SR]: a service SAS
svc_sas() { SKN="&skn=$1" dps_sas "${4:-$HOST}" "$2" "${3:-}"; }
count() { psql_q "SELECT count(*) FROM dps_enrollments"; }

# --- policies --------------------------------------------------------------------
http PUT "/dps/policies/provisioningserviceowner" "${W[@]}" "${JSON[@]}" \
	-d '{"rights":"ServiceConfig, EnrollmentRead, EnrollmentWrite, RegistrationStatusRead, RegistrationStatusWrite"}'
OWNER=$(jq -r .primaryKey <<<"$BODY")
OWNER2=$(jq -r .secondaryKey <<<"$BODY")
expect_eq "an owner policy is created, its keys shown once (no-store)" "201 provisioningserviceowner 88 88 1" \
	"$STATUS $(jq -r .keyName <<<"$BODY") ${#OWNER} ${#OWNER2} $(grep -ci '^cache-control: no-store' <<<"$HEADERS")"
http PUT "/dps/policies/reader" "${W[@]}" "${JSON[@]}" -d '{"rights":"enrollmentread"}'
READER=$(jq -r .primaryKey <<<"$BODY")
expect_eq "a read-only policy; rights in Azure's spelling" "201 EnrollmentRead" "$STATUS $(jq -r .rights <<<"$BODY")"
http PUT "/dps/policies/reader" "${W[@]}" "${JSON[@]}" -d '{"rights":"EnrollmentRead RegistrationStatusRead"}'
expect_eq "PUT again sets the rights, keeps the keys, shows none" "200 EnrollmentRead, RegistrationStatusRead null $READER" \
	"$STATUS $(jq -r .rights <<<"$BODY") $(jq -r .primaryKey <<<"$BODY") $(psql_q "SELECT primary_key FROM dps_policies WHERE name = 'reader'")"
http GET "/dps/policies/reader" "${W[@]}"
expect_eq "GET shows no key" "200 reader null" "$STATUS $(jq -r .keyName <<<"$BODY") $(jq -r .primaryKey <<<"$BODY")"
http GET "/dps/policies" "${W[@]}"
expect_eq "the list, in name order, without keys" "200 provisioningserviceowner reader 0" \
	"$STATUS $(jq -r '[.[].keyName] | join(" ")' <<<"$BODY") $(jq '[.[] | select(.primaryKey)] | length' <<<"$BODY")"
expect "no key in the log" bash -c "test -s '$OLOG' && ! grep -qF -e '$OWNER' -e '$READER' '$OLOG'"

# --- the service API with a SAS --------------------------------------------------
http PUT "/enrollments/sas-1?$AV" "${JSON[@]}" -H "Authorization: $(svc_sas provisioningserviceowner "$OWNER")" \
	-d '{"attestation":{"type":"symmetricKey"}}'
expect_eq "the owner's SAS creates an enrollment" "200 sas-1" "$STATUS $(jq -r .registrationId <<<"$BODY")"
http GET "/enrollments/sas-1?$AV" -H "Authorization: $(svc_sas provisioningserviceowner "$OWNER2")"
expect_eq "the secondary key signs too" 200 "$STATUS"
http GET "/enrollments/sas-1?$AV" -H "Authorization: $(svc_sas reader "$READER" "" "$HOST%3a$PORT")"
expect_eq "a read-only SAS reads (sr with the port, encoded)" "200 sas-1" "$STATUS $(jq -r .registrationId <<<"$BODY")"
http GET "/enrollments/sas-1?$AV" -H "Authorization: $(svc_sas reader "$READER" "" "127.0.0.1")" -H "Host: LOCALHOST:$PORT"
expect_dps "a SAS for another host is refused" 401 401002
http POST "/enrollments/query?$AV" "${JSON[@]}" -H "Authorization: $(svc_sas reader "$READER")" -d '{"query":"*"}'
expect_eq "a read-only SAS queries" "200 1" "$STATUS $(jq length <<<"$BODY")"
N=$(count)
http PUT "/enrollments/sas-2?$AV" "${JSON[@]}" -H "Authorization: $(svc_sas reader "$READER")" \
	-d '{"attestation":{"type":"symmetricKey"}}'
expect_dps "a read-only SAS may not write" 403 403000
http DELETE "/enrollments/sas-1?$AV" -H "Authorization: $(svc_sas reader "$READER")"
expect_dps "nor delete" 403 403000
http POST "/enrollments/sas-1/attestationmechanism?$AV" -H "Authorization: $(svc_sas reader "$READER")"
expect_dps "nor read keys" 403 403000
http PUT "/dps/policies/reader" "${JSON[@]}" -H "Authorization: $(svc_sas reader "$READER")" -d '{"rights":"ServiceConfig"}'
expect_dps "nor raise its own rights (ServiceConfig needed)" 403 403000
expect_eq "nothing changed" "$N EnrollmentRead, RegistrationStatusRead" \
	"$(count) $(psql_q "SELECT rights FROM dps_policies WHERE name = 'reader'")"

# --- bad tokens: each a 401 Azure body ---------------------------------------------
bad() {
	http GET "/enrollments/sas-1?$AV" -H "Authorization: $2"
	expect_dps "$1" 401 401002
}
bad "expired SAS" "$(svc_sas reader "$READER" $(($(date +%s) - 3600)))"
bad "future-dated SAS (past 30 days)" "$(svc_sas reader "$READER" $(($(date +%s) + 40 * 86400)))"
bad "wrong key" "$(svc_sas reader "$OWNER")"
bad "unknown skn" "$(svc_sas nobody "$READER")"
bad "no skn" "$(SKN= dps_sas "$HOST" "$READER")"
bad "skn with a bad character" "$(svc_sas 'rea%20der' "$READER")"
bad "a device's audience" "$(svc_sas reader "$READER" "" "0ne00000000/registrations/sas-1")"
bad "garbage" "SharedAccessSignature sr=$HOST&sig=%%%&se=1&skn=reader"
sig_swapped=$(svc_sas reader "$READER" | sed 's/&se=\([0-9]*\)/\&se=9\1/')
bad "a signature for another expiry" "$sig_swapped"
http GET "/enrollments/sas-1?$AV"
expect_dps "no Authorization at all" 401 401002

# --- rotate and delete --------------------------------------------------------------
OLD=$READER
http POST "/dps/policies/reader/rotate?key=primary" "${W[@]}"
READER=$(jq -r .primaryKey <<<"$BODY")
expect_eq "rotate shows the new primary key" "200 true" "$STATUS $([[ $READER != "$OLD" && ${#READER} == 88 ]] && echo true)"
bad "the old primary key stops working" "$(svc_sas reader "$OLD")"
http GET "/enrollments/sas-1?$AV" -H "Authorization: $(svc_sas reader "$READER")"
expect_eq "the new one works" 200 "$STATUS"
http POST "/dps/policies/reader/rotate?key=tertiary" "${W[@]}"
expect_dps "rotate names primary or secondary" 400 400004
http POST "/dps/policies/nobody/rotate" "${W[@]}"
expect_dps "rotating an unknown policy" 404 404000
http PUT "/dps/policies/reader" "${W[@]}" "${JSON[@]}" -d '{"rights":"EnrollmentRead, Everything"}'
expect_dps "an unknown right is refused" 400 400004
http PUT "/dps/policies/reader" "${W[@]}" "${JSON[@]}" -d '{"rights":""}'
expect_dps "empty rights are refused" 400 400004
http PUT "/dps/policies/bad%20name" "${W[@]}" "${JSON[@]}" -d '{"rights":"EnrollmentRead"}'
expect_dps "a bad policy name is refused" 400 400004
http PUT "/dps/policies/p2" "${JSON[@]}" -H "Authorization: Bearer $(token enrollments:read)" -d '{"rights":"EnrollmentRead"}'
expect_eq "a policy needs enrollments:write too" 403 "$STATUS"
expect_eq "nothing half-made" "2 EnrollmentRead, RegistrationStatusRead" \
	"$(psql_q "SELECT count(*) FROM dps_policies") $(psql_q "SELECT rights FROM dps_policies WHERE name = 'reader'")"
http PUT "/dps/policies/ops" "${JSON[@]}" -H "Authorization: $(svc_sas provisioningserviceowner "$OWNER")" -d '{"rights":"RegistrationStatusWrite"}'
expect_eq "a ServiceConfig SAS manages policies" 201 "$STATUS"
http DELETE "/dps/policies/reader" "${W[@]}"
expect_eq "delete" 204 "$STATUS"
bad "a deleted policy's SAS stops working" "$(svc_sas reader "$READER")"
http DELETE "/dps/policies/reader" "${W[@]}"
expect_dps "deleting it again" 404 404000
expect_eq "SAS writes are audited under the policy" "policy:provisioningserviceowner" \
	"$(psql_q "SELECT DISTINCT subject FROM audit_log WHERE path LIKE '/enrollments/sas-1%' AND method = 'PUT'")"
tap_done
