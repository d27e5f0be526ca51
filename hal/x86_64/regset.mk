# hal/x86_64/regset.mk: the x86_64 core-dump register set, host build (the core writer's tests link it).
CW_REGSET_OBJS += $(OBJ)/hal/x86_64/regset.o
