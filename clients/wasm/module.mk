# clients/wasm: orchard-wasm, the embedded WebAssembly runtime (docs/wasm.md).
# libwasmrt.a is what the device agent links; the CLI is a thin main.c on top.

WASMRT_SRCS := clients/wasm/engine.c clients/wasm/engine_wabt.cc clients/wasm/engine_aot.c \
               clients/wasm/cwasm.c clients/wasm/aot_translate.cc clients/wasm/aot_compile.c \
               clients/wasm/aot_embed.c clients/wasm/wasi_ctx.c clients/wasm/wasi_proc.c \
               clients/wasm/wasi_fd.c clients/wasm/wasi_path.c clients/wasm/wasi_poll.c \
               clients/wasm/wasi_sock.c clients/wasm/grants.c clients/wasm/sandbox.c \
               clients/wasm/runner.c clients/wasm/supervisor.c
WASMRT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(patsubst %.cc,$(BUILD)/%.o,$(WASMRT_SRCS)))
WASMRT_LIB  := $(BUILD)/libwasmrt.a
# libwabt is C++ without exceptions; linking libstdc++ statically leaves the
# binary depending on libc, libm, libseccomp and libcrypto (the .cwasm digest)
# only. -rdynamic is not needed: a .cwasm links nothing of ours by name.
WASMRT_LIBS := $(COMMON_LIB) -lwabt -lseccomp -lcrypto -static-libstdc++ -lm

# aot_embed.c carries these two files (.incbin): rebuild it when they change.
$(BUILD)/clients/wasm/aot_embed.o: clients/wasm/aot_glue.c clients/wasm/aot_abi.h

$(WASMRT_LIB): $(WASMRT_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/orchard-wasm: $(BUILD)/clients/wasm/main.o $(WASMRT_LIB) $(COMMON_LIB)
	$(CXX) $(LDFLAGS) -o $@ $^ $(WASMRT_LIBS)

BINS += $(BUILD)/orchard-wasm

# Guest programs: C built to wasm32-wasi with clang-14, Debian's wasi-libc and
# libclang-rt-14-dev-wasm32 (wasm-ld from lld-14). Host CFLAGS do not apply.
WASM_CC     ?= clang-14
WASM_CFLAGS := --target=wasm32-wasi -O2 -Wall -Wextra -Werror
WASM_OUT    := $(BUILD)/wasm

$(WASM_OUT)/examples/%.wasm: clients/wasm/examples/%.c clients/wasm/examples/wasmedge_socket.h
	@mkdir -p $(dir $@)
	$(WASM_CC) $(WASM_CFLAGS) -Iclients/wasm/examples $< -o $@

WASM_EXAMPLES := $(WASM_OUT)/examples/httpd.wasm
BINS += $(WASM_EXAMPLES)

# Test guests and bad modules: tests/integration/wasm.sh asks make for them
# at test time (so a compiler problem shows up as a failed test, by name).
$(WASM_OUT)/tests/%.wasm: tests/wasm/guests/%.c tests/wasm/guests/check.h clients/wasm/examples/wasmedge_socket.h
	@mkdir -p $(dir $@)
	$(WASM_CC) $(WASM_CFLAGS) -Wno-unused-result -Itests/wasm/guests -Iclients/wasm/examples $< -o $@

$(WASM_OUT)/tests/%.wasm: tests/wasm/bad/%.wat
	@mkdir -p $(dir $@)
	wat2wasm $(if $(findstring type_error,$*),--no-check) $< -o $@

# Tests: an in-process embedder (run under valgrind) and the suite script,
# which builds its guest programs with clang-14 at test time.
$(BUILD)/tests/wasm/embed_run: $(BUILD)/tests/wasm/embed_run.o $(WASMRT_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(WASMRT_LIBS)

BINS += $(BUILD)/tests/wasm/embed_run

$(BUILD)/tests/wasm/test_wasm: $(BUILD)/tests/wasm/test_wasm.o $(WASMRT_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ -lcmocka $(WASMRT_LIBS)

UNIT_TESTS += $(BUILD)/tests/wasm/test_wasm
TEST_SCRIPTS += tests/integration/wasm.sh
