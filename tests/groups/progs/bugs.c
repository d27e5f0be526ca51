/* tests/groups/progs/bugs.c: a program with two distinct bugs, for the grouping tests. */
/*
 * `bugs segv` dies of SIGSEGV in bug_level3 <- bug_level2 <- bug_level1 <- main;
 * `bugs abort` fails an assertion in check_input <- parse_request <- main (SIGABRT
 * through abort/raise, which the signature drops).  Built with -DPAD, an extra
 * function placed first shifts every address of the rest: "a rebuild that only moves
 * code", which must keep the signature.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#ifdef PAD
/* Never called; big enough to move every function after it. */
__attribute__((noinline, used)) int pad_function(volatile int *p)
{
	int s = 0;
#define P4(i) s += p[i] * (i + 1); s ^= p[i + 1]; s += p[i + 2] >> 1; s -= p[i + 3];
#define P16(i) P4(i) P4(i + 4) P4(i + 8) P4(i + 12)
#define P64(i) P16(i) P16(i + 16) P16(i + 32) P16(i + 48)
	P64(0) P64(64) P64(128) P64(192)
	return s;
}
#endif

volatile int *volatile bug_target;

__attribute__((noinline)) void bug_level3(int v)
{
	*bug_target = v;   /* NULL store */
}

__attribute__((noinline)) void bug_level2(int v)
{
	bug_level3(v + 1);
	__asm__ volatile("" ::: "memory");   /* keep the call from becoming a tail call */
}

__attribute__((noinline)) void bug_level1(int v)
{
	bug_level2(v + 1);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void check_input(const char *s)
{
	assert(strlen(s) < 4 && "request too long");
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void parse_request(const char *s)
{
	check_input(s);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "abort"))
		parse_request("a request that is too long");
	else
		bug_level1(1);
	puts("not reached");
	return 0;
}
