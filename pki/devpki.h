/* The development PKI and key files: created on first start under the data
 * folder when the operator configured none, reused afterwards. */
#ifndef ORCHARD_DEVPKI_H
#define ORCHARD_DEVPKI_H

/* Makes sure dir holds root.pem/root.key (a P-256 root CA) and
 * server.pem/server.key (a TLS certificate for localhost, 127.0.0.1 and
 * ::1, chained to the root). Safe against concurrent callers (file lock).
 * Returns 0, or -1 after logging why. */
int devpki_ensure(const char *dir);

/* Makes sure path holds a P-256 private key (PEM, mode 0600), creating it
 * and its folder when missing. Returns 0 or -1. */
int devpki_ensure_key(const char *path);

#endif
