/* collector/corecastd/log.h: corecastd's journald-friendly logging to stderr. */
#ifndef CCD_LOG_H
#define CCD_LOG_H

/*
 * Every line starts with an sd-daemon(3) priority prefix ("<3>" ... "<7>"), which
 * journald strips and turns into the record's priority when the unit's stderr goes
 * to the journal; on a terminal the prefix is still readable.  One message is one
 * line: embedded newlines would split a record, so callers never pass them.
 */
enum ccd_log_level {
	CCD_LOG_ERR = 3,
	CCD_LOG_WARNING = 4,
	CCD_LOG_NOTICE = 5,
	CCD_LOG_INFO = 6,
	CCD_LOG_DEBUG = 7,
};

/* Messages above this level are dropped (default CCD_LOG_INFO). */
void ccd_log_set_level(enum ccd_log_level max);

void ccd_log(enum ccd_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ccd_err(...)     ccd_log(CCD_LOG_ERR, __VA_ARGS__)
#define ccd_warn(...)    ccd_log(CCD_LOG_WARNING, __VA_ARGS__)
#define ccd_notice(...)  ccd_log(CCD_LOG_NOTICE, __VA_ARGS__)
#define ccd_info(...)    ccd_log(CCD_LOG_INFO, __VA_ARGS__)
#define ccd_debug(...)   ccd_log(CCD_LOG_DEBUG, __VA_ARGS__)

#endif /* CCD_LOG_H */
