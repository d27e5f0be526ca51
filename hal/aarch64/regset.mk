# hal/aarch64/regset.mk: the aarch64 core-dump register set, host build (the core writer's tests link it).
CW_REGSET_OBJS += $(OBJ)/hal/aarch64/regset.o
