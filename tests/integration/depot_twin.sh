#!/bin/bash
# The twin's part of the depot (docs/depot.md): properties.desired.app
# written by an operator PATCH or PUT of a twin must be
# {"package": "{publisher}/pkg/{name}/{version}", "grants": capabilities}
# naming a published, non-yanked package; every refusal has its status and
# type and leaves the twin as it was.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
trap fixture_cleanup EXIT
PKG="$ROOT/$BUILD/orchard-pkg"
jqb() { jq -r "$1" <<<"$BODY"; }

pg_start || exit 1
orchardd_start || exit 1
W=(-H "Authorization: Bearer $(token depot:write depot:read twins:write twins:read)")
D="$TMP/pkg"
mkdir -p "$D/app"
"$PKG" keygen --out "$D/alice.key" >/dev/null
{ printf '\0asm\1\0\0\0'; head -c 100 /dev/urandom; } >"$D/app/app.wasm"
for v in 1.0.0 2.0.0; do
	printf '{"publisher":"alice","name":"hello","version":"%s","capabilities":{"listen":[8080]}}' "$v" >"$D/app/manifest.json"
	"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/hello-$v.opkg" >/dev/null
done
http PUT /depot/publishers/alice "${W[@]}" "${JSON[@]}" -d "$(jq -n --rawfile k "$D/alice.pub" '{publicKey: $k}')"
for v in 1.0.0 2.0.0; do
	http POST /depot/packages "${W[@]}" -H 'Content-Type: application/vnd.orchard.opkg' --data-binary "@$D/hello-$v.opkg"
done
expect_eq "two versions published" 201 "$STATUS"

desired() { # PATCH body for properties.desired.app = $1
	printf '{"properties":{"desired":{"app":%s}}}' "$1"
}
state() { psql_q "SELECT version || ' ' || coalesce(desired::jsonb->'app'->>'package', '-') FROM twins WHERE device_id = 'pump-7'"; }

http PATCH /twins/pump-7 "${W[@]}" "${JSON[@]}" -d "$(desired '{"package":"alice/pkg/hello/1.0.0","grants":{"listen":[8080],"memoryMiB":16}}')"
expect_eq "a twin may name a published package, with grants" "200 alice/pkg/hello/1.0.0 16" \
	"$STATUS $(jqb .properties.desired.app.package) $(jqb .properties.desired.app.grants.memoryMiB)"
BEFORE=$(state)

refused() { # NAME STATUS TYPE APP-JSON [METHOD]
	http "${5:-PATCH}" /twins/pump-7 "${W[@]}" "${JSON[@]}" -d "$(desired "$4")"
	expect_problem "$1" "$2" "$3"
	expect_eq "... and the twin is unchanged" "$BEFORE" "$(state)"
}
refused "an unknown version is 422" 422 depot-desired-package-unknown '{"package":"alice/pkg/hello/9.9.9"}'
refused "an unknown publisher is 422" 422 depot-desired-package-unknown '{"package":"carol/pkg/hello/1.0.0"}'
refused "a reference that is no package path is 400" 400 depot-bad-desired-app '{"package":"alice/hello/1.0.0"}'
refused "a bad version in the reference is 400" 400 depot-bad-desired-app '{"package":"alice/pkg/hello/1 0"}'
refused "a package that is no string is 400" 400 depot-bad-desired-app '{"package":7}'
refused "a patch adding a member to a depot app is checked" 400 depot-bad-desired-app '{"name":"pump"}'
refused "grants alone on a twin naming no package are 400" 400 depot-bad-desired-app '{"grants":{}}' PUT
refused "an unknown member in app is 400" 400 depot-bad-desired-app '{"package":"alice/pkg/hello/2.0.0","version":"2"}'
refused "grants with a port 0 are 400" 400 depot-bad-desired-app '{"package":"alice/pkg/hello/2.0.0","grants":{"listen":[0]}}'
refused "grants with an unknown capability are 400" 400 depot-bad-desired-app '{"package":"alice/pkg/hello/2.0.0","grants":{"root":true}}'
refused "grants that are no object are 400" 400 depot-bad-desired-app '{"package":"alice/pkg/hello/2.0.0","grants":[]}'
refused "grants with a bad connect are 400" 400 depot-bad-desired-app '{"package":"alice/pkg/hello/2.0.0","grants":{"connect":["nohost"]}}'
refused "a merge that removes package is 400" 400 depot-bad-desired-app '{"package":null}'
refused "PUT is checked as PATCH is" 422 depot-desired-package-unknown '{"package":"alice/pkg/hello/3.0.0"}' PUT
http PATCH /twins/pump-8 "${W[@]}" "${JSON[@]}" -d "$(desired '{"package":"alice/pkg/hello/3.0.0"}')"
expect_problem "a new twin naming an unknown package is refused" 422 depot-desired-package-unknown
expect_eq "... and not created" 0 "$(psql_q "SELECT count(*) FROM twins WHERE device_id = 'pump-8'")"

http PATCH /depot/packages/alice/hello/2.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked": true}'
refused "a yanked version is 422" 422 depot-desired-package-yanked '{"package":"alice/pkg/hello/2.0.0"}'
http PATCH /twins/pump-7 "${W[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":{"grants":{"dir":true}}}}}'
expect_eq "a merge of grants alone keeps the package (still published)" "200 alice/pkg/hello/1.0.0 true 8080" \
	"$STATUS $(jqb .properties.desired.app.package) $(jqb .properties.desired.app.grants.dir) $(jqb '.properties.desired.app.grants.listen[0]')"
http PATCH /depot/packages/alice/hello/1.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked": true}'
http PATCH /twins/pump-7 "${W[@]}" "${JSON[@]}" -d '{"tags":{"site":"a"},"properties":{"desired":{"other":1}}}'
expect_eq "a twin already naming a yanked version takes other changes" 200 "$STATUS"
http PATCH /depot/packages/alice/hello/2.0.0 "${W[@]}" "${JSON[@]}" -d '{"yanked": false}'
http PUT /twins/pump-7 "${W[@]}" "${JSON[@]}" -d '{"tags":{"site":"a"},"properties":{"desired":{"app":{"package":"alice/pkg/hello/2.0.0"}}}}'
expect_eq "a restored version may be named again (PUT)" "200 alice/pkg/hello/2.0.0 null" \
	"$STATUS $(jqb .properties.desired.app.package) $(jqb .properties.desired.app.grants)"
# Fleet configurations are checked the same way, before anything is written.
config() { # APP-JSON
	http PUT /configurations/apps "${W[@]}" "${JSON[@]}" -d "{\"priority\":1,\"targetCondition\":\"tags.site = 'a'\",\"content\":{\"deviceContent\":{\"properties.desired.app\":$1}}}"
}
nconf() { psql_q "SELECT count(*) FROM twin_configurations"; }
config '{"package":"alice/pkg/hello/7.0.0"}'
expect_problem "a configuration naming an unknown package is 422" 422 depot-desired-package-unknown
config '{"package":"alice/pkg/hello/1.0.0"}'
expect_problem "a configuration naming a yanked package is 422" 422 depot-desired-package-yanked
config '{"package":"alice/pkg/hello/2.0.0","grants":{"listen":"8080"}}'
expect_problem "a configuration with bad grants is 400" 400 depot-bad-desired-app
expect_eq "... none was stored, the twin is as it was" "0 alice/pkg/hello/2.0.0" "$(nconf) $(state | cut -d' ' -f2)"
config '{"package":"alice/pkg/hello/2.0.0","grants":{"listen":[8080]}}'
expect_eq "a configuration naming a published package applies" "200 1 8080" \
	"$STATUS $(nconf) $(psql_q "SELECT desired::jsonb#>>'{app,grants,listen,0}' FROM twins WHERE device_id = 'pump-7'")"
http PUT /configurations/apps "${W[@]}" "${JSON[@]}" -d '{"priority":1,"targetCondition":"tags.site = '"'a'"'","content":{"deviceContent":{"properties.desired.app.package":"alice/pkg/hello/1.0.0"}}}'
expect_problem "a configuration setting app.package alone is checked too" 422 depot-desired-package-yanked
http DELETE /configurations/apps "${W[@]}"

http PATCH /twins/pump-7 "${W[@]}" "${JSON[@]}" -d "$(desired null)"
expect_eq "app: null removes the app" "200 null" "$STATUS $(jqb .properties.desired.app)"

orchardd_stop
tap_done
