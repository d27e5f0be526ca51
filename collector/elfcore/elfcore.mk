# collector/elfcore/elfcore.mk: the ELF program-header and note walker, and its unit test.
#
# elfnote.o is linked by its users directly (corecast-send, libccserial.a), which name
# it in their own fragments.

ECORE_SAN   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ECORE_TESTS := $(TBIN)/test_elfcore_notes
UNIT_TESTS  += $(ECORE_TESTS)

$(OBJ)/ecoresan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ECORE_SAN) -c $< -o $@
.PRECIOUS: $(OBJ)/ecoresan/%.o

# The test also drives both readers that use the walker, so they cannot drift apart.
$(TBIN)/test_elfcore_notes: $(OBJ)/ecoresan/tests/unit/test_elfcore_notes.o \
		$(OBJ)/ecoresan/collector/elfcore/elfnote.o $(OBJ)/ecoresan/collector/serial/coremeta.o \
		$(OBJ)/ecoresan/collector/corecast-send/buildid.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ECORE_SAN) $^ -o $@ $(LDFLAGS) -lcmocka
