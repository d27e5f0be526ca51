/* netdump/cookie.c: session cookies, keyed MACs over the session key and peer address. */
#include "netdump/netdump.h"
#include "netdump/sha256.h"
#include "netdump/wire.h"

/*
 * The cookie is stateless for the collector (recomputable from the secret) and
 * unguessable for anyone who cannot see the OPEN_ACK, so a blind attacker cannot
 * inject data into a session.  Binding the address makes a sniffed cookie useless
 * from elsewhere.  The secret's length is the caller's; 32 random bytes suffice.
 */
uint64_t nd_cookie(const void *secret, size_t secret_len, const char *device,
                   const uint8_t boot_id[ND_BOOTID_LEN], uint32_t seq,
                   const void *addr, size_t addr_len)
{
	static const char label[] = "netdump-cookie-v1";
	uint8_t msg[sizeof label - 1 + 1 + ND_DEVICE_MAX + ND_BOOTID_LEN + 4 + 1 + 255];
	uint8_t mac[ND_SHA256_DIGEST];
	size_t n = 0, dl = 0;

	while (dl < ND_DEVICE_MAX - 1 && device[dl])
		dl++;
	if (addr_len > 255)
		addr_len = 255;
	__builtin_memcpy(msg, label, sizeof label - 1);
	n = sizeof label - 1;
	msg[n++] = (uint8_t)dl;
	__builtin_memcpy(msg + n, device, dl);
	n += dl;
	__builtin_memcpy(msg + n, boot_id, ND_BOOTID_LEN);
	n += ND_BOOTID_LEN;
	nd_put_u32(msg + n, seq);
	n += 4;
	msg[n++] = (uint8_t)addr_len;
	if (addr_len)
		__builtin_memcpy(msg + n, addr, addr_len);
	n += addr_len;
	nd_hmac_sha256(secret, secret_len, msg, n, mac);
	uint64_t c = nd_get_u64(mac);
	return c ? c : 1;
}
