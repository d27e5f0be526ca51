/* collector/corecastctl/cmd_debug.c: `corecastctl debug ID` — the core in gdb, symbols found by build-id. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
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

/* A module of the dump whose file is in the symbol store. */
struct mod_file {
	char *path;
	uint64_t start;   /* load address the symbolizer found */
};

static char *store_file(struct ctl *c, const char *bid)
{
	static const char *const suffix[] = { "", ".debug" };
	char *path = NULL;

	if (!bid || strlen(bid) < 3 || strspn(bid, "0123456789abcdef") != strlen(bid))
		return NULL;
	for (int k = 0; k < 2; k++) {
		if (asprintf(&path, "%s/.build-id/%.2s/%s%s", c->store_dir, bid, bid + 2,
			     suffix[k]) < 0)
			return NULL;
		if (access(path, R_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/*
 * The modules the symbolizer reported (the first is the main program) whose files
 * are in the store, from the dump's stored document.  Returns the count; *out is
 * malloc'd.
 */
static size_t find_modules(struct ctl *c, uint64_t id, struct mod_file **out)
{
	sqlite3 *db = (sqlite3 *)store_db(c->st);
	sqlite3_stmt *st;
	size_t n = 0;

	*out = NULL;
	if (grp_init(db) != GRP_OK ||
	    sqlite3_prepare_v2(db, "SELECT json FROM grp_symbolization WHERE dump_id=?1", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		struct json *doc;
		if (json_parse((const char *)sqlite3_column_text(st, 0),
			       (size_t)sqlite3_column_bytes(st, 0), &doc, NULL) == JSON_OK) {
			const struct json *mods = json_get(doc, "modules");
			*out = calloc(mods ? mods->n + 1 : 1, sizeof(**out));
			for (const struct json *m = mods ? mods->child : NULL; m && *out; m = m->next) {
				const char *start = json_str(json_get(m, "start"));
				char *path = store_file(c, json_str(json_get(m, "build_id")));
				if (!path)
					continue;
				(*out)[n].path = path;
				(*out)[n].start = start ? strtoull(start, NULL, 16) : 0;
				n++;
			}
			json_free(doc);
		}
	}
	sqlite3_finalize(st);
	return n;
}

/*
 * Does the core say which file is mapped where (NT_FILE)?  GDB needs that to
 * place a position-independent executable; cores written by qemu-user lack it, and
 * then the load addresses the symbolizer worked out are handed to GDB instead.
 */
static bool core_has_nt_file(const char *core)
{
	int fd = open(core, O_RDONLY | O_CLOEXEC);
	bool found = false;
	size_t phnum = 0;
	Elf *e;

	if (fd < 0)
		return true;   /* let GDB report the problem */
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_getphdrnum(e, &phnum) == 0) {
		for (size_t i = 0; i < phnum && !found; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			Elf_Data *d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz,
							   ELF_T_NHDR);
			GElf_Nhdr nh;
			size_t off = 0, name_off, desc_off;
			while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0)
				if (nh.n_type == 0x46494c45 /* NT_FILE */) {
					found = true;
					break;
				}
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return found;
}

/* Lowest PT_LOAD address of an ELF file: its load bias is start minus this. */
static uint64_t min_vaddr(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t lo = UINT64_MAX;
	size_t phnum = 0;
	Elf *e;

	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_getphdrnum(e, &phnum) == 0)
		for (size_t i = 0; i < phnum; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lo)
				lo = ph.p_vaddr & ~(uint64_t)0xfff;
		}
	if (e)
		elf_end(e);
	close(fd);
	return lo == UINT64_MAX ? 0 : lo;
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
	struct mod_file *mods = NULL;
	size_t nmods = find_modules(c, id, &mods);
	bool place = nmods && !core_has_nt_file(core);

	/*
	 * The debugger command may carry its own arguments ("gdb -batch -ex bt"), so it
	 * runs through the shell with ours appended as "$@": -iex runs before the files
	 * load, which is when the build-id lookups happen.
	 */
	char *dfd = NULL, *script = NULL;
	char **args = calloc(16 + 2 * nmods, sizeof(*args));
	char **extra = calloc(nmods + 1, sizeof(*extra));
	char *abs_store = realpath(c->store_dir, NULL);
	if (!args || !extra || asprintf(&dfd, "set debug-file-directory %s",
					abs_store ? abs_store : c->store_dir) < 0 ||
	    asprintf(&script, "exec %s \"$@\"", debugger) < 0) {
		unlink(core);
		return ctl_fail("debug %" PRIu64 ": out of memory", id);
	}
	int n = 0;
	args[n++] = "sh";
	args[n++] = "-c";
	args[n++] = script;
	args[n++] = "corecastctl-debug";
	args[n++] = "-q";
	args[n++] = "-iex";
	args[n++] = "set auto-load safe-path /";
	/* Placed files are every store file the dump has; letting GDB also look
	 * them up by build-id would load the program a second time, unrelocated,
	 * over the placed one. */
	if (!place) {
		args[n++] = "-iex";
		args[n++] = dfd;
	}
	if (place) {
		/* no NT_FILE: every module at the address the symbolizer found */
		args[n++] = "-iex";
		args[n++] = "set confirm off";
		for (size_t i = 0; i < nmods; i++) {
			uint64_t lo = min_vaddr(mods[i].path);
			/* the main program must be GDB's "symbol-file", libraries added */
			if (asprintf(&extra[i], "%s %s -o 0x%" PRIx64,
				     i == 0 ? "symbol-file" : "add-symbol-file", mods[i].path,
				     mods[i].start >= lo ? mods[i].start - lo : 0) < 0)
				extra[i] = NULL;
		}
	} else if (nmods) {
		args[n++] = mods[0].path;   /* GDB places it from the core's NT_FILE */
	}
	/* -iex as well: before the debugger command's own -ex (a "bt" must see them) */
	for (size_t i = 0; place && i < nmods; i++)
		if (extra[i]) {
			args[n++] = "-iex";
			args[n++] = extra[i];
		}
	char *core_cmd = NULL;
	if (place && asprintf(&core_cmd, "core-file %s", core) > 0) {
		/* "-c" would load the core after the -iex placements and undo them */
		args[n++] = "-iex";
		args[n++] = core_cmd;
	} else {
		args[n++] = "-c";
		args[n++] = core;
	}
	args[n] = NULL;

	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		unlink(core);
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
	for (size_t i = 0; i < nmods; i++) {
		free(mods[i].path);
		free(extra[i]);
	}
	free(mods);
	free(extra);
	free(args);
	free(dfd);
	free(script);
	free(core_cmd);
	free(abs_store);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return ctl_fail("debug %" PRIu64 ": %s: debugger not found", id, debugger);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
