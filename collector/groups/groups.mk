# collector/groups/groups.mk: crash signatures, grouping, the symbolization worker pool.
#
# GRP_OBJS (signature, JSON reader, group tables) need only SQLite, SHA-256 and hex;
# GRP_POOL_OBJS add the worker pool and hooks, which corecastd links with the store.
# $(GRP_LIB) = libccgroups.a holds both; link it before libccstore.a and
# libnetdump.a (it uses the store and SHA-256), then $(GRP_LDLIBS).

GRP_CORE_SRCS := collector/groups/json.c collector/groups/signature.c collector/groups/groups.c
GRP_POOL_SRCS := collector/groups/pool.c collector/groups/hooks.c
GRP_OBJS      := $(GRP_CORE_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/netdump/sha256.o $(OBJ)/netdump/hex.o
GRP_POOL_OBJS := $(GRP_POOL_SRCS:%.c=$(OBJ)/%.o)
GRP_LDLIBS    := $(shell pkg-config --libs sqlite3)

GRP_LIB       := $(BUILD)/lib/libccgroups.a

$(GRP_LIB): $(GRP_CORE_SRCS:%.c=$(OBJ)/%.o) $(GRP_POOL_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

all: $(GRP_LIB)

# corecastctl's groups/group/symbols/debug commands: the recipe links every
# archive prerequisite in one group, so adding ours here is enough.
CTL_LDLIBS += $(shell pkg-config --libs libelf)
$(BIN)/corecastctl: $(GRP_LIB)

# Unit tests: real SQLite files, sources rebuilt with ASan/UBSan.
GRP_SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
GRP_SAN_OBJS   := $(GRP_CORE_SRCS:%.c=$(OBJ)/grpsan/%.o) $(OBJ)/grpsan/netdump/sha256.o \
                  $(OBJ)/grpsan/netdump/hex.o
GRP_TEST_SRCS  := $(wildcard tests/unit/test_groups_*.c)
GRP_TESTS      := $(GRP_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS     += $(GRP_TESTS)

$(OBJ)/grpsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(GRP_SAN) -c $< -o $@

$(TBIN)/test_groups_%: $(OBJ)/grpsan/tests/unit/test_groups_%.o $(GRP_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(GRP_SAN) $^ -o $@ $(LDFLAGS) $(GRP_LDLIBS) -lcmocka
.PRECIOUS: $(OBJ)/grpsan/%.o

# grp-pool-run: runs the pool over a store until idle, for the pytest suites.
TEST_TOOLS += $(TBIN)/grp-pool-run
$(TBIN)/grp-pool-run: $(OBJ)/tests/groups/grp-pool-run.o $(GRP_LIB) $(BUILD)/lib/libccstore.a \
		$(BUILD)/lib/libnetdump.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(STORE_LDLIBS) $(GRP_LDLIBS)

# Storm through the pool: --serve workers vs one process per dump (dumps/s, RSS), for `make bench`.
BENCHES += bench-groups-pool
.PHONY: bench-groups-pool
bench-groups-pool: $(TBIN)/grp-pool-run $(TBIN)/store-import $(TBIN)/crasher $(BIN)/corecast-symbolize
	@/usr/bin/python3 tests/groups/bench_pool.py
