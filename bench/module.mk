# bench/: programs the benchmarks measure against.
$(BUILD)/bench/bare_mhd: $(BUILD)/bench/bare_mhd.o
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd
BENCHES += $(BUILD)/bench/bare_mhd
