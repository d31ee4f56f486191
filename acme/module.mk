# acme/: the ACME server's pure parts (libacme.a): JWS, JWK, contacts. No
# libmicrohttpd, no libpq; orchardd links it, and its unit tests alone.
ACME_SRCS := $(wildcard acme/*.c)
ACME_LIB  := $(BUILD)/libacme.a
ACME_LIBS := $(ACME_LIB) $(VERIFIER_LIB) $(COMMON_LIB) -ljansson -lcurl -lssl -lcrypto -lresolv \
	     -lcbor -ltss2-mu

$(ACME_LIB): $(ACME_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Unit tests: one cmocka binary per tests/unit/acme/test_*.c, named
# acme_test_* so that TESTS_ONLY=acme selects them.
ACME_UNIT_SRCS := $(wildcard tests/unit/acme/test_*.c)
ACME_UNITS := $(ACME_UNIT_SRCS:tests/unit/acme/%.c=$(BUILD)/tests/acme_%)

$(BUILD)/tests/acme_%: $(BUILD)/tests/unit/acme/%.o $(ACME_LIB) $(VERIFIER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(ACME_LIBS) -lcmocka

UNIT_TESTS += $(ACME_UNITS)

# The torture test fails every allocation in turn: it wraps the allocator.
$(BUILD)/tests/acme_test_torture: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
