# hal/armv7a/regset.mk: the armv7a core-dump register set, host build (the core writer's tests link it).
CW_REGSET_OBJS += $(OBJ)/hal/armv7a/regset.o
