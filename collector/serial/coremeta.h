/* collector/serial/coremeta.h: crash metadata (struct nd_meta) read from a core's own notes. */
#ifndef COLLECTOR_SERIAL_COREMETA_H
#define COLLECTOR_SERIAL_COREMETA_H

#include <stddef.h>
#include <stdint.h>

#include "netdump/meta.h"

enum coremeta_err {
	COREMETA_OK = 0,
	COREMETA_E_NOT_ELF,      /* no ELF identification, or not little-endian */
	COREMETA_E_NOT_CORE,     /* ELF, but not ET_CORE */
	COREMETA_E_TRUNCATED,    /* a header, table or note runs past the end */
	COREMETA_E_NO_NOTES,     /* no PT_NOTE segment */
};

const char *coremeta_strerror(enum coremeta_err e);

/*
 * Fill m from the core: size, e_machine, pid/exe (NT_PRPSINFO), signal (NT_SIGINFO,
 * else the first NT_PRSTATUS), and from the CORECAST note (docs/core-format.md)
 * device, firmware, boot id, sequence, cause, device time and build-ids.  Fields the
 * core does not carry stay zero/empty; *has_project tells whether the note was there.
 * Every offset and length is checked against len.
 */
enum coremeta_err coremeta_read(const uint8_t *core, size_t len, struct nd_meta *m, int *has_project);

#endif /* COLLECTOR_SERIAL_COREMETA_H */
