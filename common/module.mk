# common/: small helpers linked into orchardd, the tools and the agent.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_LIB  := $(BUILD)/libcommon.a

$(COMMON_LIB): $(COMMON_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
