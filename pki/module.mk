# pki/: the CA (libpki.a): keys behind a signer, profiles, issuance, CRLs,
# and the development TLS certificate. No libmicrohttpd, no libpq.
PKI_SRCS := $(wildcard pki/*.c)
PKI_LIB  := $(BUILD)/libpki.a

$(PKI_LIB): $(PKI_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Unit tests: one cmocka binary per tests/unit/pki/test_*.c, named pki_test_*
# so that TESTS_ONLY=pki selects them; each links the shared helpers
# (tests/unit/pki/pki_test.c).
PKI_UNIT_SRCS := $(wildcard tests/unit/pki/test_*.c)
PKI_UNITS := $(PKI_UNIT_SRCS:tests/unit/pki/%.c=$(BUILD)/tests/pki_%)
PKI_TEST_HELPERS := $(BUILD)/tests/unit/pki/pki_test.o

$(BUILD)/tests/pki_%: $(BUILD)/tests/unit/pki/%.o $(PKI_TEST_HELPERS) $(PKI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(PKI_TEST_HELPERS) $(PKI_LIB) $(COMMON_LIB) -lcmocka -lcrypto \
		-lpthread

UNIT_TESTS += $(PKI_UNITS)

# make bench: pki_issue() certificates per second (bench/pki.sh).
$(BUILD)/pki-bench: $(BUILD)/bench/pki_bench.o $(PKI_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(PKI_LIB) $(COMMON_LIB) -lcrypto
BENCHES += $(BUILD)/pki-bench

# The torture test fails every allocation in turn: it wraps the allocator.
$(BUILD)/tests/pki_test_torture: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
