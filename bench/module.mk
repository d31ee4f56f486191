# bench/: programs the benchmarks measure against.
$(BUILD)/bench/bare_mhd: $(BUILD)/bench/bare_mhd.o
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd
BENCHES += $(BUILD)/bench/bare_mhd

$(BUILD)/bench/dps_load: $(BUILD)/bench/dps_load.o
	$(CC) $(LDFLAGS) -o $@ $^ -lssl -lcrypto -lpthread
BENCHES += $(BUILD)/bench/dps_load

# The IoT Hub MQTT load client (bench/mqtt.sh): 1,000 devices on one thread.
$(BUILD)/bench/mqtt_load: $(BUILD)/bench/mqtt_load.o
	$(CC) $(LDFLAGS) -o $@ $^ -lmosquitto -lcurl -lcrypto
BENCHES += $(BUILD)/bench/mqtt_load

# The ACME load client (bench/acme.sh): complete issuances against orchardd and Pebble.
# Its HTTPS is clients/attest/https.c (from libattestclient, alone).
$(BUILD)/bench/acme_load: $(BUILD)/bench/acme_load.o $(ATTESTC_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lssl -lcrypto -lpthread
BENCHES += $(BUILD)/bench/acme_load

# device-attest-01 issuances with pre-made TPM evidence (bench/device_attest.sh).
$(BUILD)/bench/device_attest_load: $(BUILD)/bench/device_attest_load.o $(ATTESTC_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(ATTESTC_LIBS) -lpthread
BENCHES += $(BUILD)/bench/device_attest_load
