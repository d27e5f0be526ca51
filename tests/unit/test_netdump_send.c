/* tests/unit/test_netdump_send.c: corecast-send end to end against an in-test collector on a real UDP socket. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/corecast-send/buildid.h"
#include "collector/corecast-send/endpoint.h"
#include "netdump/netdump.h"
#include "netdump/rx.h"
#include "netdump/sha256.h"

/* The binary under test: ../bin/corecast-send next to this test's build dir. */
static char SENDER[4096];

/* ---- a small collector on a real socket, in a thread ---- */

enum mode { M_STORE, M_REFUSE, M_SILENT, M_MISMATCH };

struct mini {
	int fd;
	int port;
	enum mode mode;
	uint64_t prefix;          /* pretend to hold [0, prefix) already (resume) */
	const uint8_t *truth;     /* for the prefix */
	volatile int stop;
	pthread_t th;
	/* results */
	struct nd_meta meta;
	uint8_t *spool;
	uint64_t size;
	int stored;
	uint64_t data_bytes;
	uint64_t opens;
};

static void *mini_main(void *arg)
{
	struct mini *c = arg;
	static uint8_t in[70000], out[2048];
	static struct nd_msg m, r;
	static struct nd_rx rx;
	struct sockaddr_storage peer;
	uint64_t cookie = 0x1122334455667788ULL;
	int have = 0;

	while (!c->stop) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		socklen_t pl = sizeof peer;
		ssize_t n = recvfrom(c->fd, in, sizeof in, 0, (struct sockaddr *)&peer, &pl);
		if (n <= 0 || c->mode == M_SILENT)
			continue;
		if (nd_decode(in, (size_t)n, &m) != ND_OK)
			continue;
		size_t len = 0;
		memset(&r, 0, sizeof r);
		if (m.type == ND_T_OPEN) {
			c->opens++;
			if (c->mode == M_REFUSE) {
				r.type = ND_T_REFUSE;
				r.u.refuse.nonce = m.u.open.nonce;
				r.u.refuse.reason = ND_R_QUOTA;
				strcpy(r.u.refuse.text, "MaxUse=1M reached");
			} else {
				if (!have) {
					c->meta = m.u.open.meta;
					c->size = c->meta.core_size;
					c->spool = calloc(1, c->size + 1);
					nd_rx_init(&rx, c->size, 512, 1424);
					if (c->prefix) {
						memcpy(c->spool, c->truth, c->prefix);
						nd_rx_restore(&rx, c->prefix);
					}
					have = 1;
				}
				r.type = ND_T_OPEN_ACK;
				r.cookie = cookie;
				nd_rx_open_ack(&rx, &r.u.open_ack);
				r.u.open_ack.nonce = m.u.open.nonce;
			}
		} else if (m.type == ND_T_DATA && have && m.cookie == cookie) {
			c->data_bytes += m.u.data.len;
			if (nd_rx_data(&rx, m.u.data.offset, m.u.data.len, m.u.data.tsval) == ND_RX_NEW)
				memcpy(c->spool + m.u.data.offset, m.u.data.payload, m.u.data.len);
			/* ack each datagram unless more are already waiting */
			struct pollfd q = { c->fd, POLLIN, 0 };
			if (poll(&q, 1, 0) > 0)
				continue;
			if (nd_rx_build_ack(&rx, cookie, out, sizeof out, &len) == ND_OK)
				sendto(c->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			continue;
		} else if (m.type == ND_T_FINISH && have && m.cookie == cookie) {
			r.type = ND_T_RESULT;
			r.cookie = cookie;
			nd_sha256(c->spool, c->size, r.u.result.sha256);
			if (c->mode == M_MISMATCH)
				r.u.result.sha256[0] ^= 1;
			r.u.result.code = memcmp(r.u.result.sha256, m.u.finish.sha256, 32) ?
			                  ND_RES_DIGEST_MISMATCH : ND_RES_STORED;
			c->stored = r.u.result.code == ND_RES_STORED;
		} else {
			continue;
		}
		if (nd_encode(&r, out, sizeof out, &len) == ND_OK)
			sendto(c->fd, out, len, 0, (struct sockaddr *)&peer, pl);
	}
	return NULL;
}

static void mini_start(struct mini *c, enum mode mode)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	memset(c, 0, sizeof *c);
	c->mode = mode;
	c->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(c->fd >= 0);
	int sz = 4 << 20;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
	getsockname(c->fd, (struct sockaddr *)&a, &al);
	c->port = ntohs(a.sin_port);
}

static void mini_run(struct mini *c)
{
	pthread_create(&c->th, NULL, mini_main, c);
}

static void mini_stop(struct mini *c)
{
	c->stop = 1;
	pthread_join(c->th, NULL);
	close(c->fd);
	free(c->spool);
}

/* ---- running the real binary ---- */

static char errbuf[8192];

/* Run corecast-send with argv (NULL-terminated); stdin from stdin_path if set.
 * Returns the exit status; stderr is captured in errbuf. */
static int run_sender(const char *stdin_path, const char *const *argv)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		if (stdin_path) {
			int fd = open(stdin_path, O_RDONLY);
			dup2(fd, 0);
		}
		execv(SENDER, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	size_t n = 0;
	ssize_t k;
	while ((k = read(pipefd[0], errbuf + n, sizeof errbuf - 1 - n)) > 0)
		n += (size_t)k;
	errbuf[n] = 0;
	close(pipefd[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char core_path[] = "/tmp/nd-send-test-XXXXXX";
static uint8_t *core;
static size_t core_len;

static int setup(void **state)
{
	(void)state;
	ssize_t n = readlink("/proc/self/exe", SENDER, sizeof SENDER - 32);
	assert_true(n > 0);
	SENDER[n] = 0;
	char *slash = strrchr(SENDER, '/');
	assert_non_null(slash);
	strcpy(slash, "/../bin/corecast-send");
	if (access(SENDER, X_OK) != 0) {
		fprintf(stderr, "%s not built (run from the repository root after make)\n", SENDER);
		return -1;
	}
	/* Not an ELF core: exercises "send without metadata" and any-bytes transfer. */
	core_len = 3 * 1000 * 1000 + 17;
	core = malloc(core_len);
	uint32_t x = 12345;
	for (size_t i = 0; i < core_len; i++) {
		x = x * 1103515245 + 12345;
		core[i] = (uint8_t)(x >> 16);
	}
	int fd = mkstemp(core_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, core, core_len), (ssize_t)core_len);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(core_path);
	free(core);
	return 0;
}

static char url[64];

static void test_stores_file_byte_identical(void **state)
{
	struct mini c;
	(void)state;
	mini_start(&c, M_STORE);
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	const char *argv[] = { SENDER, "--endpoint", url, "--device", "unit-dev", "--seq", "7",
	                       "--boot-id", "00112233-4455-6677-8899-aabbccddeeff", "--pid", "99",
	                       "--signal", "6", "--name", "proc", "--cause", "abort()",
	                       "--firmware", "fw-1.2", core_path, NULL };
	int rc = run_sender(NULL, argv);
	mini_stop(&c);
	assert_int_equal(rc, 0);
	assert_true(c.stored);
	assert_true(c.size == core_len);
	assert_string_equal(c.meta.device, "unit-dev");
	assert_int_equal(c.meta.seq, 7);
	assert_int_equal(c.meta.pid, 99);
	assert_int_equal(c.meta.signal, 6);
	assert_string_equal(c.meta.exe, "proc");
	assert_string_equal(c.meta.cause, "abort()");
	assert_string_equal(c.meta.firmware, "fw-1.2");
	assert_int_equal(c.meta.boot_id[0], 0x00);
	assert_int_equal(c.meta.boot_id[15], 0xff);
	assert_true(c.meta.device_time > 0);
}

static void test_stdin_is_spooled_and_sent(void **state)
{
	struct mini c;
	(void)state;
	mini_start(&c, M_STORE);
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	const char *argv[] = { SENDER, "--endpoint", url, "--device", "d", "--quiet", "-", NULL };
	int rc = run_sender(core_path, argv);
	assert_int_equal(rc, 0);
	assert_true(c.stored);
	assert_memory_equal(c.spool, core, core_len);
	assert_string_equal(errbuf, "");   /* --quiet: nothing on success */
	mini_stop(&c);
}

/* The same core gets the same default sequence number: a rerun resumes. */
static void test_default_seq_is_stable_and_resume_sends_only_the_rest(void **state)
{
	struct mini c;
	(void)state;
	mini_start(&c, M_STORE);
	c.prefix = core_len / 2;
	c.truth = core;
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	const char *argv[] = { SENDER, "--endpoint", url, "--device", "d", "--stats", core_path,
	                       NULL };
	int rc = run_sender(NULL, argv);
	uint32_t seq1 = c.meta.seq;
	uint64_t sent = c.data_bytes;
	mini_stop(&c);
	assert_int_equal(rc, 0);
	assert_true(c.stored);
	assert_true(sent <= core_len - core_len / 2 + 64 * 1424);
	assert_non_null(strstr(errbuf, "resume=1500008"));

	mini_start(&c, M_STORE);
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	rc = run_sender(NULL, argv);
	mini_stop(&c);
	assert_int_equal(rc, 0);
	assert_int_equal(c.meta.seq, seq1);
}

static void test_refusal_prints_reason_and_exits_6(void **state)
{
	struct mini c;
	(void)state;
	mini_start(&c, M_REFUSE);
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	const char *argv[] = { SENDER, "--endpoint", url, "--device", "d", core_path, NULL };
	int rc = run_sender(NULL, argv);
	mini_stop(&c);
	assert_int_equal(rc, 6);
	assert_non_null(strstr(errbuf, "refused"));
	assert_non_null(strstr(errbuf, "store over quota or disk full"));
	assert_non_null(strstr(errbuf, "MaxUse=1M reached"));
}

static void test_mismatch_exits_7(void **state)
{
	struct mini c;
	(void)state;
	mini_start(&c, M_MISMATCH);
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	const char *argv[] = { SENDER, "--endpoint", url, "--device", "d", core_path, NULL };
	int rc = run_sender(NULL, argv);
	mini_stop(&c);
	assert_int_equal(rc, 7);
	assert_non_null(strstr(errbuf, "digest mismatch"));
}

static void test_silent_collector_times_out_with_5(void **state)
{
	struct mini c;
	(void)state;
	mini_start(&c, M_SILENT);
	mini_run(&c);
	snprintf(url, sizeof url, "udp://127.0.0.1:%d", c.port);
	const char *argv[] = { SENDER, "--endpoint", url, "--device", "d", "--timeout", "1",
	                       core_path, NULL };
	int rc = run_sender(NULL, argv);
	mini_stop(&c);
	assert_int_equal(rc, 5);
	assert_non_null(strstr(errbuf, "no answer"));
}

static void test_bad_arguments_and_unreadable_core(void **state)
{
	(void)state;
	const char *a1[] = { SENDER, "--device", "d", core_path, NULL };
	assert_int_equal(run_sender(NULL, a1), 2);
	assert_non_null(strstr(errbuf, "--endpoint is required"));
	const char *a2[] = { SENDER, "--endpoint", "tcp://x:1", "--device", "d", core_path, NULL };
	assert_int_equal(run_sender(NULL, a2), 2);
	assert_non_null(strstr(errbuf, "udp://"));
	const char *a3[] = { SENDER, "--endpoint", "udp://127.0.0.1:9", "--device", "d",
	                     "--window", "0", core_path, NULL };
	assert_int_equal(run_sender(NULL, a3), 2);
	const char *a4[] = { SENDER, "--endpoint", "udp://127.0.0.1:9", "--device", "d",
	                     "/nonexistent/core", NULL };
	assert_int_equal(run_sender(NULL, a4), 3);
	assert_non_null(strstr(errbuf, "/nonexistent/core"));
	assert_non_null(strstr(errbuf, "No such file"));
	const char *a5[] = { SENDER, "--endpoint", "udp://no-such-host.invalid:7770", "--device",
	                     "d", core_path, NULL };
	assert_int_equal(run_sender(NULL, a5), 4);
	const char *a6[] = { SENDER, "--endpoint", "udp://127.0.0.1:9", "--device", "d",
	                     "--boot-id", "xyz", core_path, NULL };
	assert_int_equal(run_sender(NULL, a6), 2);
}

static void test_endpoint_parse(void **state)
{
	struct endpoint ep;
	(void)state;
	assert_null(endpoint_parse("udp://127.0.0.1:7770", &ep));
	assert_string_equal(ep.host, "127.0.0.1");
	assert_string_equal(ep.port, "7770");
	assert_null(endpoint_parse("udp://[::1]:1", &ep));
	assert_string_equal(ep.host, "::1");
	assert_null(endpoint_parse("udp://[fe80::1%lo]:65535", &ep));
	assert_string_equal(ep.host, "fe80::1%lo");
	assert_null(endpoint_parse("udp://collector.example:7770", &ep));
	assert_string_equal(ep.host, "collector.example");
	assert_non_null(endpoint_parse("tcp://a:1", &ep));
	assert_non_null(endpoint_parse("udp://a", &ep));
	assert_non_null(endpoint_parse("udp://:1", &ep));
	assert_non_null(endpoint_parse("udp://a:0", &ep));
	assert_non_null(endpoint_parse("udp://a:65536", &ep));
	assert_non_null(endpoint_parse("udp://a:12x", &ep));
	assert_non_null(endpoint_parse("udp://::1:7770", &ep));
	assert_non_null(endpoint_parse("udp://[::1:7770", &ep));
	assert_non_null(endpoint_parse("udp://[::1]7770", &ep));
	assert_non_null(endpoint_parse("udp://a/b:1", &ep));
}

/* A real Linux core of /bin/sleep: the image build-ids in the core include the
 * one readable from the executable file itself. */
static void test_core_buildids_from_real_core(void **state)
{
	char dir[] = "/tmp/nd-core-XXXXXX";
	char exe[4096];
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(realpath("/bin/sleep", exe));
	uint8_t want[ND_BUILDID_MAX];
	size_t wl = file_buildid(exe, want);
	if (!wl)
		skip();
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		setrlimit(RLIMIT_CORE, &rl);
		if (chdir(dir) != 0)
			_exit(1);
		execl(exe, "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(200000);
	kill(pid, SIGQUIT);
	int st;
	waitpid(pid, &st, 0);
	char path[256];
	snprintf(path, sizeof path, "%s/core", dir);
	FILE *f = fopen(path, "rb");
	if (!f || !WCOREDUMP(st)) {
		/* core_pattern sends cores elsewhere on this machine: nothing to read */
		if (f)
			fclose(f);
		rmdir(dir);
		skip();
	}
	static uint8_t buf[64 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	unlink(path);
	rmdir(dir);
	struct nd_meta m;
	memset(&m, 0, sizeof m);
	core_buildids(buf, n, &m);
	int found = 0;
	for (unsigned i = 0; i < m.n_buildids; i++)
		if (m.buildids[i].len == wl && !memcmp(m.buildids[i].id, want, wl)) {
			found = 1;
			assert_string_equal(m.buildids[i].name, strrchr(exe, '/') + 1);
		}
	assert_true(found);
	assert_true(m.n_buildids >= 2);   /* the executable and at least the dynamic loader */
	/* corrupted headers and notes never make the reader overrun */
	{
		size_t head = n < 65536 ? n : 65536;
		uint8_t *p = malloc(head);
		uint32_t x = 99;
		for (int it = 0; it < 3000; it++) {
			memcpy(p, buf, head);
			for (int k = 0; k < 1 + it % 6; k++) {
				x = x * 1103515245 + 12345;
				size_t at = (x >> 8) % (it % 2 ? 512 : head);
				x = x * 1103515245 + 12345;
				p[at] = (uint8_t)(x >> 16) | (it % 3 == 0 ? 0x80 : 0);
			}
			memset(&m, 0, sizeof m);
			core_buildids(p, head, &m);
			uint8_t id[ND_BUILDID_MAX];
			(void)elf_buildid(p, head, id);
		}
		free(p);
	}
	/* truncated cores never make the reader overrun: every prefix is safe */
	for (size_t cut = 0; cut < 8192 && cut < n; cut += 97) {
		uint8_t *p = malloc(cut ? cut : 1);
		memcpy(p, buf, cut);
		memset(&m, 0, sizeof m);
		core_buildids(p, cut, &m);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_parse),
		cmocka_unit_test(test_stores_file_byte_identical),
		cmocka_unit_test(test_stdin_is_spooled_and_sent),
		cmocka_unit_test(test_default_seq_is_stable_and_resume_sends_only_the_rest),
		cmocka_unit_test(test_refusal_prints_reason_and_exits_6),
		cmocka_unit_test(test_mismatch_exits_7),
		cmocka_unit_test(test_silent_collector_times_out_with_5),
		cmocka_unit_test(test_bad_arguments_and_unreadable_core),
		cmocka_unit_test(test_core_buildids_from_real_core),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
