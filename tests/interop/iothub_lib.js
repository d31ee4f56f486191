// What the IoT Hub interop scripts share: an operator's REST call to
// orchardd (bearer token, JSON both ways) over HTTPS with the test's CA.
'use strict';
const fs = require('fs');
const https = require('https');

// operator(api, token) -> (method, path, body) => Promise<{status, body}>
exports.operator = (api, token) => {
	const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
	return (method, path, body) => new Promise((resolve, reject) => {
		const req = https.request(api + path, { method, ca, headers: {
			Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' } }, (res) => {
			let d = '';
			res.on('data', (c) => (d += c));
			res.on('end', () => resolve({ status: res.statusCode, body: d ? JSON.parse(d) : null }));
		});
		req.on('error', reject);
		req.end(body ? JSON.stringify(body) : undefined);
	});
};
