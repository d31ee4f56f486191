# tests/: the server's and common/'s tests. Other modules register theirs in
# their own fragments.
$(BUILD)/tests/unit/common/test_common: $(BUILD)/tests/unit/common/test_common.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson -lcrypto

$(BUILD)/tests/unit/server/test_router: $(BUILD)/tests/unit/server/test_router.o $(BUILD)/server/router.o \
		$(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BUILD)/tests/unit/server/test_store.o: CFLAGS += $(PQ_CFLAGS)
$(BUILD)/tests/unit/server/test_store: $(BUILD)/tests/unit/server/test_store.o \
		$(BUILD)/server/store/store.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lpq -ljansson -lpthread

# Needs PostgreSQL, so tests/integration/store.sh runs it.
build-all: $(BUILD)/tests/unit/server/test_store

UNIT_TESTS += $(BUILD)/tests/unit/common/test_common $(BUILD)/tests/unit/server/test_router
TEST_SCRIPTS += tests/lint.sh tests/integration/server.sh tests/integration/store.sh \
	tests/integration/server_abuse.sh tests/integration/pipeline.sh \
	tests/integration/waits.sh tests/integration/pg_cluster.sh

$(BUILD)/tests/unit/server/test_timers: $(BUILD)/tests/unit/server/test_timers.o \
		$(BUILD)/server/timers.o $(BUILD)/server/jobs.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/server/test_timers
