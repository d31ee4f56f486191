// A device for the direct-method test: Microsoft's azure-iot-device with
// azure-iot-device-mqtt, unmodified, answers methods an operator invokes
// with curl (tests/interop/iothub_methods.sh). Methods: "echo" answers 200
// with what it got, "fail" answers 500, "slow" never answers, "relay"
// never answers but hands its request id to a second, hostile device
// (mqtt.js, when dev2 is given) that answers in its place, "send" sends
// telemetry with the SDK's sendEvent (a Message with properties) and
// answers with the outcome; a cloud-to-device message is printed and
// completed. Prints one JSON line per event; ends when the
// file stopFile appears.
// argv: mqttPort hub dev key stopFile [dev2 key2]
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const mqtt = require('mqtt');
const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const [port, hub, dev, key, stopFile, dev2, key2] = process.argv.slice(2);
const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
const out = (step, o) => console.log(JSON.stringify({ step, ...o }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sas(id, k) {
	const sr = encodeURIComponent(hub + '/devices/' + id), se = Math.floor(Date.now() / 1000) + 3600;
	const sig = crypto.createHmac('sha256', Buffer.from(k, 'base64')).update(sr + '\n' + se).digest('base64');
	return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`;
}

(async () => {
	let hostile = null;
	if (dev2) {
		hostile = mqtt.connect(`mqtts://${hub}:${port}`, { clientId: dev2, username: `${hub}/${dev2}/?api-version=2021-04-12`,
			password: sas(dev2, key2), protocolVersion: 4, clean: false, ca, reconnectPeriod: 0 });
		await new Promise((r) => hostile.once('connect', r));
	}
	const c = Client.fromConnectionString(`HostName=${hub};DeviceId=${dev};SharedAccessKey=${key};GatewayHostName=${hub}:${port}`, Mqtt);
	c.setOptions({ ca });
	await c.open();
	c.onDeviceMethod('echo', (req, res) => {
		out('call', { name: req.methodName, payload: req.payload });
		res.send(200, { got: req.payload, name: req.methodName }, () => {});
	});
	c.onDeviceMethod('fail', (req, res) => {
		out('call', { name: req.methodName });
		res.send(500, { why: 'cannot' }, () => {});
	});
	c.onDeviceMethod('slow', (req) => out('call', { name: req.methodName }));
	c.onDeviceMethod('relay', (req) => {
		out('call', { name: req.methodName });
		// another device tries to answer for this one
		if (hostile) hostile.publish(`$iothub/methods/res/200/?$rid=${req.requestId}`, '{"forged":true}');
	});
	c.onDeviceMethod('send', (req, res) => {
		out('call', { name: req.methodName });
		const m = new Message(JSON.stringify(req.payload));
		m.properties.add('kind', 'reading');
		m.messageId = 'msg-' + req.payload.n;
		m.contentType = 'application/json';
		m.contentEncoding = 'utf-8';
		c.sendEvent(m, (err) => res.send(err ? 500 : 200, { sent: !err, error: err ? String(err) : null }, () => {}));
	});
	// cloud-to-device messages: the SDK subscribes to its devicebound topic
	c.on('message', (msg) => {
		out('c2d', { data: msg.data.toString(), messageId: msg.messageId, correlationId: msg.correlationId,
			contentType: msg.contentType, prio: msg.properties.getValue('prio') });
		c.complete(msg, () => {});
	});
	// the SDK subscribes to $iothub/methods/POST/# on the first onDeviceMethod
	await sleep(300);
	out('ready', {});
	while (!fs.existsSync(stopFile)) await sleep(50);
	await c.close();
	if (hostile) hostile.end(true);
	out('closed', {});
	process.exit(0);
})().catch((e) => {
	out('error', { error: String(e) });
	process.exit(1);
});
