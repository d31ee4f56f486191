#!/bin/bash
# Fleet configurations over HTTPS: content applied to the twins a
# targetCondition matches, the highest priority winning per twin, a
# lower-priority configuration taking over when the winner is deleted, a
# tag change moving a twin between configurations, an operator's own
# desired properties kept (a configuration overwrites only its paths),
# systemMetrics and custom metrics, If-Match, and every refusal changing
# nothing.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
trap fixture_cleanup EXIT

pg_start || exit 1
orchardd_start --threads 2 || exit 1
W=(-H "Authorization: Bearer $(token twins:read twins:write)")
R=(-H "Authorization: Bearer $(token twins:read)")
J=(-H 'Content-Type: application/json')
put() { http PUT "/configurations/$1" "${W[@]}" "${J[@]}" "${@:3}" -d "$2"; }
desired() { psql "$ORCHARD_DATABASE_URL" -Atc "SELECT desired #>> '{$2}' FROM twins WHERE device_id = '$1'"; }
state() { psql "$ORCHARD_DATABASE_URL" -Atc "SELECT (SELECT md5(string_agg(device_id || etag || desired::text, ',' ORDER BY device_id)) FROM twins) || (SELECT coalesce(md5(string_agg(id || etag, ',' ORDER BY id)), '') FROM twin_configurations)"; }
jqb() { jq -r "$1" <<<"$BODY"; }

for i in $(seq 1 12); do
	site=$([[ $i -le 6 ]] && echo berlin || echo paris)
	http PATCH "/twins/dev$i" "${W[@]}" "${J[@]}" \
		-d "{\"tags\":{\"site\":\"$site\",\"ring\":$((i % 2))},\"properties\":{\"desired\":{\"own\":$i}}}"
done
expect_eq "twelve twins" 200 "$STATUS"
http GET /twins/dev1 "${R[@]}"
expect_eq "no configuration yet: the twin has no configurations member" "200 null" "$STATUS $(jq -c .configurations <<<"$BODY")"

put base '{"id":"base","priority":1,"targetCondition":"tags.site IN [\"berlin\", \"paris\"]",
	"content":{"deviceContent":{"properties.desired.app.name":"pump","properties.desired.app.version":"1.0"}},
	"labels":{"team":"ops"},
	"metrics":{"queries":{"onOne":"SELECT deviceId FROM devices WHERE properties.reported.app.version = \u00271.0\u0027"}}}'
expect_eq "PUT creates a configuration" "200 base 1" "$STATUS $(jqb .id) $(jqb .priority)"
expect_eq "systemMetrics count the twelve targeted and applied" "12 12 0" \
	"$(jqb .systemMetrics.results.targetedCount) $(jqb .systemMetrics.results.appliedCount) $(jqb .metrics.results.onOne)"
E1=$(jqb .etag)
expect_eq "every twin got the content" "pump 1.0 pump 1.0" \
	"$(desired dev1 app,name) $(desired dev1 app,version) $(desired dev12 app,name) $(desired dev12 app,version)"
expect_eq "and kept the operator's own desired properties" "1 12" "$(desired dev1 own) $(desired dev12 own)"
http GET /twins/dev1 "${R[@]}"
expect_eq "desired \$version counted up by the configuration" 3 "$(jqb '.properties.desired["$version"]')"
TV=$(jqb .version)
http GET "/twins/dev1/history?after=$((TV - 1))" "${R[@]}"
expect_eq "the configuration's write is in the twin's history, by the configuration" \
	"200 1 $TV configuration base [\"desired\"] {\"properties\":{\"desired\":{\"app\":{\"name\":\"pump\",\"version\":\"1.0\"}}}}" \
	"$STATUS $(jqb '.items|length') $(jqb '.items[0].version') $(jqb '.items[0].by.kind') $(jqb '.items[0].by.id') $(jq -c '.items[0].sections' <<<"$BODY") $(jq -cS '.items[0].patch' <<<"$BODY")"
expect_eq "one history row per twin written, one version each" "12 12" \
	"$(psql "$ORCHARD_DATABASE_URL" -F " " -Atc "SELECT count(*), count(DISTINCT device_id) FROM twin_history h JOIN twins t USING (device_id) WHERE h.actor_kind = 'configuration' AND h.version = t.version")"

put canary '{"priority":10,"targetCondition":"tags.site = \u0027berlin\u0027 AND tags.ring = 1",
	"content":{"deviceContent":{"properties.desired.app.version":"2.0-rc"}}}'
expect_eq "a higher-priority configuration" 200 "$STATUS"
expect_eq "wins where it targets (dev1, dev3, dev5), overwriting only its paths" \
	"2.0-rc 2.0-rc 1.0 1.0 pump" \
	"$(desired dev1 app,version) $(desired dev3 app,version) $(desired dev2 app,version) $(desired dev7 app,version) $(desired dev1 app,name)"
http GET /configurations/base "${R[@]}"
expect_eq "base is now applied to nine, still targets twelve" "12 9" \
	"$(jqb .systemMetrics.results.targetedCount) $(jqb .systemMetrics.results.appliedCount)"
http GET /twins/dev1 "${R[@]}"
expect_eq "dev1's configurations member: canary applied, base targeted" \
	'{"base":{"status":"targeted"},"canary":{"status":"applied"}}' "$(jq -cS .configurations <<<"$BODY")"
http GET /twins/dev2 "${R[@]}"
expect_eq "dev2's: base applied" '{"base":{"status":"applied"}}' "$(jq -cS .configurations <<<"$BODY")"
http GET /configurations/canary "${R[@]}"
expect_eq "canary applied to three" "3 3 {\"app.version\":\"2.0-rc\"}" \
	"$(jqb .systemMetrics.results.targetedCount) $(jqb .systemMetrics.results.appliedCount) $(jq -c '.content.deviceContent | with_entries(.key |= ltrimstr("properties.desired."))' <<<"$BODY")"

http PATCH /twins/dev2 "${W[@]}" "${J[@]}" -d '{"tags":{"ring":1}}'
expect_eq "a tag change brings dev2 under canary, in the PATCH's own reply" "200 2.0-rc" \
	"$STATUS $(jqb .properties.desired.app.version)"
http PATCH /twins/dev3 "${W[@]}" "${J[@]}" -d '{"tags":{"site":"oslo"}}'
http GET /twins/dev3 "${R[@]}"
expect_eq "a twin no configuration targets any more: an empty configurations member" '{}' "$(jq -c .configurations <<<"$BODY")"
expect_eq "a twin no configuration targets any more keeps its desired properties" "2.0-rc" \
	"$(desired dev3 app,version)"
http GET /configurations/canary "${R[@]}"
expect_eq "canary counts follow the tags" "3 3" \
	"$(jqb .systemMetrics.results.targetedCount) $(jqb .systemMetrics.results.appliedCount)"

http PATCH /twins/dev1 "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"app":{"version":"hand"}}}}'
expect_eq "an operator may still PATCH a configured path" "hand" "$(desired dev1 app,version)"
put canary '{"priority":10,"targetCondition":"tags.site = \u0027berlin\u0027 AND tags.ring = 1",
	"content":{"deviceContent":{"properties.desired.app.version":"2.0"}}}' -H "If-Match: \"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT etag FROM twin_configurations WHERE id = 'canary'")\""
expect_eq "changing the content re-applies it (If-Match current)" "200 2.0 2.0" \
	"$STATUS $(desired dev1 app,version) $(desired dev5 app,version)"

before=$(state)
http DELETE /configurations/canary "${W[@]}" -H 'If-Match: "stale"'
expect_problem "DELETE with a stale If-Match" 412 configuration-etag-mismatch
put base '{"priority":2,"targetCondition":"*","content":{"deviceContent":{"properties.desired.x":1}}}' -H "If-Match: \"stale\""
expect_problem "PUT with a stale If-Match" 412 configuration-etag-mismatch
for bad in \
	'{"priority":1,"targetCondition":"tags.a = ","content":{"deviceContent":{}}}|400 configuration-bad-condition' \
	'{"priority":1,"targetCondition":"tags.a = 1; DROP TABLE twins","content":{"deviceContent":{}}}|400 configuration-bad-condition' \
	'{"priority":1,"targetCondition":"*","content":{"deviceContent":{}},"metrics":{"queries":{"m":"SELECT * FROM modules"}}}|400 configuration-bad-condition' \
	'{"priority":-1,"targetCondition":"*","content":{"deviceContent":{}}}|400 configuration-invalid' \
	'{"targetCondition":"*","content":{"deviceContent":{}}}|400 configuration-invalid' \
	'{"priority":1,"content":{"deviceContent":{}}}|400 configuration-invalid' \
	'{"priority":1,"targetCondition":"*","content":{"deviceContent":{"properties.reported.x":1}}}|400 configuration-invalid' \
	'{"priority":1,"targetCondition":"*","content":{"deviceContent":{"properties.desired.a":1,"properties.desired.a.b":2}}}|400 configuration-invalid' \
	'{"priority":1,"targetCondition":"*","content":{"deviceContent":{"properties.desired.$x":1}}}|400 configuration-invalid' \
	'{"priority":1,"targetCondition":"*","content":{"modulesContent":{}}}|400 configuration-invalid' \
	'{"priority":1,"targetCondition":"*","content":{"deviceContent":{}},"labels":{"a":1}}|400 configuration-invalid' \
	'{"priority":1,"targetCondition":"*","content":{"deviceContent":{}},"bogus":1}|400 configuration-invalid' \
	'{"id":"other","priority":1,"targetCondition":"*","content":{"deviceContent":{}}}|400 configuration-invalid' \
	'[1]|400 configuration-invalid'; do
	put new "${bad%|*}"
	expect_problem "refused: ${bad%|*}" ${bad#*|}
done
put UPPER '{"priority":1,"targetCondition":"*","content":{"deviceContent":{}}}'
expect_problem "an ID with upper case is refused" 400 configuration-invalid
http GET /configurations/nope "${R[@]}"
expect_problem "an unknown configuration is 404" 404 configuration-not-found
http DELETE /configurations/nope "${W[@]}"
expect_problem "and cannot be deleted" 404 configuration-not-found
http PUT /configurations/x "${R[@]}" "${J[@]}" -d '{"priority":1,"targetCondition":"*","content":{"deviceContent":{}}}'
expect_eq "twins:read cannot PUT" 403 "$STATUS"
expect_eq "no refusal changed anything" "$before" "$(state)"

http DELETE /configurations/canary "${W[@]}"
expect_eq "DELETE is 204" 204 "$STATUS"
http GET /configurations/base "${R[@]}"
expect_eq "base takes canary's twins back" "11 11" \
	"$(jqb .systemMetrics.results.targetedCount) $(jqb .systemMetrics.results.appliedCount)"
expect_eq "with its own version of the path" "1.0 1.0" "$(desired dev1 app,version) $(desired dev5 app,version)"
http GET /twins/dev1 "${R[@]}"
expect_eq "a deleted configuration leaves the member" '{"base":{"status":"applied"}}' "$(jq -cS .configurations <<<"$BODY")"
http GET /configurations/base "${R[@]}"
E=$(jqb .etag)
body=$(jq -c '.priority = 5' <<<"$BODY")
http PUT /configurations/base "${W[@]}" "${J[@]}" -H "If-Match: \"$E\"" -d "$body"
expect_eq "GET, edit, PUT back works" "200 5" "$STATUS $(jqb .priority)"

# A fleet past one chunk (500 twins a transaction): every twin reached.
pg_admin "INSERT INTO twins (device_id, etag, tags, desired, reported)
SELECT 'fleet-' || lpad(i::text, 4, '0'), 'e', jsonb_build_object('fleet', true),
	'{\"\$version\": 1, \"\$metadata\": {}}', '{}' FROM generate_series(1, 1234) i"
put fleet '{"priority":3,"targetCondition":"tags.fleet = true","content":{"deviceContent":{"properties.desired.fw":"9"}}}'
expect_eq "a configuration over 1234 twins applies to all of them" "200 1234 1234" \
	"$STATUS $(jqb .systemMetrics.results.targetedCount) $(jqb .systemMetrics.results.appliedCount)"
expect_eq "the first and the last twin hold its content, at desired \$version 2" "9 9 2" \
	"$(desired fleet-0001 fw) $(desired fleet-1234 fw) $(desired fleet-1234 '\$version')"

orchardd_stop
expect_eq "orchardd stops cleanly" 0 "$?"
tap_done
