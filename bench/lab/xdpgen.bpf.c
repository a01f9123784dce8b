// SPDX-License-Identifier: GPL-2.0
// The lab's in-kernel packet generator, BPF half (see xdpgen.c): run by
// BPF_PROG_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18+), it
// sends every frame it is handed out of the device in tx_port[0]. The frames leave
// through that device's ndo_xdp_xmit: on a veth they reach the peer as XDP frames,
// with XDP headroom and without an skb, so the receiving side pays for no copy the
// generator caused (an skb sent by a socket lacks that headroom and the peer's XDP
// path copies it; bench/lab/throughput.ts).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The first HEAD bytes of the frame (Ethernet, IP and UDP headers), written back into
// every frame before it leaves. Live-frames mode recycles its pages without copying
// the frame in again, and a frame the kernel forwarded comes back with the next hop's
// MAC addresses and a lower hop limit (the stack rewrote them in place); unrestored,
// such frames are dropped on their next round as addressed to another host.
#define HEAD 64
struct head {
  __u8 b[HEAD];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct head);
} head SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_DEVMAP);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} tx_port SEC(".maps");

SEC("xdp")
int xbr_lab_gen(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u32 key = 0;
  struct head *h = bpf_map_lookup_elem(&head, &key);
  if (h == 0 || data + HEAD > end) return XDP_ABORTED;
  __builtin_memcpy(data, h->b, HEAD);
  return bpf_redirect_map(&tx_port, 0, 0);
}

// The kernel-forwarding baseline's receiving veth carries this one: a veth takes XDP
// frames from its peer only while an XDP program is attached (or GRO is on); XDP_PASS
// hands each to the stack as an skb built around the frame.
SEC("xdp")
int xbr_lab_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
