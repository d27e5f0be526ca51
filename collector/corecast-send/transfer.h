/* collector/corecast-send/transfer.h: drive the netdump sender over a connected UDP socket. */
#ifndef SEND_TRANSFER_H
#define SEND_TRANSFER_H

#include <stdint.h>

#include "netdump/tx.h"

struct transfer_opts {
	int progress;            /* draw a progress bar on stderr */
	double max_seconds;      /* > 0: stop after this long (benchmarks) */
};

struct transfer_result {
	double seconds;          /* wall time from first OPEN to the end */
	double data_seconds;     /* until every byte was acknowledged (FINISH sent) */
	int stopped_early;       /* max_seconds reached */
	int interrupted;         /* SIGINT / SIGTERM */
};

/*
 * Run tx to completion (DONE_* / FAILED), early stop or signal.  fd is a
 * connected UDP socket.  Socket errors on send (ICMP unreachable while the
 * collector restarts, ENOBUFS) count as losses: the protocol recovers.
 */
void transfer_run(struct nd_tx *tx, int fd, const struct transfer_opts *o,
                  struct transfer_result *r);

#endif /* SEND_TRANSFER_H */
