/* collector/corecastctl/main.c: corecastctl entry point — global options and the command table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/corecastctl/ctl.h"

/* How a command needs the store opened. */
enum ctl_store_mode {
	CTL_NOSTORE = 0,   /* c->st stays NULL */
	CTL_READ    = 1,   /* read-only index: the collector may be writing meanwhile */
	CTL_WRITE   = 2,   /* read-write index */
};

/*
 * The command table.  Adding a command is one line here plus a file cmd_<name>.c
 * that defines CTL_COMMAND(<name>) (see ctl.h); the fragment links every cmd_*.c.
 * Columns: name, store mode, usage (after the name), one-line description.
 */
#define CTL_COMMANDS(X) \
	X(list, CTL_READ,  "[--device DEV] [--since TIME]", "List stored dumps, oldest first") \
	X(info, CTL_READ,  "ID",                           "Show everything known about one dump") \
	X(dump, CTL_READ,  "ID -o FILE",                   "Write the decompressed core to FILE ('-' for stdout)") \
	X(rm,   CTL_WRITE, "ID...",                        "Delete dumps") \
	X(groups, CTL_READ, "[--by devices|count] [--state S] [--version V] [--since TIME]", "List crash groups, largest first") \
	X(group, CTL_WRITE, "SIG [resolve [--version V] | mute | open]", "Show one crash group, or change its state") \
	X(symbols, CTL_WRITE, "add FILE... | list",        "File ELF symbol files by build-id; list them") \
	X(debug, CTL_READ, "ID [--debugger CMD]",         "Open the core in gdb with symbols found by build-id") \
	X(import_serial, CTL_NOSTORE, "LOG...",            "Import the serial core dumps found in console logs ('-': stdin)") \
	X(devices, CTL_NOSTORE, "add ID --psk HEX | add ID --cert FILE | rm ID | list [--keys FILE]", "Manage the device key store (dtls/tls authentication)")

#define CTL_DECLARE(name, mode, usage, help) CTL_COMMAND(name);
CTL_COMMANDS(CTL_DECLARE)

struct ctl_cmd {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	enum ctl_store_mode mode;
	const char *usage;
	const char *help;
};

#define CTL_ENTRY(name, mode, usage, help) { #name, cmd_##name, mode, usage, help },
static const struct ctl_cmd ctl_cmds[] = {
	CTL_COMMANDS(CTL_ENTRY)
};

#define CTL_DEFAULT_STORE "/var/lib/corecast"

/* Command names are C identifiers in the table; on the command line '-' may stand for '_'. */
static int ctl_cmd_match(const char *name, const char *arg)
{
	for (; *name && (*name == *arg || (*name == '_' && *arg == '-')); name++, arg++)
		;
	return *name == 0 && *arg == 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: corecastctl [--store DIR] [--json] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++) {
		/* Shown as typed: the table's '_' is '-' on the command line. */
		fputs("  ", f);
		for (const char *p = ctl_cmds[i].name; *p; p++)
			fputc(*p == '_' ? '-' : *p, f);
		fprintf(f, " %s\n      %s\n", ctl_cmds[i].usage, ctl_cmds[i].help);
	}
	fprintf(f, "\nThe store defaults to $CORECAST_STORE, else " CTL_DEFAULT_STORE ".\n");
}

int main(int argc, char **argv)
{
	struct ctl c = { 0 };
	const char *env = getenv("CORECAST_STORE");
	c.store_dir = env && *env ? env : CTL_DEFAULT_STORE;

	/*
	 * Global options may come before or after the command name, so pull them out of
	 * argv wherever they are (up to a "--"), leaving the command and its own
	 * arguments in order.
	 */
	char **args = calloc((size_t)argc + 1, sizeof *args);
	if (!args)
		return ctl_fail("out of memory");
	int n = 0, rest = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (rest) {
			args[n++] = argv[i];
		} else if (!strcmp(a, "--")) {
			rest = 1;
			args[n++] = argv[i];
		} else if (!strcmp(a, "--json")) {
			c.json = 1;
		} else if (!strcmp(a, "--store")) {
			if (i + 1 >= argc) {
				free(args);
				return ctl_fail("--store: missing directory");
			}
			c.store_dir = argv[++i];
		} else if (!strncmp(a, "--store=", 8)) {
			c.store_dir = a + 8;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			free(args);
			return 0;
		} else {
			args[n++] = argv[i];
		}
	}
	if (n == 0) {
		usage(stderr);
		free(args);
		return 2;
	}

	const struct ctl_cmd *cmd = NULL;
	for (size_t i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++)
		if (ctl_cmd_match(ctl_cmds[i].name, args[0]))
			cmd = &ctl_cmds[i];
	if (!cmd) {
		int rc = ctl_fail("%s: unknown command (see corecastctl --help)", args[0]);
		free(args);
		return rc == 1 ? 2 : rc;
	}

	if (cmd->mode != CTL_NOSTORE) {
		unsigned flags = cmd->mode == CTL_READ ? STORE_RDONLY : 0;
		enum store_err e = store_open(c.store_dir, flags, &c.st);
		if (e != STORE_OK) {
			int rc = ctl_fail("store %s", store_open_errmsg());
			free(args);
			return rc;
		}
	}

	int rc = cmd->fn(&c, n, args);
	fflush(stdout);
	if (ferror(stdout)) {
		ctl_fail("standard output: write error");
		rc = rc ? rc : 1;
	}
	if (c.st)
		store_close(c.st);
	free(args);
	return rc;
}
