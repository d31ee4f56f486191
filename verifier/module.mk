# verifier/: TPM 2.0 evidence verification (libverifier.a), the
# orchard-verify tool, and their tests.
VERIFIER_SRCS := $(wildcard verifier/*.c)
VERIFIER_LIB  := $(BUILD)/libverifier.a
VERIFIER_LIBS := $(VERIFIER_LIB) $(COMMON_LIB) -ltss2-mu -ljwt -ljansson -lcrypto
VERIFY_TOOL_SRCS := $(wildcard verifier/tool/*.c)

$(VERIFIER_LIB): $(VERIFIER_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/orchard-verify: $(VERIFY_TOOL_SRCS:%.c=$(BUILD)/%.o) $(VERIFIER_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(VERIFIER_LIBS)

# Unit tests: one cmocka binary per tests/unit/verifier/test_*.c.
VERIFIER_UNIT_SRCS := $(wildcard tests/unit/verifier/test_*.c)
# Named verifier_test_* so that TESTS_ONLY=verifier selects them.
VERIFIER_UNITS := $(VERIFIER_UNIT_SRCS:tests/unit/verifier/%.c=$(BUILD)/tests/verifier_%)

$(BUILD)/tests/verifier_%: $(BUILD)/tests/unit/verifier/%.o $(VERIFIER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(VERIFIER_LIBS) -lcmocka

BINS += $(BUILD)/orchard-verify
UNIT_TESTS += $(VERIFIER_UNITS)
TEST_SCRIPTS += $(wildcard tests/integration/verifier*.sh)

# Benchmark driver for bench/verifier.sh (built on demand, not by `all`).
$(BUILD)/verifier-bench: $(BUILD)/bench/verifier_bench.o $(VERIFIER_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(VERIFIER_LIBS)
BENCHES += $(BUILD)/verifier-bench

# The torture test fails every allocation in turn: it wraps the allocator.
$(BUILD)/tests/verifier_test_torture: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
