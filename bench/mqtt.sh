#!/bin/bash
# IoT Hub over MQTT at 1,000 connected devices (BENCH_MQTT_DEVICES): the
# devices of one symmetric-key group are registered over DPS (bench/dps_load),
# then bench/mqtt_load connects them all to mosquitto + the Orchard plugin
# over TLS (SAS, clean session false, the SDK's subscriptions) and measures
# an operator's desired PATCH over REST until the device's handler has it
# (p50/p99, one at a time), the same for a cloud-to-device message, and
# reported updates per second from all
# devices at once. Prints the broker's and orchardd's CPU time and memory
# per connected device. IoT Hub's S1 unit allows 50 twin updates per second.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
MPID=
trap '[[ -n "$MPID" ]] && kill "$MPID" 2>/dev/null; fixture_cleanup' EXIT
N=${BENCH_MQTT_DEVICES:-1000}
make -s "$BUILD/bench/mqtt_load" "$BUILD/bench/dps_load" "$BUILD/orchardd" "$BUILD/orchard_mqtt.so" || exit 1
command -v mosquitto >/dev/null || { echo "mosquitto not installed: skipped"; exit 0; }
# every device is a socket in mosquitto and in the load client
ulimit -n "$(( $(ulimit -Hn) < 8192 ? $(ulimit -Hn) : 8192 ))"
MPORT=$(free_port) BPORT=$(free_port)

pg_start || exit 1
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || exit 1
scripts/mqtt-broker "$TMP/var" "$MPORT" "$BPORT" "$ROOT/$BUILD/orchard_mqtt.so" 2>"$TMP/mosquitto.log" &
MPID=$!
for _ in $(seq 1 200); do grep -q '"msg":"mqtt backend connected"' "$OLOG" && break; sleep 0.05; done
SCOPE=$(pg_admin "SELECT value FROM dps_settings WHERE name = 'id_scope'")
GK=$(head -c 32 /dev/urandom | base64 -w0)
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token enrollments:write)" \
	-H 'Content-Type: application/json' "$URL/enrollmentGroups/mq?api-version=2021-10-01" \
	-d '{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$GK"'"}},
	     "initialTwin":{"properties":{"desired":{"app":"blink"}}}}')
[[ "$code" == 200 ]] || { echo "enrollment group: HTTP $code"; exit 1; }
echo -n "registering $N devices over DPS: "
"$ROOT/$BUILD/bench/dps_load" --port "$PORT" --cacert "$TMP/var/pki/root.pem" --scope "$SCOPE" \
	--group-key "$GK" --devices "$N" --connections 8 --prefix mq || exit 1
HUB=$(pg_admin "SELECT assigned_hub FROM dps_registrations LIMIT 1")
# broker: mosquitto's pid (the script execs it)
OPID_=$OPID BROKER=$MPID
stat_of() { # PID: utime+stime (clock ticks) and RSS (KiB)
	awk '{print $14 + $15}' "/proc/$1/stat"
	awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}
read -r -d '' bc0 brss0 < <(stat_of "$BROKER"); read -r -d '' oc0 orss0 < <(stat_of "$OPID_")
${BENCH_MQTT_WRAP:-} "$ROOT/$BUILD/bench/mqtt_load" --port "$MPORT" --https "$URL" --token "$(token twins:write)" \
	--cacert "$TMP/var/pki/root.pem" --hub "$HUB" --group-key "$GK" --devices "$N" --prefix mq \
	--patches "${BENCH_MQTT_PATCHES:-200}" --seconds "${BENCH_MQTT_SECONDS:-5}" --ready-file "$TMP/ready" \
	>"$TMP/load.out" 2>"$TMP/load.err" &
LPID=$!
for _ in $(seq 1 1200); do [[ -f "$TMP/ready" ]] && break; kill -0 "$LPID" 2>/dev/null || break; sleep 0.1; done
read -r -d '' bc1 brss1 < <(stat_of "$BROKER"); read -r -d '' oc1 orss1 < <(stat_of "$OPID_")
wait "$LPID"
rc=$?
cat "$TMP/load.out"
[[ $rc == 0 ]] || { tail -5 "$TMP/load.err"; exit 1; }
read -r -d '' bc2 brss2 < <(stat_of "$BROKER"); read -r -d '' oc2 orss2 < <(stat_of "$OPID_")
hz=$(getconf CLK_TCK)
printf 'memory per connected device: broker %.1f KiB, orchardd %.1f KiB (RSS %d -> %d KiB, %d -> %d KiB)\n' \
	"$(bc -l <<<"($brss1 - $brss0) / $N")" "$(bc -l <<<"($orss1 - $orss0) / $N")" "$brss0" "$brss1" "$orss0" "$orss1"
printf 'CPU to connect %d devices (TLS, SAS checked by orchardd): broker %.2f s, orchardd %.2f s (%.2f ms and %.2f ms a device)\n' \
	"$N" "$(bc -l <<<"($bc1 - $bc0) / $hz")" "$(bc -l <<<"($oc1 - $oc0) / $hz")" \
	"$(bc -l <<<"($bc1 - $bc0) * 1000 / $hz / $N")" "$(bc -l <<<"($oc1 - $oc0) * 1000 / $hz / $N")"
printf 'CPU during the PATCHes and reported updates: broker %.2f s, orchardd %.2f s\n' \
	"$(bc -l <<<"($bc2 - $bc1) / $hz")" "$(bc -l <<<"($oc2 - $oc1) / $hz")"
# learn.microsoft.com/azure/iot-hub/iot-hub-devguide-quotas-throttling
echo "IoT Hub S1: 50 twin updates per second per unit; cloud-to-device sends 1.67 per second per unit"
