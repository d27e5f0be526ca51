/* tests/fuzz/fuzz_serial_decode.c: libFuzzer target — the serial log scanner/decoder and core metadata reader on hostile input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/serial/coremeta.h"
#include "collector/serial/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every decoded core also goes through the note reader, as import-serial does. */
static int on_dump(void *ctx, const struct ser_dump *d)
{
	(void)ctx;
	if (d->status == SER_OK) {
		struct nd_meta m;
		int has;
		coremeta_read(d->core, d->core_len, &m, &has);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a small core limit keeps run-length bombs cheap */
	ser_scan((const char *)data, size, 1 << 20, on_dump, NULL);
	/* the raw input as a core, too */
	struct nd_meta m;
	int has;
	coremeta_read(data, size, &m, &has);
	return 0;
}
