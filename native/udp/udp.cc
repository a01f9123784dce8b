// xbr_udp.node: batched UDP/IPv6 datagram I/O for the DHCP 4o6 server.
//
// Why: node:dgram hands every datagram to JavaScript as its own event with a new
// Buffer and a new rinfo object, and sends each reply with its own syscall and
// request object. At 20k+ leases/s (four datagrams a lease) that per-datagram
// overhead was 7-10 of the server's ~65 us of CPU per lease (bench/dhcp4o6-results.md,
// "Seventh session"). Here one readiness callback lets JavaScript take up to 64 datagrams
// with one recvmmsg(2) into a buffer it owns, and a turn's replies leave with one
// sendmmsg(2).
//
// Nothing here looks inside a datagram: decoding, counters and drop reasons stay in
// src/dhcp/. The JS side (src/dhcp/udp/batch.ts) documents the layout of the
// buffers; the constants below must match it.
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace {

constexpr int kMaxBatch = 64;          // datagrams per recv / send call
constexpr int kRecvSlot = 65536;       // bytes per receive slot: any UDP payload fits
constexpr int kControl = 96;           // ancillary data per datagram: IPV6_PKTINFO, SO_RXQ_OVFL
static_assert(CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(uint32_t)) <= kControl, "room for both");
constexpr int kMetaInts = 16;          // int32s of metadata per datagram, see src/dhcp/udp/batch.ts
// meta[i*16 + 0]  receive: length, or -1 if the datagram did not fit its slot (MSG_TRUNC)
//                 send:    offset of the datagram in the send buffer
// meta[i*16 + 1]  send: length
// meta[i*16 + 2]  the peer's port (host order)
// meta[i*16 + 3]  the peer's scope id (interface index of a link-local peer, else 0)
// meta[i*16 + 4..7]   the peer's IPv6 address, 16 octets as they are on the wire
// meta[i*16 + 8..11]  the local address the datagram was sent to (IPV6_PKTINFO)
// meta[i*16 + 12]     the interface it arrived on
// meta[i*16 + 13]     1 if 8..12 hold a unicast local address: a reply leaves from it
//                     (receive: set by the kernel's PKTINFO; send: the caller's choice)
// meta[i*16 + 14]     receive: datagrams the kernel dropped on this socket (receive
//                     buffer full) before this one was queued, a running count
//                     (SO_RXQ_OVFL); 0 until the first drop

// The arrays one recvmmsg / sendmmsg call takes, each datagram pointing at its own.
struct MsgBatch {
  mmsghdr msgs[kMaxBatch];
  iovec iov[kMaxBatch];
  sockaddr_in6 peer[kMaxBatch];
  alignas(cmsghdr) char control[kMaxBatch][kControl];

  // Datagram i: `len` bytes at `data`, to or from peer[i], with room for `controlLen`
  // bytes of ancillary data (0: none).
  void Set(int i, uint8_t* data, size_t len, size_t controlLen) {
    memset(&msgs[i], 0, sizeof msgs[i]);
    iov[i].iov_base = data;
    iov[i].iov_len = len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &peer[i];
    msgs[i].msg_hdr.msg_namelen = sizeof peer[i];
    if (controlLen > 0) {
      msgs[i].msg_hdr.msg_control = control[i];
      msgs[i].msg_hdr.msg_controllen = controlLen;
    }
  }
};

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + strerror(err);
}

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {
                           InstanceMethod("recv", &UdpSocket::Recv),
                           InstanceMethod("send", &UdpSocket::Send),
                           InstanceMethod("joinGroup", &UdpSocket::JoinGroup),
                           InstanceMethod("close", &UdpSocket::Close),
                           InstanceAccessor("port", &UdpSocket::Port, nullptr),
                       });
  }

  // new UdpSocket(host, port, bufferBytes, onReadable): an IPv6-only UDP socket bound
  // to host (an IPv6 literal, "%zone" allowed) and port (0: any), receive and send
  // buffers asked for bufferBytes (the kernel caps them at rmem_max / wmem_max),
  // onReadable() called from the event loop whenever a datagram waits.
  explicit UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
        !info[3].IsFunction()) {
      throw Napi::TypeError::New(env, "UdpSocket(host: string, port: number, bufferBytes: number, onReadable: function)");
    }
    std::string host = info[0].As<Napi::String>();
    int port = info[1].As<Napi::Number>().Int32Value();
    int bytes = info[2].As<Napi::Number>().Int32Value();
    if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "port must be 0-65535");

    addrinfo hints{};
    hints.ai_family = AF_INET6;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    addrinfo* res = nullptr;
    int gai = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (gai != 0 || res == nullptr) {
      throw Napi::Error::New(env, "listen [" + host + "]: not an IPv6 address (" + gai_strerror(gai) + ")");
    }
    sockaddr_in6 local{};
    memcpy(&local, res->ai_addr, sizeof local);
    freeaddrinfo(res);
    local.sin6_port = htons(static_cast<uint16_t>(port));

    // Blocking for sends (a full send buffer waits, as a kernel queue should, instead
    // of losing the reply); receives use MSG_DONTWAIT.
    fd_ = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw Napi::Error::New(env, ErrnoText("socket", errno));
    int one = 1;
    setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // The local address each datagram was sent to: on a wildcard bind the reply must
    // leave from it, not from whatever address routing prefers (an anycast or second
    // address of the server would otherwise answer from another address).
    setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    // What the kernel dropped because the receive buffer was full: otherwise a
    // server behind on its reading loses queries without a trace.
    setsockopt(fd_, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    // Capped by net.core.rmem_max / wmem_max: as for dgram's setRecvBufferSize, fine.
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw Napi::Error::New(env, "listen [" + host + "]:" + std::to_string(port) + ": " + strerror(err));
    }
    socklen_t len = sizeof local;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
    port_ = ntohs(local.sin6_port);

    onReadable_ = Napi::Persistent(info[3].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, fd_);
    uv_poll_start(poll_, UV_READABLE, &UdpSocket::OnPoll);
    // Keeps the JS object (and so this) alive while the poll handle can call back.
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
    env_ = env;
    napi_add_env_cleanup_hook(env, &UdpSocket::CleanupHook, this);
  }

  ~UdpSocket() override { Shutdown(); }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    UdpSocket* s = static_cast<UdpSocket*>(handle->data);
    if (s == nullptr || s->fd_ < 0) return;
    Napi::Env env = s->onReadable_.Env();
    Napi::HandleScope scope(env);
    // MakeCallback: the microtasks and nextTicks the callback queued run when it
    // returns, as after any other I/O callback (the replies' flush is one).
    try {
      s->onReadable_.MakeCallback(s->self_.Value(), {});
    } catch (const Napi::Error& e) {
      // A throw from the callback comes back here as a C++ exception; nothing above a
      // libuv callback can catch it (std::terminate). Hand it to Node as an uncaught
      // exception instead, as an exception in any other I/O callback would be.
      napi_fatal_exception(env, e.Value());
    }
  }

  static void CleanupHook(void* arg) { static_cast<UdpSocket*>(arg)->Shutdown(); }

  void Shutdown() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      napi_remove_env_cleanup_hook(env_, &UdpSocket::CleanupHook, this);
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  void CheckOpen(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "UdpSocket: closed");
  }

  // recv(buf: Uint8Array (n * 65536 bytes), meta: Int32Array (n * 8)) -> count: takes
  // up to min(n, 64) waiting datagrams, datagram i at buf[i * 65536], without waiting.
  Napi::Value Recv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    auto buf = info[0].As<Napi::Uint8Array>();
    auto meta = info[1].As<Napi::Int32Array>();
    int n = static_cast<int>(buf.ByteLength() / kRecvSlot);
    if (static_cast<int>(meta.ElementLength() / kMetaInts) < n) n = static_cast<int>(meta.ElementLength() / kMetaInts);
    if (n > kMaxBatch) n = kMaxBatch;
    if (n <= 0) throw Napi::RangeError::New(env, "recv: buffers hold no slot");
    MsgBatch b;
    for (int i = 0; i < n; i++) b.Set(i, buf.Data() + static_cast<size_t>(i) * kRecvSlot, kRecvSlot, kControl);
    mmsghdr* msgs = b.msgs;
    const sockaddr_in6* from = b.peer;
    int got = recvmmsg(fd_, msgs, n, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Napi::Number::New(env, 0);
      throw Napi::Error::New(env, ErrnoText("recvmmsg", errno));
    }
    int32_t* m = meta.Data();
    for (int i = 0; i < got; i++) {
      int32_t* d = m + i * kMetaInts;
      d[0] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : static_cast<int32_t>(msgs[i].msg_len);
      d[1] = 0;
      d[2] = ntohs(from[i].sin6_port);
      d[3] = static_cast<int32_t>(from[i].sin6_scope_id);
      memcpy(d + 4, &from[i].sin6_addr, 16);
      memset(d + 8, 0, 8 * sizeof(int32_t));
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t dropped;
          memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
          d[14] = static_cast<int32_t>(dropped);  // JS reads it unsigned (>>> 0)
          continue;
        }
        if (c->cmsg_level != IPPROTO_IPV6 || c->cmsg_type != IPV6_PKTINFO) continue;
        in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        memcpy(d + 8, &pi.ipi6_addr, 16);
        d[12] = static_cast<int32_t>(pi.ipi6_ifindex);
        // A query to a multicast group (ff02::1:2) is answered from an address of the
        // kernel's choice: a group is no source.
        d[13] = IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr) ? 0 : 1;
      }
    }
    return Napi::Number::New(env, got);
  }

  // send(buf: Uint8Array, meta: Int32Array, count) -> failed: sends datagrams
  // 0..count-1 (offset, length, port, scope, address, and the source if flagged, in
  // meta), 64 per sendmmsg; a
  // datagram the kernel refuses (no route, bad scope...) is skipped and counted.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    auto buf = info[0].As<Napi::Uint8Array>();
    auto meta = info[1].As<Napi::Int32Array>();
    int count = info[2].As<Napi::Number>().Int32Value();
    if (count < 0 || static_cast<size_t>(count) * kMetaInts > meta.ElementLength()) {
      throw Napi::RangeError::New(env, "send: count exceeds meta");
    }
    const int32_t* m = meta.Data();
    const size_t bufLen = buf.ByteLength();
    int failed = 0;
    int i = 0;
    while (i < count) {
      int n = count - i < kMaxBatch ? count - i : kMaxBatch;
      MsgBatch b;
      for (int j = 0; j < n; j++) {
        const int32_t* d = m + (i + j) * kMetaInts;
        if (d[0] < 0 || d[1] < 0 || static_cast<size_t>(d[0]) + static_cast<size_t>(d[1]) > bufLen) {
          throw Napi::RangeError::New(env, "send: a datagram lies outside the buffer");
        }
        b.Set(j, buf.Data() + d[0], static_cast<size_t>(d[1]), d[13] == 1 ? CMSG_SPACE(sizeof(in6_pktinfo)) : 0);
        sockaddr_in6& to = b.peer[j];
        memset(&to, 0, sizeof to);
        to.sin6_family = AF_INET6;
        to.sin6_port = htons(static_cast<uint16_t>(d[2]));
        to.sin6_scope_id = static_cast<uint32_t>(d[3]);
        memcpy(&to.sin6_addr, d + 4, 16);
        if (d[13] == 1) {
          // The source: the address the query was sent to (IPV6_PKTINFO); the interface
          // only for a link-local one, else routing picks it.
          in6_pktinfo pi{};
          memcpy(&pi.ipi6_addr, d + 8, 16);
          pi.ipi6_ifindex = IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr) ? static_cast<unsigned>(d[12]) : 0;
          cmsghdr* c = CMSG_FIRSTHDR(&b.msgs[j].msg_hdr);
          c->cmsg_level = IPPROTO_IPV6;
          c->cmsg_type = IPV6_PKTINFO;
          c->cmsg_len = CMSG_LEN(sizeof pi);
          memcpy(CMSG_DATA(c), &pi, sizeof pi);
        }
      }
      int sent = sendmmsg(fd_, b.msgs, n, 0);
      if (sent < 0) {
        if (errno == EINTR) continue;
        // sendmmsg reports the first datagram's error only when none went: skip it.
        failed++;
        sent = 1;
      }
      i += sent;
    }
    return Napi::Number::New(env, failed);
  }

  // joinGroup(group: string, ifname: string): IPV6_JOIN_GROUP on that interface
  // (RFC 8415 section 7.1: servers listen on ff02::1:2).
  Napi::Value JoinGroup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    std::string group = info[0].As<Napi::String>();
    std::string ifname = info[1].As<Napi::String>();
    ipv6_mreq mreq{};
    if (inet_pton(AF_INET6, group.c_str(), &mreq.ipv6mr_multiaddr) != 1) {
      throw Napi::Error::New(env, "joinGroup: " + group + " is not an IPv6 address");
    }
    mreq.ipv6mr_interface = if_nametoindex(ifname.c_str());
    if (mreq.ipv6mr_interface == 0) throw Napi::Error::New(env, "joinGroup: no interface " + ifname);
    if (setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) != 0) {
      throw Napi::Error::New(env, ErrnoText(("joinGroup " + group + "%" + ifname).c_str(), errno));
    }
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    self_.Reset();
    onReadable_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }

  int fd_ = -1;
  int port_ = 0;
  uv_poll_t* poll_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference onReadable_;
  Napi::ObjectReference self_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Define(env));
  exports.Set("RECV_SLOT", Napi::Number::New(env, kRecvSlot));
  exports.Set("MAX_BATCH", Napi::Number::New(env, kMaxBatch));
  exports.Set("META_INTS", Napi::Number::New(env, kMetaInts));
  return exports;
}

}  // namespace

NODE_API_MODULE(xbr_udp, Init)
