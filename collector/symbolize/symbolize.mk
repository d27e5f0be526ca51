# Symbolization engine (libsymbolize.a), the corecast-symbolize worker, its tests and benchmark.
SYM_DIR    := collector/symbolize
SYM_LIB    := $(OBJ)/$(SYM_DIR)/libsymbolize.a
SYM_SRCS   := corefile.c regs.c symstore.c symcache.c unwind_fp.c symbolize.c sym_json.c serve.c
# JSON strings are written by the module corecastctl shares (collector/json/json.mk);
# build-ids are spelled by the project's one hex codec (netdump/hex.c).
SYM_SHARED := $(JSONW_SRCS) netdump/hex.c
SYM_OBJS   := $(addprefix $(OBJ)/$(SYM_DIR)/,$(SYM_SRCS:.c=.o)) $(SYM_SHARED:%.c=$(OBJ)/%.o)
SYM_CFLAGS := $(shell pkg-config --cflags libdw libdebuginfod)
# libdebuginfod is dlopen'ed on demand (see symstore.c): only its header is needed here.
SYM_LIBS   := $(shell pkg-config --libs libdw) -lelf -ldl $(shell pkg-config --libs libzstd)

$(OBJ)/$(SYM_DIR)/%.o: CFLAGS += $(SYM_CFLAGS)

$(SYM_LIB): $(SYM_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

PROGRAMS += $(BIN)/corecast-symbolize
$(BIN)/corecast-symbolize: $(OBJ)/$(SYM_DIR)/main.o $(SYM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SYM_LIBS)

# The same program under AddressSanitizer/UBSan, for the hostile-core tests.
SYM_ALL_SRCS := $(addprefix $(SYM_DIR)/,$(SYM_SRCS) main.c) $(SYM_SHARED)
TEST_TOOLS += $(TBIN)/corecast-symbolize-asan
$(TBIN)/corecast-symbolize-asan: $(SYM_ALL_SRCS) $(wildcard $(SYM_DIR)/*.h $(SYM_SHARED:.c=.h))
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -I. -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=undefined $(SYM_CFLAGS) -o $@ $(SYM_ALL_SRCS) $(SYM_LIBS)

# cmocka unit tests, under the sanitizers like the worker's hostile-core tests.
SYM_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
UNIT_TESTS += $(TBIN)/test_sym_corefile $(TBIN)/test_sym_unwind
$(TBIN)/test_sym_corefile: tests/unit/test_sym_corefile.c $(SYM_DIR)/corefile.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SYM_SAN) $(filter %.c,$^) -o $@ $(LDFLAGS) -lcmocka
$(TBIN)/test_sym_unwind: tests/unit/test_sym_unwind.c $(SYM_DIR)/unwind_fp.c $(SYM_DIR)/corefile.c $(SYM_DIR)/regs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SYM_SAN) $(filter %.c,$^) -o $@ $(LDFLAGS) -lcmocka

# Storm driver: many cores through the library with one cache.
TEST_TOOLS += $(TBIN)/corecast-symbench
$(TBIN)/corecast-symbench: $(OBJ)/$(SYM_DIR)/symbench.o $(SYM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SYM_LIBS)

# SYM_BENCH_BEFORE=PATH: also time that corecast-symbolize (an older build) in the same run.
BENCHES += bench-symbolize
.PHONY: bench-symbolize
bench-symbolize: $(BIN)/corecast-symbolize $(TBIN)/corecast-symbench
	/usr/bin/python3 tests/symbolize/bench_symbolize.py $(if $(SYM_BENCH_BEFORE),--before $(SYM_BENCH_BEFORE))
