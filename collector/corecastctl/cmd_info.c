/* collector/corecastctl/cmd_info.c: `corecastctl info ID` — everything the index holds about one dump. */
#include <inttypes.h>
#include <stdio.h>

#include "collector/corecastctl/ctl.h"
#include "collector/groups/ctl_ext.h"
#include "netdump/hex.h"

CTL_COMMAND(info);

CTL_COMMAND(info)
{
	struct store_rec r;
	uint64_t id;
	if (argc != 2)
		return ctl_fail("info: usage: info ID");
	if (ctl_parse_id(argv[1], &id) < 0)
		return 1;
	if (store_get(c->st, id, &r) != STORE_OK)
		return ctl_fail("%s", store_errmsg(c->st));
	if (c->json) {
		ctl_json_rec(stdout, &r, grp_info_json, c);
		fputc('\n', stdout);
		return 0;
	}
	char boot[2 * ND_BOOTID_LEN + 1], sha[65], when[32], size[16], csize[16], sig[16];
	nd_hex(r.meta.boot_id, ND_BOOTID_LEN, boot);
	nd_hex(r.sha256, 32, sha);
	ctl_iso_time(r.received, when, sizeof when);
	ctl_human_size(r.meta.core_size, size, sizeof size);
	ctl_human_size(r.csize, csize, sizeof csize);
	printf("           ID: %" PRIu64 "\n", r.id);
	printf("       Device: %s\n", r.meta.device);
	printf("      Boot ID: %s\n", boot);
	printf("          Seq: %" PRIu32 "\n", r.meta.seq);
	printf("          PID: %" PRIu32 "\n", r.meta.pid);
	printf("       Signal: %" PRIu32 " (SIG%s)\n", r.meta.signal,
	       ctl_signame(r.meta.signal, sig, sizeof sig));
	printf("   Executable: %s\n", r.meta.exe);
	printf("        Cause: %s\n", r.meta.cause[0] ? r.meta.cause : "-");
	printf("      Machine: %u\n", (unsigned)r.meta.machine);
	printf("     Firmware: %s\n", r.meta.firmware[0] ? r.meta.firmware : "-");
	if (r.meta.device_time) {
		char dt[32];
		ctl_iso_time((int64_t)(r.meta.device_time / 1000000000ull), dt, sizeof dt);
		printf("  Device time: %s\n", dt);
	}
	printf("     Received: %s\n", when);
	printf("         Size: %" PRIu64 " (%s), %" PRIu64 " compressed (%s)\n",
	       r.meta.core_size, size, r.csize, csize);
	printf("      SHA-256: %s\n", sha);
	printf("       Status: %s\n", r.status);
	printf("      Storage: %s/%s\n", store_dir(c->st), r.path);
	for (unsigned i = 0; i < r.meta.n_buildids; i++) {
		char hex[2 * ND_BUILDID_MAX + 1];
		nd_hex(r.meta.buildids[i].id, r.meta.buildids[i].len, hex);
		printf("%s %s %s\n", i ? "              " : "    Build IDs:", hex,
		       r.meta.buildids[i].name);
	}
	grp_info_text(c, &r);
	return 0;
}
