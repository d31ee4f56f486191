# server/: orchardd, with its store, its embedded migrations and the
# development PKI from pki/.
ORCHARD_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
SERVER_SRCS := $(wildcard server/*.c server/store/*.c)
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
SERVER_LIBS := -ltss2-mu -lcbor -lmicrohttpd -lgnutls -ljwt -ljansson -lpq -lcurl -lmosquitto -lssl -lcrypto -lresolv -lpthread
PQ_CFLAGS   := $(shell pkg-config --cflags libpq 2>/dev/null)
$(SERVER_OBJS): CFLAGS += $(PQ_CFLAGS)

$(BUILD)/gen/migrations.c: scripts/embed-migrations $(wildcard db/migrations/*.sql)
	@mkdir -p $(dir $@)
	scripts/embed-migrations > $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/server/metrics.o $(BUILD)/server/main.o: CFLAGS += -DORCHARD_VERSION='"$(ORCHARD_VERSION)"'

$(BUILD)/orchardd: $(SERVER_OBJS) $(DEPOT_LIB) $(ACME_LIB) $(PKI_LIB) $(VERIFIER_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(SERVER_LIBS)

BINS += $(BUILD)/orchardd

# The mosquitto plugin (server/mqtt/orchard_mqtt.c, ask.c): loaded by the broker,
# so never built with sanitizers (mosquitto carries no ASan runtime).
$(BUILD)/orchard_mqtt.so: server/mqtt/orchard_mqtt.c server/mqtt/ask.c server/mqtt/ask.h common/hash.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SANFLAGS) -MMD -MP,$(CFLAGS)) -fPIC -shared -o $@ $(filter %.c,$^) -lcrypto

BINS += $(BUILD)/orchard_mqtt.so
