# tests/tools/tools.mk: helper programs the end-to-end tests and benchmarks drive.

TT_NETADDR := $(OBJ)/tests/tools/netaddr.o

TEST_TOOLS += $(TBIN)/impair $(TBIN)/crasher $(TBIN)/udpblast

$(TBIN)/impair: $(OBJ)/tests/tools/impair.o $(TT_NETADDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)

$(TBIN)/udpblast: $(OBJ)/tests/tools/udpblast.o $(TT_NETADDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)

# The crasher's core is what gdb and the symbolizer read: keep full debug info,
# frame pointers, no inlining of the level1..3 chain, and a GNU build-id note.
TT_CRASHER_CFLAGS := -O1 -g -fno-omit-frame-pointer -fno-inline -pthread
$(OBJ)/tests/tools/crasher.o: CFLAGS += $(TT_CRASHER_CFLAGS)
$(TBIN)/crasher: $(OBJ)/tests/tools/crasher.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -pthread -Wl,--build-id=sha1 $^ -o $@ $(LDFLAGS)
