// A device for the several-orchardd test (tests/interop/iothub_multi.sh):
// Microsoft's azure-iot-device with azure-iot-device-mqtt, unmodified,
// on one broker that two orchardd serve. It prints each desired patch it
// gets, and answers methods: "twin" GETs its twin again and answers with
// its desired, "report" sends its payload as a reported update and answers
// with the outcome. Prints one JSON line per event; ends when stopFile appears.
// argv: mqttPort hub dev key stopFile
'use strict';
const fs = require('fs');
const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const [port, hub, dev, key, stopFile] = process.argv.slice(2);
const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
const out = (step, o) => console.log(JSON.stringify({ step, ...o }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
	const c = Client.fromConnectionString(`HostName=${hub};DeviceId=${dev};SharedAccessKey=${key};GatewayHostName=${hub}:${port}`, Mqtt);
	c.setOptions({ ca });
	await c.open();
	const twin = await c.getTwin();
	out('twin', { desired: twin.properties.desired });
	// the handler makes the SDK subscribe to desired patches; it also fires
	// at every getTwin with the whole desired, so the pushes themselves are
	// counted where the SDK's transport hands them to the twin
	twin.on('properties.desired', () => {});
	c._transport.on('twinDesiredPropertiesUpdate', (patch) => out('desired', { patch }));
	c.on('message', (msg) => {
		out('c2d', { data: msg.data.toString() });
		c.complete(msg, () => {});
	});
	c.onDeviceMethod('twin', (req, res) => {
		c.getTwin((err, t) => res.send(err ? 500 : 200, err ? { error: String(err) } : { desired: t.properties.desired, reported: t.properties.reported }, () => {}));
	});
	c.onDeviceMethod('report', (req, res) => {
		twin.properties.reported.update(req.payload, (err) => res.send(err ? 500 : 200, { error: err ? String(err) : null }, () => {}));
	});
	await sleep(300);
	out('ready', {});
	while (!fs.existsSync(stopFile)) await sleep(50);
	await c.close();
	out('closed', {});
	process.exit(0);
})().catch((e) => {
	out('error', { error: String(e) });
	process.exit(1);
});
