# kernel/net/net.mk: the kernel's network: virtio-net, lwIP (built from third_party/, never committed), netdump over UDP.
#
# lwIP 2.1.3 comes from Debian's source package, fetched by `scripts/deps --sources`
# into third_party/ on first build; only the files the kernel uses are compiled,
# with our port (kernel/net/port: arch/cc.h, lwipopts.h, sys_arch.c).

K_NET_LWIP  := third_party/lwip-2.1.3+dfsg1
K_NET_LWIPS := $(K_NET_LWIP)/src
K_NET_LWIP_SRCS := $(addprefix $(K_NET_LWIPS)/core/, init.c def.c dns.c inet_chksum.c ip.c mem.c \
                     memp.c netif.c pbuf.c stats.c sys.c tcp.c tcp_in.c tcp_out.c timeouts.c udp.c) \
                   $(addprefix $(K_NET_LWIPS)/core/ipv4/, dhcp.c etharp.c icmp.c ip4.c ip4_addr.c \
                     ip4_frag.c) \
                   $(addprefix $(K_NET_LWIPS)/core/ipv6/, ethip6.c icmp6.c ip6.c ip6_addr.c \
                     ip6_frag.c mld6.c nd6.c) \
                   $(K_NET_LWIPS)/netif/ethernet.c
K_NET_SRCS  := kernel/net/virtio_net.c kernel/net/netif.c kernel/net/net.c kernel/net/netargs.c \
               kernel/net/netdump_udp.c kernel/net/port/sys_arch.c hal/riscv64/plic.c \
               netdump/tx.c netdump/msg.c netdump/frame.c
K_NET_OBJS  := $(patsubst %.c,$(K_OBJ)/%.o,$(K_NET_SRCS) $(K_NET_LWIP_SRCS))
K_NET_INC   := -Ikernel/net/port -Ikernel/net/libc -I$(K_NET_LWIPS)/include

# The kernel links the network objects (kernel.mk's link recipe expands K_OBJS late).
K_OBJS += $(K_NET_OBJS)
$(K_ELF): $(K_NET_OBJS)

$(K_OBJ)/kernel/%.o $(K_OBJ)/hal/%.o $(K_OBJ)/netdump/%.o: K_CFLAGS += $(K_NET_INC)
# Third-party code: our warnings, except the two its style trips (unused parameters
# of port hooks, shadowed locals); still -Werror.
$(K_OBJ)/third_party/%.o: K_CFLAGS += $(K_NET_INC) -Wno-shadow -Wno-missing-prototypes
$(K_NET_OBJS) $(K_OBJ)/kernel/main.o $(K_OBJ)/kernel/dump.o: | $(K_NET_LWIP)/src/include/lwip/init.h

# A clean clone has no third_party/: fetch the Debian source packages first (once).
# The kernel needs only lwIP from them: another package failing to download does not
# stop the build once lwIP is there.
$(K_NET_LWIP)/src/include/lwip/init.h:
	scripts/deps --sources || test -f $@
	@touch $@
$(K_NET_LWIP_SRCS): $(K_NET_LWIP)/src/include/lwip/init.h ;

# The host boot-argument test links the network keys' parser too.
$(TBIN)/test_k_bootcfg: $(OBJ)/ksan/kernel/net/netargs.o

# `make qemu-net BOOTARGS='...'`: like `make qemu`, with a virtio-net NIC on QEMU's user
# network (the host is 10.0.2.2 from inside).
.PHONY: qemu-net
qemu-net: $(K_ELF)
	$(K_QEMU) -kernel $(K_ELF) -device virtio-net-device,netdev=n0 -netdev user,id=n0 \
		-append "$(BOOTARGS)"

# `make bench`: a 16 MiB core over the kernel's network, default window vs window 1,
# clean and with 1% loss; the network stack's RAM.
BENCHES += bench-kernel-net
.PHONY: bench-kernel-net
bench-kernel-net: $(K_ELF) $(BIN)/corecastd $(TBIN)/impair
	@/usr/bin/python3 tests/net/bench_knet.py

# Host unit test of the network boot arguments (ASan/UBSan), through the kernel's parser.
UNIT_TESTS += $(TBIN)/test_knet_args
$(TBIN)/test_knet_args: $(OBJ)/ksan/tests/unit/test_knet_args.o $(OBJ)/ksan/kernel/bootargs.o \
		$(OBJ)/ksan/kernel/parse.o $(OBJ)/ksan/kernel/net/netargs.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(K_SAN) $^ -o $@ $(LDFLAGS) -lcmocka
