# depot/: the depot's pure parts (libdepot.a): manifest, canonical form,
# Ed25519 keys and signatures, the .opkg container. No libmicrohttpd, no
# libpq; orchardd, orchard-pkg and (next) the agent link it.
DEPOT_SRCS := $(wildcard depot/*.c)
DEPOT_LIB  := $(BUILD)/libdepot.a
DEPOT_LIBS := $(DEPOT_LIB) $(COMMON_LIB) -ljansson -lcrypto

$(DEPOT_LIB): $(DEPOT_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

DEPOT_UNIT_SRCS := $(wildcard tests/unit/depot/test_*.c)
DEPOT_UNITS := $(DEPOT_UNIT_SRCS:tests/unit/depot/%.c=$(BUILD)/tests/depot_%)

$(BUILD)/tests/depot_%: $(BUILD)/tests/unit/depot/%.o $(DEPOT_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(DEPOT_LIBS) -lcmocka

UNIT_TESTS += $(DEPOT_UNITS)
