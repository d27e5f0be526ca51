/* collector/corecastctl/cmd_devices.c: corecastctl devices add|rm|list — the device key store. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "collector/corecastctl/ctl.h"
#include "collector/keystore/keystore.h"
#include "collector/tls/tls.h"
#include "netdump/hex.h"

CTL_COMMAND(devices);

static const char devices_usage[] =
	"devices add ID --psk HEX | --cert FILE | devices rm ID | devices list "
	"[--keys FILE]";

/*
 * Edits are serialised with a lock file next to the store file, so two
 * operators (or scripts) adding devices at once both land; the daemon reads
 * the file only on start and SIGHUP and never writes it.
 */
static int lock_keys(const char *path)
{
	char lp[4096];
	int fd;

	snprintf(lp, sizeof lp, "%s.lock", path);
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		ctl_fail("key store lock %s: %s", lp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int load(struct keystore *ks, const char *path)
{
	char err[600];

	if (ks_load(ks, path, NULL, err, sizeof err) != KS_OK)
		return ctl_fail("key store %s", err);
	return 0;
}

static int save(const struct keystore *ks, const char *path)
{
	if (ks_save(ks, path) != KS_OK)
		return ctl_fail("key store %s: %s", path, strerror(errno));
	return 0;
}

/* The certificate's fingerprint; its CN must be the device id. */
static int cert_entry(const char *id, const char *file, struct ks_entry *e)
{
	mbedtls_x509_crt crt;
	char cn[CCTLS_ID_MAX + 1];
	int r;

	mbedtls_x509_crt_init(&crt);
	r = mbedtls_x509_crt_parse_file(&crt, file);
	if (r != 0) {
		mbedtls_x509_crt_free(&crt);
		return ctl_fail("certificate %s: not a readable PEM or DER certificate", file);
	}
	if (cctls_cert_cn(&crt, cn, sizeof cn) < 0 || strcmp(cn, id) != 0) {
		ctl_fail("certificate %s: subject CN is \"%s\", not the device id %s", file, cn, id);
		mbedtls_x509_crt_free(&crt);
		return 1;
	}
	cctls_fingerprint(&crt, e->fp);
	e->kind = KS_CERT;
	mbedtls_x509_crt_free(&crt);
	return 0;
}

static int do_add(const char *path, int argc, char **argv)
{
	const char *id = NULL, *psk = NULL, *cert = NULL;
	struct keystore ks;
	struct ks_entry e;
	int lk, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--psk") && i + 1 < argc)
			psk = argv[++i];
		else if (!strcmp(argv[i], "--cert") && i + 1 < argc)
			cert = argv[++i];
		else if (argv[i][0] != '-' && id == NULL)
			id = argv[i];
		else
			return ctl_fail("devices add: unexpected argument '%s' (usage: %s)", argv[i],
					devices_usage);
	}
	if (id == NULL || (psk == NULL) == (cert == NULL))
		return ctl_fail("devices add: give a device id and either --psk HEX or --cert FILE");
	if (ks_check_id(id) != KS_OK)
		return ctl_fail("device %s: %s", id, ks_strerror(KS_E_ID));
	memset(&e, 0, sizeof e);
	strcpy(e.id, id);
	if (psk) {
		if (nd_unhex_str(psk, e.key, sizeof e.key, &e.keylen) < 0 || e.keylen < KS_PSK_MIN)
			return ctl_fail("device %s: --psk: %s", id, ks_strerror(KS_E_KEY));
		e.kind = KS_PSK;
	} else if (cert_entry(id, cert, &e) != 0) {
		return 1;
	}
	lk = lock_keys(path);
	if (lk < 0)
		return 1;
	ks_init(&ks);
	rc = load(&ks, path);
	if (rc == 0) {
		int had = ks_find(&ks, id) != NULL;
		enum ks_err r = ks_put(&ks, &e);
		if (r != KS_OK)
			rc = ctl_fail("device %s: %s", id, ks_strerror(r));
		else if ((rc = save(&ks, path)) == 0)
			printf("%s device %s (%s) in %s; corecastd applies it on SIGHUP\n",
			       had ? "replaced" : "added", id, psk ? "psk" : "certificate", path);
	}
	memset(&e, 0, sizeof e);
	ks_free(&ks);
	close(lk);
	return rc;
}

static int do_rm(const char *path, int argc, char **argv)
{
	struct keystore ks;
	int lk, rc;

	if (argc != 2)
		return ctl_fail("devices rm: give exactly one device id");
	lk = lock_keys(path);
	if (lk < 0)
		return 1;
	ks_init(&ks);
	rc = load(&ks, path);
	if (rc == 0) {
		if (ks_remove(&ks, argv[1]) != KS_OK)
			rc = ctl_fail("device %s: not in the key store %s", argv[1], path);
		else if ((rc = save(&ks, path)) == 0)
			printf("removed device %s from %s; corecastd applies it on SIGHUP\n",
			       argv[1], path);
	}
	ks_free(&ks);
	close(lk);
	return rc;
}

static int do_list(struct ctl *c, const char *path)
{
	struct keystore ks;
	char hex[2 * KS_FP_LEN + 1];

	ks_init(&ks);
	if (load(&ks, path) != 0)
		return 1;
	if (c->json)
		fputc('[', stdout);
	else if (ks.n)
		printf("%-32s %-5s %s\n", "DEVICE", "AUTH", "KEY");
	for (size_t i = 0; i < ks.n; i++) {
		const struct ks_entry *e = &ks.e[i];
		if (e->kind == KS_CERT)
			nd_hex(e->fp, KS_FP_LEN, hex);
		if (c->json) {
			/* The PSK itself is never printed: only that one is held. */
			printf("%s{\"device\":", i ? "," : "");
			ctl_json_str(stdout, e->id);
			if (e->kind == KS_PSK)
				printf(",\"auth\":\"psk\",\"key_bytes\":%zu}", e->keylen);
			else
				printf(",\"auth\":\"cert\",\"sha256\":\"%s\"}", hex);
		} else if (e->kind == KS_PSK) {
			printf("%-32s %-5s %zu-byte key\n", e->id, "psk", e->keylen);
		} else {
			printf("%-32s %-5s sha256:%s\n", e->id, "cert", hex);
		}
	}
	if (c->json)
		fputs("]\n", stdout);
	ks_free(&ks);
	return 0;
}

CTL_COMMAND(devices)
{
	char def[4096];
	const char *path = NULL;
	char **args = calloc((size_t)argc + 1, sizeof *args);
	int n = 0, rc;

	if (args == NULL)
		return ctl_fail("out of memory");
	/* --keys FILE may stand anywhere after "devices". */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(argv[i], "--keys=", 7))
			path = argv[i] + 7;
		else
			args[n++] = argv[i];
	}
	if (path == NULL) {
		snprintf(def, sizeof def, "%s/device-keys", c->store_dir);
		path = def;
	}
	if (n == 0)
		rc = ctl_fail("devices: missing subcommand (usage: %s)", devices_usage);
	else if (!strcmp(args[0], "add"))
		rc = do_add(path, n, args);
	else if (!strcmp(args[0], "rm"))
		rc = do_rm(path, n, args);
	else if (!strcmp(args[0], "list"))
		rc = n == 1 ? do_list(c, path)
			    : ctl_fail("devices list: unexpected argument '%s'", args[1]);
	else
		rc = ctl_fail("devices %s: unknown subcommand (usage: %s)", args[0], devices_usage);
	free(args);
	return rc == 0 ? 0 : 1;
}
