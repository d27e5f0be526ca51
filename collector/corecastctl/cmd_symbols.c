/* collector/corecastctl/cmd_symbols.c: `corecastctl symbols add|list` — the build-id symbol store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/corecastctl/ctl.h"
#include "collector/groups/groups.h"
#include "netdump/hex.h"

CTL_COMMAND(symbols);

/*
 * Files live in STORE/.build-id/xx/rest.debug, the layout GDB, elfutils and
 * debuginfod share, so any of them finds a file by the build-id in a core.  A file
 * that carries code (an executable or library, not a split-off .debug) also gets
 * STORE/.build-id/xx/rest -> rest.debug, where GDB looks for executables.
 */

#define NT_GNU_BUILD_ID_TYPE 3

/* What a candidate file offers; more is better when two files share a build-id. */
enum elf_rank { RANK_NONE = 0, RANK_SYMTAB = 1, RANK_DWARF = 2 };

struct elf_facts {
	char build_id[129];
	enum elf_rank rank;
	bool has_code;      /* .text with contents: usable as the executable itself */
};

/* Read the GNU build-id note and what the file holds.  0, or -1 with why set. */
static int elf_facts(const char *path, struct elf_facts *out, char *why, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *e;
	size_t shstrndx;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -1;
	}
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		snprintf(why, n, "not an ELF file");
		goto out;
	}
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		shstrndx = 0;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn)) != NULL;) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = shstrndx ? elf_strptr(e, shstrndx, sh.sh_name) : NULL;
		if (sh.sh_type == SHT_SYMTAB && out->rank < RANK_SYMTAB)
			out->rank = RANK_SYMTAB;
		if (name && !strcmp(name, ".debug_info") && sh.sh_type != SHT_NOBITS)
			out->rank = RANK_DWARF;
		if (name && !strcmp(name, ".text") && sh.sh_type == SHT_PROGBITS)
			out->has_code = true;
		if (sh.sh_type != SHT_NOTE || out->build_id[0])
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID_TYPE && nh.n_namesz == 4 &&
			    !memcmp((char *)d->d_buf + name_off, "GNU", 4) && nh.n_descsz > 0 &&
			    nh.n_descsz <= 64) {
				nd_hex((const uint8_t *)d->d_buf + desc_off, nh.n_descsz,
				       out->build_id);
				break;
			}
		}
	}
	if (!out->build_id[0]) {
		snprintf(why, n, "no GNU build-id note (link with -Wl,--build-id to get one)");
		goto out;
	}
	rc = 0;
out:
	if (e)
		elf_end(e);
	close(fd);
	return rc;
}

static int mkdirs(const char *dir)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Copy src to dst through a temporary file and rename, so a reader (a worker in
 * the middle of a lookup) never sees a half-written file. */
static int install(const char *src, const char *dst, char *why, size_t n)
{
	char *tmp, buf[1 << 16];
	int in = -1, out = -1, rc = -1;
	ssize_t r;

	if (asprintf(&tmp, "%s.tmp.%d", dst, (int)getpid()) < 0) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0) {
		snprintf(why, n, "%s: %s", in < 0 ? src : tmp, strerror(errno));
		goto out;
	}
	while ((r = read(in, buf, sizeof buf)) > 0) {
		for (ssize_t w, off = 0; off < r; off += w) {
			w = write(out, buf + off, (size_t)(r - off));
			if (w < 0) {
				snprintf(why, n, "%s: %s", tmp, strerror(errno));
				goto out;
			}
		}
	}
	if (r < 0 || fsync(out) < 0 || close(out) < 0) {
		snprintf(why, n, "%s: %s", r < 0 ? src : tmp, strerror(errno));
		out = -1;
		goto out;
	}
	out = -1;
	if (rename(tmp, dst) < 0) {
		snprintf(why, n, "%s: %s", dst, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static const char *rank_name(enum elf_rank r)
{
	return r == RANK_DWARF ? "debug info" : r == RANK_SYMTAB ? "symbols" : "stripped";
}

static int symbols_add(struct ctl *c, int argc, char **argv)
{
	sqlite3 *db = (sqlite3 *)store_db(c->st);
	int failed = 0;

	if (argc < 3)
		return ctl_fail("symbols add: usage: symbols add FILE...");
	if (grp_init(db) != GRP_OK)
		return ctl_fail("store %s: group tables: %s", c->store_dir, sqlite3_errmsg(db));
	for (int i = 2; i < argc; i++) {
		struct elf_facts nf, of;
		char why[9000], *dir = NULL, *dst = NULL, *link = NULL;
		const char *verdict;

		if (elf_facts(argv[i], &nf, why, sizeof why) < 0) {
			ctl_fail("symbols add: %s: %s", argv[i], why);
			failed = 1;
			continue;
		}
		if (asprintf(&dir, "%s/.build-id/%.2s", c->store_dir, nf.build_id) < 0 ||
		    asprintf(&dst, "%s/%s.debug", dir, nf.build_id + 2) < 0 ||
		    asprintf(&link, "%s/%s", dir, nf.build_id + 2) < 0)
			return ctl_fail("symbols add: out of memory");
		if (mkdirs(dir) < 0) {
			ctl_fail("symbols add: %s: %s", dir, strerror(errno));
			failed = 1;
			goto next;
		}
		/* keep the better of two files with one build-id (e.g. a stripped
		 * executable added after its unstripped twin) */
		if (elf_facts(dst, &of, why, sizeof why) == 0 && of.rank >= nf.rank) {
			verdict = "already present";
		} else if (install(argv[i], dst, why, sizeof why) < 0) {
			ctl_fail("symbols add: %s", why);
			failed = 1;
			goto next;
		} else {
			verdict = "added";
		}
		if (nf.has_code && access(link, F_OK) < 0 && symlink(strrchr(dst, '/') + 1, link) < 0 && errno != EEXIST)
			ctl_fail("symbols add: %s: %s (gdb will not find the executable)", link,
				 strerror(errno));
		int queued = 0;
		if (grp_resymbolize_build_id(db, nf.build_id, &queued) != GRP_OK) {
			ctl_fail("symbols add: %s: marking dumps for re-symbolization: %s",
				 argv[i], sqlite3_errmsg(db));
			failed = 1;
		}
		if (c->json) {
			printf("{\"file\":");
			ctl_json_str(stdout, argv[i]);
			printf(",\"build_id\":\"%s\",\"path\":", nf.build_id);
			ctl_json_str(stdout, dst);
			printf(",\"result\":\"%s\",\"contents\":\"%s\",\"resymbolize\":%d}\n",
			       verdict, rank_name(nf.rank), queued);
		} else {
			printf("%s %s: %s (%s)", nf.build_id, argv[i], verdict, rank_name(nf.rank));
			if (queued)
				printf(", %d dump%s queued for re-symbolization", queued,
				       queued == 1 ? "" : "s");
			putchar('\n');
		}
next:
		free(dir);
		free(dst);
		free(link);
	}
	return failed;
}

static int symbols_list(struct ctl *c)
{
	char top[4096];
	DIR *d;
	struct dirent *de;
	unsigned n = 0;

	snprintf(top, sizeof top, "%s/.build-id", c->store_dir);
	if (c->json)
		putchar('[');
	else
		printf("%-40s %10s %-10s %s\n", "BUILD-ID", "SIZE", "CONTENTS", "PATH");
	d = opendir(top);
	while (d && (de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
			continue;
		char sub[4400];
		snprintf(sub, sizeof sub, "%s/%.2s", top, de->d_name);
		DIR *s = opendir(sub);
		struct dirent *fe;
		while (s && (fe = readdir(s)) != NULL) {
			size_t len = strlen(fe->d_name);
			if (len <= 6 || strcmp(fe->d_name + len - 6, ".debug") != 0 ||
			    strstr(fe->d_name, ".tmp."))
				continue;
			char path[4700], why[256], size[16];
			struct elf_facts f;
			struct stat stb;
			snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
			if (stat(path, &stb) < 0)
				continue;
			ctl_human_size((uint64_t)stb.st_size, size, sizeof size);
			const char *contents = elf_facts(path, &f, why, sizeof why) == 0
					       ? rank_name(f.rank) : "unreadable";
			if (c->json) {
				printf("%s\n {\"build_id\":\"%s%.*s\",\"size\":%lld,\"contents\":\"%s\","
				       "\"path\":", n ? "," : "", de->d_name, (int)(len - 6),
				       fe->d_name, (long long)stb.st_size, contents);
				ctl_json_str(stdout, path);
				putchar('}');
			} else {
				printf("%s%-*.*s %10s %-10s %s\n", de->d_name, 38, (int)(len - 6),
				       fe->d_name, size, contents, path);
			}
			n++;
		}
		if (s)
			closedir(s);
	}
	if (d)
		closedir(d);
	if (c->json)
		fputs(n ? "\n]\n" : "]\n", stdout);
	return 0;
}

CTL_COMMAND(symbols)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return symbols_add(c, argc, argv);
	if (argc == 2 && !strcmp(argv[1], "list"))
		return symbols_list(c);
	return ctl_fail("symbols: usage: symbols add FILE... | symbols list");
}
