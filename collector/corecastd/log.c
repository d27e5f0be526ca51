/* collector/corecastd/log.c: one-line, priority-prefixed log records on stderr. */
#include "collector/corecastd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum ccd_log_level max_level = CCD_LOG_INFO;

void ccd_log_set_level(enum ccd_log_level max)
{
	max_level = max;
}

void ccd_log(enum ccd_log_level lvl, const char *fmt, ...)
{
	char line[1024];
	int n, m;
	va_list ap;

	if (lvl > max_level)
		return;
	n = snprintf(line, sizeof line, "<%d>", (int)lvl);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	/* A newline inside a message would start a new journal record without a
	 * priority; the daemon logs peer-supplied strings, so flatten them. */
	for (int i = 3; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	/* One write per record keeps lines whole even if stderr is shared. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
