# clients/pkg: orchard-pkg, the publisher's tool for the depot (keygen,
# build, publish; docs/depot.md). Depends on depot/, common, OpenSSL, libcurl.
$(BUILD)/orchard-pkg: $(BUILD)/clients/pkg/main.o $(DEPOT_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(DEPOT_LIBS) -lcurl

BINS += $(BUILD)/orchard-pkg
