# Orchard: one hand-written Makefile. Each folder adds its targets in a
# module.mk fragment; this file holds the flags, the knobs and the verbs.

BUILD    ?= build
CC       ?= cc
CXX      ?= c++
SAN      ?=
ifneq ($(SAN),)
BUILD    := build-san
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE $(WARN) $(SANFLAGS) -I. -MMD -MP
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -D_GNU_SOURCE -Wall -Wextra -Werror $(SANFLAGS) -I. -MMD -MP
LDFLAGS  += $(SANFLAGS)

# Every fragment appends to these.
BINS        :=
UNIT_TESTS  :=
TEST_SCRIPTS:=
BENCHES     :=
FUZZERS     :=

all: build-all

include common/module.mk
-include verifier/module.mk
-include pki/module.mk
-include acme/module.mk
-include depot/module.mk
-include server/module.mk
-include clients/wasm/module.mk
-include clients/attest/module.mk
-include clients/pkg/module.mk
-include clients/agent/module.mk
-include tests/module.mk
-include bench/module.mk

build-all: $(BINS) $(UNIT_TESTS)

# V=1 shows the full command lines.
ifeq ($(V),)
Q := @
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $@")
	$(Q)$(CXX) $(CXXFLAGS) -c $< -o $@

deps:
	@scripts/deps

# The verbs below build in a second make, on every core (a serial build was
# a quarter of `make check`).
SUBMAKE := $(MAKE) --no-print-directory -j$(shell nproc)

# The fragments ask pkg-config for flags when make reads them, which is
# before `deps` can install anything: the verbs a new user types install
# first, then build in a second make that reads the flags afresh.
run: deps
	@$(SUBMAKE) all
	@scripts/run-dev

# The whole suite: a plain build, then the same tests under ASan+UBSan.
check: deps
	@$(SUBMAKE) all
	@$(SUBMAKE) SAN=address,undefined build-all
	@tests/run

bench: deps
	@$(SUBMAKE) all $(BENCHES)
	@bench/run

fuzz:
	@tests/fuzz/run

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc' | grep -v errors_gen)

fmt-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h' '*.cc' | grep -v errors_gen)

clean:
	rm -rf build build-san build-fuzz

# Let fragments and scripts ask for lists: make print-UNIT_TESTS
print-%:
	@echo $($*)

.PHONY: all build-all deps run check bench fuzz fmt fmt-check clean
.DELETE_ON_ERROR:
# Keep intermediate objects: no rebuilds, no "rm" lines at the end of a build.
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
