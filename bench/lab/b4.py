#!/usr/bin/env python3
# A userspace lw4o6 B4 (RFC 7596 section 5) for the netns lab, used when the kernel
# has no ip6tnl (CONFIG_IPV6_TUNNEL unset): IPv4-in-IPv6 (RFC 2473, next header 4)
# between a TUN device that carries the binding's IPv4 address and the BR.
#
#   b4.py <tun-name> <b4-ipv6-address> <br-ipv6-address>
#
# IPv4 packets the kernel routes into the TUN device are sent to the BR on a raw
# IPv6 socket of protocol 4 bound to the B4 address (the kernel writes the outer
# IPv6 header, source = the B4 address); IPv4-in-IPv6 packets from the BR to the B4
# address arrive on that socket without their IPv6 header (the kernel reassembles
# outer fragments first) and are written into the TUN device. Packets from any
# other source are dropped, as a B4 does. Prints "ready" once the device exists;
# runs until killed. Standard library only.
import fcntl
import os
import select
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IPPROTO_IPIP = 4


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: b4.py <tun-name> <b4-ipv6> <br-ipv6>", file=sys.stderr)
        return 2
    name, b4, br = sys.argv[1:4]
    br_norm = socket.inet_pton(socket.AF_INET6, br)
    tun = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_IPIP)
    raw.bind((b4, 0))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    raw.setblocking(False)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    up = down = 0
    while True:
        r, _, _ = select.select([tun, raw], [], [], 1.0)
        if tun in r:
            for _ in range(256):
                try:
                    pkt = os.read(tun, 65535)
                except BlockingIOError:
                    break
                if pkt and pkt[0] >> 4 == 4:
                    try:
                        raw.sendto(pkt, (br, 0))
                        up += 1
                    except (BlockingIOError, OSError):
                        pass
        if raw in r:
            for _ in range(256):
                try:
                    data, addr = raw.recvfrom(65535)
                except BlockingIOError:
                    break
                if socket.inet_pton(socket.AF_INET6, addr[0].split("%")[0]) != br_norm:
                    continue
                if data and data[0] >> 4 == 4:
                    try:
                        os.write(tun, data)
                        down += 1
                    except (BlockingIOError, OSError):
                        pass


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
