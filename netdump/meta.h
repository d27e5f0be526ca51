/* netdump/meta.h: the crash metadata a device sends when it opens a dump session. */
#ifndef NETDUMP_META_H
#define NETDUMP_META_H

#include <stdint.h>

/*
 * Fixed maximum sizes keep the structure free of allocation, so the kernel, the
 * collector and the host sender share it unchanged.  Strings are NUL-terminated
 * and always fit (the wire decoder rejects longer fields rather than truncating).
 */
#define ND_DEVICE_MAX    64   /* device id, e.g. "sensor-0042" or a MAC-derived id */
#define ND_BOOTID_LEN    16   /* random per boot, binary */
#define ND_NAME_MAX      64   /* process / executable name */
#define ND_FIRMWARE_MAX  64   /* firmware version string */
#define ND_CAUSE_MAX     96   /* fault cause, e.g. "load page fault at 0x0" */
#define ND_BUILDID_MAX   20   /* GNU build-id bytes (SHA-1 sized; shorter ones allowed) */
#define ND_BUILDIDS_MAX  8    /* mapped images whose build-ids travel in the open */
#define ND_SHA256_LEN    32

struct nd_buildid {
	uint8_t len;                   /* 0..ND_BUILDID_MAX */
	uint8_t id[ND_BUILDID_MAX];
	char name[ND_NAME_MAX];        /* image name (basename of path), may be empty */
};

struct nd_meta {
	char device[ND_DEVICE_MAX];
	uint8_t boot_id[ND_BOOTID_LEN];
	uint32_t seq;                  /* per-boot dump sequence number */
	uint64_t core_size;            /* exact size of the core in bytes */
	uint16_t machine;              /* ELF e_machine of the core */
	uint32_t pid;
	uint32_t signal;               /* Linux signal number, e.g. 11 */
	char exe[ND_NAME_MAX];         /* process name */
	char cause[ND_CAUSE_MAX];
	char firmware[ND_FIRMWARE_MAX];
	uint64_t device_time;          /* device clock, ns since the Unix epoch (0: unknown) */
	uint8_t n_buildids;
	struct nd_buildid buildids[ND_BUILDIDS_MAX];
};

#endif /* NETDUMP_META_H */
