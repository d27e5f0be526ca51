/* kernel/kernel.h: declarations shared by the portable kernel's files. */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <hal.h>
#include "kernel/uapi.h"
#include "configs/riscv64-virt/config.h"

/* string.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* parse.c */
void k_strlcpy(char *d, const char *s, size_t n);
int k_parse_u64(const char *s, size_t len, uint64_t *out);

/* printf.c */
void k_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int k_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* kalloc.c */
void kalloc_init(uint64_t start, uint64_t end);
void *k_page_zalloc(void);
uint64_t k_pages_free(void);
uint64_t k_pages_total(void);

/* fdt.c */
int fdt_find(const void *fdt, size_t maxlen, const char *path, const char *prop, const void **val, uint32_t *len);

/* bootargs.c: settings from /chosen/bootargs, with defaults from the config header */
struct k_bootargs {
	int nrun;
	char run[K_MAX_RUN][K_RUN_MAX];  /* PROG[:ARG...] as given */
	int poweroff;
	int scope;                       /* K_SCOPE_* */
	uint64_t stack_cap, total_cap;   /* bytes, 0 = unlimited */
	uint32_t thread_cap;             /* 0 = unlimited */
	char device[64];
	int test_yield_create;           /* test hooks: yield inside thread creation, */
	int test_yield_fault;            /* and between a fault and its freeze */
	int bad;                         /* count of unknown or malformed words */
};
extern struct k_bootargs k_args;
void bootargs_parse(const char *s);

/* embedded user programs (generated images.S) */
struct k_image {
	const char *name;
	const uint8_t *start;
	const uint8_t *end;
};
const struct k_image *image_find(const char *name);
extern const struct k_image k_images[];
extern const int k_nimages;

#endif
