/* Every request handler, by family; routes.c maps them to endpoints. Each
 * takes the request, queues exactly one response and returns MHD's verdict. */
#ifndef ORCHARD_HANDLERS_H
#define ORCHARD_HANDLERS_H

struct request;

/* h_acme_directory.c */
int h_acme_directory(struct request *req);
int h_acme_new_nonce(struct request *req);

/* h_acme_account.c */
int h_acme_new_account(struct request *req);
int h_acme_account(struct request *req);
int h_acme_key_change(struct request *req);

/* h_acme_eab.c */
int h_acme_eab_create(struct request *req);

/* h_acme_order.c */
int h_acme_new_order(struct request *req);
int h_acme_order(struct request *req);
int h_acme_orders(struct request *req);

/* h_acme_cert.c */
int h_acme_finalize(struct request *req);
int h_acme_cert(struct request *req);
int h_acme_revoke_cert(struct request *req);

/* h_acme_renewal.c */
int h_acme_renewal_info(struct request *req);

/* h_acme_authz.c */
int h_acme_authz(struct request *req);
/* h_acme_chall.c */
int h_acme_challenge(struct request *req);

/* h_health.c */
int h_health_live(struct request *req);
int h_health_ready(struct request *req);
int h_metrics_get(struct request *req);

/* h_ops_audit.c */
int h_ops_audit_list(struct request *req);

/* h_ops_audit_stream.c */
int h_ops_audit_stream(struct request *req);

/* h_pki_certificates.c */
int h_pki_cert_list(struct request *req);
int h_pki_cert_get(struct request *req);
int h_pki_cert_revoke(struct request *req);

/* h_pki_crl.c */
int h_pki_chain(struct request *req);
int h_pki_crl(struct request *req);

/* h_depot_publishers.c, h_depot_packages.c, h_depot_download.c: the depot */
int h_depot_publisher_put(struct request *req);
int h_depot_publisher_get(struct request *req);
int h_depot_publisher_list(struct request *req);
int h_depot_publish(struct request *req);
int h_depot_package_list(struct request *req);
int h_depot_package_get(struct request *req);
int h_depot_package_patch(struct request *req);
int h_depot_device_manifest(struct request *req);
int h_depot_device_module(struct request *req);
/* h_depot_compiled.c and h_depot_download.c: compiled forms */
int h_depot_key(struct request *req);
int h_depot_package_compiled(struct request *req);
int h_depot_device_compiled(struct request *req);
int h_depot_device_compiled_statement(struct request *req);

/* h_attest_ak.c: the TPM attestation CA (AK certificates) */
int h_attest_ak_challenge(struct request *req);
int h_attest_ak_activate(struct request *req);
/* h_attest_crl.c: the attestation CA's CRL */
int h_attest_crl(struct request *req);
/* h_attest_policy.c: the quote gate's policies */
int h_attest_policy_put(struct request *req);
int h_attest_policy_get(struct request *req);

/* h_ops_tokens.c */
int h_ops_token_create(struct request *req);
int h_ops_token_get(struct request *req);
int h_ops_token_revoke(struct request *req);

/* h_dps_enrollments.c: the DPS service API */
int h_dps_enrollment_put(struct request *req);
int h_dps_enrollment_get(struct request *req);
int h_dps_enrollment_delete(struct request *req);
int h_dps_enrollment_keys(struct request *req);
int h_dps_group_put(struct request *req);
int h_dps_group_get(struct request *req);
int h_dps_group_delete(struct request *req);
int h_dps_group_keys(struct request *req);
int h_dps_enrollment_query(struct request *req);
int h_dps_enrollment_bulk(struct request *req);
int h_dps_group_query(struct request *req);

/* h_dps_register.c: the DPS device API */
int h_dps_register(struct request *req);
int h_dps_operation(struct request *req);
int h_dps_registration_status(struct request *req);

/* h_dps_policies.c: shared access policies (the service SAS) */
int h_dps_policy_put(struct request *req);
int h_dps_policy_get(struct request *req);
int h_dps_policy_list(struct request *req);
int h_dps_policy_delete(struct request *req);
int h_dps_policy_rotate(struct request *req);

/* h_dps_registrations.c: registration states in the service API */
int h_dps_registration_get(struct request *req);
int h_dps_registration_delete(struct request *req);
int h_dps_registration_query(struct request *req);

/* h_twins_get.c */
int h_twins_get(struct request *req);
int h_twins_device_get(struct request *req);	 /* GET /devices/{id}/twin */
int h_twins_device_desired(struct request *req); /* GET /devices/{id}/twin/desired */

/* h_twins_reported.c: PATCH /devices/{id}/twin/reported */
int h_twins_reported(struct request *req);

/* h_twins_stream.c: GET /devices/{id}/twin/stream */
int h_twins_stream(struct request *req);

/* h_twins_history.c: GET /twins/{id}/history */
int h_twins_history(struct request *req);

/* h_twins_methods.c: POST /twins/{id}/methods (a direct method over MQTT) */
int h_twins_method(struct request *req);

/* h_devices_messages.c: GET /devices/{id}/messages (stored telemetry), and
 * GET /messages/events (every device's) */
int h_devices_messages(struct request *req);
/* h_messages_stream.c: GET /messages/events/stream */
int h_messages_stream(struct request *req);
/* h_devices_c2d.c: POST, GET, DELETE /devices/{id}/commands */
int h_devices_c2d_send(struct request *req);
int h_devices_c2d_list(struct request *req);
int h_devices_c2d_purge(struct request *req);

/* h_twins_update.c */
int h_twins_patch(struct request *req);
int h_twins_put(struct request *req);

/* h_twins_query.c */
int h_twins_query(struct request *req);

/* h_configurations.c */
int h_config_put(struct request *req);
int h_config_get(struct request *req);
int h_config_delete(struct request *req);

#endif
