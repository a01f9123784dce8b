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

// `--sink tc`: the same drop at tc ingress (clsact, direct action), for a CE veth
// without an XDP program: frames reach it through the backlog as skbs, without the
// per-frame NAPI run and the copy that an XDP program on a veth costs for an skb
// without XDP headroom (what AF_XDP copy-mode TX sends).
__attribute__((section("tc"), used)) int xbr_lab_sink_tc(struct __sk_buff *skb) {
  (void)skb;
  return 2; // TC_ACT_SHOT
}
