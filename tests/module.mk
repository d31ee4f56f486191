# tests/: the server's and common/'s tests. Other modules register theirs in
# their own fragments.
$(BUILD)/tests/unit/common/test_common: $(BUILD)/tests/unit/common/test_common.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson -lcrypto

$(BUILD)/tests/unit/server/test_router: $(BUILD)/tests/unit/server/test_router.o $(BUILD)/server/router.o \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BUILD)/tests/unit/server/test_edge: $(BUILD)/tests/unit/server/test_edge.o $(BUILD)/server/edge.o \
		$(BUILD)/server/reply.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmicrohttpd -ljansson -lpthread

$(BUILD)/tests/unit/server/test_store.o: CFLAGS += $(PQ_CFLAGS)
$(BUILD)/tests/unit/server/test_store: $(BUILD)/tests/unit/server/test_store.o \
		$(filter $(BUILD)/server/store/%,$(SERVER_OBJS)) $(BUILD)/gen/migrations.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lpq -ljansson -lcrypto -lpthread

# Needs PostgreSQL, so tests/integration/store.sh runs it.
build-all: $(BUILD)/tests/unit/server/test_store

UNIT_TESTS += $(BUILD)/tests/unit/common/test_common $(BUILD)/tests/unit/server/test_router \
	$(BUILD)/tests/unit/server/test_edge
# The docs guard: the shell examples of README.md and docs/*.md against a real orchardd.
TEST_SCRIPTS += tests/integration/docs.sh
TEST_SCRIPTS += tests/lint.sh tests/integration/server.sh tests/integration/store.sh \
	tests/integration/server_abuse.sh tests/integration/pipeline.sh tests/integration/errors.sh \
	tests/integration/waits.sh tests/integration/store_deadline.sh tests/integration/tokens.sh \
	tests/integration/dps.sh tests/integration/dps_tpm.sh tests/integration/dps_x509.sh tests/integration/dps_service.sh tests/integration/dps_alloc.sh tests/integration/dps_policies.sh
# The TPM attestation CA (AK certificates) with swtpm.
TEST_SCRIPTS += tests/integration/attest_ak.sh
# device-attest-01 end to end: swtpm, build/orchard-attest (clients/attest).
TEST_SCRIPTS += tests/integration/device_attest.sh
# The quote gate's event-log rules: a measured boot in swtpm, its TCG log.
TEST_SCRIPTS += tests/integration/device_attest_eventlog.sh
# External attestation roots: a test-made vendor CA certifies the swtpm's AK.
TEST_SCRIPTS += tests/integration/device_attest_roots.sh
# A TPM device's twin over mutual TLS with its TPM-held key (tpm_pkey.c), restarts, renewal.
TEST_SCRIPTS += tests/integration/device_mtls.sh
# The depot end to end: build/orchard-pkg (clients/pkg) against orchardd, a device's downloads.
TEST_SCRIPTS += tests/integration/depot.sh
# properties.desired.app names a published, non-yanked package (twin PATCH/PUT, configurations).
TEST_SCRIPTS += tests/integration/depot_twin.sh
# Compiled forms: orchard-wasm compile after publish, signed statements, device downloads, a run.
TEST_SCRIPTS += tests/integration/depot_compiled.sh
# Streamed downloads: ranges across chunks, resume, RSS under parallel downloads.
TEST_SCRIPTS += tests/integration/depot_stream.sh
# The protocol harness (Python 3): data-driven cases and edge scenarios.
TEST_SCRIPTS += tests/protocol/cases.py tests/protocol/edge.py tests/protocol/acme.py \
	tests/protocol/acme_orders.py tests/protocol/acme_keys.py tests/protocol/acme_certs.py
# The ACME tables' value rules as domains (migration 0019), on a database with rows.
TEST_SCRIPTS += tests/integration/acme_schema.sh
# README's backup and restore: pg_dump and the keys, restored over a newer state and into nothing.
TEST_SCRIPTS += tests/integration/backup.sh
# Cloud-to-device messages: the operator API and delivery by orchardd's own broker.
TEST_SCRIPTS += tests/integration/c2d.sh

# clients/attest/tpm_pkey.c: the orchard-tpm provider without a TPM.
$(BUILD)/tests/unit/clients/test_tpm_pkey: $(BUILD)/tests/unit/clients/test_tpm_pkey.o $(ATTESTC_LIB) \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< -lcmocka $(ATTESTC_LIBS) -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/clients/test_tpm_pkey
# clients/attest/ari.c: certIDs (against acme/ari.c's parser) and the renewal time.
$(BUILD)/tests/unit/clients/test_ari: $(BUILD)/tests/unit/clients/test_ari.o $(BUILD)/acme/ari.o \
		$(ATTESTC_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/acme/ari.o -lcmocka $(ATTESTC_LIBS)
UNIT_TESTS += $(BUILD)/tests/unit/clients/test_ari
# clients/attest/acme.c (included): JWS text and signatures.
$(BUILD)/tests/unit/clients/test_acme_jws: $(BUILD)/tests/unit/clients/test_acme_jws.o $(ATTESTC_LIB) \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< -lcmocka $(ATTESTC_LIBS) -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/clients/test_acme_jws
# clients/attest/https.c: the device-side HTTPS client against a peer in a
# thread (https_peer.c), plain HTTP in test_https, TLS and proxies in
# test_https_tls.
HTTPS_PEER := $(BUILD)/tests/unit/clients/https_peer.o
$(BUILD)/tests/unit/clients/test_https $(BUILD)/tests/unit/clients/test_https_tls: \
		$(BUILD)/tests/unit/clients/%: $(BUILD)/tests/unit/clients/%.o $(HTTPS_PEER) \
		$(ATTESTC_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(HTTPS_PEER) -lcmocka $(ATTESTC_LIBS) -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/clients/test_https $(BUILD)/tests/unit/clients/test_https_tls

$(BUILD)/tests/unit/server/test_reply: $(BUILD)/tests/unit/server/test_reply.o $(BUILD)/server/reply.o \
		$(BUILD)/server/spec.o \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmicrohttpd -ljansson
UNIT_TESTS += $(BUILD)/tests/unit/server/test_reply

# json_spec's torture test fails every allocation in turn: it wraps the allocator.
$(BUILD)/tests/unit/common/test_json_spec: $(BUILD)/tests/unit/common/test_json_spec.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc -o $@ $^ -lcmocka -ljansson
UNIT_TESTS += $(BUILD)/tests/unit/common/test_json_spec

# Every verifier reason must map to a registry code: the list comes from the
# sources, so a new reason without a row fails the test.
$(BUILD)/gen/verifier_reasons.h: scripts/verifier-reasons $(wildcard verifier/*.c)
	@mkdir -p $(dir $@)
	scripts/verifier-reasons > $@
$(BUILD)/tests/unit/verifier/test_verr_map.o: $(BUILD)/gen/verifier_reasons.h
$(BUILD)/tests/unit/verifier/test_verr_map.o: CFLAGS += -I$(BUILD)

$(BUILD)/tests/unit/server/test_timers: $(BUILD)/tests/unit/server/test_timers.o \
		$(BUILD)/server/timers.o $(BUILD)/server/jobs.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/server/test_timers

$(BUILD)/tests/unit/server/test_acme_outcomes: $(BUILD)/tests/unit/server/test_acme_outcomes.o \
		$(BUILD)/server/acme_outcomes.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/server/test_acme_outcomes

# scripts/pg-cluster: roles, peer map, upgrade of an old cluster.
TEST_SCRIPTS += tests/integration/pg_cluster.sh

# The CA: issue from the CLI, list, get, revoke, CRL checked by openssl verify.
TEST_SCRIPTS += tests/integration/pki.sh

# Interop: Microsoft's Node.js provisioning device SDK from npm (installed
# into $(BUILD)/npm-dps on first run; skipped without a registry).
TEST_SCRIPTS += tests/interop/dps_node.sh
# Interop: Microsoft's Node.js IoT Hub device SDK over MQTT, through mosquitto
# with the Orchard plugin ($(BUILD)/npm-iothub; skipped without a registry).
TEST_SCRIPTS += tests/interop/iothub_node.sh
# direct methods: an operator curl, the SDK's onDeviceMethod answers (tests/interop/iothub_methods.js)
TEST_SCRIPTS += tests/interop/iothub_methods.sh
# two orchardd, one broker: either answers credentials, twin requests, methods; one stopped (tests/interop/iothub_multi.js)
TEST_SCRIPTS += tests/interop/iothub_multi.sh
# X.509 devices over MQTT: the SDK with x509=true, mosquitto's certificate listener
TEST_SCRIPTS += tests/interop/iothub_x509.sh
# orchardd's own mosquitto (--mqtt-listen): started, restarted, killed with orchardd
TEST_SCRIPTS += tests/integration/mqtt_broker.sh
# Interop: certbot and lego (Debian) obtain, renew and revoke certificates.
TEST_SCRIPTS += tests/interop/acme_certbot.sh tests/interop/acme_lego.sh

$(BUILD)/tests/unit/server/test_dps_sas: $(BUILD)/tests/unit/server/test_dps_sas.o \
		$(BUILD)/server/dps_sas.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lcrypto
UNIT_TESTS += $(BUILD)/tests/unit/server/test_dps_sas

$(BUILD)/tests/unit/server/test_dps_alloc: $(BUILD)/tests/unit/server/test_dps_alloc.o \
		$(BUILD)/server/dps_alloc.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson -lcrypto
UNIT_TESTS += $(BUILD)/tests/unit/server/test_dps_alloc

$(BUILD)/tests/unit/server/test_client_cert: $(BUILD)/tests/unit/server/test_client_cert.o \
		$(BUILD)/server/client_cert.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmicrohttpd -lgnutls -ljansson -lssl -lcrypto
UNIT_TESTS += $(BUILD)/tests/unit/server/test_client_cert

# Device twins: the document module alone, and the API against PostgreSQL.
$(BUILD)/tests/unit/server/test_twin: $(BUILD)/tests/unit/server/test_twin.o $(BUILD)/server/twin_doc.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson -lm
UNIT_TESTS += $(BUILD)/tests/unit/server/test_twin
TEST_SCRIPTS += tests/integration/twins.sh tests/integration/twins_device.sh tests/integration/twins_device_cert.sh tests/integration/twins_batch.sh

# The twin query language: parser and SQL compiler alone.
$(BUILD)/tests/unit/server/test_twinq: $(BUILD)/tests/unit/server/test_twinq.o $(BUILD)/server/twinq_lex.o $(BUILD)/server/twinq_parse.o $(BUILD)/server/twinq_sql.o \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson
UNIT_TESTS += $(BUILD)/tests/unit/server/test_twinq
TEST_SCRIPTS += tests/integration/twin_query.sh
TEST_SCRIPTS += tests/integration/twin_configs.sh
