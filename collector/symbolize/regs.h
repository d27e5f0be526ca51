/* Register names and roles in each machine's NT_PRSTATUS general register set. */
#ifndef CORECAST_SYMBOLIZE_REGS_H
#define CORECAST_SYMBOLIZE_REGS_H

#include <stddef.h>
#include <stdint.h>

struct sym_regset {
    uint16_t machine;
    const char *machine_name;   /* as printed in the JSON "machine" field */
    unsigned word;              /* register width in bytes */
    const char *const *names;
    size_t count;
    int pc, sp, fp, lr;         /* indexes into names; lr = -1 where calls push the return address */
};

/* NULL for machines without a layout. */
const struct sym_regset *sym_regset_for(uint16_t machine, int is64);

#endif
