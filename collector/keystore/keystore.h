/* collector/keystore/keystore.h: the device key store file — parse, look up, edit, atomic rewrite. */
#ifndef CCKS_KEYSTORE_H
#define CCKS_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The file format is documented in corecast-keys(5).  One device per line:
 *
 *     DEVICE-ID psk HEX          pre-shared key, 16..64 bytes
 *     DEVICE-ID cert SHA256-HEX  fingerprint of the device's certificate (DER)
 *
 * '#' starts a comment line; blank lines are ignored.  A device id is 1..63
 * printable ASCII characters without spaces or '#' (the netdump device id).
 */

#define KS_ID_MAX    64     /* with the NUL, = ND_DEVICE_MAX */
#define KS_PSK_MIN   16
#define KS_PSK_MAX   64
#define KS_FP_LEN    32

enum ks_kind { KS_PSK = 1, KS_CERT = 2 };

enum ks_err {
	KS_OK = 0,
	KS_E_IO,          /* the file cannot be read or written (errno kept) */
	KS_E_SYNTAX,      /* a line is not "ID psk HEX" / "ID cert HEX" */
	KS_E_ID,          /* device id empty, too long or with forbidden characters */
	KS_E_KEY,         /* PSK not 16..64 bytes of hex */
	KS_E_FP,          /* fingerprint not 32 bytes of hex */
	KS_E_DUP,         /* the device is listed twice */
	KS_E_NOTFOUND,    /* no such device */
	KS_E_MEM,         /* out of memory */
};

const char *ks_strerror(enum ks_err e);

struct ks_entry {
	char id[KS_ID_MAX];
	enum ks_kind kind;
	uint8_t key[KS_PSK_MAX];     /* KS_PSK */
	size_t keylen;
	uint8_t fp[KS_FP_LEN];       /* KS_CERT */
};

struct keystore {
	struct ks_entry *e;          /* sorted by id: bsearch on every handshake */
	size_t n, cap;
};

void ks_init(struct keystore *ks);
void ks_free(struct keystore *ks);

/*
 * Load path into ks (replacing what it held only on success).  A missing file
 * is an empty store (KS_OK, *missing set when missing != NULL).  On error err
 * gets "PATH:LINE: cause".
 */
enum ks_err ks_load(struct keystore *ks, const char *path, int *missing,
		    char *err, size_t errlen);
/* Parse text (for tests); name stands for the file in messages. */
enum ks_err ks_parse(struct keystore *ks, const char *name, const char *text,
		     char *err, size_t errlen);
/*
 * Write ks to path atomically: a temporary file in the same directory, mode
 * 0600, fsync, rename over path, fsync of the directory.  A crash leaves the
 * old file or the new one, never a mix.
 */
enum ks_err ks_save(const struct keystore *ks, const char *path);

const struct ks_entry *ks_find(const struct keystore *ks, const char *id);
/* Add or replace id's entry. */
enum ks_err ks_put(struct keystore *ks, const struct ks_entry *e);
enum ks_err ks_remove(struct keystore *ks, const char *id);

/* Is id acceptable as a device id?  KS_OK or KS_E_ID. */
enum ks_err ks_check_id(const char *id);

#endif /* CCKS_KEYSTORE_H */
