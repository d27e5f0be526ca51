/* collector/groups/hooks.h: operator commands run when a new crash group appears or a fixed one regresses. */
#ifndef GROUPS_HOOKS_H
#define GROUPS_HOOKS_H

#include <stdint.h>

/*
 * The command runs through /bin/sh -c with the facts in its environment:
 *   CORECAST_EVENT      "new-group" or "regression"
 *   CORECAST_GROUP      the group's signature (what `corecastctl group` takes)
 *   CORECAST_SIGNATURE  the canonical signature text (lines joined by " | ")
 *   CORECAST_TITLE      "SIGSEGV in level3 <- level2 <- level1"
 *   CORECAST_DEVICE, CORECAST_FIRMWARE, CORECAST_DUMP_ID   the dump that triggered it
 * It runs detached (its own session, stdin /dev/null, stdout/stderr inherited): the
 * collector never waits for it, so a slow or hanging hook cannot stall ingest.
 */
struct hook_event {
	const char *event;
	const char *group;
	const char *signature;
	const char *title;
	const char *device;
	const char *firmware;
	uint64_t dump_id;
};

/* Start command for ev.  0, or -errno if it could not be started. */
int hook_run(const char *command, const struct hook_event *ev);

#endif /* GROUPS_HOOKS_H */
