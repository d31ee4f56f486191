// orchardd goes away while a device stays connected to the broker: its twin
// requests are answered 503 at once (no SDK waits forever); once orchardd is
// back, the same connection is served again, and desired changes reach it
// though it neither reconnects nor GETs (the new orchardd asks the plugin
// for the devices connected). Uses mqtt.js, the SDK's own
// MQTT library, so the test controls the timing.
// argv: mqttPort hub device key downFile upFile
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const mqtt = require('mqtt');

const [port, hub, dev, key, downFile, upFile] = process.argv.slice(2);
const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
const out = (step, o) => console.log(JSON.stringify({ step, ...o }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sr = encodeURIComponent(hub + '/devices/' + dev), se = Math.floor(Date.now() / 1000) + 3600;
const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(sr + '\n' + se).digest('base64');
const got = [];

async function ask(c, topic, body) {
	const rid = crypto.randomUUID();
	c.publish(topic + '?$rid=' + rid, body);
	for (let i = 0; i < 250; i++, await sleep(20)) {
		const m = got.find((x) => x.t.includes('$rid=' + rid));
		if (m) return m.t.split('/')[3];
	}
	return 'none';
}

async function main() {
	const c = mqtt.connect(`mqtts://${hub}:${port}`, { clientId: dev, username: `${hub}/${dev}/?api-version=2021-04-12`,
		password: `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`,
		protocolVersion: 4, clean: false, ca, reconnectPeriod: 0 });
	c.on('message', (t, p) => got.push({ t, p: p.toString() }));
	await new Promise((r, j) => { c.once('connect', r); c.once('error', j); });
	const get = (c) => ask(c, '$iothub/twin/GET/', ' ');
	await new Promise((r) => c.subscribe('$iothub/twin/res/#', r));
	await new Promise((r) => c.subscribe('$iothub/twin/PATCH/properties/desired/#', r));
	out('connected', { before: await get(c) });
	while (!fs.existsSync(downFile)) await sleep(20);
	const t0 = Date.now(), down = await get(c);
	out('down', { status: down, ms: Date.now() - t0, body: got[got.length - 1].p });
	while (!fs.existsSync(upFile)) await sleep(20);
	let back = 'none';
	// a reported PATCH, not a GET: a GET would make orchardd follow it anyway
	for (const end = Date.now() + 10000; Date.now() < end && back !== '204'; await sleep(100))
		back = await ask(c, '$iothub/twin/PATCH/properties/reported/', '{"alive":true}');
	out('back', { status: back });
	for (let i = 0; i < 500 && !got.some((x) => x.t.startsWith('$iothub/twin/PATCH/properties/desired/')); i++) await sleep(20);
	out('pushed', { got: got.filter((x) => x.t.startsWith('$iothub/twin/PATCH/properties/desired/')) });
	c.end(true);
}
main().then(() => process.exit(0), (e) => { out('error', { message: String(e && e.stack || e) }); process.exit(1); });
