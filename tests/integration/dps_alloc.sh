#!/bin/bash
# DPS allocation and reprovisioning against a real PostgreSQL: hashed
# (spread over three linked hubs, stable), static, custom allocation with a
# webhook served by a small local HTTP server (answering, down, slow,
# garbage, refusing, naming an unlinked hub), reprovisionPolicy, and twenty
# concurrent registrations of one registration ID.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap 'kill $HOOKPID 2>/dev/null; fixture_cleanup' EXIT
HOOKPID=

# --- the webhook: a threaded http.server; its path picks what it does --------
cat >"$TMP/hook.py" <<'EOF'
import http.server, json, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open(sys.argv[1] + '/hook-' + self.path.strip('/') + '.json', 'wb') as f:
            f.write(body)
        p = self.path.strip('/')
        if p == 'slow':
            time.sleep(6)
        if p == 'delay':
            time.sleep(0.8)
        code, out = 200, b''
        if p in ('ok', 'slow', 'delay'):
            req = json.loads(body)
            out = json.dumps({'iotHubHostName': 'hub-c.test',
                              'initialTwin': {'tags': {'from': 'webhook'},
                                              'properties': {'desired': {'app': 'w'}}},
                              'payload': {'echo': req['deviceRuntimeContext'].get('payload')}}).encode()
        elif p == 'garbage':
            out = b'this is not json'
        elif p == 'unlinked':
            out = b'{"iotHubHostName": "hub-z.test"}'
        elif p == 'refuse':
            code, out = 500, b'{"error": "no"}'
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        try:
            self.wfile.write(out)
        except BrokenPipeError:
            pass  # the slow case: orchardd gave up first
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(('127.0.0.1', 0), H)
open(sys.argv[1] + '/hook.port', 'w').write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 "$TMP/hook.py" "$TMP" &
HOOKPID=$!
for _ in $(seq 100); do [[ -s $TMP/hook.port ]] && break; sleep 0.05; done
HOOK="http://127.0.0.1:$(cat "$TMP/hook.port")"
# A port nothing listens on: bind one, close it.
DOWN="http://127.0.0.1:$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --dps-hub hub-a.test --dps-linked-hubs "hub-a.test,hub-b.test=2,hub-c.test" \
	--dps-webhook-timeout 2 --dps-webhook-allow "http://127.0.0.1,https://hooks.example/allowed/" ||
	{ tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
DAV="api-version=2019-03-31"
GK=$(head -c 32 /dev/urandom | base64 -w0)
gkey() { dps_derive "$GK" "group:$1"; } # each group its own key

# group NAME JSON-MEMBERS: a symmetric-key group with key gkey NAME and those members
group() {
	http PUT "/enrollmentGroups/$1?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey",
		"symmetricKey":{"primaryKey":"'"$(gkey "$1")"'"}},"initialTwin":{"tags":{"from":"enrollment"}}'"${2:+,$2}"'}'
}
# register REGID [BODY]: a device of the group named by REGID up to its last -
register() {
	local a
	a=$(dps_sas "$SCOPE/registrations/$1" "$(dps_derive "$(gkey "${1%-*}")" "$1")")
	AUTH=$a
	http PUT "/$SCOPE/registrations/$1/register?$DAV" -H "Authorization: $a" "${JSON[@]}" \
		-d "${2:-{\"registrationId\":\"$1\"\}}"
}
# poll REGID OP: polls until the operation is no longer assigning (10 s at most)
poll() {
	for _ in $(seq 100); do
		http GET "/$SCOPE/registrations/$1/operations/$2?$DAV" -H "Authorization: $AUTH"
		[[ $(jq -r .status <<<"$BODY") != assigning ]] && return
		sleep 0.1
	done
}
rows() { psql_q "SELECT count(*) FROM dps_enrollments"; }

# --- enrollments: what is refused, nothing written ----------------------------
n0=$(rows)
group bad1 '"allocationPolicy":"geoLatency"'
expect_dps "geoLatency is refused (not built)" 400 400004
group bad2 '"allocationPolicy":"static","iotHubs":["hub-a.test","hub-b.test"]'
expect_dps "static with two hubs is refused" 400 400004
group bad3 '"allocationPolicy":"static"'
expect_dps "static without iotHubs is refused" 400 400004
group bad4 '"allocationPolicy":"custom"'
expect_dps "custom without customAllocationDefinition is refused" 400 400004
group bad5 '"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"ftp://x/","apiVersion":"2021-10-01"}'
expect_dps "a webhookUrl that is not http(s) is refused" 400 400004
group bad6 '"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"'"$HOOK"'/ok"}'
expect_dps "a customAllocationDefinition without apiVersion is refused" 400 400004
# --dps-webhook-allow: only the listed URL prefixes (here http://127.0.0.1,
# any port, and https://hooks.example/allowed/).
nh=$(rows)
for u in https://hooks.example/other http://127.0.0.1.evil.test/x "http://127.0.0.1@evil.test/x" \
	https://elsewhere.example/allowed/ http://hooks.example/allowed/x; do
	group bad-hook '"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"'"$u"'","apiVersion":"2021-10-01"}'
	expect_dps "a webhookUrl outside --dps-webhook-allow is refused: $u" 400 400004
done
expect "and the reply says why" grep -q "dps-webhook-allow" <<<"$BODY"
http POST "/enrollments?$AV" "${W[@]}" "${JSON[@]}" -d '{"mode":"create","enrollments":[{"registrationId":"bulk-hook",
	"attestation":{"type":"symmetricKey"},"allocationPolicy":"custom",
	"customAllocationDefinition":{"webhookUrl":"https://evil.example/","apiVersion":"2021-10-01"}}]}'
expect_dps "the bulk operation refuses it too" 400 400004
expect_eq "nothing was written" "$nh" "$(rows)"
group ok-hook '"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"https://HOOKS.example/allowed/alloc","apiVersion":"2021-10-01"}'
expect_eq "a listed prefix is accepted (the host in any case)" 200 "$STATUS"
http DELETE "/enrollmentGroups/ok-hook?$AV" "${W[@]}"
group bad7 '"iotHubs":["hub-z.test"]'
expect_dps "a hub that is not linked is refused" 400 400004
group bad8 '"iotHubs":["hub a"]'
expect_dps "a hub that is no host name is refused" 400 400004
group bad9 '"iotHubs":[]'
expect_dps "an empty iotHubs is refused" 400 400004
group bad10 '"reprovisionPolicy":{"updateHubAssignment":"yes"}'
expect_dps "a reprovisionPolicy that is not booleans is refused" 400 400004
expect_eq "nothing was written" "$n0" "$(rows)"

# --- hashed over the three linked hubs ------------------------------------------
group spread
expect_eq "a group without allocation members is hashed, Azure's reprovision defaults" \
	"hashed true true" "$(jq -r '[.allocationPolicy, .reprovisionPolicy.updateHubAssignment, .reprovisionPolicy.migrateDeviceData] | join(" ")' <<<"$BODY")"
for i in $(seq -w 1 40); do
	register "spread-$i"
	[[ $STATUS == 200 ]] || break
done
expect_eq "forty devices are assigned at once" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"
spread=$(psql_q "SELECT string_agg(assigned_hub || '=' || n, ' ' ORDER BY assigned_hub) FROM
	(SELECT assigned_hub, count(*) n FROM dps_registrations WHERE registration_id LIKE 'spread-%' GROUP BY 1) x")
expect "hashed spreads over the three hubs ($spread)" \
	test "$(psql_q "SELECT count(DISTINCT assigned_hub) FROM dps_registrations WHERE registration_id LIKE 'spread-%'")" = 3
expect "hub-b.test (allocationWeight 2) gets the most ($spread)" test "$(psql_q "SELECT assigned_hub FROM dps_registrations
	WHERE registration_id LIKE 'spread-%' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")" = hub-b.test
before=$(psql_q "SELECT string_agg(assigned_hub, ',' ORDER BY registration_id) FROM dps_registrations WHERE registration_id LIKE 'spread-%'")
psql_q "DELETE FROM dps_registrations WHERE registration_id LIKE 'spread-%'" >/dev/null
for i in $(seq -w 1 40); do register "spread-$i"; done
expect_eq "the choice is stable: registering afresh lands on the same hubs" "$before" \
	"$(psql_q "SELECT string_agg(assigned_hub, ',' ORDER BY registration_id) FROM dps_registrations WHERE registration_id LIKE 'spread-%'")"
group spread2 '"iotHubs":["hub-a.test","hub-c.test"]'
for i in $(seq -w 1 12); do register "spread2-$i"; done
expect_eq "hashed over the enrollment's iotHubs only" "hub-a.test hub-c.test" \
	"$(psql_q "SELECT string_agg(DISTINCT assigned_hub, ' ') FROM dps_registrations WHERE enrollment_id = 'spread2'")"

# --- static ------------------------------------------------------------------------
group pinned '"allocationPolicy":"static","iotHubs":["hub-c.test"]'
expect_eq "static is stored" "static hub-c.test" "$(jq -r '[.allocationPolicy, .iotHubs[0]] | join(" ")' <<<"$BODY")"
for i in 1 2 3 4 5; do register "pinned-$i"; done
expect_eq "static: every device on its one hub" "hub-c.test 5" \
	"$(psql_q "SELECT string_agg(DISTINCT assigned_hub, ' ') || ' ' || count(*) FROM dps_registrations WHERE enrollment_id = 'pinned'")"

# --- custom: the webhook answers -----------------------------------------------------
custom() { group "$1" '"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"'"$2"'","apiVersion":"2021-10-01"}'; }
custom hooked "$HOOK/ok"
expect_eq "custom is stored with its definition" "custom $HOOK/ok" \
	"$(jq -r '[.allocationPolicy, .customAllocationDefinition.webhookUrl] | join(" ")' <<<"$BODY")"
register hooked-1 '{"registrationId":"hooked-1","payload":{"model":"x1"}}'
OP=$(jq -r .operationId <<<"$BODY")
expect_eq "register answers 202 assigning while the webhook runs" "202 assigning" "$STATUS $(jq -r .status <<<"$BODY")"
expect "with a Retry-After" grep -qiE '^retry-after: [1-9]' <<<"$HEADERS"
poll hooked-1 "$OP"
expect_eq "then the operation is assigned to the webhook's hub" "200 assigned hub-c.test" \
	"$STATUS $(jq -r '.status + " " + .registrationState.assignedHub' <<<"$BODY")"
expect_eq "registrationState.payload is the webhook's" '{"echo":{"model":"x1"}}' "$(jq -c .registrationState.payload <<<"$BODY")"
expect_eq "the twin is seeded with the webhook's initialTwin" "webhook w" \
	"$(psql_q "SELECT tags->>'from' || ' ' || (desired->>'app') FROM twins WHERE device_id = 'hooked-1'")"
expect_eq "the webhook got Azure's request" "hooked-1 {\"model\":\"x1\"} hooked 3" \
	"$(jq -r '[.deviceRuntimeContext.registrationId, (.deviceRuntimeContext.payload|tojson), .enrollmentGroup.enrollmentGroupId, (.linkedHubs|length)] | join(" ")' "$TMP/hook-ok.json")"
register hooked-1 '{"registrationId":"hooked-1","payload":{"model":"x2"}}'
poll hooked-1 "$(jq -r .operationId <<<"$BODY")"
expect_eq "registering again asks the webhook again, with the current hub" "hub-c.test hooked-1 {\"model\":\"x2\"}" \
	"$(jq -r '[.deviceRuntimeContext.currentIotHubHostName, .deviceRuntimeContext.currentDeviceId, (.deviceRuntimeContext.payload|tojson)] | join(" ")' "$TMP/hook-ok.json")"
expect_eq "the same hub again: reprovisionedToInitialAssignment, one twin" "assigned hub-c.test reprovisionedToInitialAssignment 1" \
	"$(jq -r '[.status, .registrationState.assignedHub, .registrationState.substatus] | join(" ")' <<<"$BODY") $(psql_q "SELECT count(*) FROM twins WHERE device_id = 'hooked-1'")"
expect "and no keys" bash -c '! grep -qF "$1" "$2"' _ "$(gkey hooked)" "$TMP/hook-ok.json"

# One poll suffices when the webhook answers within the poll's wait: the
# GET is suspended (no thread) until the job's NOTIFY.
custom delayed "$HOOK/delay"
register delayed-1
OP=$(jq -r .operationId <<<"$BODY")
t0=$(date +%s%N)
http GET "/$SCOPE/registrations/delayed-1/operations/$OP?$DAV" -H "Authorization: $AUTH"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a poll during a 0.8 s webhook waits for its end and answers assigned ($ms ms)" "200 assigned" \
	"$STATUS $(jq -r .status <<<"$BODY")"
expect "woken by the event, not the 2 s deadline" test "$ms" -lt 1900

# --- custom: the webhook fails in every way; the registration fails, no twin ---------
fails() { # NAME URL WHY-REGEX
	custom "$1" "$2"
	register "$1-1"
	OP=$(jq -r .operationId <<<"$BODY")
	poll "$1-1" "$OP"
	if [[ "$STATUS $(jq -r '.status + " " + (.registrationState.errorCode|tostring)' <<<"$BODY")" == "200 failed 400209" ]] &&
		jq -r .registrationState.errorMessage <<<"$BODY" | grep -qE "$3" &&
		[[ $(psql_q "SELECT count(*) FROM twins WHERE device_id = '$1-1'") == 0 &&
			$(psql_q "SELECT coalesce(assigned_hub, 'none') FROM dps_registrations WHERE registration_id = '$1-1'") == none ]]; then
		tap_ok "webhook $1: failed, errorCode 400209, a clear message, no twin, no hub"
	else
		tap_nok "webhook $1: failed, errorCode 400209, a clear message, no twin, no hub" "$STATUS $BODY"
	fi
}
fails down "$DOWN/x" "webhook failed: .*(connect|Connection)"
# The hook sleeps 6 s then answers well: "no answer in time" (and not
# assigned) shows orchardd cut it at --dps-webhook-timeout (2 s).
fails slow "$HOOK/slow" "no answer in time"
fails garbage "$HOOK/garbage" "no JSON object"
fails refuse "$HOOK/refuse" "HTTP 500"
fails unlinked "$HOOK/unlinked" "not linked"

# --- reprovisioning -------------------------------------------------------------------
enroll() { # REGID HUB UPDATE MIGRATE: an individual enrollment, static on HUB
	http PUT "/enrollments/$1?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"symmetricKey",
		"symmetricKey":{"primaryKey":"'"$GK"'"}},"initialTwin":{"tags":{"v":"initial"}},
		"allocationPolicy":"static","iotHubs":["'"$2"'"],
		"reprovisionPolicy":{"updateHubAssignment":'"$3"',"migrateDeviceData":'"$4"'}}'
}
reg_ind() { # REGID: registers with the individual key GK
	AUTH=$(dps_sas "$SCOPE/registrations/$1" "$GK")
	http PUT "/$SCOPE/registrations/$1/register?$DAV" -H "Authorization: $AUTH" "${JSON[@]}" -d '{}'
}
state() { jq -r '[.status, .registrationState.assignedHub, .registrationState.substatus] | join(" ")' <<<"$BODY"; }
enroll re-1 hub-a.test false true
reg_ind re-1
expect_eq "first registration" "assigned hub-a.test initialAssignment" "$(state)"
psql_q "UPDATE twins SET tags = '{\"v\":\"device-data\"}' WHERE device_id = 're-1'" >/dev/null
enroll re-1 hub-b.test false true
reg_ind re-1
expect_eq "updateHubAssignment false: registering again keeps the hub" "assigned hub-a.test initialAssignment" "$(state)"
enroll re-1 hub-b.test true true
reg_ind re-1
expect_eq "updateHubAssignment true: the new hub, data migrated" "assigned hub-b.test deviceDataMigrated" "$(state)"
expect_eq "the twin's data moved with it" "device-data" "$(psql_q "SELECT tags->>'v' FROM twins WHERE device_id = 're-1'")"
reg_ind re-1
expect_eq "registering again on the same hub: the same assignment" "assigned hub-b.test deviceDataMigrated" "$(state)"
v0=$(psql_q "SELECT version FROM twins WHERE device_id = 're-1'")
enroll re-1 hub-c.test true false
reg_ind re-1
expect_eq "migrateDeviceData false: the new hub, data reset" "assigned hub-c.test deviceDataReset" "$(state)"
expect_eq "the twin is the enrollment's initialTwin again, its version higher" "initial true" \
	"$(psql_q "SELECT tags->>'v' || ' ' || (version > $v0) FROM twins WHERE device_id = 're-1'")"
expect_eq "still one registration and one twin" "1 1" \
	"$(psql_q "SELECT (SELECT count(*) FROM dps_registrations WHERE registration_id = 're-1') || ' ' || (SELECT count(*) FROM twins WHERE device_id = 're-1')")"

# --- twenty concurrent registrations of one registration ID -----------------------------
group burst
A=$(dps_sas "$SCOPE/registrations/burst-1" "$(dps_derive "$(gkey burst)" burst-1)")
pids=()
for i in $(seq 20); do
	"${CURL[@]}" -o "$TMP/burst-body.$i" -w '%{http_code}\n' -X PUT "$URL/$SCOPE/registrations/burst-1/register?$DAV" \
		-H "Authorization: $A" "${JSON[@]}" -d '{}' >"$TMP/burst.$i.code" &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "twenty at once: all answered 200 assigned" "20" "$(cat "$TMP"/burst.*.code | grep -c '^200$')"
expect_eq "on one hub" 1 "$(jq -r .registrationState.assignedHub "$TMP"/burst-body.* | sort -u | wc -l)"
expect_eq "one registration, one device, one twin" "1 1 1" \
	"$(psql_q "SELECT count(*) || ' ' || count(DISTINCT device_id) || ' ' || (SELECT count(*) FROM twins WHERE device_id = 'burst-1') FROM dps_registrations WHERE registration_id = 'burst-1'")"

expect "no key in the log" bash -c '! grep -qF "$1" "$2"' _ "$(gkey hooked)" "$OLOG"

# Narrowed later, the setting holds at call time too: the enrollment's
# webhook is no longer called and the registration fails.
orchardd_stop
: >"$TMP/hook-ok.json"
orchardd_start --dps-hub hub-a.test --dps-linked-hubs "hub-a.test,hub-b.test=2,hub-c.test" \
	--dps-webhook-timeout 2 || tap_nok "orchardd starts again"
register hooked-2
poll hooked-2 "$(jq -r .operationId <<<"$BODY")"
expect_eq "an http webhook under the default (https only) is not called: failed" "200 failed 400209 0" \
	"$STATUS $(jq -r '.status + " " + (.registrationState.errorCode|tostring)' <<<"$BODY") $(stat -c %s "$TMP/hook-ok.json")"
expect "with a clear message" grep -q "no longer allowed" <<<"$(jq -r .registrationState.errorMessage <<<"$BODY")"
orchardd_stop
expect_eq "orchardd exits cleanly" 0 "$?"
grep '"level":"error"' "$OLOG" | head -5 >&2
tap_done
