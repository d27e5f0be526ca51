/* kernel/net/tls/mbedtls_config.h: the kernel's mbedtls build — DTLS 1.2 and TLS 1.2 client, PSK, AES-128-GCM, nothing else. */
#ifndef K_MBEDTLS_CONFIG_H
#define K_MBEDTLS_CONFIG_H

/*
 * What a device needs to send its dumps over dtls:// and tls://: one cipher suite
 * (TLS_PSK_WITH_AES_128_GCM_SHA256, what corecastd prefers), the DTLS client,
 * SHA-256 for the PRF, CTR-DRBG seeded from our entropy source.  No file system,
 * no sockets, no clock, no certificates (devices use PSKs), no stdio.
 */

/* platform: our allocator (a static pool, kernel/net/tls/ktls.c) and no libc */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_PLATFORM_SNPRINTF_ALT
#define MBEDTLS_PLATFORM_EXIT_MACRO(x)     do { (void)(x); for (;;) { } } while (0)
#define MBEDTLS_NO_PLATFORM_ENTROPY
/* entropy: mbedtls_hardware_poll() = virtio-rng plus timer jitter (ktls.c) */
#define MBEDTLS_ENTROPY_HARDWARE_ALT
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_ENTROPY_FORCE_SHA256
#define MBEDTLS_ENTROPY_MAX_SOURCES 2

/* crypto */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES          /* tables in .rodata, not 8 KiB of .bss */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C

/* DTLS 1.2 and TLS 1.2 client with PSK (the stream protocol comes with the same
 * files; tls:// costs no mbedtls code of its own) */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_DTLS
#define MBEDTLS_SSL_DTLS_HELLO_VERIFY
#define MBEDTLS_SSL_DTLS_ANTI_REPLAY
#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
/* Records: a DATA message of the default payload (1387 bytes under DTLS) plus
 * header; over tls:// one length-prefixed message of the full payload (1466
 * bytes); the collector's answers are smaller.  The default 16 KiB buffers would
 * be most of the TLS RAM. */
#define MBEDTLS_SSL_IN_CONTENT_LEN  2048
#define MBEDTLS_SSL_OUT_CONTENT_LEN 2048

#include "mbedtls/check_config.h"

#endif /* K_MBEDTLS_CONFIG_H */
