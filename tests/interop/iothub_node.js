// Interop: Microsoft's azure-iot-device with azure-iot-device-mqtt,
// unmodified, follows its twin through mosquitto + the Orchard plugin +
// orchardd; mqtt.js (the SDK's own MQTT library) plays a hostile device.
// Prints one JSON line per step; the shell script checks them.
// argv: mqttPort httpsUrl operatorToken hub dev1 key1 dev2 key2 dev3 key3 mosquittoLog
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const mqtt = require('mqtt');
const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const [port, api, token, hub, dev1, key1, dev2, key2, dev3, key3, mosquittoLog] = process.argv.slice(2);
const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
const out = (step, o) => console.log(JSON.stringify({ step, ...o }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const operator = require('./iothub_lib').operator(api, token);

function sas(id, key, se) {
	const sr = encodeURIComponent(hub + '/devices/' + id);
	se = se || Math.floor(Date.now() / 1000) + 3600;
	const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(sr + '\n' + se).digest('base64');
	return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`;
}

// A raw MQTT 3.1.1 connection as the SDK makes it; resolves to the client
// or to the CONNACK refusal code.
function raw(clientId, userId, password) {
	return new Promise((resolve) => {
		const c = mqtt.connect(`mqtts://${hub}:${port}`, { clientId, username: `${hub}/${userId}/?api-version=2021-04-12`,
			password, protocolVersion: 4, clean: false, ca, reconnectPeriod: 0, connectTimeout: 10000 });
		c.got = [];
		c.on('message', (t, p) => c.got.push({ t, p: p.toString() }));
		c.once('connect', () => resolve(c));
		c.toJSON = () => 'connected';
		c.once('error', (e) => { c.end(true); resolve(e.code === undefined ? String(e) : e.code); });
	});
}
const sub = (c, f) => new Promise((r) => c.subscribe(f, { qos: 0 }, (e, g) => r(g ? g[0].qos : String(e))));
const pub = (c, t, p) => new Promise((r) => c.publish(t, p, { qos: 0 }, () => r()));
async function until(what, f, ms = 10000) {
	for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (f()) return true;
	out('timeout', { what });
	return false;
}
// A twin request on a raw client: resolves to the response's topic and body
// (undefined after 10 s).
function ask(c, topic, body) {
	const rid = crypto.randomUUID();
	return new Promise((resolve) => {
		const done = (v) => { c.removeListener('message', on); clearTimeout(tm); resolve(v); };
		const on = (t, p) => t.includes('$rid=' + rid) && done({ t, p: p.toString() });
		const tm = setTimeout(() => { out('timeout', { what: topic }); done(undefined); }, 10000);
		c.on('message', on);
		c.publish(topic + '?$rid=' + rid, body, { qos: 0 });
	});
}
// The next message on c whose topic includes part (undefined after 10 s).
function next(c, part) {
	return new Promise((resolve) => {
		const done = (v) => { c.removeListener('message', on); clearTimeout(tm); resolve(v); };
		const on = (t, p) => t.includes(part) && done({ t, p: p.toString() });
		const tm = setTimeout(() => { out('timeout', { what: part }); done(undefined); }, 10000);
		c.on('message', on);
	});
}

async function main() {
	const cs = (id, key) => `HostName=${hub};DeviceId=${id};SharedAccessKey=${key};GatewayHostName=${hub}:${port}`;
	const c1 = Client.fromConnectionString(cs(dev1, key1), Mqtt);
	const c2 = Client.fromConnectionString(cs(dev2, key2), Mqtt);
	c1.setOptions({ ca });
	// the second device renews its SAS every 2 s: the SDK disconnects and
	// connects again with the new one
	c2.setOptions({ ca, tokenRenewal: { tokenValidTimeInSeconds: 6, tokenRenewalMarginInSeconds: 4 } });
	await c1.open();
	await c2.open();
	const t1 = await c1.getTwin(), t2 = await c2.getTwin();
	out('getTwin', { desired: t1.properties.desired, reported: t1.properties.reported, other: t2.properties.desired });
	const seen1 = [], seen2 = [];
	t1.on('properties.desired', (p) => seen1.push(p));
	t2.on('properties.desired', (p) => seen2.push(p));
	await new Promise((r, j) => t1.properties.reported.update({ firmware: '1.2.3', temp: 21 }, (e) => (e ? j(e) : r())));
	const op = await operator('GET', `/twins/${dev1}`);
	out('reported', { status: op.status, reported: op.body.properties.reported, other: (await operator('GET', `/twins/${dev2}`)).body.properties.reported });
	const n1 = seen1.length, n2 = seen2.length;
	const p = await operator('PATCH', `/twins/${dev1}`, { properties: { desired: { color: 'red', app: null } } });
	await until('desired push', () => seen1.length > n1);
	out('desired', { status: p.status, patch: seen1[n1], local: t1.properties.desired,
		others: seen2.slice(n2).filter((x) => 'color' in x).length });
	let err = null;
	await new Promise((r) => t1.properties.reported.update({ bad: 'x'.repeat(5000) }, (e) => { err = e; r(); }));
	out('refused', { error: err ? err.message : null });

	// after a SAS renewal (a reconnect), desired still reaches the device and
	// its reported updates still land
	await until('a SAS renewal', () => (fs.readFileSync(mosquittoLog, 'utf8').match(new RegExp(`connected from .* as ${dev2} `, 'g')) || []).length >= 2);
	const connects2 = fs.readFileSync(mosquittoLog, 'utf8').match(new RegExp(`connected from .* as ${dev2} `, 'g')).length;
	const m2 = seen2.length;
	await operator('PATCH', `/twins/${dev2}`, { properties: { desired: { renewed: true } } });
	await until('desired after renewal', () => seen2.slice(m2).some((x) => x.renewed === true));
	let rerr = 'pending';
	await new Promise((r) => t2.properties.reported.update({ renewed: connects2 }, (e) => { rerr = e ? e.message : null; r(); }));
	out('renewal', { connects: connects2, pushed: seen2.slice(m2).some((x) => x.renewed === true), reportedError: rerr,
		reported: (await operator('GET', `/twins/${dev2}`)).body.properties.reported.renewed });
	await c1.close();
	await c2.close();
	// the hostile device (the SDK clients are gone: one connection per client id)
	const r1 = await raw(dev1, dev1, sas(dev1, key1)), r2 = await raw(dev2 + '-raw', dev2, sas(dev2, key2));
	out('raw-other-client-id', { code: r2 });
	const r3 = await raw(dev2, dev2, sas(dev2, key2));
	const refused = {};
	refused.wrongKey = await raw(dev1 + '', dev1, sas(dev1, key2));
	refused.expired = await raw(dev1, dev1, sas(dev1, key1, Math.floor(Date.now() / 1000) - 3600));
	refused.otherDevice = await raw(dev2, dev2, sas(dev1, key1));
	refused.unknown = await raw('nobody', 'nobody', sas('nobody', key1));
	refused.backendName = await raw('orchardd-x', 'x', 'guess');
	out('connack', refused);
	const grants = {};
	for (const f of [`devices/${dev2}/messages/devicebound/#`, '#', 'orchard/#', '$iothub/twin/GET/#', '$share/g/orchard/up/#'])
		grants[f] = await sub(r1, f);
	grants.own = await sub(r1, '$iothub/twin/res/#');
	await sub(r3, '$iothub/twin/res/#');
	out('suback', grants);
	await pub(r1, `orchard/down/${dev2}/twin/res/200/?$rid=forged`, '{"desired":{}}');
	await pub(r1, '$iothub/twin/PATCH/properties/desired/?$version=99', '{"evil":1}');
	const before = (await operator('GET', `/twins/${dev1}`)).body;
	const bad = await ask(r1, '$iothub/twin/PATCH/properties/reported/', '{nope');
	const deep = await ask(r1, '$iothub/twin/PATCH/properties/reported/', JSON.stringify({ a: { b: { c: { d: { e: { f: { g: { h: { i: { j: { k: 1 } } } } } } } } } } }));
	const big = await ask(r1, '$iothub/twin/PATCH/properties/reported/', JSON.stringify({ big: 'y'.repeat(4000), more: Array.from({ length: 9 }, () => 'z'.repeat(4000)) }));
	const after = (await operator('GET', `/twins/${dev1}`)).body;
	const own = await ask(r3, '$iothub/twin/GET/', ' ');
	out('bad-input', { bad, deep, big, unchanged: before.etag === after.etag && before.version === after.version,
		dev2Got: r3.got.map((x) => x.t), dev2Own: own && JSON.parse(own.p).desired });
	const ok = await ask(r1, '$iothub/twin/PATCH/properties/reported/', '{"raw":true}');
	out('raw-reported', { topic: ok && ok.t, body: ok && ok.p });
	// a flood from one device: beyond its rate, answered 429 by the plugin;
	// another device is served as usual meanwhile
	const n0 = r1.got.length, flood = 300;
	for (let i = 0; i < flood; i++) r1.publish('$iothub/twin/GET/?$rid=flood-' + i, ' ');
	const t0 = Date.now(), meanwhile = await ask(r3, '$iothub/twin/GET/', ' '), otherMs = Date.now() - t0;
	await until('every flood request answered', () => r1.got.slice(n0).filter((x) => x.t.includes('$rid=flood-')).length >= flood);
	const codes = r1.got.slice(n0).filter((x) => x.t.includes('$rid=flood-')).map((x) => x.t.split('/')[3]);
	out('flood', { answered: codes.length, ok: codes.filter((c) => c === '200').length,
		limited: codes.filter((c) => c === '429').length, other: meanwhile && meanwhile.t.split('/')[3], otherMs });
	// a device that only subscribes (never GETs) is pushed desired changes too
	const r4 = await raw(dev3, dev3, sas(dev3, key3));
	const granted = await sub(r4, '$iothub/twin/PATCH/properties/desired/#');
	// orchardd hears of the SUBSCRIBE from the plugin after the SUBACK, with
	// nothing a client can observe; under load a PATCH could beat it
	await sleep(500);
	const p3 = await operator('PATCH', `/twins/${dev3}`, { properties: { desired: { who: null, level: 7 } } });
	await until('push to a subscriber', () => r4.got.length > 0);
	out('subscribed-only', { granted, status: p3.status, got: r4.got });
	// timings (reported in docs/mqtt.md): 50 sequential reported PATCHes,
	// and 20 operator PATCHes until their push arrives
	await sub(r4, '$iothub/twin/res/#');
	const rtt = [], push = [];
	for (let i = 0; i < 50; i++) {
		const t = process.hrtime.bigint(), a = await ask(r4, '$iothub/twin/PATCH/properties/reported/', `{"i":${i}}`);
		if (a && a.t.split('/')[3] === '204') rtt.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	for (let i = 0; i < 20; i++) {
		const t = process.hrtime.bigint(), pushed = next(r4, 'desired');
		await operator('PATCH', `/twins/${dev3}`, { properties: { desired: { i } } });
		if (await pushed) push.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	const pct = (a, q) => a.slice().sort((x, y) => x - y)[Math.floor(q * (a.length - 1))];
	out('timing', { reported: rtt.length, reportedP50: pct(rtt, 0.5), reportedP99: pct(rtt, 0.99),
		pushes: push.length, pushP50: pct(push, 0.5), pushP99: pct(push, 0.99) });
	// a connection whose SAS expires (se plus orchardd's 300 s of skew, 2 s
	// from now) is refused from then on, and closed at the next event of
	// another client (mosquitto 2.0.11 gives plugins no timer)
	const short = await raw(dev1, dev1, sas(dev1, key1, Math.floor(Date.now() / 1000) - 298));
	let closed = false;
	if (typeof short === 'object') short.once('close', () => (closed = true));
	const early = typeof short === 'object' ? await sub(short, '$iothub/twin/res/#') : null;
	await sleep(3000); // the SAS's time runs out: nothing to wait on but the clock
	const late = typeof short === 'object' && !closed ? await sub(short, '$iothub/twin/PATCH/properties/desired/#') : null;
	await ask(r3, '$iothub/twin/GET/', ' ');
	await until('the expired connection closed', () => closed);
	out('expiry', { connected: typeof short === 'object', early, late, closed });
	for (const c of [r1, r3, r4]) c.end(true);
	if (typeof short === 'object') short.end(true);
}
main().then(() => process.exit(0), (e) => { out('error', { message: String(e && e.stack || e) }); process.exit(1); });
