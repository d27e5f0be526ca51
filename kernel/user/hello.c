/* kernel/user/hello.c: the smallest program: prints its arguments and exits with a chosen code. */
#include <stdio.h>
#include <stdlib.h>
#include "kernel/user/corecast.h"

int main(int argc, char **argv)
{
	printf("hello from pid %d tid %d, argc=%d\n", cc_getpid(), cc_gettid(), argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	return argc > 1 ? atoi(argv[1]) : 0;
}
