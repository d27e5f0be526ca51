# collector/tls/tls.mk: mbedtls glue shared by corecastd and corecast-send; TLS unit tests; bench-tls.
#
# Host mbedtls is Debian's libmbedtls-dev (2.28), linked as TLS_LDLIBS by the
# programs that use this library (their fragments spell the path out: they are
# read before this one).

TLS_SRCS   := $(wildcard collector/tls/*.c)
TLS_OBJS   := $(TLS_SRCS:%.c=$(OBJ)/%.o)
TLS_LIB    := $(BUILD)/lib/libcctls.a
TLS_LDLIBS := -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto

$(TLS_LIB): $(TLS_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Unit tests: the glue and the key store, against real mbedtls handshakes in memory.
TLS_TEST_SRCS := $(wildcard tests/unit/test_tls_*.c)
TLS_TESTS     := $(TLS_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS    += $(TLS_TESTS)
TLS_SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

$(OBJ)/tlssan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TLS_SAN) -c $< -o $@
.PRECIOUS: $(OBJ)/tlssan/%.o

$(TBIN)/test_tls_%: $(OBJ)/tlssan/tests/unit/test_tls_%.o $(OBJ)/tlssan/collector/tls/tls.o \
		$(OBJ)/tlssan/collector/tls/fastrec.o $(OBJ)/tlssan/collector/keystore/keystore.o \
		$(OBJ)/tlssan/netdump/hex.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TLS_SAN) $^ -o $@ $(LDFLAGS) -lcmocka $(TLS_LDLIBS)

.PHONY: bench-tls tls-test
BENCHES += bench-tls
bench-tls: $(BIN)/corecastd $(BIN)/corecast-send $(BIN)/corecastctl $(TBIN)/crasher \
		$(BUILD)/riscv64-virt/kernel.elf
	/usr/bin/python3 tests/tls/bench_tls.py
	/usr/bin/python3 tests/tls/bench_tls_kernel.py

tls-test: all $(TLS_TESTS)
	@set -e; for t in $(TLS_TESTS); do $$t; done
	$(PYTEST) -q tests/tls
