/* collector/corecastctl/cmd_rm.c: `corecastctl rm ID...` — delete dumps (file first, then index row). */
#include <inttypes.h>
#include <stdio.h>

#include "collector/corecastctl/ctl.h"

CTL_COMMAND(rm);

CTL_COMMAND(rm)
{
	int rc = 0;
	unsigned n = 0;
	if (argc < 2)
		return ctl_fail("rm: usage: rm ID...");
	if (c->json)
		fputs("{\"removed\":[", stdout);
	for (int i = 1; i < argc; i++) {
		uint64_t id;
		if (ctl_parse_id(argv[i], &id) < 0) {
			rc = 1;
			continue;
		}
		if (store_rm(c->st, id) != STORE_OK) {
			rc = ctl_fail("%s", store_errmsg(c->st));
			continue;
		}
		if (c->json)
			printf("%s%" PRIu64, n ? "," : "", id);
		n++;
	}
	if (c->json)
		fputs("]}\n", stdout);
	return rc;
}
