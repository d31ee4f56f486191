# Helpers for DPS tests. Source after orchardd.sh.
#   dps_sas SR KEY [SE]   prints "SharedAccessSignature sr=SR&sig=...&se=SE&skn=registration"
#   dps_derive KEY REGID  prints a group's device key for REGID
#   expect_dps NAME STATUS CODE  checks the last http call's Azure error body
#   psql_q SQL            runs SQL on the test database, unaligned
#   JSON, AV              the JSON content type header, the service api-version
JSON=(-H "Content-Type: application/json")
AV="api-version=2021-10-01"
psql_q() { psql "$ORCHARD_DATABASE_URL" -Atc "$1"; }

# hmac_b64 KEY-B64 DATA: base64(HMAC-SHA256(base64-decoded key, data))
hmac_b64() {
	printf '%s' "$2" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(base64 -d <<<"$1" | od -An -v -tx1 | tr -d " \n")" -binary | base64 -w0
}
urlenc() { jq -rn --arg v "$1" '$v|@uri'; }
dps_sas() {
	local sr=$1 key=$2 se=${3:-$(($(date +%s) + 3600))} skn=${SKN-&skn=registration}
	local sig
	sig=$(hmac_b64 "$key" "$sr"$'\n'"$se")
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s%s' "$sr" "$(urlenc "$sig")" "$se" "$skn"
}
dps_derive() { hmac_b64 "$1" "$2"; }
expect_dps() {
	local code tid
	code=$(jq -r .errorCode <<<"$BODY" 2>/dev/null)
	tid=$(jq -r .trackingId <<<"$BODY" 2>/dev/null)
	if [[ "$STATUS" == "$2" && "$code" == "$3" && -n "$tid" && "$tid" != null ]] &&
		grep -qi "^x-ms-error-code: $3" <<<"$HEADERS"; then
		tap_ok "$1"
	else
		tap_nok "$1" "want $2 $3, got $STATUS $BODY"
	fi
}
