# corecast — one entry point: make, make demo, make test, make bench.
#
# Each folder owns a fragment (*.mk) that appends to the lists below; this file
# holds only the shared rules.  A fragment adds:
#   PROGRAMS    += $(BIN)/name          host programs (built by `make`)
#   UNIT_TESTS  += $(TBIN)/test_name    cmocka binaries, run by `make test`
#   FUZZERS     += $(TBIN)/fuzz_name    libFuzzer targets (`make fuzz`)
#   TEST_TOOLS  += $(TBIN)/tool         helpers the pytest suites drive
#   BENCHES     += bench-name           phony targets run by `make bench`
#   DEMO_STEPS  += demo-name            phony targets run by `make demo`, in order
#   TEST_BUILD  += target               extra things `make test` builds (kernel image...)

BUILD   ?= build
BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj
TBIN    := $(BUILD)/tests

CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) -I. -MMD -MP
LDFLAGS ?=
PYTEST  := /usr/bin/python3 -m pytest
NPROC   := $(shell nproc 2>/dev/null || echo 2)

PROGRAMS   :=
UNIT_TESTS :=
FUZZERS    :=
TEST_TOOLS :=
BENCHES    :=
DEMO_STEPS :=
TEST_BUILD :=

.PHONY: all deps test unit e2e bench demo fuzz clean
all:

# Fragments, in a fixed order so that libraries precede their users.
FRAGMENTS := $(sort $(wildcard netdump/*.mk kernel/coredump/*.mk hal/*/*.mk \
               collector/*/*.mk kernel/*.mk kernel/net/*.mk tests/*/*.mk))
include $(FRAGMENTS)

all: $(PROGRAMS) $(TEST_TOOLS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

deps:
	@scripts/deps

# `make test`: install what is missing, build, run every suite, one summary.
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(UNIT_TESTS) $(TEST_BUILD)
	@scripts/run-tests $(UNIT_TESTS)

unit: all $(UNIT_TESTS)
	@scripts/run-tests --no-e2e $(UNIT_TESTS)

e2e: all
	@scripts/run-tests --no-unit

bench: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@set -e; for b in $(BENCHES); do $(MAKE) --no-print-directory $$b; done

demo: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@set -e; for d in $(DEMO_STEPS); do $(MAKE) --no-print-directory $$d; done

fuzz: $(FUZZERS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
