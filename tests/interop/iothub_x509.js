// X.509 over MQTT: Microsoft's azure-iot-device with azure-iot-device-mqtt,
// unmodified, connects with a device certificate (x509=true in the
// connection string, setOptions({cert, key})) through mosquitto's X.509
// listener + the Orchard plugin: getTwin, a reported update, a desired
// push, a direct method. Prints one JSON line per step.
// The SDK ignores GatewayHostName with x509=true (it keeps only HostName),
// so the port travels in HostName: harmless without a SAS (no sr to sign).
// argv: mqttPort hub dev certFile keyFile httpsUrl operatorToken
'use strict';
const fs = require('fs');
const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const [port, hub, dev, certFile, keyFile, api, token] = process.argv.slice(2);
const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
const out = (step, o) => console.log(JSON.stringify({ step, ...o }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const operator = require('./iothub_lib').operator(api, token);

(async () => {
	const c = Client.fromConnectionString(`HostName=${hub}:${port};DeviceId=${dev};x509=true`, Mqtt);
	c.setOptions({ ca, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') });
	await c.open();
	const twin = await c.getTwin();
	out('getTwin', { desired: twin.properties.desired });
	await new Promise((res, rej) => twin.properties.reported.update({ fw: 'x509-1.0' }, (e) => (e ? rej(e) : res())));
	const rep = await operator('GET', '/twins/' + dev);
	out('reported', { status: rep.status, fw: rep.body.properties.reported.fw });
	const got = new Promise((r) => twin.on('properties.desired', (p) => { if (p.color) r(p); }));
	await sleep(200);
	const patch = await operator('PATCH', '/twins/' + dev, { properties: { desired: { color: 'blue' } } });
	const p = await Promise.race([got, sleep(5000).then(() => null)]);
	out('desired', { status: patch.status, color: p && p.color });
	c.onDeviceMethod('ping', (req, res) => res.send(200, { pong: req.payload }, () => {}));
	await sleep(300);
	const m = await operator('POST', `/twins/${dev}/methods?api-version=2021-10-01`, { methodName: 'ping', payload: 42 });
	out('method', { status: m.status, body: m.body });
	await c.close();
	process.exit(0);
})().catch((e) => {
	out('error', { error: String(e) });
	process.exit(1);
});
