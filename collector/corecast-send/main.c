/* collector/corecast-send/main.c: corecast-send, stream a core file to a corecast collector. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "collector/corecast-send/buildid.h"
#include "collector/corecast-send/coresrc.h"
#include "collector/corecast-send/endpoint.h"
#include "collector/corecast-send/transfer.h"
#include "collector/tls/client.h"
#include "netdump/hex.h"
#include "netdump/netdump.h"
#include "netdump/tx.h"

/* Exit codes, documented in corecast-send(1). */
enum {
	EX_STORED = 0,
	EX_USAGE = 2,
	EX_CORE = 3,        /* core unreadable (open, stdin copy, read error mid-transfer) */
	EX_NETWORK = 4,     /* endpoint cannot be resolved or no socket */
	EX_TIMEOUT = 5,     /* collector did not answer */
	EX_REFUSED = 6,     /* collector refused (reason printed) */
	EX_MISMATCH = 7,    /* collector's digest differs from ours */
	EX_STOPPED = 8,     /* --max-seconds reached or interrupted */
	EX_TLS = 9,         /* dtls/tls: handshake failed or the secure link broke */
};

static const char *prog = "corecast-send";

static void usage(FILE *f)
{
	fprintf(f,
	"usage: corecast-send --endpoint udp|dtls|tls://HOST:PORT --device ID [options] CORE|-\n"
	"\n"
	"Stream a core file (or standard input, '-') to a corecast collector over the\n"
	"netdump protocol; exit 0 only when the collector stored it with our SHA-256.\n"
	"\n"
	"  --endpoint URL     udp://HOST:PORT, HOST a name, IPv4 or [IPv6] address;\n"
	"                     dtls:// (DTLS 1.2 over UDP) or tls:// (TLS 1.2 over TCP)\n"
	"  --psk HEX          dtls/tls: pre-shared key of this device (identity = --device)\n"
	"  --cert FILE        dtls/tls: device certificate (PEM) from the fleet CA\n"
	"  --key FILE         dtls/tls: the certificate's private key\n"
	"  --ca FILE          dtls/tls: CA the collector's certificate must chain to\n"
	"  --cipher NAME      dtls/tls: aes-gcm (default) or chacha20-poly1305\n"
	"  --device ID        device identity (1..%d bytes)\n"
	"  --window N         packets in flight, 1..%d (default %d; 1 = stop-and-wait)\n"
	"  --payload BYTES    DATA payload, %d..%d (default %d: 1500-byte MTU)\n"
	"  --exe PATH         executable: its build-id is sent first, its name by default\n"
	"  --pid N            process id (default: from the core)\n"
	"  --signal N         signal number (default: from the core)\n"
	"  --name NAME        process name (default: from the core)\n"
	"  --cause TEXT       fault description\n"
	"  --firmware V       firmware / OS version string\n"
	"  --boot-id HEX      32 hex digits or a UUID (default: /proc/sys/kernel/random/boot_id)\n"
	"  --seq N            dump sequence number within the boot (default: derived\n"
	"                     from the core's contents, so a re-run resumes)\n"
	"  --timeout SEC      give up after the collector is silent this long (default 60)\n"
	"  --max-seconds SEC  stop after SEC seconds whatever the state (benchmarks)\n"
	"  --stats            print transfer statistics on one line at the end\n"
	"  --quiet            no progress bar and no success line\n"
	"  --help             this text\n",
	ND_DEVICE_MAX - 1, ND_TX_WINDOW_MAX, ND_TX_DEFAULT_WINDOW, ND_PAYLOAD_MIN,
	ND_PAYLOAD_MAX, ND_DEFAULT_PAYLOAD);
}

static int die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return EX_USAGE;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 0);
	if (*end || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int system_boot_id(uint8_t out[16])
{
	char buf[64] = {0};
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f)
		return -1;
	int ok = fgets(buf, sizeof buf, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return nd_unhex_uuid(buf, out);
}

static int set_string(char *dst, size_t cap, const char *src, const char *what)
{
	if (strlen(src) >= cap) {
		fprintf(stderr, "%s: %s longer than %zu bytes: %s\n", prog, what, cap - 1, src);
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_ENDPOINT = 256, O_DEVICE, O_WINDOW, O_PAYLOAD, O_EXE, O_PID, O_SIGNAL, O_NAME,
	       O_CAUSE, O_FIRMWARE, O_BOOTID, O_SEQ, O_TIMEOUT, O_MAXSEC, O_STATS, O_QUIET,
	       O_HELP, O_PSK, O_CERT, O_KEY, O_CA, O_CIPHER };
	static const struct option opts[] = {
		{ "endpoint", required_argument, 0, O_ENDPOINT },
		{ "device", required_argument, 0, O_DEVICE },
		{ "window", required_argument, 0, O_WINDOW },
		{ "payload", required_argument, 0, O_PAYLOAD },
		{ "exe", required_argument, 0, O_EXE },
		{ "pid", required_argument, 0, O_PID },
		{ "signal", required_argument, 0, O_SIGNAL },
		{ "name", required_argument, 0, O_NAME },
		{ "cause", required_argument, 0, O_CAUSE },
		{ "firmware", required_argument, 0, O_FIRMWARE },
		{ "boot-id", required_argument, 0, O_BOOTID },
		{ "seq", required_argument, 0, O_SEQ },
		{ "timeout", required_argument, 0, O_TIMEOUT },
		{ "max-seconds", required_argument, 0, O_MAXSEC },
		{ "stats", no_argument, 0, O_STATS },
		{ "quiet", no_argument, 0, O_QUIET },
		{ "help", no_argument, 0, O_HELP },
		{ "psk", required_argument, 0, O_PSK },
		{ "cert", required_argument, 0, O_CERT },
		{ "key", required_argument, 0, O_KEY },
		{ "ca", required_argument, 0, O_CA },
		{ "cipher", required_argument, 0, O_CIPHER },
		{ 0, 0, 0, 0 },
	};
	const char *endpoint_url = NULL, *device = NULL, *exe = NULL, *name = NULL;
	const char *cause = NULL, *firmware = NULL, *boot_hex = NULL;
	int have_pid = 0, have_signal = 0, have_seq = 0, quiet = 0, stats = 0;
	uint64_t pid = 0, sig = 0, seq = 0, window = ND_TX_DEFAULT_WINDOW;
	uint64_t payload = ND_DEFAULT_PAYLOAD, timeout_s = 60;
	double max_seconds = 0;
	int c, have_payload = 0;
	const char *psk_hex = NULL, *cert = NULL, *key = NULL, *ca = NULL;
	enum cctls_aead aead = CCTLS_AES_GCM;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_ENDPOINT: endpoint_url = optarg; break;
		case O_DEVICE: device = optarg; break;
		case O_WINDOW:
			if (parse_u64(optarg, ND_TX_WINDOW_MAX, &window) || window < 1)
				return die_usage("--window must be 1..4096, not '%s'", optarg);
			break;
		case O_PAYLOAD:
			if (parse_u64(optarg, ND_PAYLOAD_MAX, &payload) || payload < ND_PAYLOAD_MIN)
				return die_usage("--payload must be 64..65472, not '%s'", optarg);
			have_payload = 1;
			break;
		case O_EXE: exe = optarg; break;
		case O_PID:
			if (parse_u64(optarg, UINT32_MAX, &pid))
				return die_usage("--pid must be a number, not '%s'", optarg);
			have_pid = 1;
			break;
		case O_SIGNAL:
			if (parse_u64(optarg, 255, &sig))
				return die_usage("--signal must be a number 0..255, not '%s'", optarg);
			have_signal = 1;
			break;
		case O_NAME: name = optarg; break;
		case O_CAUSE: cause = optarg; break;
		case O_FIRMWARE: firmware = optarg; break;
		case O_BOOTID: boot_hex = optarg; break;
		case O_SEQ:
			if (parse_u64(optarg, UINT32_MAX, &seq))
				return die_usage("--seq must be a number 0..4294967295, not '%s'", optarg);
			have_seq = 1;
			break;
		case O_TIMEOUT:
			if (parse_u64(optarg, 86400, &timeout_s) || timeout_s < 1)
				return die_usage("--timeout must be 1..86400 seconds, not '%s'", optarg);
			break;
		case O_MAXSEC: {
			char *end;
			max_seconds = strtod(optarg, &end);
			if (*end || !(max_seconds > 0))
				return die_usage("--max-seconds must be a positive number, not '%s'", optarg);
			break;
		}
		case O_STATS: stats = 1; break;
		case O_QUIET: quiet = 1; break;
		case O_HELP: usage(stdout); return 0;
		case O_PSK: psk_hex = optarg; break;
		case O_CERT: cert = optarg; break;
		case O_KEY: key = optarg; break;
		case O_CA: ca = optarg; break;
		case O_CIPHER:
			if (!strcmp(optarg, "aes-gcm"))
				aead = CCTLS_AES_GCM;
			else if (!strcmp(optarg, "chacha20-poly1305"))
				aead = CCTLS_CHACHA;
			else
				return die_usage("--cipher must be aes-gcm or chacha20-poly1305, not '%s'",
				                 optarg);
			break;
		default:
			return die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (!endpoint_url)
		return die_usage("%s", "--endpoint is required");
	if (!device)
		return die_usage("%s", "--device is required");
	if (optind != argc - 1)
		return die_usage("%s", "exactly one CORE file (or - for standard input) is required");
	const char *core_path = argv[optind];

	struct endpoint ep;
	const char *why = endpoint_parse(endpoint_url, &ep);
	if (why) {
		fprintf(stderr, "%s: endpoint %s: %s\n", prog, endpoint_url, why);
		return EX_USAGE;
	}

	uint8_t psk[CCTLS_PSK_MAX];
	size_t psk_len = 0;
	if (ep.scheme == EP_UDP && (psk_hex || cert || key || ca))
		return die_usage("%s", "--psk, --cert, --key and --ca need a dtls:// or tls:// endpoint");
	if (ep.scheme != EP_UDP) {
		if (!psk_hex && !cert)
			return die_usage("%s", "a dtls:// or tls:// endpoint needs --psk HEX or "
			                 "--cert FILE --key FILE");
		if (psk_hex && cert)
			return die_usage("%s", "give either --psk or --cert, not both");
		if (cert && (!key || !ca))
			return die_usage("%s", "--cert needs --key and --ca (the collector must be "
			                 "authenticated too)");
		if (psk_hex && (nd_unhex_str(psk_hex, psk, sizeof psk, &psk_len) < 0 ||
		                psk_len < CCTLS_PSK_MIN))
			return die_usage("--psk must be 16..64 bytes written as hex (32..128 digits), "
			                 "not '%s'", psk_hex);
	}

	static struct nd_meta meta;
	memset(&meta, 0, sizeof meta);
	if (!*device || set_string(meta.device, sizeof meta.device, device, "--device"))
		return *device ? EX_USAGE : die_usage("%s", "--device must not be empty");
	if (boot_hex && nd_unhex_uuid(boot_hex, meta.boot_id))
		return die_usage("--boot-id must be 32 hex digits or a UUID, not '%s'", boot_hex);

	/* The core: open, then metadata the core carries, then flags override it. */
	struct coresrc core;
	why = coresrc_open(&core, core_path);
	if (why) {
		fprintf(stderr, "%s: cannot read core %s\n", prog, why);
		return EX_CORE;
	}
	why = coresrc_meta(&core, &meta);
	if (why && !quiet)
		fprintf(stderr, "%s: %s: %s; sending it without core metadata\n", prog, core.label, why);
	/* The device id given on the command line wins over a project note's. */
	set_string(meta.device, sizeof meta.device, device, "--device");
	static const uint8_t no_boot[ND_BOOTID_LEN];
	if (boot_hex)
		nd_unhex_uuid(boot_hex, meta.boot_id);
	else if (memcmp(meta.boot_id, no_boot, sizeof no_boot) != 0)
		(void)0;   /* the core's project note named its boot */
	else if (system_boot_id(meta.boot_id) < 0)
		fprintf(stderr, "%s: cannot read /proc/sys/kernel/random/boot_id; boot id left zero\n",
		        prog);
	if (have_seq)
		meta.seq = (uint32_t)seq;
	else
		meta.seq = coresrc_default_seq(&core);
	if (have_pid)
		meta.pid = (uint32_t)pid;
	if (have_signal)
		meta.signal = (uint32_t)sig;
	if ((cause && set_string(meta.cause, sizeof meta.cause, cause, "--cause")) ||
	    (firmware && set_string(meta.firmware, sizeof meta.firmware, firmware, "--firmware"))) {
		coresrc_close(&core);
		return EX_USAGE;
	}
	if (exe) {
		uint8_t id[ND_BUILDID_MAX];
		size_t idl = file_buildid(exe, id);
		const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
		if (!idl) {
			fprintf(stderr, "%s: --exe %s: no readable GNU build-id; not sent\n", prog, exe);
		} else {
			/* The executable's id goes first; drop a duplicate found in the core. */
			struct nd_buildid b;
			memset(&b, 0, sizeof b);
			b.len = (uint8_t)idl;
			memcpy(b.id, id, idl);
			snprintf(b.name, sizeof b.name, "%.*s", (int)sizeof b.name - 1, base);
			unsigned k = 0;
			struct nd_buildid rest[ND_BUILDIDS_MAX];
			for (unsigned i = 0; i < meta.n_buildids; i++)
				if (!(meta.buildids[i].len == idl && !memcmp(meta.buildids[i].id, id, idl)))
					rest[k++] = meta.buildids[i];
			meta.buildids[0] = b;
			meta.n_buildids = 1;
			for (unsigned i = 0; i < k && meta.n_buildids < ND_BUILDIDS_MAX; i++)
				meta.buildids[meta.n_buildids++] = rest[i];
		}
		if (!name && !meta.exe[0])
			snprintf(meta.exe, sizeof meta.exe, "%.*s", (int)sizeof meta.exe - 1, base);
	}
	if (name && set_string(meta.exe, sizeof meta.exe, name, "--name")) {
		coresrc_close(&core);
		return EX_USAGE;
	}
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	meta.device_time = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;

	int fd = endpoint_connect(&ep, &why);
	if (fd < 0) {
		fprintf(stderr, "%s: endpoint %s: %s\n", prog, endpoint_url, why);
		coresrc_close(&core);
		return EX_NETWORK;
	}

	/* dtls/tls: authenticate before anything about the crash is sent. */
	static struct cctls_client tls;
	int secure = ep.scheme != EP_UDP;
	double hs_seconds = 0;
	if (secure) {
		struct timespec h0, h1;
		clock_gettime(CLOCK_MONOTONIC, &h0);
		struct cctls_client_opts co = {
			.transport = ep.scheme == EP_DTLS ? CCTLS_DTLS : CCTLS_TLS,
			.device = device, .psk = psk_len ? psk : NULL, .psk_len = psk_len,
			.cert = cert, .key = key, .ca = ca, .aead = aead,
		};
		if (cctls_client_init(&tls, &co) < 0 ||
		    cctls_client_handshake(&tls, fd, timeout_s * 1000u) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, endpoint_url, tls.why);
			cctls_client_free(&tls);
			close(fd);
			coresrc_close(&core);
			return EX_TLS;
		}
		clock_gettime(CLOCK_MONOTONIC, &h1);
		hs_seconds = (double)(h1.tv_sec - h0.tv_sec) + (double)(h1.tv_nsec - h0.tv_nsec) / 1e9;
		memset(psk, 0, sizeof psk);
		/* The default payload fills a 1500-byte datagram; the record's
		 * header, nonce and tag must fit in it too. */
		if (ep.scheme == EP_DTLS && !have_payload)
			payload -= cctls_client_overhead(&tls);
		/* One message per record, and a DTLS record holds at most 16 KiB. */
		if (ep.scheme == EP_DTLS && payload > 16384 - ND_DATA_HDR_LEN) {
			fprintf(stderr, "%s: --payload %llu is more than a DTLS record holds; using %d\n",
			        prog, (unsigned long long)payload, 16384 - ND_DATA_HDR_LEN);
			payload = 16384 - ND_DATA_HDR_LEN;
		}
	}

	struct nd_tx_cfg cfg;
	nd_tx_cfg_default(&cfg);
	cfg.window = (uint32_t)window;
	cfg.payload = (uint32_t)payload;
	cfg.give_up_us = timeout_s * 1000000u;
	if (getrandom(&cfg.nonce, sizeof cfg.nonce, 0) != sizeof cfg.nonce)
		cfg.nonce = (uint64_t)rt.tv_nsec ^ ((uint64_t)getpid() << 32);
	static struct nd_tx tx;
	enum nd_err e = nd_tx_init(&tx, &cfg, &meta, coresrc_read, &core);
	if (e) {
		fprintf(stderr, "%s: cannot start transfer: %s\n", prog, nd_strerror(e));
		coresrc_close(&core);
		return EX_USAGE;
	}

	struct transfer_opts to = { !quiet && isatty(STDERR_FILENO), max_seconds,
	                            secure ? &tls : NULL };
	struct transfer_result tr;
	transfer_run(&tx, fd, &to, &tr);

	struct nd_tx_stats st;
	nd_tx_stats(&tx, &st);
	if (stats)
		fprintf(stderr, "%s: stats state=%s size=%llu acked=%llu seconds=%.3f mbps=%.2f "
		        "data_seconds=%.3f data_mbps=%.2f "
		        "sent=%llu packets=%llu retransmits=%llu timeouts=%llu opens=%llu "
		        "resume=%llu srtt_us=%llu window=%u payload=%u handshake_ms=%.2f\n", prog,
		        nd_tx_state_str(nd_tx_state(&tx)), (unsigned long long)meta.core_size,
		        (unsigned long long)st.acked, tr.seconds,
		        tr.seconds > 0 ? (double)st.acked / tr.seconds / 1e6 : 0.0,
		        tr.data_seconds,
		        tr.data_seconds > 0 ? (double)st.acked / tr.data_seconds / 1e6 : 0.0,
		        (unsigned long long)st.bytes_sent, (unsigned long long)st.packets_sent,
		        (unsigned long long)st.retransmits, (unsigned long long)st.timeouts,
		        (unsigned long long)st.opens, (unsigned long long)st.resume,
		        (unsigned long long)st.srtt_us, st.window, st.payload, hs_seconds * 1e3);

	int rc;
	char sha[65] = "";
	if (nd_tx_digest(&tx))
		nd_hex(nd_tx_digest(&tx), 32, sha);
	const char *text = nd_tx_text(&tx);
	switch (nd_tx_state(&tx)) {
	case ND_TX_DONE_STORED:
		if (!quiet)
			fprintf(stderr, "%s: %s: stored on %s (%llu bytes, sha256 %s, %.2f s)\n", prog,
			        core.label, endpoint_url, (unsigned long long)meta.core_size, sha,
			        tr.seconds);
		rc = EX_STORED;
		break;
	case ND_TX_DONE_MISMATCH:
		fprintf(stderr, "%s: %s: collector %s reports a digest mismatch (ours sha256 %s)%s%s\n",
		        prog, core.label, endpoint_url, sha, *text ? ": " : "", text);
		rc = EX_MISMATCH;
		break;
	case ND_TX_DONE_REFUSED:
		fprintf(stderr, "%s: %s: refused by %s: %s%s%s\n", prog, core.label, endpoint_url,
		        nd_reason_str(nd_tx_reason(&tx)), *text ? ": " : "", text);
		rc = EX_REFUSED;
		break;
	case ND_TX_FAILED:
		if (nd_tx_failure(&tx) == ND_TX_FAIL_TIMEOUT) {
			fprintf(stderr, "%s: %s: no answer from %s for %llu s (%llu of %llu bytes "
			        "acknowledged)\n", prog, core.label, endpoint_url,
			        (unsigned long long)timeout_s, (unsigned long long)st.acked,
			        (unsigned long long)meta.core_size);
			rc = EX_TIMEOUT;
		} else if (nd_tx_failure(&tx) == ND_TX_FAIL_READ) {
			fprintf(stderr, "%s: %s: cannot read the core during transfer\n", prog, core.label);
			rc = EX_CORE;
		} else {
			fprintf(stderr, "%s: %s: %s\n", prog, core.label,
			        nd_tx_failure_str(nd_tx_failure(&tx)));
			rc = EX_USAGE;
		}
		break;
	default:
		if (tr.link_failed) {
			fprintf(stderr, "%s: %s: %s: %s (%llu of %llu bytes acknowledged)\n", prog,
			        core.label, endpoint_url, tls.why, (unsigned long long)st.acked,
			        (unsigned long long)meta.core_size);
			rc = EX_TLS;
			break;
		}
		fprintf(stderr, "%s: %s: %s after %.1f s in state %s (%llu of %llu bytes "
		        "acknowledged)\n", prog, core.label,
		        tr.interrupted ? "interrupted" : "stopped (--max-seconds)", tr.seconds,
		        nd_tx_state_str(nd_tx_state(&tx)), (unsigned long long)st.acked,
		        (unsigned long long)meta.core_size);
		rc = EX_STOPPED;
		break;
	}
	if (secure) {
		cctls_client_close(&tls);
		cctls_client_free(&tls);
	}
	close(fd);
	coresrc_close(&core);
	return rc;
}
