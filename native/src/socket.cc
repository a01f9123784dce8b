// createSocket / close / stats / poll / wakeupRx.
//
// The first socket of a UMEM is bound on the UMEM's own fd with its fill and
// completion rings; later ones (another interface or queue) use
// xsk_socket__create_shared with their own fill/completion pair, one pair per
// (netns, interface, queue) as the kernel requires (af_xdp.rst, XDP_SHARED_UMEM).
// We always pass XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD: program.cc loads our own.
#include <net/if.h>
#include <poll.h>

#include <vector>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace xbr {

namespace {

bool IsPow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint32_t OptU32(Napi::Object o, const char* key, uint32_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) ThrowType(o.Env(), std::string("opts.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || static_cast<double>(static_cast<uint32_t>(d)) != d)
    ThrowRange(o.Env(), std::string("opts.") + key + " must be a non-negative integer");
  return static_cast<uint32_t>(d);
}

}  // namespace

uint64_t CurrentNetnsInode() {
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

// createSocket(umem, ifname, queue, opts {mode, rxSize, txSize, needWakeup, port})
Napi::Value CreateSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Env* e = GetEnv(env);
  Umem* u = Unwrap<Umem>(info[0], "umem");
  std::string ifname = ArgString(info, 1, "ifname");
  uint32_t queue = ArgU32(info, 2, "queue");
  Napi::Object opts = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);

  std::string mode = "auto";
  if (!opts.Get("mode").IsUndefined()) {
    if (!opts.Get("mode").IsString()) ThrowType(env, "opts.mode must be a string");
    mode = opts.Get("mode").As<Napi::String>().Utf8Value();
  }
  uint32_t rxSize = OptU32(opts, "rxSize", 2048);
  uint32_t txSize = OptU32(opts, "txSize", 2048);
  bool needWakeup = true;
  if (!opts.Get("needWakeup").IsUndefined()) needWakeup = opts.Get("needWakeup").ToBoolean();
  uint32_t port = OptU32(opts, "port", 0);

  uint16_t bindFlags = 0;
  if (mode == "copy") bindFlags |= XDP_COPY;
  else if (mode == "zerocopy") bindFlags |= XDP_ZEROCOPY;
  else if (mode != "auto") ThrowType(env, "opts.mode must be 'copy', 'zerocopy' or 'auto'");
  if (needWakeup) bindFlags |= XDP_USE_NEED_WAKEUP;
  if (rxSize == 0 && txSize == 0) ThrowRange(env, "a socket needs an RX or a TX ring");
  if ((rxSize != 0 && !IsPow2(rxSize)) || (txSize != 0 && !IsPow2(txSize)))
    ThrowRange(env, "rxSize and txSize must be powers of two (or 0 for no ring)");
  if (port > 255) ThrowRange(env, "opts.port must fit in a byte (0 = IPv4 side, 1 = IPv6 side)");
  if (ifname.size() >= IFNAMSIZ) ThrowRange(env, "interface name too long: " + ifname);

  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) ThrowErrno(env, errno == 0 ? ENODEV : errno, "interface " + ifname);

  Socket* s = new Socket();
  s->umem = u;
  s->ifname = ifname;
  s->queue = queue;
  s->port = static_cast<uint8_t>(port);
  s->hasRx = rxSize != 0;
  s->hasTx = txSize != 0;

  xsk_socket_config cfg{};
  cfg.rx_size = rxSize;
  cfg.tx_size = txSize;
  cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  cfg.xdp_flags = 0;
  cfg.bind_flags = bindFlags;

  uint64_t netns = CurrentNetnsInode();
  RingSet* rs = nullptr;
  bool shared = u->socketsEver > 0;
  int err;
  // A queue whose previous socket was just closed stays busy for a few ms: the
  // kernel releases it from a workqueue. Retry EBUSY for a bounded time.
  for (int attempt = 0;; attempt++) {
    ClearLog();
    if (!shared) {
      rs = u->ringSets[0];
      err = xsk_socket__create(&s->xsk, ifname.c_str(), queue, u->umem,
                               s->hasRx ? &s->r->rx : nullptr, s->hasTx ? &s->r->tx : nullptr, &cfg);
    } else {
      // Same (netns, interface, queue) as an open socket: libxdp reuses that pair.
      rs = nullptr;
      for (RingSet* r : u->ringSets)
        if (r->refs > 0 && r->netns == netns && r->ifindex == ifindex && r->queue == queue) rs = r;
      bool fresh = rs == nullptr;
      if (fresh) {
        for (RingSet* r : u->ringSets)
          if (r->refs == 0 && r != u->ringSets[0]) rs = r;  // reuse a released pair
        if (rs == nullptr) {
          rs = new RingSet();
          u->ringSets.push_back(rs);
        }
        rs->fill = {};
        rs->comp = {};
      }
      err = xsk_socket__create_shared(&s->xsk, ifname.c_str(), queue, u->umem,
                                      s->hasRx ? &s->r->rx : nullptr, s->hasTx ? &s->r->tx : nullptr,
                                      &rs->fill, &rs->comp, &cfg);
    }
    if (err != -EBUSY || attempt >= 250) break;
    timespec ts{0, 2'000'000};  // 2 ms, so at most ~0.5 s in all
    nanosleep(&ts, nullptr);
  }
  if (err != 0) {
    delete s;
    std::string what = "AF_XDP bind to " + ifname + " queue " + std::to_string(queue) +
                       " (mode " + mode + (shared ? ", shared UMEM" : "") + ")";
    ThrowErrno(env, err, what);
  }
  u->socketsEver++;
  rs->netns = netns;
  rs->ifindex = ifindex;
  rs->queue = queue;
  rs->refs++;
  s->rings = rs;
  s->fd = xsk_socket__fd(s->xsk);
  s->ownsUmemFd = s->fd == xsk_umem__fd(u->umem);

  // What the kernel actually gave us. A shared-UMEM bind inherits the mode and
  // need_wakeup of the UMEM's first socket (the kernel ignores our flags then).
  xdp_options xo{};
  socklen_t optlen = sizeof xo;
  if (getsockopt(s->fd, SOL_XDP, XDP_OPTIONS, &xo, &optlen) == 0)
    s->zerocopy = (xo.flags & XDP_OPTIONS_ZEROCOPY) != 0;
  if (!shared) u->needWakeup = needWakeup;
  s->needWakeup = u->needWakeup;

  Napi::Object obj = WrapHandle(env, s);
  s->env = e;
  Track(e, s);
  u->sockets.push_back(s);
  napi_create_reference(env, info[0], 1, &s->umemRef);

  SetReadOnly(obj, "ifname", Napi::String::New(env, ifname));
  SetReadOnly(obj, "ifindex", Napi::Number::New(env, ifindex));
  SetReadOnly(obj, "queue", Napi::Number::New(env, queue));
  SetReadOnly(obj, "port", Napi::Number::New(env, port));
  SetReadOnly(obj, "mode", Napi::String::New(env, s->zerocopy ? "zerocopy" : "copy"));
  SetReadOnly(obj, "needWakeup", Napi::Boolean::New(env, s->needWakeup));
  SetReadOnly(obj, "shared", Napi::Boolean::New(env, shared));
  SetReadOnly(obj, "rxSize", Napi::Number::New(env, rxSize));
  SetReadOnly(obj, "txSize", Napi::Number::New(env, txSize));
  SetReadOnly(obj, "fd", Napi::Number::New(env, s->fd));
  return obj;
}

void CloseSocket(napi_env env, Socket* s) {
  if (s->closed) return;
  // The first socket's fd is the UMEM's and stays open until closeUmem, so the
  // kernel would keep it in the XSKMAPs: take it out ourselves. Other sockets'
  // entries go away with their fd.
  for (const Registration& r : s->registrations) {
    if (s->ownsUmemFd) bpf_map_delete_elem(r.mapFd, &r.key);
    close(r.mapFd);
  }
  s->registrations.clear();
  if (s->ownsUmemFd && s->umem != nullptr && !s->umem->closing) {
    // Park it: the kernel keeps the UMEM's fd bound until closeUmem anyway.
    Umem* u = s->umem;
    u->parked.xsk = s->xsk;
    u->parked.rings = s->r;
    u->parked.ringSet = s->rings;
    s->r = nullptr;
  } else {
    if (s->xsk != nullptr) xsk_socket__delete(s->xsk);
    if (s->rings != nullptr) s->rings->refs--;
  }
  s->xsk = nullptr;
  s->rings = nullptr;
  if (s->umem != nullptr) {
    auto& v = s->umem->sockets;
    v.erase(std::remove(v.begin(), v.end(), s), v.end());
  }
  s->umem = nullptr;
  if (s->umemRef != nullptr) napi_delete_reference(env, s->umemRef);
  s->umemRef = nullptr;
  s->closed = true;
  if (s->env != nullptr) Untrack(s->env, s);
}

Napi::Value CloseSocketJs(const Napi::CallbackInfo& info) {
  Socket* s = Unwrap<Socket>(info[0], "socket", true);
  CloseSocket(info.Env(), s);
  return info.Env().Undefined();
}

// stats(sock): XDP_STATISTICS plus this shim's syscall counters.
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Socket* s = Unwrap<Socket>(info[0], "socket");
  xdp_statistics st{};
  socklen_t optlen = sizeof st;
  if (getsockopt(s->fd, SOL_XDP, XDP_STATISTICS, &st, &optlen) != 0)
    ThrowErrno(env, errno, "getsockopt(XDP_STATISTICS)");
  Napi::Object o = Napi::Object::New(env);
  o.Set("rx_dropped", Napi::Number::New(env, static_cast<double>(st.rx_dropped)));
  o.Set("rx_invalid_descs", Napi::Number::New(env, static_cast<double>(st.rx_invalid_descs)));
  o.Set("tx_invalid_descs", Napi::Number::New(env, static_cast<double>(st.tx_invalid_descs)));
  o.Set("rx_ring_full", Napi::Number::New(env, static_cast<double>(st.rx_ring_full)));
  o.Set("rx_fill_ring_empty_descs",
        Napi::Number::New(env, static_cast<double>(st.rx_fill_ring_empty_descs)));
  o.Set("tx_ring_empty_descs",
        Napi::Number::New(env, static_cast<double>(st.tx_ring_empty_descs)));
  o.Set("tx_kicks", Napi::Number::New(env, static_cast<double>(s->txKicks)));
  o.Set("rx_kicks", Napi::Number::New(env, static_cast<double>(s->rxKicks)));
  o.Set("kick_errors", Napi::Number::New(env, static_cast<double>(s->kickErrors)));
  return o;
}

// wakeupRx(sock) -> boolean: a recvfrom when the fill ring asks for a wakeup
// (always, without need_wakeup). True if the syscall was made.
Napi::Value WakeupRx(const Napi::CallbackInfo& info) {
  Socket* s = Unwrap<Socket>(info[0], "socket");
  bool kick = !s->needWakeup || xsk_ring_prod__needs_wakeup(&s->rings->fill);
  if (kick) {
    s->rxKicks++;
    if (recvfrom(s->fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr) < 0 && errno != EAGAIN &&
        errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
      s->kickErrors++;
  }
  return Napi::Boolean::New(info.Env(), kick);
}

// poll(sock | sock[], timeoutMs) -> boolean: wait (blocking this thread) until the
// RX ring of one of the sockets has descriptors or timeoutMs passes. For idle loops:
// a two-armed worker sleeps on its IPv4-side and IPv6-side sockets at once, so a
// packet on either side wakes it. True if one is readable.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<pollfd> fds;
  if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Socket* s = Unwrap<Socket>(a.Get(i), "socket");
      fds.push_back(pollfd{s->fd, POLLIN, 0});
    }
    if (fds.empty()) ThrowRange(env, "poll: empty socket list");
  } else {
    Socket* s = Unwrap<Socket>(info[0], "socket");
    fds.push_back(pollfd{s->fd, POLLIN, 0});
  }
  uint32_t timeout = ArgU32(info, 1, "timeoutMs");
  int r;
  do {
    r = poll(fds.data(), fds.size(), static_cast<int>(std::min<uint32_t>(timeout, 0x7fffffff)));
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(env, errno, "poll on AF_XDP socket");
  for (const pollfd& p : fds)
    if (p.revents & POLLIN) return Napi::Boolean::New(env, true);
  return Napi::Boolean::New(env, false);
}

}  // namespace xbr
