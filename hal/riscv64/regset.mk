# hal/riscv64/regset.mk: the riscv64 core-dump register set, host build (the core writer's tests link it).
CW_REGSET_OBJS += $(OBJ)/hal/riscv64/regset.o
