/* collector/groups/hooks.c: operator commands run when a new crash group appears or a fixed one regresses. */
#include "collector/groups/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Multi-line values would be awkward in shell scripts: one line, " | " separated. */
static void set_one_line(const char *name, const char *value)
{
	char *v = strdup(value ? value : "");

	if (!v)
		return;
	size_t n = strlen(v);
	while (n && v[n - 1] == '\n')
		v[--n] = '\0';
	size_t len = 0;
	for (char *p = v; *p; p++)
		len += *p == '\n' ? 3 : 1;
	char *out = malloc(len + 1), *o = out;
	if (out) {
		for (char *p = v; *p; p++) {
			if (*p == '\n') {
				memcpy(o, " | ", 3);
				o += 3;
			} else {
				*o++ = *p;
			}
		}
		*o = '\0';
		setenv(name, out, 1);
		free(out);
	}
	free(v);
}

/* Runs in the grandchild: never returns. */
static void exec_hook(const char *command, const struct hook_event *ev)
{
	char id[32];
	sigset_t none;
	int fd;

	/* The collector blocks signals it reads through signalfd and ignores
	 * SIGPIPE; both would leak into the hook through exec. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	/* sockets, the index, spools: the hook gets none of the collector's files */
	close_range(3, ~0u, 0);

	snprintf(id, sizeof(id), "%" PRIu64, ev->dump_id);
	setenv("CORECAST_EVENT", ev->event ? ev->event : "", 1);
	setenv("CORECAST_GROUP", ev->group ? ev->group : "", 1);
	set_one_line("CORECAST_SIGNATURE", ev->signature);
	set_one_line("CORECAST_TITLE", ev->title);
	set_one_line("CORECAST_DEVICE", ev->device);
	set_one_line("CORECAST_FIRMWARE", ev->firmware);
	setenv("CORECAST_DUMP_ID", id, 1);
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
	_exit(127);
}

int hook_run(const char *command, const struct hook_event *ev)
{
	pid_t child, waited;
	int status;

	if (!command || !*command)
		return 0;
	/*
	 * Double fork: the middle child exits at once, so the collector reaps it here
	 * in microseconds and the hook itself is adopted by init (or the nearest
	 * subreaper) — no zombie to track in the event loop, however long it runs.
	 */
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0)
			exec_hook(command, ev);
		_exit(grandchild < 0 ? 1 : 0);
	}
	do
		waited = waitpid(child, &status, 0);
	while (waited < 0 && errno == EINTR);
	if (waited < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EAGAIN;
	return 0;
}
