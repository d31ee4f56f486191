# tests/lib/iothub.sh: what the IoT Hub interop tests share: the skip without
# node, npm or mosquitto, the Node SDK, ports and the broker with our plugin.
NPM_DIR="$ROOT/build/npm-iothub"

# iothub_prepare: ends the test with a TAP skip without node, npm or
# mosquitto; installs the SDK; picks MPORT (devices) and BPORT (backend).
iothub_prepare() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v mosquitto >/dev/null; then
		echo "1..0 # SKIP node, npm or mosquitto not installed"
		exit 0
	fi
	npm_prepare "$NPM_DIR" azure-iot-device-mqtt azure-iot-device azure-iot-device-mqtt
	MPORT=$(free_port) BPORT=$(free_port)
}

# broker_start [NAME=VALUE...]: mosquitto with the plugin on MPORT and BPORT
# (pid in MPID), with those variables set; true once orchardd (OLOG) says
# its backend connected.
broker_start() {
	env "$@" scripts/mqtt-broker "$TMP/var" "$MPORT" "$BPORT" "$ROOT/$BUILD/orchard_mqtt.so" \
		2>"$TMP/mosquitto.log" &
	MPID=$!
	for _ in $(seq 1 200); do
		grep -q '"msg":"mqtt backend connected"' "$OLOG" && return 0
		sleep 0.05
	done
	return 1
}
