// rx / tx / fill / complete: the hot path. One N-API call moves a whole batch
// between a kernel ring and an array in wasm memory; no JS object per packet.
//
// Descriptor (src/core/abi.ts, DESC_SIZE = 8), little-endian, in wasm memory:
//   u32 wasmAddr   wasm address of the packet's first byte = umem.offset + desc.addr
//   u16 len
//   u8  port       the socket's port (0 = IPv4 side, 1 = IPv6 side)
//   u8  flags      0
// fill / complete move u32 wasm addresses (frame addresses inside the UMEM).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.h"

namespace xbr {

namespace {

constexpr uint32_t kDesc = 8;

inline void Put32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }
inline void Put16(uint8_t* p, uint16_t v) { memcpy(p, &v, 2); }
inline uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
inline uint16_t Get16(const uint8_t* p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

// Hot-path integer argument: napi_get_value_uint32 directly (a negative or huge
// value wraps and then fails the bounds checks below).
inline uint32_t FastU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint32_t v;
  if (napi_get_value_uint32(info.Env(), info[i], &v) != napi_ok)
    ThrowType(info.Env(), std::string(name) + " must be a number");
  return v;
}

// The socket, its UMEM, the memory view, and [ptr, ptr + count * unit) checked to
// lie inside the wasm memory. Returns the host pointer of ptr.
uint8_t* Prologue(const Napi::CallbackInfo& info, Socket** sOut, uint32_t* ptrOut,
                  uint32_t* countOut, uint32_t unit, const char* ptrName,
                  const char* countName) {
  Napi::Env env = info.Env();
  Socket* s = UnwrapSocketFast(info, 0);
  uint32_t ptr = FastU32(info, 1, ptrName);
  uint32_t count = FastU32(info, 2, countName);
  Umem* u = s->umem;
  CheckMemory(env, u);
  if (static_cast<uint64_t>(ptr) + static_cast<uint64_t>(count) * unit > u->bufLen)
    ThrowRange(env, std::string(ptrName) + " + " + countName + " * " + std::to_string(unit) +
                        " lies outside the wasm memory");
  *sOut = s;
  *ptrOut = ptr;
  *countOut = count;
  return u->base + ptr;
}

bool Transient(int e) {
  return e == EAGAIN || e == EBUSY || e == ENOBUFS || e == ENETDOWN || e == EINTR;
}

// Tell the kernel to process the TX ring. In copy mode one sendto moves at most a
// budget of frames (32 by default) and answers EAGAIN when more remain: go on
// while it makes progress, a bounded number of times.
void KickTx(Socket* s) {
  for (int i = 0; i < 64; i++) {
    uint32_t before = __atomic_load_n(s->r->tx.consumer, __ATOMIC_ACQUIRE);
    s->txKicks++;
    ssize_t r = sendto(s->fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
    if (r >= 0) return;
    int e = errno;
    if (!Transient(e)) {
      s->kickErrors++;
      return;
    }
    if (e != EAGAIN) return;
    uint32_t after = __atomic_load_n(s->r->tx.consumer, __ATOMIC_ACQUIRE);
    if (after == before || after == *s->r->tx.producer) return;
  }
}

}  // namespace

// rx(sock, descPtr, max) -> n
Napi::Value Rx(const Napi::CallbackInfo& info) {
  Socket* s;
  uint32_t ptr, max;
  uint8_t* out = Prologue(info, &s, &ptr, &max, kDesc, "descPtr", "max");
  if (!s->hasRx) ThrowPlain(info.Env(), "socket has no RX ring (rxSize 0)");
  Umem* u = s->umem;
  uint32_t idx = 0;
  uint32_t n = xsk_ring_cons__peek(&s->r->rx, max, &idx);
  for (uint32_t i = 0; i < n; i++) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&s->r->rx, idx + i);
    uint8_t* o = out + i * kDesc;
    Put32(o, u->offset + static_cast<uint32_t>(d->addr));
    Put16(o + 4, static_cast<uint16_t>(d->len));
    o[6] = s->port;
    o[7] = 0;
  }
  if (n > 0) xsk_ring_cons__release(&s->r->rx, n);
  return Napi::Number::New(info.Env(), n);
}

// tx(sock, descPtr, n) -> accepted. Every descriptor must lie inside the UMEM
// (else RangeError, nothing submitted). Accepts as many as the TX ring has room
// for, in order; kicks with sendto only when the ring asks for it (always
// without need_wakeup). tx(sock, ptr, 0) just kicks pending frames.
Napi::Value Tx(const Napi::CallbackInfo& info) {
  Socket* s;
  uint32_t ptr, n;
  uint8_t* in = Prologue(info, &s, &ptr, &n, kDesc, "descPtr", "n");
  if (!s->hasTx) ThrowPlain(info.Env(), "socket has no TX ring (txSize 0)");
  Umem* u = s->umem;
  const uint64_t lo = u->offset, hi = static_cast<uint64_t>(u->offset) + u->size;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t* d = in + i * kDesc;
    uint64_t a = Get32(d);
    uint32_t len = Get16(d + 4);
    // A frame may not cross a chunk boundary (aligned mode).
    uint64_t chunkEnd = ((a - lo) / u->frameSize + 1) * u->frameSize + lo;
    if (a < lo || len == 0 || a + len > hi || a + len > chunkEnd)
      ThrowRange(info.Env(), "tx descriptor " + std::to_string(i) + " (addr " +
                                 std::to_string(a) + ", len " + std::to_string(len) +
                                 ") is not inside one UMEM frame [" + std::to_string(lo) +
                                 ", " + std::to_string(hi) + ")");
  }
  uint32_t k = std::min(n, xsk_prod_nb_free(&s->r->tx, n));
  uint32_t idx = 0;
  if (k > 0 && xsk_ring_prod__reserve(&s->r->tx, k, &idx) == k) {
    for (uint32_t i = 0; i < k; i++) {
      const uint8_t* d = in + i * kDesc;
      xdp_desc* t = xsk_ring_prod__tx_desc(&s->r->tx, idx + i);
      t->addr = Get32(d) - u->offset;
      t->len = Get16(d + 4);
      t->options = 0;
    }
    xsk_ring_prod__submit(&s->r->tx, k);
  } else {
    k = 0;
  }
  bool pending = __atomic_load_n(s->r->tx.consumer, __ATOMIC_ACQUIRE) != *s->r->tx.producer;
  if (pending && (!s->needWakeup || xsk_ring_prod__needs_wakeup(&s->r->tx))) KickTx(s);
  return Napi::Number::New(info.Env(), k);
}

// fill(sock, ioPtr, n) -> accepted: u32 wasm addresses onto the socket's fill ring.
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Socket* s;
  uint32_t ptr, n;
  uint8_t* in = Prologue(info, &s, &ptr, &n, 4, "ioPtr", "n");
  Umem* u = s->umem;
  const uint64_t lo = u->offset, hi = static_cast<uint64_t>(u->offset) + u->size;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t a = Get32(in + i * 4);
    if (a < lo || a >= hi)
      ThrowRange(info.Env(), "fill address " + std::to_string(i) + " (" + std::to_string(a) +
                                 ") is outside the UMEM [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + ")");
  }
  xsk_ring_prod* fq = &s->rings->fill;
  uint32_t k = std::min(n, xsk_prod_nb_free(fq, n));
  uint32_t idx = 0;
  if (k == 0 || xsk_ring_prod__reserve(fq, k, &idx) != k) return Napi::Number::New(info.Env(), 0);
  for (uint32_t i = 0; i < k; i++)
    *xsk_ring_prod__fill_addr(fq, idx + i) = Get32(in + i * 4) - u->offset;
  xsk_ring_prod__submit(fq, k);
  return Napi::Number::New(info.Env(), k);
}

// complete(sock, ioPtr, max) -> n: pops the completion ring into u32 wasm addresses.
Napi::Value Complete(const Napi::CallbackInfo& info) {
  Socket* s;
  uint32_t ptr, max;
  uint8_t* out = Prologue(info, &s, &ptr, &max, 4, "ioPtr", "max");
  Umem* u = s->umem;
  xsk_ring_cons* cq = &s->rings->comp;
  uint32_t idx = 0;
  uint32_t n = xsk_ring_cons__peek(cq, max, &idx);
  for (uint32_t i = 0; i < n; i++)
    Put32(out + i * 4, u->offset + static_cast<uint32_t>(*xsk_ring_cons__comp_addr(cq, idx + i)));
  if (n > 0) xsk_ring_cons__release(cq, n);
  return Napi::Number::New(info.Env(), n);
}

}  // namespace xbr
