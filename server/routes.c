/* THE route table: every endpoint orchardd serves, read top to bottom.
 * Columns: method, path pattern, handler, who may call it, body kind and
 * largest body, the wire format of its errors, metric name. */
#include "server/routes.h"

#include "server/handlers.h"

/* A table reads best in columns. */
// clang-format off
const struct route routes[] = {
	{"GET",    "/healthz",          h_health_live,      PUBLIC,                       BODY_NONE, 0,       WIRE_ORCHARD, "healthz"},
	{"GET",    "/readyz",           h_health_ready,     PUBLIC,                       BODY_NONE, 0,       WIRE_ORCHARD, "readyz"},
	{"GET",    "/metrics",          h_metrics_get,      PUBLIC,                       BODY_NONE, 0,       WIRE_ORCHARD, "metrics"},

	{"GET",    "/acme/directory",      h_acme_directory,   PUBLIC,                       BODY_NONE, 0,       WIRE_ACME,    "acme_directory"},
	{"HEAD",   "/acme/new-nonce",      h_acme_new_nonce,   PUBLIC,                       BODY_NONE, 0,       WIRE_ACME,    "acme_new_nonce"},
	{"GET",    "/acme/new-nonce",      h_acme_new_nonce,   PUBLIC,                       BODY_NONE, 0,       WIRE_ACME,    "acme_new_nonce"},
	{"POST",   "/acme/new-account",    h_acme_new_account, ACME_JWS(ACME_JWK),           BODY_JOSE, KiB(16), WIRE_ACME,    "acme_new_account"},
	{"POST",   "/acme/account/{id}",   h_acme_account,     ACME_JWS(ACME_KID),           BODY_JOSE, KiB(16), WIRE_ACME,    "acme_account"},
	{"POST",   "/acme/account/{id}/orders", h_acme_orders, ACME_JWS(ACME_KID),          BODY_JOSE, KiB(16), WIRE_ACME,    "acme_orders"},
	{"POST",   "/acme/account/{id}/orders/{after}", h_acme_orders, ACME_JWS(ACME_KID),  BODY_JOSE, KiB(16), WIRE_ACME,    "acme_orders"},
	{"POST",   "/acme/key-change",     h_acme_key_change,  ACME_JWS(ACME_KID),           BODY_JOSE, KiB(16), WIRE_ACME,    "acme_key_change"},
	{"POST",   "/acme/eab",            h_acme_eab_create,  OPERATOR(SCOPE_ACME_ADMIN),   BODY_JSON, KiB(1),  WIRE_ORCHARD, "acme_eab_create"},
	{"POST",   "/acme/new-order",      h_acme_new_order,   ACME_JWS(ACME_KID | ACME_LATE), BODY_JOSE, KiB(16), WIRE_ACME,  "acme_new_order"},
	{"POST",   "/acme/order/{id}",     h_acme_order,       ACME_JWS(ACME_KID | ACME_LATE), BODY_JOSE, KiB(16), WIRE_ACME,  "acme_order"},
	{"POST",   "/acme/order/{id}/finalize", h_acme_finalize, ACME_JWS(ACME_KID | ACME_LATE), BODY_JOSE, KiB(16), WIRE_ACME, "acme_finalize"},
	{"POST",   "/acme/authz/{id}",     h_acme_authz,       ACME_JWS(ACME_KID | ACME_LATE), BODY_JOSE, KiB(16), WIRE_ACME,  "acme_authz"},
	{"POST",   "/acme/chall/{id}",     h_acme_challenge,   ACME_JWS(ACME_KID | ACME_LATE), BODY_JOSE, KiB(240), WIRE_ACME, "acme_challenge"}, /* device-attest-01: an event log */
	{"POST",   "/acme/cert/{serial}",  h_acme_cert,        ACME_JWS(ACME_KID | ACME_LATE), BODY_JOSE, KiB(16), WIRE_ACME,  "acme_cert"},
	{"POST",   "/acme/revoke-cert",    h_acme_revoke_cert, ACME_JWS(ACME_JWK | ACME_KID), BODY_JOSE, KiB(32), WIRE_ACME,   "acme_revoke_cert"},
	{"GET",    "/acme/renewal-info/{certID}", h_acme_renewal_info, PUBLIC,               BODY_NONE, 0,       WIRE_ACME,    "acme_renewal_info"},

	{"GET",    "/ops/audit",        h_ops_audit_list,   OPERATOR(SCOPE_AUDIT_READ),   BODY_NONE, 0,       WIRE_ORCHARD, "ops_audit"},
	{"GET",    "/ops/audit/stream", h_ops_audit_stream, OPERATOR(SCOPE_AUDIT_READ),   BODY_NONE, 0,       WIRE_ORCHARD, "ops_audit_stream"},
	{"POST",   "/ops/tokens",       h_ops_token_create, OPERATOR(SCOPE_TOKENS_WRITE), BODY_JSON, KiB(16), WIRE_ORCHARD, "ops_token_create"},
	{"GET",    "/ops/tokens/{jti}", h_ops_token_get,    OPERATOR(SCOPE_TOKENS_READ),  BODY_NONE, 0,       WIRE_ORCHARD, "ops_token_get"},
	{"DELETE", "/ops/tokens/{jti}", h_ops_token_revoke, OPERATOR(SCOPE_TOKENS_WRITE), BODY_NONE, 0,       WIRE_ORCHARD, "ops_token_revoke"},

	/* DPS service API (Azure's, api-version 2021-10-01); literals match any case. */
	{"PUT",    "/enrollments/{registrationId}",      h_dps_enrollment_put,    DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_JSON, KiB(16), WIRE_DPS, "dps_enrollment_put"},
	{"GET",    "/enrollments/{registrationId}",      h_dps_enrollment_get,    DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_ENROLLMENT_READ),  BODY_NONE, 0,       WIRE_DPS, "dps_enrollment_get"},
	{"DELETE", "/enrollments/{registrationId}",      h_dps_enrollment_delete, DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_NONE, 0,       WIRE_DPS, "dps_enrollment_delete"},
	{"POST",   "/enrollments/{registrationId}/attestationmechanism", h_dps_enrollment_keys, DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_RAW, KiB(1), WIRE_DPS, "dps_enrollment_keys"},
	{"PUT",    "/enrollmentGroups/{enrollmentGroupId}", h_dps_group_put,      DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_JSON, KiB(16), WIRE_DPS, "dps_group_put"},
	{"GET",    "/enrollmentGroups/{enrollmentGroupId}", h_dps_group_get,      DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_ENROLLMENT_READ),  BODY_NONE, 0,       WIRE_DPS, "dps_group_get"},
	{"DELETE", "/enrollmentGroups/{enrollmentGroupId}", h_dps_group_delete,   DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_NONE, 0,       WIRE_DPS, "dps_group_delete"},
	{"GET",    "/registrations/{registrationId}", h_dps_registration_get, DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_REGISTRATION_READ), BODY_NONE, 0, WIRE_DPS, "dps_registration_get"},
	{"DELETE", "/registrations/{registrationId}", h_dps_registration_delete, DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_REGISTRATION_WRITE), BODY_NONE, 0, WIRE_DPS, "dps_registration_delete"},
	{"POST",   "/enrollmentGroups/{enrollmentGroupId}/attestationmechanism", h_dps_group_keys, DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_RAW, KiB(1), WIRE_DPS, "dps_group_keys"},
	{"POST",   "/enrollments",                       h_dps_enrollment_bulk,   DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_JSON, KiB(160), WIRE_DPS, "dps_enrollment_bulk"},
	{"POST",   "/enrollments/",                      h_dps_enrollment_bulk,   DPS_SERVICE(SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_ENROLLMENT_WRITE), BODY_JSON, KiB(160), WIRE_DPS, "dps_enrollment_bulk"}, /* Node's service SDK */
	{"POST",   "/enrollments/query",                 h_dps_enrollment_query,  DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_ENROLLMENT_READ),  BODY_JSON, KiB(4),  WIRE_DPS, "dps_enrollment_query"},
	{"POST",   "/enrollmentGroups/query",            h_dps_group_query,       DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_ENROLLMENT_READ),  BODY_JSON, KiB(4),  WIRE_DPS, "dps_group_query"},
	{"POST",   "/registrations/{enrollmentGroupId}/query", h_dps_registration_query, DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_REGISTRATION_READ), BODY_JSON, KiB(4), WIRE_DPS, "dps_registration_query"},
	/* Shared access policies (the service SAS): an operator, or a SAS with ServiceConfig. */
	{"PUT",    "/dps/policies/{name}",        h_dps_policy_put,    DPS_SERVICE(SCOPE_ENROLLMENTS_READ | SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_SERVICE_CONFIG), BODY_JSON, KiB(1), WIRE_DPS, "dps_policy_put"},
	{"GET",    "/dps/policies/{name}",        h_dps_policy_get,    DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_SERVICE_CONFIG), BODY_NONE, 0, WIRE_DPS, "dps_policy_get"},
	{"GET",    "/dps/policies",               h_dps_policy_list,   DPS_SERVICE(SCOPE_ENROLLMENTS_READ, DPS_RIGHT_SERVICE_CONFIG), BODY_NONE, 0, WIRE_DPS, "dps_policy_list"},
	{"DELETE", "/dps/policies/{name}",        h_dps_policy_delete, DPS_SERVICE(SCOPE_ENROLLMENTS_READ | SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_SERVICE_CONFIG), BODY_NONE, 0, WIRE_DPS, "dps_policy_delete"},
	{"POST",   "/dps/policies/{name}/rotate", h_dps_policy_rotate, DPS_SERVICE(SCOPE_ENROLLMENTS_READ | SCOPE_ENROLLMENTS_WRITE, DPS_RIGHT_SERVICE_CONFIG), BODY_RAW, KiB(1), WIRE_DPS, "dps_policy_rotate"},

	/* DPS device API: the SAS is checked before the body is read. Node's
	 * poll carries a body "{}", so the GET takes a small raw one. */
	{"PUT",    "/{idScope}/registrations/{registrationId}/register", h_dps_register, DEVICE_SAS_OR_TPM, BODY_JSON, KiB(16), WIRE_DPS, "dps_register"},
	{"GET",    "/{idScope}/registrations/{registrationId}/operations/{operationId}", h_dps_operation, DEVICE_SAS, BODY_RAW, KiB(1), WIRE_DPS, "dps_operation"},
	{"POST",   "/{idScope}/registrations/{registrationId}", h_dps_registration_status, DEVICE_SAS, BODY_RAW, KiB(4), WIRE_DPS, "dps_registration_status"},

	/* The CA's operator API. */
	{"GET",    "/pki/certificates",                 h_pki_cert_list,   OPERATOR(SCOPE_PKI_ADMIN), BODY_NONE, 0,      WIRE_ORCHARD, "pki_cert_list"},
	{"GET",    "/pki/certificates/{serial}",        h_pki_cert_get,    OPERATOR(SCOPE_PKI_ADMIN), BODY_NONE, 0,      WIRE_ORCHARD, "pki_cert_get"},
	{"POST",   "/pki/certificates/{serial}/revoke", h_pki_cert_revoke, OPERATOR(SCOPE_PKI_ADMIN), BODY_JSON, KiB(1), WIRE_ORCHARD, "pki_cert_revoke"},
	{"GET",    "/pki/chain",                        h_pki_chain,       OPERATOR(SCOPE_PKI_ADMIN), BODY_NONE, 0,      WIRE_ORCHARD, "pki_chain"},
	{"GET",    "/pki/crl",                          h_pki_crl,         PUBLIC,                    BODY_NONE, 0,      WIRE_ORCHARD, "pki_crl"},

	/* The TPM attestation CA: the TPM's credential activation is the only authentication. */
	{"POST",   "/attestation/ak/challenge",          h_attest_ak_challenge, PUBLIC, BODY_JSON, KiB(16), WIRE_ORCHARD, "attest_ak_challenge"},
	{"POST",   "/attestation/ak/{id}/activate",      h_attest_ak_activate,  PUBLIC, BODY_JSON, KiB(1),  WIRE_ORCHARD, "attest_ak_activate"},
	{"GET",    "/attestation/crl",                   h_attest_crl,          PUBLIC, BODY_NONE, 0,       WIRE_ORCHARD, "attest_crl"},
	/* device-attest-01's quote gate: a fleet policy per enrollment. */
	{"PUT",    "/attestation/policies/{kind}/{id}",  h_attest_policy_put,   OPERATOR(SCOPE_ENROLLMENTS_WRITE), BODY_JSON, KiB(64), WIRE_ORCHARD, "attest_policy_put"},
	{"GET",    "/attestation/policies/{kind}/{id}",  h_attest_policy_get,   OPERATOR(SCOPE_ENROLLMENTS_READ),  BODY_NONE, 0,       WIRE_ORCHARD, "attest_policy_get"},

	{"GET",    "/twins/{deviceId}", h_twins_get,        OPERATOR(SCOPE_TWINS_READ),   BODY_NONE, 0,       WIRE_ORCHARD, "twins_get"},
	{"PATCH",  "/twins/{deviceId}", h_twins_patch,      OPERATOR(SCOPE_TWINS_WRITE),  BODY_JSON, KiB(64), WIRE_ORCHARD, "twins_patch"},
	{"PUT",    "/twins/{deviceId}", h_twins_put,        OPERATOR(SCOPE_TWINS_WRITE),  BODY_JSON, KiB(64), WIRE_ORCHARD, "twins_put"},
	{"POST",   "/devices/query",    h_twins_query,      OPERATOR(SCOPE_TWINS_READ),   BODY_JSON, KiB(16), WIRE_ORCHARD, "twins_query"},
	{"PUT",    "/configurations/{id}", h_config_put,    OPERATOR(SCOPE_TWINS_WRITE),  BODY_JSON, KiB(64), WIRE_ORCHARD, "config_put"},
	{"GET",    "/configurations/{id}", h_config_get,    OPERATOR(SCOPE_TWINS_READ),   BODY_NONE, 0,       WIRE_ORCHARD, "config_get"},
	{"DELETE", "/configurations/{id}", h_config_delete, OPERATOR(SCOPE_TWINS_WRITE),  BODY_NONE, 0,       WIRE_ORCHARD, "config_delete"},
	{"GET",    "/twins/{deviceId}/history", h_twins_history, OPERATOR(SCOPE_TWINS_READ), BODY_NONE, 0,   WIRE_ORCHARD, "twins_history"},
	/* IoT Hub's direct method over MQTT (server/h_twins_methods.c): waits for the device */
	{"POST",   "/twins/{deviceId}/methods", h_twins_method, OPERATOR(SCOPE_TWINS_WRITE), BODY_JSON, KiB(160), WIRE_ORCHARD, "twins_method"},
	/* telemetry devices sent over MQTT (server/h_devices_messages.c) */
	{"GET",    "/devices/{deviceId}/messages", h_devices_messages, OPERATOR(SCOPE_TWINS_READ), BODY_NONE, 0, WIRE_ORCHARD, "devices_messages"},
	/* every device's telemetry: a long poll, and a stream (server/h_messages_stream.c) */
	{"GET",    "/messages/events", h_devices_messages, OPERATOR(SCOPE_TWINS_READ), BODY_NONE, 0, WIRE_ORCHARD, "messages_events"},
	{"GET",    "/messages/events/stream", h_messages_stream, OPERATOR(SCOPE_TWINS_READ), BODY_NONE, 0, WIRE_ORCHARD, "messages_stream"},
	/* cloud-to-device messages, handed to the device over MQTT (server/h_devices_c2d.c) */
	{"POST",   "/devices/{deviceId}/commands", h_devices_c2d_send,  OPERATOR(SCOPE_TWINS_WRITE), BODY_JSON, KiB(160), WIRE_ORCHARD, "devices_c2d_send"},
	{"GET",    "/devices/{deviceId}/commands", h_devices_c2d_list,  OPERATOR(SCOPE_TWINS_READ),  BODY_NONE, 0, WIRE_ORCHARD, "devices_c2d_list"},
	{"DELETE", "/devices/{deviceId}/commands", h_devices_c2d_purge, OPERATOR(SCOPE_TWINS_WRITE), BODY_NONE, 0, WIRE_ORCHARD, "devices_c2d_purge"},

	/* The depot (docs/depot.md): publishers and packages for operators; a
	 * package's "publisher" is never "packages" or "publishers". */
	{"PUT",    "/depot/publishers/{name}", h_depot_publisher_put,  OPERATOR(SCOPE_DEPOT_WRITE), BODY_JSON, KiB(8), WIRE_ORCHARD, "depot_publisher_put"},
	{"GET",    "/depot/publishers/{name}", h_depot_publisher_get,  OPERATOR(SCOPE_DEPOT_READ),  BODY_NONE, 0,      WIRE_ORCHARD, "depot_publisher_get"},
	{"GET",    "/depot/publishers",        h_depot_publisher_list, OPERATOR(SCOPE_DEPOT_READ),  BODY_NONE, 0,      WIRE_ORCHARD, "depot_publisher_list"},
	{"POST",   "/depot/packages",          h_depot_publish,        OPERATOR(SCOPE_DEPOT_WRITE), BODY_UPLOAD, MiB(2048), WIRE_ORCHARD, "depot_publish"},
	{"GET",    "/depot/packages",          h_depot_package_list,   OPERATOR(SCOPE_DEPOT_READ),  BODY_NONE, 0,      WIRE_ORCHARD, "depot_package_list"},
	{"GET",    "/depot/packages/{publisher}/{name}/{version}", h_depot_package_get,   OPERATOR(SCOPE_DEPOT_READ),  BODY_NONE, 0,      WIRE_ORCHARD, "depot_package_get"},
	{"PATCH",  "/depot/packages/{publisher}/{name}/{version}", h_depot_package_patch, OPERATOR(SCOPE_DEPOT_WRITE), BODY_JSON, KiB(1), WIRE_ORCHARD, "depot_package_patch"},
	{"GET",    "/depot/packages/{publisher}/{name}/{version}/compiled", h_depot_package_compiled, OPERATOR(SCOPE_DEPOT_READ), BODY_NONE, 0, WIRE_ORCHARD, "depot_package_compiled"},
	{"GET",    "/depot/key",               h_depot_key,            PUBLIC,                      BODY_NONE, 0,      WIRE_ORCHARD, "depot_key"},
	/* ... and for devices, with their own credential (any registered device). */
	{"GET",    "/depot/{publisher}/pkg/{name}/{version}",        h_depot_device_manifest, DEVICE_HUB_SELF, BODY_NONE, 0, WIRE_ORCHARD, "depot_device_manifest"},
	{"GET",    "/depot/{publisher}/pkg/{name}/{version}/module", h_depot_device_module,   DEVICE_HUB_SELF, BODY_NONE, 0, WIRE_ORCHARD, "depot_device_module"},
	{"GET",    "/depot/{publisher}/pkg/{name}/{version}/compiled/{target}",           h_depot_device_compiled,           DEVICE_HUB_SELF, BODY_NONE, 0, WIRE_ORCHARD, "depot_device_compiled"},
	{"GET",    "/depot/{publisher}/pkg/{name}/{version}/compiled/{target}/statement", h_depot_device_compiled_statement, DEVICE_HUB_SELF, BODY_NONE, 0, WIRE_ORCHARD, "depot_device_compiled_statement"},

	/* The twin API's device side: a device reads and writes its own twin only. */
	{"GET",    "/devices/{deviceId}/twin",          h_twins_device_get,     DEVICE_HUB, BODY_NONE, 0,       WIRE_ORCHARD, "twins_device_get"},
	{"PATCH",  "/devices/{deviceId}/twin/reported", h_twins_reported,       DEVICE_HUB, BODY_JSON, KiB(64), WIRE_ORCHARD, "twins_reported"},
	{"GET",    "/devices/{deviceId}/twin/desired",  h_twins_device_desired, DEVICE_HUB, BODY_NONE, 0,       WIRE_ORCHARD, "twins_desired"},
	{"GET",    "/devices/{deviceId}/twin/stream",   h_twins_stream,         DEVICE_HUB, BODY_NONE, 0,       WIRE_ORCHARD, "twins_stream"},
};
// clang-format on

const size_t routes_count = sizeof routes / sizeof routes[0];
