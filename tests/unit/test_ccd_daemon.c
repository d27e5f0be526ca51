/* tests/unit/test_ccd_daemon.c: the real corecastd over real UDP: store, resume after SIGKILL and SIGTERM, cookies, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/store/store.h"
#include "netdump/netdump.h"
#include "netdump/sha256.h"
#include "netdump/tx.h"

/*
 * These tests start build/bin/corecastd (or $CORECASTD) as a child process with
 * its own store in a temporary directory and drive it with the netdump sender
 * state machine over loopback UDP, so they prove what a device would see.
 */

static char tmp[64];
static const char *daemon_path;

/* Daemons still running, so a failed assertion (which leaves its test early)
 * does not leave one behind: the group teardown kills them. */
static pid_t live[8];

static void track(pid_t pid, int add)
{
	for (int i = 0; i < 8; i++)
		if (add ? live[i] == 0 : live[i] == pid) {
			live[i] = add ? pid : 0;
			return;
		}
}

struct daemon {
	pid_t pid;
	int port;
	char store[128];
	char log[160];
	char conf[128];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static char *read_text(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Start (or restart: d->port != 0 keeps the port) the daemon with config text. */
static void daemon_start(struct daemon *d, const char *name, const char *config)
{
	char portfile[160], listen[64], logname[160];
	static int runs;

	if (d->store[0] == '\0') {
		snprintf(d->store, sizeof d->store, "%s/%s-store", tmp, name);
		snprintf(d->conf, sizeof d->conf, "%s/%s.conf", tmp, name);
	}
	if (config)
		write_file(d->conf, config, strlen(config));
	snprintf(portfile, sizeof portfile, "%s/%s.port", tmp, name);
	unlink(portfile);
	snprintf(listen, sizeof listen, "udp://127.0.0.1:%d", d->port);
	snprintf(logname, sizeof logname, "%s/%s.%d.log", tmp, name, ++runs);
	snprintf(d->log, sizeof d->log, "%s", logname);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid > 0)
		track(d->pid, 1);
	if (d->pid == 0) {
		int fd = open(logname, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		dup2(fd, 1);
		execl(daemon_path, daemon_path, "--listen", listen, "--store", d->store,
		      "--config", d->conf, "--port-file", portfile, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(portfile, "r");
		int st;
		if (f) {
			int ok = fscanf(f, "%d", &d->port) == 1;
			fclose(f);
			if (ok)
				return;
		}
		if (waitpid(d->pid, &st, WNOHANG) == d->pid)
			fail_msg("corecastd exited at start: %s", read_text(logname));
		usleep(10000);
	}
	fail_msg("corecastd did not write its port file: %s", read_text(logname));
}

/* SIGTERM and the exit status (must be a clean 0). */
static int daemon_stop(struct daemon *d)
{
	int st;

	kill(d->pid, SIGTERM);
	assert_int_equal(waitpid(d->pid, &st, 0), d->pid);
	track(d->pid, 0);
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void daemon_kill(struct daemon *d)
{
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	track(d->pid, 0);
	d->pid = 0;
}

static int daemon_alive(const struct daemon *d)
{
	int st;

	return waitpid(d->pid, &st, WNOHANG) == 0;
}

/* ---- a sender ------------------------------------------------------------ */

struct sender {
	struct nd_tx tx;
	int sock;
	const uint8_t *core;
	uint64_t size;
};

static int core_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct sender *s = ctx;

	if (off > s->size || len > s->size - off)
		return -1;
	memcpy(buf, s->core + off, len);
	return 0;
}

static struct sender *sender_new(int port, const uint8_t *core, uint64_t size,
				 const char *device, uint32_t seq, uint32_t window)
{
	struct sender *s = calloc(1, sizeof *s);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct nd_tx_cfg cfg;
	struct nd_meta m;

	assert_non_null(s);
	memset(&m, 0, sizeof m);
	snprintf(m.device, sizeof m.device, "%s", device);
	memset(m.boot_id, 0xb0, sizeof m.boot_id);
	m.seq = seq;
	m.core_size = size;
	m.pid = 4242;
	m.signal = 11;
	snprintf(m.exe, sizeof m.exe, "crasher");
	snprintf(m.cause, sizeof m.cause, "SEGV_MAPERR at 0x0");
	nd_tx_cfg_default(&cfg);
	cfg.window = window;
	s->core = core;
	s->size = size;
	assert_int_equal(nd_tx_init(&s->tx, &cfg, &m, core_read, s), ND_OK);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s->sock >= 0);
	assert_int_equal(connect(s->sock, (struct sockaddr *)&a, sizeof a), 0);
	return s;
}

static void sender_free(struct sender *s)
{
	close(s->sock);
	free(s);
}

static uint64_t acked(const struct sender *s)
{
	struct nd_tx_stats st;

	nd_tx_stats(&s->tx, &st);
	return st.acked;
}

/* Drive the sender until it is done, has stop_at bytes acknowledged
 * (0: no such stop), or max_s seconds passed.  Returns its state. */
static enum nd_tx_state sender_run(struct sender *s, uint64_t stop_at, double max_s)
{
	static uint8_t buf[ND_MSG_MAX];
	uint64_t end = now_us() + (uint64_t)(max_s * 1e6);

	while (!nd_tx_done(&s->tx) && now_us() < end) {
		size_t n;
		uint64_t t = now_us(), to;
		struct pollfd p = { .fd = s->sock, .events = POLLIN };

		if (stop_at && acked(s) >= stop_at)
			break;
		while ((n = nd_tx_poll(&s->tx, now_us(), buf, sizeof buf)) > 0)
			(void)send(s->sock, buf, n, 0);  /* ECONNREFUSED while down */
		to = nd_tx_timeout(&s->tx, t);
		int ms = to == UINT64_MAX ? 100 : to <= now_us() ? 0 : (int)((to - now_us()) / 1000 + 1);
		if (ms > 100)
			ms = 100;
		if (poll(&p, 1, ms) > 0) {
			ssize_t r;
			while ((r = recv(s->sock, buf, sizeof buf, MSG_DONTWAIT)) > 0 ||
			       (r < 0 && errno == ECONNREFUSED))
				if (r > 0)
					nd_tx_input(&s->tx, now_us(), buf, (size_t)r);
		}
	}
	return nd_tx_state(&s->tx);
}

static uint8_t *random_core(size_t size)
{
	uint8_t *p = malloc(size);

	assert_non_null(p);
	/* Half random, half structured: compressible like real cores. */
	for (size_t i = 0; i < size; i += 4096) {
		size_t n = size - i < 4096 ? size - i : 4096;
		if ((i / 4096) % 2)
			memset(p + i, (int)(i >> 12), n);
		else
			assert_int_equal(getrandom(p + i, n, 0), (ssize_t)n);
	}
	return p;
}

static int count(const struct store_rec *r, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* The store holds exactly `rows` dumps and the one for (device, seq) is core. */
static void assert_stored(const struct daemon *d, const char *device, uint32_t seq,
			  const uint8_t *core, size_t size, int rows)
{
	struct store *st;
	struct store_reader *rd;
	uint8_t boot[ND_BOOTID_LEN], *back = malloc(size + 1);
	uint64_t id;
	size_t got, total = 0;
	int n = 0;

	memset(boot, 0xb0, sizeof boot);
	assert_int_equal(store_open(d->store, STORE_RDONLY, &st), STORE_OK);
	assert_int_equal(store_find(st, device, boot, seq, &id), STORE_OK);
	assert_int_equal(store_open_core(st, id, &rd), STORE_OK);
	do {
		assert_int_equal(store_read(rd, back + total, size + 1 - total, &got), STORE_OK);
		total += got;
	} while (got > 0 && total <= size);
	store_reader_close(rd);
	assert_int_equal(total, size);
	assert_memory_equal(back, core, size);
	if (rows >= 0) {
		struct store_filter f = { 0 };
		assert_int_equal(store_list(st, &f, count, &n), STORE_OK);
		assert_int_equal(n, rows);
	}
	store_close(st);
	free(back);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_core_stored_byte_identical_and_result_repeated(void **state)
{
	struct daemon d = { 0 };
	size_t size = 3 * 1000 * 1000 + 17;
	uint8_t *core = random_core(size);
	struct sender *s;

	daemon_start(&d, "basic", "[Collector]\n");
	s = sender_new(d.port, core, size, "dev-basic", 1, 1024);
	assert_int_equal(sender_run(s, 0, 30), ND_TX_DONE_STORED);
	sender_free(s);
	assert_stored(&d, "dev-basic", 1, core, size, 1);
	/* The same dump sent again (a sender that never saw the RESULT) is
	 * answered STORED without a second row. */
	s = sender_new(d.port, core, size, "dev-basic", 1, 1024);
	assert_int_equal(sender_run(s, 0, 30), ND_TX_DONE_STORED);
	assert_non_null(strstr(nd_tx_text(&s->tx), "stored as dump 1"));
	sender_free(s);
	assert_int_equal(daemon_stop(&d), 0);
	/* ... also after a restart, when only the store remembers it. */
	daemon_start(&d, "basic", NULL);
	s = sender_new(d.port, core, size, "dev-basic", 1, 1024);
	assert_int_equal(sender_run(s, 0, 30), ND_TX_DONE_STORED);
	sender_free(s);
	assert_stored(&d, "dev-basic", 1, core, size, 1);
	assert_non_null(strstr(read_text(d.log), "already stored as dump 1"));
	assert_int_equal(daemon_stop(&d), 0);
	free(core);
}

static void test_resume_after_sigkill(void **state)
{
	struct daemon d = { 0 };
	size_t size = 40u << 20;
	uint8_t *core = random_core(size);
	struct sender *s;
	struct nd_tx_stats st;

	daemon_start(&d, "kill", "[Collector]\n");
	/* A small window keeps the transfer slow enough to interrupt; the store
	 * syncs progress in batches of a few MiB, so go well past one. */
	s = sender_new(d.port, core, size, "dev-kill", 1, 4);
	assert_int_equal(sender_run(s, 24u << 20, 60), ND_TX_SENDING);
	daemon_kill(&d);
	daemon_start(&d, "kill", NULL);
	assert_int_equal(sender_run(s, 0, 60), ND_TX_DONE_STORED);
	nd_tx_stats(&s->tx, &st);
	/* It continued from what the spool durably held, not from 0. */
	assert_true(st.resume >= (8u << 20));
	assert_true(st.resume <= (24u << 20) + (1u << 20));
	assert_true(st.opens >= 2);
	sender_free(s);
	assert_stored(&d, "dev-kill", 1, core, size, 1);
	assert_non_null(strstr(read_text(d.log), "resuming at"));
	assert_int_equal(daemon_stop(&d), 0);
	free(core);
}

static void test_sigterm_drains_then_resumes(void **state)
{
	struct daemon d = { 0 };
	size_t size = 16u << 20;
	uint8_t *core = random_core(size);
	struct sender *s;
	struct nd_tx_stats st;
	uint64_t held;

	daemon_start(&d, "term", "[Collector]\n");
	s = sender_new(d.port, core, size, "dev-term", 1, 1);
	assert_int_equal(sender_run(s, 3u << 20, 60), ND_TX_SENDING);
	held = acked(s);
	assert_int_equal(daemon_stop(&d), 0);
	assert_non_null(strstr(read_text(d.log), "closing device=dev-term"));
	daemon_start(&d, "term", NULL);
	assert_int_equal(sender_run(s, 0, 60), ND_TX_DONE_STORED);
	nd_tx_stats(&s->tx, &st);
	/* A drain makes everything acknowledged durable: nothing is sent twice. */
	assert_true(st.resume >= held);
	sender_free(s);
	assert_stored(&d, "dev-term", 1, core, size, 1);
	assert_int_equal(daemon_stop(&d), 0);
	free(core);
}

/* Data with the session's real cookie but from another address, data with
 * forged cookies, and garbage: all dropped, the transfer is intact. */
static void test_cookie_binds_address_and_garbage_is_ignored(void **state)
{
	struct daemon d = { 0 };
	size_t size = 8u << 20;
	uint8_t *core = random_core(size);
	static uint8_t junk[ND_DATA_HDR_LEN + 1024], pkt[2048];
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sender *s;
	int evil;

	daemon_start(&d, "cookie", "[Collector]\n");
	s = sender_new(d.port, core, size, "dev-cookie", 1, 1);
	assert_int_equal(sender_run(s, 1u << 20, 30), ND_TX_SENDING);

	a.sin_port = htons((uint16_t)d.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	evil = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(evil >= 0);
	memset(junk + ND_DATA_HDR_LEN, 0x5a, 1024);
	for (uint64_t off = 0; off < size; off += 1024) {
		/* the right cookie from the wrong port: would corrupt the core */
		nd_encode_data_hdr(junk, s->tx.cookie, off, 0, 1024);
		sendto(evil, junk, sizeof junk, 0, (struct sockaddr *)&a, sizeof a);
		/* a guessed cookie */
		nd_encode_data_hdr(junk, s->tx.cookie ^ (off + 1), off, 0, 1024);
		sendto(evil, junk, sizeof junk, 0, (struct sockaddr *)&a, sizeof a);
		/* garbage */
		size_t n = (size_t)(off / 1024) % sizeof pkt;
		assert_int_equal(getrandom(pkt, n, 0), (ssize_t)n);
		sendto(evil, pkt, n, 0, (struct sockaddr *)&a, sizeof a);
		if ((off / 1024) % 256 == 0)
			sender_run(s, 0, 0.001);
	}
	assert_int_equal(sender_run(s, 0, 60), ND_TX_DONE_STORED);
	assert_true(daemon_alive(&d));
	sender_free(s);
	/* no answer of any kind went to the forger */
	{
		struct pollfd p = { .fd = evil, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 100), 0);
	}
	close(evil);
	assert_stored(&d, "dev-cookie", 1, core, size, 1);
	assert_int_equal(daemon_stop(&d), 0);
	{
		const char *log = read_text(d.log);
		const char *p = strstr(log, "bad_cookie=");
		assert_non_null(p);
		/* most forged packets reached the daemon and were counted (the
		 * kernel may drop some of the burst) */
		assert_true(strtoull(p + 11, NULL, 10) >= size / 1024 / 4);
	}
	free(core);
}

static void expect_refused(struct sender *s, enum nd_reason why)
{
	assert_int_equal(sender_run(s, 0, 20), ND_TX_DONE_REFUSED);
	assert_int_equal(nd_tx_reason(&s->tx), why);
	sender_free(s);
}

static void test_limits_refuse_with_reasons(void **state)
{
	struct daemon d = { 0 };
	size_t size = 2u << 20;
	uint8_t *core = random_core(size);
	struct sender *a, *b;

	daemon_start(&d, "limits", "[Collector]\nMaxCoreSize=1M\nMaxSessions=1\n"
		     "DeviceRate=1\n");
	expect_refused(sender_new(d.port, core, size, "dev-big", 1, 64), ND_R_TOO_LARGE);

	/* one session in progress: the next is BUSY */
	a = sender_new(d.port, core, 1u << 20, "dev-a", 1, 1);
	assert_int_equal(sender_run(a, 64u << 10, 20), ND_TX_SENDING);
	expect_refused(sender_new(d.port, core, 1000, "dev-b", 1, 64), ND_R_BUSY);
	assert_int_equal(sender_run(a, 0, 30), ND_TX_DONE_STORED);
	sender_free(a);

	/* dev-a used its one dump of this minute; a resume would not count */
	expect_refused(sender_new(d.port, core, 1000, "dev-a", 2, 64), ND_R_RATE_LIMITED);
	b = sender_new(d.port, core, 1000, "dev-c", 1, 64);
	assert_int_equal(sender_run(b, 0, 20), ND_TX_DONE_STORED);
	sender_free(b);

	/* reload: per-device concurrency 1, no rate limit, larger cores */
	{
		const char *c = "[Collector]\nMaxCoreSize=4M\nMaxSessionsPerDevice=1\n"
				"DeviceRate=0\nMaxSessions=10\n";
		write_file(d.conf, c, strlen(c));
	}
	kill(d.pid, SIGHUP);
	for (int i = 0; i < 200 && !strstr(read_text(d.log), "reloaded"); i++)
		usleep(10000);
	assert_non_null(strstr(read_text(d.log), "MaxCoreSize: 1048576 -> 4194304"));
	a = sender_new(d.port, core, size, "dev-d", 1, 1);
	assert_int_equal(sender_run(a, 64u << 10, 20), ND_TX_SENDING);
	expect_refused(sender_new(d.port, core, 1000, "dev-d", 2, 64), ND_R_DEVICE_BUSY);
	assert_int_equal(sender_run(a, 0, 30), ND_TX_DONE_STORED);
	sender_free(a);
	assert_stored(&d, "dev-d", 1, core, size, 3);
	assert_int_equal(daemon_stop(&d), 0);
	free(core);
}

static void test_idle_session_times_out_and_resumes(void **state)
{
	struct daemon d = { 0 };
	size_t size = 6u << 20;
	uint8_t *core = random_core(size);
	struct sender *s;
	struct nd_tx_stats st;

	daemon_start(&d, "idle", "[Collector]\nSessionTimeout=1s\n");
	s = sender_new(d.port, core, size, "dev-idle", 1, 1);
	assert_int_equal(sender_run(s, 5u << 20, 30), ND_TX_SENDING);
	/* the device goes quiet; the collector closes the session, keeps the spool */
	for (int i = 0; i < 300 && !strstr(read_text(d.log), "timeout device=dev-idle"); i++)
		usleep(10000);
	assert_non_null(strstr(read_text(d.log), "spool kept for resume"));
	/* its old cookie is now unknown: it reopens and resumes */
	assert_int_equal(sender_run(s, 0, 30), ND_TX_DONE_STORED);
	nd_tx_stats(&s->tx, &st);
	assert_true(st.opens >= 2);
	assert_true(st.resume >= (4u << 20));
	sender_free(s);
	assert_stored(&d, "dev-idle", 1, core, size, 1);
	assert_int_equal(daemon_stop(&d), 0);
	free(core);
}

static int setup(void **state)
{
	daemon_path = getenv("CORECASTD") ? getenv("CORECASTD") : "build/bin/corecastd";
	if (access(daemon_path, X_OK) != 0) {
		fprintf(stderr, "%s: not built\n", daemon_path);
		return -1;
	}
	snprintf(tmp, sizeof tmp, "/tmp/ccdd.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	for (int i = 0; i < 8; i++)
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
		}

	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_stored_byte_identical_and_result_repeated),
		cmocka_unit_test(test_resume_after_sigkill),
		cmocka_unit_test(test_sigterm_drains_then_resumes),
		cmocka_unit_test(test_cookie_binds_address_and_garbage_is_ignored),
		cmocka_unit_test(test_limits_refuse_with_reasons),
		cmocka_unit_test(test_idle_session_times_out_and_resumes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
