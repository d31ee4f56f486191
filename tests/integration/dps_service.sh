#!/bin/bash
# The DPS service API's queries and bulk operation against a real
# PostgreSQL: POST /enrollments/query and /enrollmentGroups/query paged with
# x-ms-max-item-count and x-ms-continuation (absent on the last page), POST
# /registrations/{groupId}/query, and POST /enrollments (bulk: create,
# update, updateIfMatchETag, delete, per-item results).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read)")
R=(-H "Authorization: Bearer $(token enrollments:read)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")

for i in 1 2 3 4 5; do
	http PUT "/enrollments/q-dev-$i?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey"}}'
done
expect_eq "five enrollments" 5 "$(psql_q "SELECT count(*) FROM dps_enrollments WHERE kind = 'individual'")"
GK=$(head -c 32 /dev/urandom | base64 -w0)
for g in grp-a grp-b; do
	http PUT "/enrollmentGroups/$g?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$GK"'"}}}'
done

# --- query with continuation -------------------------------------------------
cont() { grep -i '^x-ms-continuation:' <<<"$HEADERS" | cut -d' ' -f2-; }
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 2" -d '{"query":"*"}'
C1=$(cont)
expect_eq "page 1: two enrollments in id order, with a continuation" "200 q-dev-1 q-dev-2 null" \
	"$STATUS $(jq -r '[.[].registrationId] | join(" ")' <<<"$BODY") $(jq -c '.[0].attestation.symmetricKey.primaryKey' <<<"$BODY")"
expect "a continuation token is given" test -n "$C1"
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 2" -H "x-ms-continuation: $C1" -d '{"query":"*"}'
C2=$(cont)
expect_eq "page 2" "200 q-dev-3 q-dev-4" "$STATUS $(jq -r '[.[].registrationId] | join(" ")' <<<"$BODY")"
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 2" -H "x-ms-continuation: $C2" -d '{"query":"*"}'
expect_eq "the last page has no continuation header" "200 q-dev-5 []" "$STATUS $(jq -r '[.[].registrationId] | join(" ")' <<<"$BODY") [$(cont)]"
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -d '{"query":"SELECT * FROM enrollments"}'
expect_eq "without a page size, one page holds all" "200 5 []" "$STATUS $(jq length <<<"$BODY") [$(cont)]"
http POST "/enrollmentGroups/query?$AV" "${R[@]}" "${JSON[@]}" -d '{"query":"*"}'
expect_eq "groups are queried apart" "200 grp-a grp-b" "$STATUS $(jq -r '[.[].enrollmentGroupId] | join(" ")' <<<"$BODY")"
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -d '{"query":"SELECT * FROM enrollments WHERE x = 1"}'
expect_dps "a query with a filter is refused (not supported)" 400 400004
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 0" -d '{"query":"*"}'
expect_dps "x-ms-max-item-count 0 is refused" 400 400004
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 2x" -d '{"query":"*"}'
expect_dps "x-ms-max-item-count not a number is refused" 400 400004
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-continuation: %%%" -d '{"query":"*"}'
expect_dps "a forged continuation is refused" 400 400004
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-continuation: $(head -c 600 /dev/zero | tr '\0' A)" -d '{"query":"*"}'
expect_dps "an overlong continuation is refused" 400 400004
http POST "/enrollments/query?$AV" "${R[@]}" "${JSON[@]}" -d '{"query":7}'
expect_dps "a query that is not a string is refused" 400 400004
http POST "/enrollments/query?$AV" "${JSON[@]}" -d '{"query":"*"}'
expect_dps "a query without a token is refused" 401 401002

# --- registrations of a group ---------------------------------------------------
for d in gd-1 gd-2 gd-3; do
	http PUT "/$SCOPE/registrations/$d/register?api-version=2019-03-31" "${JSON[@]}" -d '{}' \
		-H "Authorization: $(dps_sas "$SCOPE/registrations/$d" "$(dps_derive "$GK" "$d")")"
done
expect_eq "three group devices registered" 3 "$(psql_q "SELECT count(*) FROM dps_registrations")"
http POST "/registrations/grp-a/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 2" -d '{"query":"*"}'
C=$(cont)
expect_eq "a group's registrations, paged" "200 gd-1 gd-2 assigned" "$STATUS $(jq -r '[.[].registrationId] | join(" ")' <<<"$BODY") $(jq -r '.[0].status' <<<"$BODY")"
http POST "/registrations/grp-a/query?$AV" "${R[@]}" "${JSON[@]}" -H "x-ms-max-item-count: 2" -H "x-ms-continuation: $C" -d '{"query":"*"}'
expect_eq "and the rest" "200 gd-3 []" "$STATUS $(jq -r '[.[].registrationId] | join(" ")' <<<"$BODY") [$(cont)]"
http POST "/registrations/grp-b/query?$AV" "${R[@]}" "${JSON[@]}" -d '{"query":"*"}'
expect_eq "another group has none" "200 0" "$STATUS $(jq length <<<"$BODY")"

# --- certificate issuance at registration (2025-07-01-preview) -----------------------
PV="api-version=2025-07-01-preview"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/csr.key" \
	-subj /CN=gd-4 -outform der -out "$TMP/csr.der" 2>/dev/null
SAS4=$(dps_sas "$SCOPE/registrations/gd-4" "$(dps_derive "$GK" gd-4)")
before=$(psql_q "SELECT count(*) FROM dps_registrations")
http PUT "/$SCOPE/registrations/gd-4/register?$PV" "${JSON[@]}" -H "Authorization: $SAS4" -d '{"csr":"%%%"}'
expect_dps "a CSR that is not base64: 400" 400 400004
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-5]^=1; open(sys.argv[2],"wb").write(b)' "$TMP/csr.der" "$TMP/bad.der"
http PUT "/$SCOPE/registrations/gd-4/register?$PV" "${JSON[@]}" -H "Authorization: $SAS4" -d '{"csr":"'"$(base64 -w0 "$TMP/bad.der")"'"}'
expect_dps "a CSR whose signature does not verify: 400" 400 400004
expect_eq "nothing written" "$before 0" "$(psql_q "SELECT count(*) FROM dps_registrations") $(psql_q "SELECT count(*) FROM certificates")"
http PUT "/$SCOPE/registrations/gd-4/register?$PV" "${JSON[@]}" -H "Authorization: $SAS4" -d '{"csr":"'"$(base64 -w0 "$TMP/csr.der")"'"}'
OP4=$(jq -r .operationId <<<"$BODY")
http GET "/$SCOPE/registrations/gd-4/operations/$OP4?$PV" -H "Authorization: $SAS4"
expect_eq "assigned with an issuedCertificateChain of leaf and intermediate" "200 assigned 2" \
	"$STATUS $(jq -r '.status + " " + (.registrationState.issuedCertificateChain | length | tostring)' <<<"$BODY")"
jq -r '.registrationState.issuedCertificateChain[0]' <<<"$BODY" | base64 -d | openssl x509 -inform der -out "$TMP/leaf.pem"
jq -r '.registrationState.issuedCertificateChain[1]' <<<"$BODY" | base64 -d | openssl x509 -inform der -out "$TMP/inter.pem"
expect "the leaf chains to Orchard's root" openssl verify -CAfile "$TMP/var/pki/root.pem" -untrusted "$TMP/inter.pem" "$TMP/leaf.pem"
expect "its subject is the registration ID, its key the CSR's, for client auth" bash -c "
	openssl x509 -in '$TMP/leaf.pem' -noout -subject | grep -q 'CN *= *gd-4' &&
	openssl x509 -in '$TMP/leaf.pem' -noout -ext extendedKeyUsage | grep -q 'Client Authentication' &&
	[[ \$(openssl x509 -in '$TMP/leaf.pem' -noout -pubkey) == \$(openssl pkey -in '$TMP/csr.key' -pubout) ]]"
expect_eq "and recorded for the registration" "1 gd-4" "$(psql_q "SELECT count(*) || ' ' || max(dps_registration) FROM certificates")"

# --- bulk operation ------------------------------------------------------------------
individuals() { psql_q "SELECT coalesce(string_agg(id || ':' || provisioning_status, ' ' ORDER BY id), '') FROM dps_enrollments WHERE kind = 'individual' AND id LIKE 'b-%'"; }
bulk() { http POST "/enrollments?$AV" "${W[@]}" "${JSON[@]}" -d "$1"; }
bulk '{"mode":"create","enrollments":[{"registrationId":"b-1","attestation":{"type":"symmetricKey"}},
	{"registrationId":"b-2","attestation":{"type":"symmetricKey"},"provisioningStatus":"disabled"}]}'
expect_eq "bulk create: both made, isSuccessful" "200 true 0" "$STATUS $(jq -r '[.isSuccessful, (.errors|length)] | join(" ")' <<<"$BODY")"
expect_eq "as stored" "b-1:enabled b-2:disabled" "$(individuals)"
bulk '{"mode":"create","enrollments":[{"registrationId":"b-2","attestation":{"type":"symmetricKey"}},
	{"registrationId":"b-3","attestation":{"type":"symmetricKey"}}]}'
expect_eq "bulk create of an existing one: a per-item 409000, the other made" "200 false b-2 409000" \
	"$STATUS $(jq -r '[.isSuccessful, .errors[0].registrationId, .errors[0].errorCode] | join(" ")' <<<"$BODY")"
expect_eq "b-2 untouched, b-3 made" "b-1:enabled b-2:disabled b-3:enabled" "$(individuals)"
bulk '{"mode":"update","enrollments":[{"registrationId":"b-2","attestation":{"type":"symmetricKey"},"provisioningStatus":"enabled"}]}'
expect_eq "bulk update replaces" "200 true b-1:enabled b-2:enabled b-3:enabled" "$STATUS $(jq -r .isSuccessful <<<"$BODY") $(individuals)"
E1=$(psql_q "SELECT etag FROM dps_enrollments WHERE id = 'b-1'")
bulk '{"mode":"updateIfMatchETag","enrollments":[{"registrationId":"b-1","etag":"'"$E1"'","attestation":{"type":"symmetricKey"},"provisioningStatus":"disabled"},
	{"registrationId":"b-3","etag":"stale","attestation":{"type":"symmetricKey"},"provisioningStatus":"disabled"}]}'
expect_eq "updateIfMatchETag: the matching one changes, the stale one is a 412002" "200 false b-3 412002 b-1:disabled b-2:enabled b-3:enabled" \
	"$STATUS $(jq -r '[.isSuccessful, .errors[0].registrationId, .errors[0].errorCode] | join(" ")' <<<"$BODY") $(individuals)"
before=$(individuals)
bulk '{"mode":"create","enrollments":[{"registrationId":"b-4","attestation":{"type":"symmetricKey"}},{"registrationId":"b-5","attestation":{"type":"nope"}}]}'
expect_dps "a malformed item refuses the whole bulk" 400 400004
bulk '{"mode":"create","enrollments":[{"registrationId":"b-4","attestation":{"type":"symmetricKey"}},{"registrationId":"b-4","attestation":{"type":"symmetricKey"}}]}'
expect_dps "an ID twice is refused" 400 400004
bulk '{"mode":"merge","enrollments":[{"registrationId":"b-4","attestation":{"type":"symmetricKey"}}]}'
expect_dps "an unknown mode is refused" 400 400004
bulk "{\"mode\":\"create\",\"enrollments\":[$(for i in $(seq 1 11); do printf '%s{"registrationId":"c-%d","attestation":{"type":"symmetricKey"}}' "$([[ $i -gt 1 ]] && echo ,)" "$i"; done)]}"
expect_dps "more than 10 items are refused" 400 400004
bulk '{"mode":"updateIfMatchETag","enrollments":[{"registrationId":"b-1","attestation":{"type":"symmetricKey"}}]}'
expect_dps "updateIfMatchETag without an etag is refused" 400 400004
http POST "/enrollments?$AV" "${R[@]}" "${JSON[@]}" -d '{"mode":"delete","enrollments":[{"registrationId":"b-1"}]}'
expect_dps "bulk needs enrollments:write" 403 403000
expect_eq "nothing changed by the refusals" "$before" "$(individuals)"
bulk '{"mode":"delete","enrollments":[{"registrationId":"b-1"},{"registrationId":"b-9"}]}'
expect_eq "bulk delete: one gone, the absent one a 404000" "200 false b-9 404000 b-2:enabled b-3:enabled" \
	"$STATUS $(jq -r '[.isSuccessful, .errors[0].registrationId, .errors[0].errorCode] | join(" ")' <<<"$BODY") $(individuals)"
tap_done
