/* collector/corecast-send/transfer.h: drive the netdump sender over a connected UDP socket. */
#ifndef SEND_TRANSFER_H
#define SEND_TRANSFER_H

#include <stdint.h>

#include "netdump/tx.h"

struct cctls_client;

struct transfer_opts {
	int progress;            /* draw a progress bar on stderr */
	double max_seconds;      /* > 0: stop after this long (benchmarks) */
	struct cctls_client *tls; /* dtls:// or tls:// link over fd; NULL: plain UDP */
};

struct transfer_result {
	double seconds;          /* wall time from first OPEN to the end */
	double data_seconds;     /* until every byte was acknowledged (FINISH sent) */
	int stopped_early;       /* max_seconds reached */
	int interrupted;         /* SIGINT / SIGTERM */
	int link_failed;         /* the DTLS/TLS link broke (o->tls->why says why) */
};

/*
 * Run tx to completion (DONE_* / FAILED), early stop or signal.  fd is a
 * connected UDP socket (TCP under tls://).  Socket errors on send (ICMP unreachable while the
 * collector restarts, ENOBUFS) count as losses: the protocol recovers.
 */
void transfer_run(struct nd_tx *tx, int fd, const struct transfer_opts *o,
                  struct transfer_result *r);

#endif /* SEND_TRANSFER_H */
