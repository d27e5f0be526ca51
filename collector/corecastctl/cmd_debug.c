/* collector/corecastctl/cmd_debug.c: `corecastctl debug ID` — the core in gdb, symbols found by build-id. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/corecastctl/ctl.h"
#include "collector/groups/groups.h"
#include "collector/groups/json.h"

CTL_COMMAND(debug);

/* e_machine of this program, to tell native cores from foreign ones. */
static unsigned host_machine(void)
{
	unsigned char h[20];
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, h, sizeof h) : -1;

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof h)
		return 0;
	return h[5] == 1 ? (unsigned)(h[18] | h[19] << 8) : (unsigned)(h[18] << 8 | h[19]);
}

/* The executable of the dump from the symbol store, if filed there: the first
 * module the symbolizer reported is the main program. */
static char *find_exe(struct ctl *c, uint64_t id)
{
	sqlite3 *db = (sqlite3 *)store_db(c->st);
	sqlite3_stmt *st;
	char *path = NULL;

	if (grp_init(db) != GRP_OK ||
	    sqlite3_prepare_v2(db, "SELECT json FROM grp_symbolization WHERE dump_id=?1", -1, &st,
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		struct json *doc;
		if (json_parse((const char *)sqlite3_column_text(st, 0),
			       (size_t)sqlite3_column_bytes(st, 0), &doc, NULL) == JSON_OK) {
			const char *bid = json_str(json_get(json_at(json_get(doc, "modules"), 0),
							    "build_id"));
			if (bid && strlen(bid) > 2 && strspn(bid, "0123456789abcdef") == strlen(bid)) {
				static const char *const suffix[] = { "", ".debug" };
				for (int k = 0; k < 2 && !path; k++) {
					if (asprintf(&path, "%s/.build-id/%.2s/%s%s", c->store_dir, bid,
						     bid + 2, suffix[k]) < 0)
						path = NULL;
					else if (access(path, R_OK) < 0) {
						free(path);
						path = NULL;
					}
				}
			}
			json_free(doc);
		}
	}
	sqlite3_finalize(st);
	return path;
}

static int write_core(struct ctl *c, uint64_t id, char *tmpl)
{
	struct store_reader *rd;
	char buf[1 << 16];
	int fd = mkstemps(tmpl, 5);
	enum store_err e;

	if (fd < 0)
		return ctl_fail("debug %" PRIu64 ": %s: %s", id, tmpl, strerror(errno));
	if ((e = store_open_core(c->st, id, &rd)) != STORE_OK) {
		close(fd);
		unlink(tmpl);
		return ctl_fail("%s", store_errmsg(c->st));
	}
	for (;;) {
		size_t got;
		e = store_read(rd, buf, sizeof buf, &got);
		if (e != STORE_OK || got == 0)
			break;
		for (size_t off = 0; off < got;) {
			ssize_t w = write(fd, buf + off, got - off);
			if (w < 0) {
				store_reader_close(rd);
				close(fd);
				unlink(tmpl);
				return ctl_fail("debug %" PRIu64 ": %s: %s", id, tmpl, strerror(errno));
			}
			off += (size_t)w;
		}
	}
	store_reader_close(rd);
	close(fd);
	if (e != STORE_OK) {
		unlink(tmpl);
		return ctl_fail("debug %" PRIu64 ": reading the stored core: %s", id,
				store_strerror(e));
	}
	return 0;
}

CTL_COMMAND(debug)
{
	const char *debugger = NULL;
	uint64_t id = 0;
	bool have_id = false;
	struct store_rec r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--debugger") && i + 1 < argc)
			debugger = argv[++i];
		else if (!strncmp(argv[i], "--debugger=", 11))
			debugger = argv[i] + 11;
		else if (!have_id && argv[i][0] != '-') {
			if (ctl_parse_id(argv[i], &id) < 0)
				return 1;
			have_id = true;
		} else
			return ctl_fail("debug: %s: unexpected argument (usage: debug ID "
					"[--debugger CMD])", argv[i]);
	}
	if (!have_id)
		return ctl_fail("debug: usage: debug ID [--debugger CMD]");
	if (store_get(c->st, id, &r) != STORE_OK)
		return ctl_fail("%s", store_errmsg(c->st));
	/* gdb reads only its own machine; gdb-multiarch reads them all */
	if (!debugger)
		debugger = r.meta.machine == 0 || r.meta.machine == host_machine()
			   ? "gdb" : "gdb-multiarch";

	const char *tmpdir = getenv("TMPDIR");
	char core[4096];
	snprintf(core, sizeof core, "%s/corecast-%" PRIu64 "-XXXXXX.core",
		 tmpdir && *tmpdir ? tmpdir : "/tmp", id);
	if (write_core(c, id, core))
		return 1;
	char *exe = find_exe(c, id);

	/*
	 * The debugger command may carry its own arguments ("gdb -batch -ex bt"), so it
	 * runs through the shell with ours appended as "$@": -iex runs before the files
	 * load, which is when the build-id lookups happen.
	 */
	char dfd[4200], script[4400];
	snprintf(dfd, sizeof dfd, "set debug-file-directory %s", c->store_dir);
	snprintf(script, sizeof script, "exec %s \"$@\"", debugger);
	char *args[16];
	int n = 0;
	args[n++] = "sh";
	args[n++] = "-c";
	args[n++] = script;
	args[n++] = "corecastctl-debug";
	args[n++] = "-q";
	args[n++] = "-iex";
	args[n++] = dfd;
	args[n++] = "-iex";
	args[n++] = "set auto-load safe-path /";
	if (exe)
		args[n++] = exe;
	args[n++] = "-c";
	args[n++] = core;
	args[n] = NULL;

	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		unlink(core);
		free(exe);
		return ctl_fail("debug %" PRIu64 ": fork: %s", id, strerror(errno));
	}
	if (pid == 0) {
		execv("/bin/sh", args);
		_exit(127);
	}
	/* Ctrl-C belongs to the debugger (it interrupts the inferior), not to us: we
	 * must live to delete the temporary core. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	unlink(core);
	free(exe);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return ctl_fail("debug %" PRIu64 ": %s: debugger not found", id, debugger);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
