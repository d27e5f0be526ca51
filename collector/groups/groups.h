/* collector/groups/groups.h: symbolization results and crash groups in the store's SQLite index. */
#ifndef GROUPS_GROUPS_H
#define GROUPS_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "collector/groups/signature.h"

/*
 * Tables (created by grp_init, all prefixed grp_ so they sit beside the store's own):
 *   grp_symbolization  one row per dump: status pending|done|symbols-missing|failed,
 *                      reason, the worker's JSON, build-ids whose symbols were missing
 *   grp_groups         one row per signature: title, canonical string, state
 *                      open|resolved|muted, resolved_in version, regression count
 *   grp_members        dump -> group link with the device, firmware and time of the
 *                      dump, so counts, devices, versions and first/last seen are
 *                      derived (never drift) and a re-symbolized dump moves groups.
 */

enum grp_err {
	GRP_OK = 0,
	GRP_E_DB,            /* SQLite error (message via sqlite3_errmsg) */
	GRP_E_JSON,          /* worker output is not valid JSON */
	GRP_E_SIGNATURE,     /* valid JSON, but no frames to sign */
	GRP_E_NOT_FOUND,     /* no such group / dump */
	GRP_E_AMBIGUOUS,     /* signature prefix matches several groups */
	GRP_E_BAD_STATE,     /* unknown state name */
	GRP_E_NOMEM,
};

enum grp_event {
	GRP_EV_NONE = 0,        /* joined an existing group (or re-symbolized in place) */
	GRP_EV_NEW_GROUP,       /* first dump of this signature */
	GRP_EV_REGRESSION,      /* resolved group recurred on a newer firmware: reopened */
};

/* Facts about a stored dump, from the store index. */
struct grp_dump {
	uint64_t id;
	const char *device;
	const char *firmware;   /* may be "" */
	const char *exe;
	int signal;
	int64_t seen;           /* unix seconds the collector received it */
};

struct grp_outcome {
	enum grp_event event;
	char signature[SIG_HEX_LEN + 1];
	char title[256];
	char canonical[2048];   /* the signed text (cut if longer, for hooks and logs) */
	const char *status;     /* "done" or "symbols-missing" */
	char missing[1024];     /* " id1 id2 ": build-ids without symbols (cut if longer) */
	char detail[256];       /* on GRP_E_JSON / GRP_E_SIGNATURE: why */
};

/* One group as listed by grp_list / grp_get. */
struct grp_info {
	char signature[SIG_HEX_LEN + 1];
	const char *title;
	const char *canonical;
	const char *state;
	const char *resolved_in;   /* NULL unless resolved once */
	int64_t count, devices, regressions;
	const char *versions;      /* comma-separated, ascending by version_cmp */
	int64_t first_seen, last_seen;
};

struct grp_filter {
	const char *state;         /* NULL: any */
	const char *version;       /* groups seen on this firmware */
	int64_t since;             /* last_seen >= since (0: any) */
	bool by_devices;           /* sort by devices (else by count), both descending */
};

enum grp_err grp_init(sqlite3 *db);
const char *grp_strerror(enum grp_err e);

/* Symbolization bookkeeping. */
enum grp_err grp_mark_pending(sqlite3 *db, uint64_t id);
enum grp_err grp_record_failure(sqlite3 *db, uint64_t id, const char *reason);
/* Parse the worker's document, store it, sign it, put the dump in its group. On
 * GRP_E_JSON / GRP_E_SIGNATURE the dump is recorded as failed with the reason. */
enum grp_err grp_record_result(sqlite3 *db, const struct grp_dump *d, const char *json,
			       size_t len, int nframes, struct grp_outcome *out);
/* symbols-missing dumps that lacked build_id go back to pending; *n = how many. */
enum grp_err grp_resymbolize_build_id(sqlite3 *db, const char *build_id, int *n);
/* Dumps whose status is pending, in id order. */
enum grp_err grp_each_pending(sqlite3 *db, int (*cb)(void *ctx, uint64_t id), void *ctx);
/* Status of one dump's symbolization: status and reason are copied out (may be ""). */
enum grp_err grp_status(sqlite3 *db, uint64_t id, char status[32], char reason[256]);

/* Groups. sig may be a unique prefix of a signature (at least 4 hex digits). */
enum grp_err grp_resolve_sig(sqlite3 *db, const char *prefix, char out[SIG_HEX_LEN + 1]);
enum grp_err grp_list(sqlite3 *db, const struct grp_filter *f,
		      int (*cb)(void *ctx, const struct grp_info *g), void *ctx);
enum grp_err grp_get(sqlite3 *db, const char *sig,
		     int (*cb)(void *ctx, const struct grp_info *g), void *ctx);
/* state: "open", "resolved" (version NULL: newest firmware seen in the group), "muted". */
enum grp_err grp_set_state(sqlite3 *db, const char *sig, const char *state,
			   const char *version);
/* The group a dump belongs to, or GRP_E_NOT_FOUND. */
enum grp_err grp_of_dump(sqlite3 *db, uint64_t id, char out[SIG_HEX_LEN + 1]);

/* Firmware versions: dotted numeric ("1.10.2" > "1.9", optional leading 'v',
 * missing parts are 0) when both are; else plain byte-wise comparison. */
int grp_version_cmp(const char *a, const char *b);

#endif /* GROUPS_GROUPS_H */
