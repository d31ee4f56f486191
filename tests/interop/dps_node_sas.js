// Microsoft's Node.js service SDK, unmodified, with a shared access policy's
// connection string (the service SAS): azure-iot-provisioning-service's
// fromConnectionString creates, reads, queries and deletes an enrollment;
// a read-only policy reads but is refused a write.
// Usage: node dps_node_sas.js PORT OWNER_KEY READER_KEY
'use strict';
const https = require('https');
const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');

const [port, ownerKey, readerKey] = process.argv.slice(2);
https.globalAgent.defaultPort = Number(port);
const out = (o) => console.log(JSON.stringify(o));
const cs = (name, key) => `HostName=localhost;SharedAccessKeyName=${name};SharedAccessKey=${key}`;

(async () => {
  try {
    const owner = ProvisioningServiceClient.fromConnectionString(cs('provisioningserviceowner', ownerKey));
    const r = await owner.createOrUpdateIndividualEnrollment({ registrationId: 'sas-node-1', attestation: { type: 'symmetricKey' } });
    out({ step: 'create', id: r.responseBody.registrationId, hasKey: !!r.responseBody.attestation.symmetricKey.primaryKey });
    const got = await owner.getIndividualEnrollment('sas-node-1');
    out({ step: 'get', id: got.responseBody.registrationId });
    const page = await owner.createIndividualEnrollmentQuery({ query: '*' }).next();
    out({ step: 'query', ids: page.responseBody.map((e) => e.registrationId) });
    const reader = ProvisioningServiceClient.fromConnectionString(cs('reader', readerKey));
    const rgot = await reader.getIndividualEnrollment('sas-node-1');
    out({ step: 'reader-get', id: rgot.responseBody.registrationId });
    try {
      await reader.createOrUpdateIndividualEnrollment({ registrationId: 'sas-node-2', attestation: { type: 'symmetricKey' } });
      out({ step: 'reader-write', refused: false });
    } catch (e) {
      out({ step: 'reader-write', refused: true, status: e.response && e.response.statusCode });
    }
    await owner.deleteIndividualEnrollment('sas-node-1');
    try {
      await owner.getIndividualEnrollment('sas-node-1');
      out({ step: 'deleted', gone: false });
    } catch (e) {
      out({ step: 'deleted', gone: true, status: e.response && e.response.statusCode });
    }
  } catch (e) {
    out({ step: 'error', error: String(e && (e.message || e)) });
  }
})();
