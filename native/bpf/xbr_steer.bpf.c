// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xbr_steer: the Border Relay's XDP program. "Steer, don't steal" (DESIGN.md):
 *
 *   - IPv4 whose destination is in v4_prefixes           -> the queue's AF_XDP socket
 *   - IPv6 whose destination is in v6_prefixes           -> the queue's AF_XDP socket
 *       except ICMPv6 Neighbor Discovery (types 133-137) -> kernel
 *       and    UDP to port 547 (the 4o6 server's DHCPv6) -> kernel
 *   - everything else (ARP, LLDP, SSH, other IPs, ...)   -> kernel (XDP_PASS)
 *
 * One 802.1Q (or 802.1ad) tag is looked through. The redirect is
 * bpf_redirect_map(&xsks_map, rx_queue_index, XDP_PASS): a queue with no socket
 * in xsks_map passes the packet to the kernel instead of dropping it.
 *
 * Loaded and attached by libxdp (native/src/program.cc) through its dispatcher, so
 * it coexists with other XDP programs; XDP_RUN_CONFIG below keeps libxdp's
 * defaults explicit (priority 50, run the next program after XDP_PASS).
 *
 * Maps, filled by user space (native/src/program.cc):
 *   xsks_map     XSKMAP   queue id -> AF_XDP socket fd
 *   v4_prefixes  LPM trie {u32 prefixlen; u8 addr[4]}  -> u8 (ignored)
 *   v6_prefixes  LPM trie {u32 prefixlen; u8 addr[16]} -> u8 (ignored)
 *   xbr_counters PERCPU_ARRAY u64[XBR_CNT_MAX], indices below
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>

#define XSK_MAX_QUEUES 256
#define PREFIX_MAX_ENTRIES 16384
#define DHCPV6_SERVER_PORT 547
#define IPV6_EXT_MAX 4 /* extension headers walked before giving up */

/* Counter indices; mirrored in native/src/program.cc and src/dataplane/xsk.ts. */
enum {
	XBR_CNT_PASS = 0,         /* not ours: left to the kernel */
	XBR_CNT_STEER4 = 1,       /* IPv4 redirected to the socket */
	XBR_CNT_STEER6 = 2,       /* IPv6 redirected to the socket */
	XBR_CNT_PASS_ND = 3,      /* IPv6 to our prefixes, but Neighbor Discovery */
	XBR_CNT_PASS_DHCPV6 = 4,  /* IPv6 to our prefixes, but UDP to port 547 */
	XBR_CNT_NO_SOCKET = 5,    /* ours, but no socket on this queue: passed */
	XBR_CNT_MAX = 8,
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct lpm_key4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PREFIX_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key4);
	__type(value, __u8);
} v4_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PREFIX_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key6);
	__type(value, __u8);
} v6_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XBR_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xbr_counters SEC(".maps");

struct {
	__uint(priority, XDP_DEFAULT_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xbr_steer);

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&xbr_counters, &idx);

	if (c)
		*c += 1;
}

static __always_inline int pass(__u32 idx)
{
	count(idx);
	return XDP_PASS;
}

static __always_inline int steer(struct xdp_md *ctx, __u32 idx)
{
	int act = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);

	count(act == XDP_REDIRECT ? idx : XBR_CNT_NO_SOCKET);
	return act;
}

/* IPv6 whose destination is ours: find the upper-layer header (through a few
 * extension headers) and let ND and DHCPv6-to-server through to the kernel. */
static __always_inline int handle_ipv6(struct xdp_md *ctx, void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	struct lpm_key6 key = { .prefixlen = 128 };
	__u8 *p;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return pass(XBR_CNT_PASS);
	__builtin_memcpy(key.addr, &ip6->daddr, sizeof(key.addr));
	if (!bpf_map_lookup_elem(&v6_prefixes, &key))
		return pass(XBR_CNT_PASS);

	nexthdr = ip6->nexthdr;
	p = (__u8 *)(ip6 + 1);

#pragma unroll
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
		    nexthdr == IPPROTO_DSTOPTS) {
			if (p + 2 > (__u8 *)data_end)
				return steer(ctx, XBR_CNT_STEER6);
			nexthdr = p[0];
			p += ((__u32)p[1] + 1) * 8;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			if (p + 8 > (__u8 *)data_end)
				return steer(ctx, XBR_CNT_STEER6);
			/* Not the first fragment: no upper-layer header to look at. */
			if ((((__u16)p[2] << 8) | p[3]) & 0xfff8)
				return steer(ctx, XBR_CNT_STEER6);
			nexthdr = p[0];
			p += 8;
		} else {
			break;
		}
	}

	if (nexthdr == IPPROTO_ICMPV6) {
		if (p + 1 > (__u8 *)data_end)
			return steer(ctx, XBR_CNT_STEER6);
		/* 133 RS, 134 RA, 135 NS, 136 NA, 137 Redirect */
		if (p[0] >= 133 && p[0] <= 137)
			return pass(XBR_CNT_PASS_ND);
	} else if (nexthdr == IPPROTO_UDP) {
		struct udphdr *udp = (struct udphdr *)p;

		if ((void *)(udp + 1) > data_end)
			return steer(ctx, XBR_CNT_STEER6);
		if (udp->dest == bpf_htons(DHCPV6_SERVER_PORT))
			return pass(XBR_CNT_PASS_DHCPV6);
	}
	return steer(ctx, XBR_CNT_STEER6);
}

static __always_inline int handle_ipv4(struct xdp_md *ctx, void *l3, void *data_end)
{
	struct iphdr *ip4 = l3;
	struct lpm_key4 key = { .prefixlen = 32 };

	if ((void *)(ip4 + 1) > data_end)
		return pass(XBR_CNT_PASS);
	__builtin_memcpy(key.addr, &ip4->daddr, sizeof(key.addr));
	if (!bpf_map_lookup_elem(&v4_prefixes, &key))
		return pass(XBR_CNT_PASS);
	return steer(ctx, XBR_CNT_STEER4);
}

SEC("xdp")
int xbr_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return pass(XBR_CNT_PASS);
	proto = eth->h_proto;
	l3 = eth + 1;

	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return pass(XBR_CNT_PASS);
		proto = vh->encapsulated_proto;
		l3 = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP))
		return handle_ipv4(ctx, l3, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return handle_ipv6(ctx, l3, data_end);
	return pass(XBR_CNT_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
