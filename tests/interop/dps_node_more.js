// Microsoft's Node.js SDKs, unmodified, against orchardd beyond symmetric
// keys: azure-iot-security-x509 registers a device with its client
// certificate, and azure-iot-provisioning-service (with a token credential
// carrying an Orchard operator token) creates, reads, queries and deletes
// enrollments and runs a bulk operation.
// Usage: node dps_node_more.js PORT IDSCOPE X509_REGID CERT.pem KEY.pem TOKEN
'use strict';
const fs = require('fs');
const https = require('https');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Http } = require('azure-iot-provisioning-device-http');
const { X509Security } = require('azure-iot-security-x509');
const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');

const [port, idScope, x509Id, certFile, keyFile, token] = process.argv.slice(2);
https.globalAgent.defaultPort = Number(port);
const out = (o) => console.log(JSON.stringify(o));

async function x509() {
  const security = new X509Security(x509Id, { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') });
  const client = ProvisioningDeviceClient.create('localhost', idScope, new Http(), security);
  const r = await new Promise((resolve, reject) => client.register((e, res) => (e ? reject(e) : resolve(res))));
  out({ step: 'x509', status: r.status, deviceId: r.deviceId });
}

async function service() {
  const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600e3 }) };
  const svc = ProvisioningServiceClient.fromTokenCredential('localhost', credential);
  for (const id of ['svc-1', 'svc-2', 'svc-3']) {
    const r = await svc.createOrUpdateIndividualEnrollment({ registrationId: id, attestation: { type: 'symmetricKey' } });
    out({ step: 'create', id: r.responseBody.registrationId, hasKey: !!r.responseBody.attestation.symmetricKey.primaryKey });
  }
  const got = await svc.getIndividualEnrollment('svc-2');
  out({ step: 'get', id: got.responseBody.registrationId, etag: !!got.responseBody.etag });
  const q = svc.createIndividualEnrollmentQuery({ query: '*' }, 2);
  const ids = [];
  let pages = 0;
  while (q.hasMoreResults) {
    // next() without arguments forgets the token (its promise form): pass it.
    const page = await q.next(q.continuationToken);
    pages++;
    if (pages > 5) throw new Error('too many pages: ' + JSON.stringify(page.responseBody) + ' ' + q.continuationToken);
    for (const e of page.responseBody) ids.push(e.registrationId);
  }
  out({ step: 'query', pages, ids });
  // runBulkEnrollmentOperation's promise form never settles (the SDK calls
  // back only when given a callback): use the callback.
  const op = { mode: 'create', enrollments: [{ registrationId: 'svc-3', attestation: { type: 'symmetricKey' } }, { registrationId: 'svc-4', attestation: { type: 'symmetricKey' } }] };
  const bulk = await new Promise((resolve, reject) => svc.runBulkEnrollmentOperation(op, (e, body) => (e ? reject(e) : resolve(body))));
  out({ step: 'bulk', isSuccessful: bulk.isSuccessful, errors: bulk.errors.map((e) => e.registrationId + ':' + e.errorCode) });
  for (const id of ['svc-1', 'svc-2', 'svc-3', 'svc-4']) await svc.deleteIndividualEnrollment(id);
  try {
    await svc.getIndividualEnrollment('svc-1');
    out({ step: 'deleted', gone: false });
  } catch (e) {
    out({ step: 'deleted', gone: true, status: e.response && e.response.statusCode });
  }
}

(async () => {
  for (const [name, f] of [['x509', x509], ['service', service]]) {
    try {
      await f();
    } catch (e) {
      out({ step: name, error: String(e && (e.message || e)) });
    }
  }
})();
