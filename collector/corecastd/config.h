/* collector/corecastd/config.h: corecastd.conf parsing, defaults and reload diffs. */
#ifndef CCD_CONFIG_H
#define CCD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "collector/corecastd/listen.h"

#define CCD_LISTEN_MAX   16
#define CCD_PATH_MAX     512
#define CCD_SIZE_DEFAULT UINT64_MAX   /* MaxUse/KeepFree: let the store pick */

/*
 * Defaults, each documented in corecastd.conf(5).  The window and payload are
 * what the collector advertises; a sender uses the smaller of its own and ours.
 */
#define CCD_DEF_STORE            "/var/lib/corecast"
#define CCD_DEF_MAX_SESSIONS     1024u
#define CCD_DEF_MAX_CORE_SIZE    (4ull << 30)
#define CCD_DEF_PER_DEVICE       4u
#define CCD_DEF_DEVICE_RATE      60u          /* new dumps per minute per device */
#define CCD_DEF_TIMEOUT_MS       60000ull
#define CCD_DEF_WINDOW           2048u        /* packets: the sender's largest */
#define CCD_DEF_MAX_PAYLOAD      8192u        /* bytes of core per DATA */
#define CCD_DEF_MEMORY_LIMIT     (96ull << 20)
#define CCD_DEF_SPOOL_MAX_AGE    7u           /* days */
#define CCD_DEF_LOG_LEVEL        6            /* info */
#define CCD_DEF_SYM_WORKERS      2u
#define CCD_DEF_SYM_TIMEOUT_MS   60000ull
#define CCD_DEF_SYM_MEMORY       (1ull << 30)
#define CCD_DEF_SYM_WORKER_JOBS  1000u
#define CCD_DEF_SYM_WORKER_RSS   (256ull << 20)
#define CCD_CMD_MAX              512
#define CCD_DEF_HANDSHAKE_RATE   120u         /* (D)TLS handshakes per minute per source */
#define CCD_DEF_DEVICE_KEYS      "device-keys" /* in the store directory */

/* Hard bounds that keep one value from breaking the daemon. */
#define CCD_MAX_WINDOW           65535u
#define CCD_MIN_PAYLOAD          256u
#define CCD_MAX_PAYLOAD          65000u
#define CCD_MIN_MEMORY_LIMIT     (4ull << 20)

struct ccd_config {
	int n_listen;
	struct ccd_listen listen[CCD_LISTEN_MAX];
	char store[CCD_PATH_MAX];
	uint64_t max_use;              /* bytes, or CCD_SIZE_DEFAULT */
	uint64_t keep_free;            /* bytes, or CCD_SIZE_DEFAULT */
	uint32_t max_sessions;         /* concurrent transfers */
	uint64_t max_core_size;        /* bytes */
	uint32_t max_sessions_per_device;
	uint32_t device_rate;          /* new dumps per minute per device, 0 = no limit */
	uint64_t session_timeout_ms;   /* idle time before a session is closed */
	uint32_t receive_window;       /* packets in flight we advertise */
	uint32_t max_payload;          /* bytes per DATA we accept */
	uint64_t memory_limit;         /* bytes of buffers the daemon may hold */
	uint32_t spool_max_age_days;   /* abandoned spools older than this are purged */
	int log_level;                 /* 3 err .. 7 debug */

	/* Symbolization of stored dumps in limited child processes. */
	uint32_t symbolize_workers;    /* 0: symbolization off */
	uint64_t symbolize_timeout_ms; /* wall clock (and CPU) per job */
	uint64_t symbolize_memory;     /* address-space limit per worker */
	uint32_t symbolize_worker_jobs;/* dumps per long-lived worker; 0: a process per dump */
	uint64_t symbolize_worker_rss; /* a worker past this RSS is retired */
	char on_new_group[CCD_CMD_MAX];  /* hook commands, "" for none */
	char on_regression[CCD_CMD_MAX];
	/* dtls:// and tls:// listeners (docs/tls.md). */
	char tls_cert[CCD_PATH_MAX];   /* collector certificate (PEM), "" for none */
	char tls_key[CCD_PATH_MAX];    /* its private key */
	char tls_ca[CCD_PATH_MAX];     /* fleet CA device certificates chain to */
	char device_keys[CCD_PATH_MAX];/* key store, corecast-keys(5); "": STORE/device-keys */
	uint32_t handshake_rate;       /* handshakes per minute per source address, 0 = any */
};

/* What the command line says; it wins over the file, at start and on reload. */
struct ccd_overrides {
	int n_listen;
	struct ccd_listen listen[CCD_LISTEN_MAX];
	const char *store;             /* NULL: not given */
};

enum ccd_cfg_err {
	CCD_CFG_OK = 0,
	CCD_CFG_OPEN,           /* the file cannot be opened or read */
	CCD_CFG_SYNTAX,         /* a line is neither [Section], Key=Value nor comment */
	CCD_CFG_VALUE,          /* a known key has a value it cannot take */
	CCD_CFG_TOO_MANY,       /* more Listen= addresses than CCD_LISTEN_MAX */
};

const char *ccd_cfg_strerror(enum ccd_cfg_err e);

/* Diagnostics go through this callback: warnings (unknown keys and sections)
 * with warning=1, changed keys on reload with warning=0. */
typedef void (*ccd_cfg_note_fn)(void *ctx, int warning, const char *msg);

void ccd_config_defaults(struct ccd_config *c);

/*
 * Parse a file on top of *c (call ccd_config_defaults first).  Unknown keys and
 * sections are warnings "FILE:LINE: ..." through note; errors are written to
 * err as "FILE:LINE: Key: cause" and leave *c partly updated (callers parse into
 * a copy: see ccd_config_reload).
 */
enum ccd_cfg_err ccd_config_parse_file(struct ccd_config *c, const char *path,
				       char *err, size_t errlen,
				       ccd_cfg_note_fn note, void *ctx);

/* Same, from a string; name stands in for the file name in messages. */
enum ccd_cfg_err ccd_config_parse_string(struct ccd_config *c, const char *name,
					 const char *text, char *err, size_t errlen,
					 ccd_cfg_note_fn note, void *ctx);

/* Apply command-line overrides (which always win). */
void ccd_config_apply_overrides(struct ccd_config *c, const struct ccd_overrides *o);

/*
 * Load defaults + file (path may be NULL: defaults only) + overrides into *out.
 * Also applies cross-key checks (e.g. memory limit vs buffers).
 */
enum ccd_cfg_err ccd_config_load(struct ccd_config *out, const char *path,
				 const struct ccd_overrides *o, char *err, size_t errlen,
				 ccd_cfg_note_fn note, void *ctx);

/*
 * SIGHUP: re-read path into a fresh config; on error *cur is untouched and err
 * says why.  On success the limits in *cur take the new values and every
 * changed key is reported through note as "Key: old -> new".  Listen= and
 * Store= need a restart: a change is reported and the running value kept.
 * Returns the number of changed keys in *changed.
 */
enum ccd_cfg_err ccd_config_reload(struct ccd_config *cur, const char *path,
				   const struct ccd_overrides *o, char *err, size_t errlen,
				   ccd_cfg_note_fn note, void *ctx, int *changed);

/* Value parsers, exposed for tests and the command line. */
int ccd_parse_size(const char *s, uint64_t *out);       /* 123, 64K, 4G, 1.5G no */
int ccd_parse_duration_ms(const char *s, uint64_t *out); /* 30, 30s, 500ms, 5min, 1h */
int ccd_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

#endif /* CCD_CONFIG_H */
