# bench/: programs the benchmarks measure against.
$(BUILD)/bench/bare_mhd: $(BUILD)/bench/bare_mhd.o
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd
BENCHES += $(BUILD)/bench/bare_mhd

$(BUILD)/bench/dps_load: $(BUILD)/bench/dps_load.o
	$(CC) $(LDFLAGS) -o $@ $^ -lssl -lcrypto -lpthread
BENCHES += $(BUILD)/bench/dps_load
