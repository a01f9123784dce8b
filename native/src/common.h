// Shared declarations of the xbr AF_XDP shim (xbr_xsk.node).
//
// The shim is small on purpose (DESIGN.md, "The native shim is small"): it opens
// sockets, registers UMEM, loads the XDP program and copies ring descriptors.
// Nothing here looks inside a packet.
//
// Files, one job each:
//   addon.cc    module init, per-environment registry, env cleanup hook
//   errors.cc   errno -> JS errors that name the cause and the fix; libxdp/libbpf logs
//   handles.cc  JS handle objects <-> native structs, argument helpers
//   umem.cc     createUmem / closeUmem: a region of a WebAssembly.Memory as UMEM
//   socket.cc   createSocket / close / stats / poll / wakeupRx
//   ring.cc     rx / tx / fill / complete: one call per batch (the hot path)
//   program.cc  XDP program: attach / find / detach / XSKMAP / prefix maps / counters
//   system.cc   setAffinity, setNetns
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "descriptors are written to wasm memory (little-endian) with host stores");

namespace xbr {

// ---------------------------------------------------------------------------
// Handles. Every JS handle object wraps one of these (napi_wrap); `magic` tells
// the kinds apart so passing a UMEM where a socket is expected throws a TypeError
// instead of reading the wrong struct.

enum class Kind : uint64_t {
  Umem = 0x78627255'4d454d31ull,    // "xbrUMEM1"
  Socket = 0x78627253'4f434b31ull,  // "xbrSOCK1"
  Program = 0x78627250'524f4731ull, // "xbrPROG1"
};

struct Env;

struct Handle {
  explicit Handle(Kind k) : magic(k) {}
  virtual ~Handle() = default;
  Kind magic;
  Env* env = nullptr;
  bool closed = false;
  bool finalized = false;  // the JS object is gone (GC or env teardown)
};

// One fill/completion ring pair: one per (netns, ifindex, queue) that sockets of a
// UMEM are bound to (kernel af_xdp.rst, "XDP_SHARED_UMEM bind flag"). libxdp keeps
// pointers to these structs, so they live as long as the UMEM.
struct RingSet {
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  uint64_t netns = 0;  // inode of the thread's network namespace at bind time
  int ifindex = -1;
  uint32_t queue = 0;
  int refs = 0;  // open sockets using this pair
};

struct Socket;

// A socket's RX and TX rings. libxdp keeps pointers to them until
// xsk_socket__delete, so they live apart from the Socket (see Umem::parked).
struct SockRings {
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
};

// The UMEM's first socket is bound on the UMEM's own fd: the kernel keeps it bound
// (and its queue busy) until that fd closes, i.e. until closeUmem. close() on it
// takes it out of every XSKMAP and parks it here; a later socket on the same
// queue reuses its fill/completion rings.
struct Parked {
  xsk_socket* xsk = nullptr;
  SockRings* rings = nullptr;
  RingSet* ringSet = nullptr;
};

struct Umem : Handle {
  Umem() : Handle(Kind::Umem) {}
  xsk_umem* umem = nullptr;
  // Registered region: [offset, offset + size) of the wasm memory.
  uint8_t* area = nullptr;
  uint32_t offset = 0;
  uint32_t size = 0;
  uint32_t frameSize = 0;
  uint32_t headroom = 0;
  uint32_t fillSize = 0;
  uint32_t compSize = 0;
  // The WebAssembly.Memory (strong ref: it cannot be collected while the UMEM
  // lives) and its current ArrayBuffer (to notice a grow, which detaches it).
  napi_ref memoryRef = nullptr;
  napi_ref bufferRef = nullptr;
  uint8_t* base = nullptr;  // memory.buffer data pointer at registration
  size_t bufLen = 0;        // current memory.buffer byteLength
  std::vector<RingSet*> ringSets;  // [0] = the UMEM's own fill/comp rings
  std::vector<Socket*> sockets;    // open sockets on this UMEM
  Parked parked;                   // the closed first socket, if any
  int socketsEver = 0;             // 0 -> next socket uses the UMEM's own rings
  bool closing = false;
  bool needWakeup = true;  // of the first socket: later (shared) ones inherit it
};

struct Program;

struct Registration {
  int mapFd;  // dup of the program's xsks_map fd
  uint32_t key;
};

struct Socket : Handle {
  Socket() : Handle(Kind::Socket) {}
  Umem* umem = nullptr;
  napi_ref umemRef = nullptr;  // keeps the UMEM's JS object (and so the memory) alive
  ~Socket() override { delete r; }
  xsk_socket* xsk = nullptr;
  SockRings* r = new SockRings();  // RX/TX rings (moved to Umem::parked on close)
  RingSet* rings = nullptr;        // this socket's fill/completion pair
  int fd = -1;
  bool ownsUmemFd = false;  // first socket of the UMEM: bound on the UMEM's fd
  bool hasRx = false, hasTx = false;
  bool needWakeup = true;
  bool zerocopy = false;
  uint8_t port = 0;
  uint32_t queue = 0;
  std::string ifname;
  std::vector<Registration> registrations;
  // Syscall counters (stats()).
  uint64_t txKicks = 0, rxKicks = 0, kickErrors = 0;
};

struct Program : Handle {
  Program() : Handle(Kind::Program) {}
  xdp_program* prog = nullptr;
  bool owned = false;  // attached by attachProgram (vs found by findProgram)
  int ifindex = -1;
  std::string ifname;
  std::string name;
  uint32_t id = 0;
  enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
  int xsksMapFd = -1, v4Fd = -1, v6Fd = -1, countersFd = -1;
};

// Per Node-API environment (main thread or one worker): everything it opened, so
// the env cleanup hook can close sockets, then programs, then UMEMs before the
// wasm memory can go away.
struct Env {
  std::vector<Handle*> live;
  // The data path's last sockets: weak refs compared by identity, which costs
  // less than napi_unwrap (a private-property lookup) on every batch call.
  struct CacheEntry {
    napi_ref ref = nullptr;
    Socket* sock = nullptr;
  } sockCache[2];
  unsigned sockCacheNext = 0;
  napi_ref wasmMemoryCtor = nullptr;  // WebAssembly.Memory, for instanceof
  bool tearingDown = false;
};

// --- addon.cc
Env* GetEnv(napi_env env);
void Track(Env* e, Handle* h);
void Untrack(Env* e, Handle* h);

// --- handles.cc
Napi::Object WrapHandle(Napi::Env env, Handle* h);
Handle* UnwrapAny(const Napi::Value& v);
// Unwrap<Socket> for the data path (rx/tx/fill/complete).
Socket* UnwrapSocketFast(const Napi::CallbackInfo& info, size_t i);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
void SetReadOnly(Napi::Object obj, const char* key, Napi::Value v);

// --- errors.cc
// Throws a JS Error: "<what>: <strerror> (<CODE>). <cause and fix>" with
// .code = "ENOBUFS" etc. and .errno = the positive errno. `err` may be negative.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const std::string& what);
[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowPlain(Napi::Env env, const std::string& msg);
void InstallLogHooks();
void ClearLog();
std::string LogTail();  // recent libxdp/libbpf warnings of this thread

// --- umem.cc
Napi::Value CreateUmem(const Napi::CallbackInfo& info);
Napi::Value CloseUmemJs(const Napi::CallbackInfo& info);
void CloseUmem(napi_env env, Umem* u);
// Refresh the view of memory.buffer after a grow; throws if the memory moved.
void CheckMemory(napi_env env, Umem* u);

// --- socket.cc
Napi::Value CreateSocket(const Napi::CallbackInfo& info);
Napi::Value CloseSocketJs(const Napi::CallbackInfo& info);
Napi::Value Stats(const Napi::CallbackInfo& info);
Napi::Value WakeupRx(const Napi::CallbackInfo& info);
Napi::Value Poll(const Napi::CallbackInfo& info);
void CloseSocket(napi_env env, Socket* s);
uint64_t CurrentNetnsInode();

// --- ring.cc
Napi::Value Rx(const Napi::CallbackInfo& info);
Napi::Value Tx(const Napi::CallbackInfo& info);
Napi::Value Fill(const Napi::CallbackInfo& info);
Napi::Value Complete(const Napi::CallbackInfo& info);

// --- program.cc
Napi::Value AttachProgram(const Napi::CallbackInfo& info);
Napi::Value FindProgram(const Napi::CallbackInfo& info);
Napi::Value DetachProgramJs(const Napi::CallbackInfo& info);
Napi::Value CloseProgramJs(const Napi::CallbackInfo& info);
Napi::Value DetachByName(const Napi::CallbackInfo& info);
Napi::Value DetachAll(const Napi::CallbackInfo& info);
Napi::Value ListPrograms(const Napi::CallbackInfo& info);
Napi::Value RegisterSocket(const Napi::CallbackInfo& info);
Napi::Value UnregisterSocket(const Napi::CallbackInfo& info);
Napi::Value SetPrefixes4(const Napi::CallbackInfo& info);
Napi::Value SetPrefixes6(const Napi::CallbackInfo& info);
Napi::Value ProgramCounters(const Napi::CallbackInfo& info);
// detach: also detach from the interface (owned programs at env teardown).
void CloseProgram(Program* p, bool detach);

// --- system.cc
Napi::Value SetAffinity(const Napi::CallbackInfo& info);
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info);
Napi::Value SetNetns(const Napi::CallbackInfo& info);

template <class T>
constexpr Kind KindOf();
template <>
constexpr Kind KindOf<Umem>() { return Kind::Umem; }
template <>
constexpr Kind KindOf<Socket>() { return Kind::Socket; }
template <>
constexpr Kind KindOf<Program>() { return Kind::Program; }

// The handle of kind T behind a JS value; TypeError if it is something else,
// Error if it was closed (unless allowClosed).
template <class T>
T* Unwrap(const Napi::Value& v, const char* what, bool allowClosed = false) {
  Handle* h = UnwrapAny(v);
  if (h == nullptr || h->magic != KindOf<T>())
    ThrowType(v.Env(), std::string(what) + " is not an xbr_xsk " + what + " handle");
  if (h->closed && !allowClosed) ThrowPlain(v.Env(), std::string(what) + " is closed");
  return static_cast<T*>(h);
}

}  // namespace xbr
