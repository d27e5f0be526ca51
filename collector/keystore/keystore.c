/* collector/keystore/keystore.c: the device key store file — parse, look up, edit, atomic rewrite. */
#include "collector/keystore/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netdump/hex.h"

const char *ks_strerror(enum ks_err e)
{
	switch (e) {
	case KS_OK: return "ok";
	case KS_E_IO: return "cannot read or write the key store";
	case KS_E_SYNTAX: return "expected \"DEVICE-ID psk HEX\" or \"DEVICE-ID cert SHA256-HEX\"";
	case KS_E_ID: return "device id must be 1-63 printable characters without spaces or '#'";
	case KS_E_KEY: return "PSK must be 16-64 bytes written as hex";
	case KS_E_FP: return "certificate fingerprint must be a SHA-256 (64 hex digits)";
	case KS_E_DUP: return "device listed twice";
	case KS_E_NOTFOUND: return "no such device";
	case KS_E_MEM: return "out of memory";
	}
	return "unknown key store error";
}

void ks_init(struct keystore *ks)
{
	memset(ks, 0, sizeof *ks);
}

void ks_free(struct keystore *ks)
{
	if (ks->e != NULL)
		memset(ks->e, 0, ks->cap * sizeof ks->e[0]);   /* keys do not linger */
	free(ks->e);
	ks_init(ks);
}

enum ks_err ks_check_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= KS_ID_MAX)
		return KS_E_ID;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == '#')
			return KS_E_ID;
	return KS_OK;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct ks_entry *)a)->id, ((const struct ks_entry *)b)->id);
}

const struct ks_entry *ks_find(const struct keystore *ks, const char *id)
{
	struct ks_entry key;

	if (ks->n == 0 || strlen(id) >= KS_ID_MAX)
		return NULL;
	strcpy(key.id, id);
	return bsearch(&key, ks->e, ks->n, sizeof ks->e[0], cmp_entry);
}

static enum ks_err append(struct keystore *ks, const struct ks_entry *e)
{
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 16;
		struct ks_entry *ne = calloc(cap, sizeof *ne);
		if (ne == NULL)
			return KS_E_MEM;
		if (ks->n)
			memcpy(ne, ks->e, ks->n * sizeof *ne);
		if (ks->e)
			memset(ks->e, 0, ks->cap * sizeof ks->e[0]);
		free(ks->e);
		ks->e = ne;
		ks->cap = cap;
	}
	ks->e[ks->n++] = *e;
	return KS_OK;
}

enum ks_err ks_put(struct keystore *ks, const struct ks_entry *e)
{
	struct ks_entry *old;
	enum ks_err r;

	if (ks_check_id(e->id) != KS_OK)
		return KS_E_ID;
	if (e->kind == KS_PSK && (e->keylen < KS_PSK_MIN || e->keylen > KS_PSK_MAX))
		return KS_E_KEY;
	if (e->kind != KS_PSK && e->kind != KS_CERT)
		return KS_E_SYNTAX;
	old = (struct ks_entry *)ks_find(ks, e->id);
	if (old != NULL) {
		*old = *e;
		return KS_OK;
	}
	r = append(ks, e);
	if (r == KS_OK)
		qsort(ks->e, ks->n, sizeof ks->e[0], cmp_entry);
	return r;
}

enum ks_err ks_remove(struct keystore *ks, const char *id)
{
	struct ks_entry *e = (struct ks_entry *)ks_find(ks, id);
	size_t i;

	if (e == NULL)
		return KS_E_NOTFOUND;
	i = (size_t)(e - ks->e);
	memmove(e, e + 1, (ks->n - i - 1) * sizeof *e);
	ks->n--;
	memset(&ks->e[ks->n], 0, sizeof ks->e[0]);
	return KS_OK;
}

/* Split one line into up to 4 blank-separated words (the 4th is an error). */
static int words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
	}
	return n;
}

static enum ks_err parse_line(char *line, struct ks_entry *e)
{
	char *w[3];
	int n = words(line, w, 3);
	size_t hl;

	if (n != 3)
		return KS_E_SYNTAX;
	memset(e, 0, sizeof *e);
	if (ks_check_id(w[0]) != KS_OK)
		return KS_E_ID;
	strcpy(e->id, w[0]);
	if (strcmp(w[1], "psk") == 0) {
		if (nd_unhex_str(w[2], e->key, KS_PSK_MAX, &hl) < 0 || hl < KS_PSK_MIN)
			return KS_E_KEY;
		e->kind = KS_PSK;
		e->keylen = hl;
	} else if (strcmp(w[1], "cert") == 0) {
		if (nd_unhex_str(w[2], e->fp, KS_FP_LEN, &hl) < 0 || hl != KS_FP_LEN)
			return KS_E_FP;
		e->kind = KS_CERT;
	} else {
		return KS_E_SYNTAX;
	}
	return KS_OK;
}

enum ks_err ks_parse(struct keystore *ks, const char *name, const char *text,
		     char *err, size_t errlen)
{
	struct keystore next;
	const char *p = text;
	unsigned lineno = 0;
	enum ks_err r = KS_OK;

	ks_init(&next);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		struct ks_entry e;
		const char *q;

		lineno++;
		for (q = p; q < p + len && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
			;
		if (q == p + len || *q == '#')
			goto next;
		if (len >= sizeof line) {
			r = KS_E_SYNTAX;
			break;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		r = parse_line(line, &e);
		memset(line, 0, sizeof line);
		if (r == KS_OK)
			r = append(&next, &e);
		memset(&e, 0, sizeof e);
		if (r != KS_OK)
			break;
next:
		p += len;
		if (*p == '\n')
			p++;
	}
	if (r == KS_OK) {
		qsort(next.e, next.n, sizeof next.e[0], cmp_entry);
		for (size_t i = 1; i < next.n; i++)
			if (strcmp(next.e[i - 1].id, next.e[i].id) == 0) {
				snprintf(err, errlen, "%s: device %s: %s", name, next.e[i].id,
					 ks_strerror(KS_E_DUP));
				ks_free(&next);
				return KS_E_DUP;
			}
		ks_free(ks);
		*ks = next;
		return KS_OK;
	}
	snprintf(err, errlen, "%s:%u: %s", name, lineno, ks_strerror(r));
	ks_free(&next);
	return r;
}

/* Larger than any sane fleet's file; bounds what a corrupt path can make us hold. */
#define KS_FILE_MAX (64u << 20)

enum ks_err ks_load(struct keystore *ks, const char *path, int *missing,
		    char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	struct stat sb;
	enum ks_err r;

	if (missing)
		*missing = 0;
	if (f == NULL) {
		if (errno == ENOENT) {
			if (missing)
				*missing = 1;
			ks_free(ks);
			return KS_OK;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return KS_E_IO;
	}
	if (fstat(fileno(f), &sb) < 0 || sb.st_size > (off_t)KS_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, sb.st_size > (off_t)KS_FILE_MAX ?
			 "larger than 64 MiB" : strerror(errno));
		fclose(f);
		return KS_E_IO;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: %s", path, ks_strerror(KS_E_MEM));
		return KS_E_MEM;
	}
	n = fread(buf, 1, (size_t)sb.st_size, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		free(buf);
		return KS_E_IO;
	}
	fclose(f);
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {
		snprintf(err, errlen, "%s: contains NUL bytes", path);
		free(buf);
		return KS_E_SYNTAX;
	}
	r = ks_parse(ks, path, buf, err, errlen);
	memset(buf, 0, n);
	free(buf);
	return r;
}

enum ks_err ks_save(const struct keystore *ks, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *slash;
	FILE *f;
	int fd, dfd, e;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp ||
	    snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
		errno = ENAMETOOLONG;
		return KS_E_IO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return KS_E_IO;
	f = fdopen(fd, "w");
	if (f == NULL) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return KS_E_IO;
	}
	fprintf(f, "# corecast device key store, see corecast-keys(5).\n"
		   "# DEVICE-ID psk HEX | DEVICE-ID cert SHA256-OF-CERTIFICATE-DER\n");
	for (size_t i = 0; i < ks->n; i++) {
		const struct ks_entry *en = &ks->e[i];
		const uint8_t *b = en->kind == KS_PSK ? en->key : en->fp;
		size_t bl = en->kind == KS_PSK ? en->keylen : KS_FP_LEN;

		char hex[2 * KS_PSK_MAX + 1];
		_Static_assert(KS_FP_LEN <= KS_PSK_MAX, "a fingerprint fits the hex buffer");

		nd_hex(b, bl, hex);
		fprintf(f, "%s %s %s\n", en->id, en->kind == KS_PSK ? "psk" : "cert", hex);
	}
	/* Write order for crash safety: data durable in the temporary file,
	 * then the rename, then the directory entry durable. */
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		e = errno;
		fclose(f);
		unlink(tmp);
		errno = e;
		return KS_E_IO;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return KS_E_IO;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return KS_OK;
}
