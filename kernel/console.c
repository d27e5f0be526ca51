/* kernel/console.c: the kernel console: input polled on each tick, and a command thread (dump, ps, run...). */
#include "kernel/proc.h"

/*
 * Commands, one per line:
 *   dump PID       freeze, dump and unfreeze a running process
 *   run PROG[:ARG...]   start an embedded program
 *   kill PID [SIG] terminate a process (default SIGTERM)
 *   ps             list processes
 *   free           free physical pages
 *   poweroff       power the machine off now
 */
static char line[128];
static int line_len, line_ready;
static char ch_line;

void console_poll(void)
{
	int c;
	while (!line_ready && (c = hal_console_getc()) >= 0) {
		if (c == '\r' || c == '\n') {
			if (line_len) {
				line[line_len] = 0;
				line_ready = 1;
				k_wakeup(&ch_line);
			}
		} else if (line_len < (int)sizeof(line) - 1) {
			line[line_len++] = (char)c;
		}
	}
}

static int arg_num(const char *s, uint64_t *v)
{
	size_t n = 0;
	while (s[n] && s[n] != ' ')
		n++;
	return k_parse_u64(s, n, v);
}

static void command(char *cmd)
{
	uint64_t v, sig = K_SIGTERM;
	if (strncmp(cmd, "dump ", 5) == 0 && !arg_num(cmd + 5, &v)) {
		struct proc *p = proc_find((int)v);
		if (!p)
			k_printf("[k] dump: no process %lu\n", v);
		else
			proc_dump_request(p);
	} else if (strncmp(cmd, "run ", 4) == 0) {
		int r = proc_spawn(cmd + 4);
		if (r < 0)
			k_printf("[k] run: cannot start '%s' (error %d)\n", cmd + 4, -r);
	} else if (strncmp(cmd, "kill ", 5) == 0 && !arg_num(cmd + 5, &v)) {
		char *s = cmd + 5;
		while (*s && *s != ' ')
			s++;
		if (*s == ' ')
			arg_num(s + 1, &sig);
		struct proc *p = proc_find((int)v);
		if (p && sig > 0 && sig < 32)
			proc_kill(p, (int)sig);
		else
			k_printf("[k] kill: no process %lu\n", v);
	} else if (strcmp(cmd, "ps") == 0) {
		for (int i = 1; i < K_MAX_PROCS; i++)
			if (k_procs[i].state == P_ALIVE)
				k_printf("[k] ps pid=%d name=%s threads=%d\n", k_procs[i].pid,
					 k_procs[i].name, k_procs[i].nthreads);
	} else if (strcmp(cmd, "free") == 0) {
		k_printf("[k] free pages=%lu total=%lu\n", k_pages_free(), k_pages_total());
	} else if (strcmp(cmd, "poweroff") == 0) {
		k_printf("[k] poweroff\n");
		hal_poweroff(0);
	} else {
		k_printf("[k] unknown command '%s'\n", cmd);
	}
}

void console_thread(void)
{
	for (;;) {
		while (!line_ready)
			k_sleep(&ch_line, 0);
		char cmd[sizeof(line)];
		memcpy(cmd, line, sizeof(cmd));
		line_len = 0;
		line_ready = 0;
		command(cmd);
	}
}
