# kernel/net/demo.mk: `make demo` step — a kernel crash streamed over the network to the collector.
DEMO_STEPS += demo-kernel-net
.PHONY: demo-kernel-net
demo-kernel-net: $(K_ELF) $(BIN)/corecastd $(BIN)/corecastctl
	@bash tests/net/demo_knet.sh
