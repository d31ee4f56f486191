# bench/: programs the benchmarks measure against.
$(BUILD)/bench/bare_mhd: $(BUILD)/bench/bare_mhd.o
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd
BENCHES += $(BUILD)/bench/bare_mhd

$(BUILD)/bench/dps_load: $(BUILD)/bench/dps_load.o
	$(CC) $(LDFLAGS) -o $@ $^ -lssl -lcrypto -lpthread
BENCHES += $(BUILD)/bench/dps_load

# The ACME load client (bench/acme.sh): complete issuances against orchardd and Pebble.
$(BUILD)/bench/acme_load: $(BUILD)/bench/acme_load.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl -ljansson -lssl -lcrypto -lpthread
BENCHES += $(BUILD)/bench/acme_load
