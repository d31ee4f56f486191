# clients/attest: the device side of device-attest-01 (docs/acme.md).
# libattestclient.a is what the device agent links; orchard-attest is the
# CLI on top. Depends on common, OpenSSL, tpm2-tss (ESYS), libcbor; HTTPS is
# its own (https.c, no libcurl), shared with the agent.
ATTESTC_SRCS := clients/attest/tpm.c clients/attest/dps_tpm.c clients/attest/attobj.c \
		clients/attest/acme.c clients/attest/chain.c clients/attest/flow.c \
		clients/attest/tpm_pkey.c clients/attest/ari.c clients/attest/https.c \
		clients/attest/https_conn.c clients/attest/https_proxy.c
ATTESTC_LIB  := $(BUILD)/libattestclient.a
ATTESTC_LIBS := $(ATTESTC_LIB) $(COMMON_LIB) -ltss2-esys -ltss2-sys -ltss2-tctildr -ltss2-mu -lcbor \
		-ljansson -lssl -lcrypto

$(ATTESTC_LIB): $(ATTESTC_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/orchard-attest: $(BUILD)/clients/attest/main.o $(ATTESTC_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(ATTESTC_LIBS)

BINS += $(BUILD)/orchard-attest

# The DPS TPM flow's parts that need no TPM (the agent's TPM path runs in
# tests/integration/agent_tpm.sh).
$(BUILD)/tests/unit/clients/test_dps_tpm: $(BUILD)/tests/unit/clients/test_dps_tpm.o $(ATTESTC_LIB) \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(ATTESTC_LIBS) -lcmocka
UNIT_TESTS += $(BUILD)/tests/unit/clients/test_dps_tpm
