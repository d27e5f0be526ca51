# collector/store/store.mk: the dump store library (libccstore.a) and its unit tests.
#
# Users link $(BUILD)/lib/libccstore.a (STORE_LIB) and $(BUILD)/lib/libnetdump.a, then
# $(STORE_LDLIBS).  Fragments sorted before this one (collector/corecastd,
# collector/corecastctl) must spell the library path literally in prerequisites,
# since make expands prerequisite lists when it reads them.

STORE_SRCS   := $(wildcard collector/store/*.c)
STORE_OBJS   := $(STORE_SRCS:%.c=$(OBJ)/%.o)
STORE_LIB    := $(BUILD)/lib/libccstore.a
STORE_LDLIBS := $(shell pkg-config --libs libzstd sqlite3)
STORE_CFLAGS := $(shell pkg-config --cflags libzstd sqlite3)

$(OBJ)/collector/store/%.o: CFLAGS += $(STORE_CFLAGS)

$(STORE_LIB): $(STORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

all: $(STORE_LIB)

# Unit tests run on real files and a real SQLite index in a temporary directory,
# built with ASan/UBSan over a sanitized copy of the store and of SHA-256.
STORE_SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
STORE_SAN_OBJS   := $(STORE_SRCS:%.c=$(OBJ)/storesan/%.o) $(OBJ)/storesan/netdump/sha256.o \
                    $(OBJ)/storesan/netdump/hex.o
STORE_TEST_SRCS  := $(wildcard tests/unit/test_store_*.c)
STORE_TESTS      := $(STORE_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS       += $(STORE_TESTS)

$(OBJ)/storesan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(STORE_CFLAGS) $(STORE_SAN) -c $< -o $@

$(TBIN)/test_store_%: $(OBJ)/storesan/tests/unit/test_store_%.o $(STORE_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(STORE_SAN) $^ -o $@ $(LDFLAGS) -lcmocka $(STORE_LDLIBS)

# store-import: puts a core file into a store through store_add_core (pytest suites
# populate stores with it).
TEST_TOOLS += $(TBIN)/store-import

$(TBIN)/store-import: $(OBJ)/tests/store/store-import.o $(STORE_LIB) $(BUILD)/lib/libnetdump.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(STORE_LDLIBS)

# bench-store: spool ingest, commit and read-back throughput (`make bench`).
TEST_TOOLS += $(TBIN)/bench-store
BENCHES    += bench-store

$(TBIN)/bench-store: $(OBJ)/tests/store/bench-store.o $(STORE_LIB) $(BUILD)/lib/libnetdump.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(STORE_LDLIBS)

.PHONY: bench-store
bench-store: $(TBIN)/bench-store
	$(TBIN)/bench-store
