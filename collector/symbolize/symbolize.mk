# Symbolization engine (libsymbolize.a), the corecast-symbolize worker, its tests and benchmark.
SYM_DIR    := collector/symbolize
SYM_LIB    := $(OBJ)/$(SYM_DIR)/libsymbolize.a
SYM_SRCS   := corefile.c regs.c symstore.c symcache.c unwind_fp.c symbolize.c sym_json.c
SYM_OBJS   := $(addprefix $(OBJ)/$(SYM_DIR)/,$(SYM_SRCS:.c=.o))
SYM_CFLAGS := $(shell pkg-config --cflags libdw libdebuginfod)
SYM_LIBS   := $(shell pkg-config --libs libdw libdebuginfod) -lelf

$(OBJ)/$(SYM_DIR)/%.o: CFLAGS += $(SYM_CFLAGS)

$(SYM_LIB): $(SYM_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

PROGRAMS += $(BIN)/corecast-symbolize
$(BIN)/corecast-symbolize: $(OBJ)/$(SYM_DIR)/main.o $(SYM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SYM_LIBS)
