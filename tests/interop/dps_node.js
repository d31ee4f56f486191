// Registers two devices with Microsoft's Azure IoT provisioning device SDK
// for Node.js, unmodified: one from an individual enrollment's key, one
// with a device key derived from an enrollment group's key.
// Usage: node dps_node.js PORT IDSCOPE REGID KEY GROUPREGID GROUPKEY
'use strict';
const crypto = require('crypto');
const https = require('https');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Http } = require('azure-iot-provisioning-device-http');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');

const [port, idScope, regId, key, groupRegId, groupKey] = process.argv.slice(2);
// The SDK takes no port in provisioningHost: it connects to the global
// agent's default port.
https.globalAgent.defaultPort = Number(port);

function register(id, deviceKey) {
  const security = new SymmetricKeySecurityClient(id, deviceKey);
  const client = ProvisioningDeviceClient.create('localhost', idScope, new Http(), security);
  return new Promise((resolve, reject) => {
    client.register((err, result) => (err ? reject(err) : resolve(result)));
  });
}

// The group device key, as Microsoft's samples compute it.
function deriveKey(groupKeyB64, id) {
  return crypto.createHmac('sha256', Buffer.from(groupKeyB64, 'base64')).update(id, 'utf8').digest('base64');
}

(async () => {
  for (const [label, id, k] of [['individual', regId, key],
    ['group', groupRegId, deriveKey(groupKey, groupRegId)]]) {
    try {
      const r = await register(id, k);
      console.log(JSON.stringify({ label, status: r.status, deviceId: r.deviceId, assignedHub: r.assignedHub }));
    } catch (e) {
      console.log(JSON.stringify({ label, error: String(e && (e.message || e)) }));
    }
  }
})();
