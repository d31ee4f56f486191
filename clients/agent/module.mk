# clients/agent: orchard-agent, the device agent (docs/agent.md): DPS
# provisioning, twin follow, depot packages verified and run in the WASM
# runtime. Depends on depot/, clients/wasm (libwasmrt), libattestclient (its
# HTTPS client, clients/attest/https.c), common, OpenSSL (no libcurl: its
# dependency tree cost ~5 MB of RSS, docs/agent.md).
AGENT_SRCS := clients/agent/main.c clients/agent/config.c clients/agent/http.c \
	      clients/agent/dps.c clients/agent/tpm.c clients/agent/cert.c clients/agent/app.c \
	      clients/agent/package.c clients/agent/compiled.c

$(BUILD)/orchard-agent: $(AGENT_SRCS:%.c=$(BUILD)/%.o) $(DEPOT_LIB) $(WASMRT_LIB) $(ATTESTC_LIB) \
			$(COMMON_LIB)
	$(CXX) $(LDFLAGS) -o $@ $(AGENT_SRCS:%.c=$(BUILD)/%.o) $(DEPOT_LIB) $(WASMRT_LIB) \
		$(ATTESTC_LIB) $(COMMON_LIB) -ltss2-esys -ltss2-sys -ltss2-tctildr -ltss2-mu -lcbor -ljansson \
		-lssl $(WASMRT_LIBS)

BINS += $(BUILD)/orchard-agent
TEST_SCRIPTS += tests/integration/agent.sh
TEST_SCRIPTS += tests/integration/agent_tpm.sh
TEST_SCRIPTS += tests/integration/agent_e2e.sh
