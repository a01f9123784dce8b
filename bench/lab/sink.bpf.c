// SPDX-License-Identifier: GPL-2.0
// The lab bench's receiver: an XDP program on the CE side's veth that drops every
// frame, so that the CE namespace's stack costs nothing and the interface's rx
// counter (ip -s link: veth counts XDP-processed frames) is the count of frames the
// BR delivered. Built on demand by bench/lab/throughput.ts:
//   clang -O2 -g0 -target bpf -c sink.bpf.c -o sink.bpf.o
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int xbr_lab_sink(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_DROP;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
