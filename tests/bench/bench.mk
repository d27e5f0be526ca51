# tests/bench/bench.mk: `make bench` — collector throughput and fan-out benchmarks.

TT_PY := /usr/bin/python3

BENCHES += bench-collector-throughput bench-collector-fanout
.PHONY: bench-collector-throughput bench-collector-fanout

bench-collector-throughput: $(PROGRAMS) $(TEST_TOOLS)
	$(TT_PY) tests/bench/bench_throughput.py

bench-collector-fanout: $(PROGRAMS) $(TEST_TOOLS)
	$(TT_PY) tests/bench/bench_fanout.py
