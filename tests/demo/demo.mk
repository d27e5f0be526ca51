# tests/demo/demo.mk: `make demo` step — crash a program, stream its core to corecastd, list it.

DEMO_STEPS += demo-collector
.PHONY: demo-collector

demo-collector: $(PROGRAMS) $(TEST_TOOLS)
	@bash tests/demo/demo_collector.sh
