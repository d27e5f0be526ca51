# hal/ia32/regset.mk: the ia32 core-dump register set, host build (the core writer's tests link it).
CW_REGSET_OBJS += $(OBJ)/hal/ia32/regset.o
