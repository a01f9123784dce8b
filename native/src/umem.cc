// createUmem / closeUmem: the UMEM *is* a byte range of a WebAssembly.Memory.
//
// DESIGN.md, "Facts the data plane must respect": UMEM must be page-aligned; its
// pages are pinned (RLIMIT_MEMLOCK unless CAP_IPC_LOCK); a non-shared wasm memory
// that grows may move (so workers create it at its final size); sockets and UMEM
// must be closed before the memory is freed (strong reference + env cleanup hook);
// pinned pages and fork() do not mix (MADV_DONTFORK).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common.h"

namespace xbr {

namespace {

bool IsPow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// memory.buffer's data pointer and length; throws for a shared memory.
void BufferOf(napi_env env, napi_value memory, napi_value* buffer, uint8_t** data,
              size_t* len) {
  Napi::Env e(env);
  napi_value buf;
  if (napi_get_named_property(env, memory, "buffer", &buf) != napi_ok)
    ThrowPlain(e, "cannot read memory.buffer");
  bool isAb = false;
  napi_is_arraybuffer(env, buf, &isAb);
  if (!isAb)
    ThrowType(e,
              "memory.buffer is not an ArrayBuffer: a shared WebAssembly.Memory is not "
              "supported (use one non-shared memory per worker, DESIGN.md)");
  void* p = nullptr;
  size_t n = 0;
  if (napi_get_arraybuffer_info(env, buf, &p, &n) != napi_ok)
    ThrowPlain(e, "cannot read memory.buffer");
  *buffer = buf;
  *data = static_cast<uint8_t*>(p);
  *len = n;
}

}  // namespace

void CheckMemory(napi_env env, Umem* u) {
  napi_value buf;
  napi_get_reference_value(env, u->bufferRef, &buf);
  bool detached = false;
  napi_is_detached_arraybuffer(env, buf, &detached);
  if (!detached) return;
  // memory.grow() detached the old ArrayBuffer. V8 usually grows in place; if the
  // memory moved, the kernel keeps writing into the old (pinned) pages and every
  // address we hand out is wrong: refuse.
  napi_value memory, nbuf;
  napi_get_reference_value(env, u->memoryRef, &memory);
  uint8_t* data;
  size_t len;
  BufferOf(env, memory, &nbuf, &data, &len);
  if (data != u->base)
    ThrowPlain(Napi::Env(env),
               "the WebAssembly.Memory grew and moved: the UMEM registered at the old "
               "address is invalid. Create the memory at its final size (initial = "
               "maximum) and never grow it; close the sockets and the UMEM");
  napi_delete_reference(env, u->bufferRef);
  napi_create_reference(env, nbuf, 1, &u->bufferRef);
  u->bufLen = len;
}

// createUmem(memory, offset, size, frameSize, headroom, fillSize, compSize)
Napi::Value CreateUmem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Env* e = GetEnv(env);
  if (info.Length() < 7)
    ThrowType(env,
              "createUmem(memory, offset, size, frameSize, headroom, fillSize, compSize)");

  Napi::Value memory = info[0];
  napi_value ctor;
  napi_get_reference_value(env, e->wasmMemoryCtor, &ctor);
  bool isMem = false;
  if (memory.IsObject()) napi_instanceof(env, memory, ctor, &isMem);
  if (!isMem) ThrowType(env, "memory must be a WebAssembly.Memory");

  uint32_t offset = ArgU32(info, 1, "offset");
  uint32_t size = ArgU32(info, 2, "size");
  uint32_t frameSize = ArgU32(info, 3, "frameSize");
  uint32_t headroom = ArgU32(info, 4, "headroom");
  uint32_t fillSize = ArgU32(info, 5, "fillSize");
  uint32_t compSize = ArgU32(info, 6, "compSize");

  const long page = sysconf(_SC_PAGESIZE);
  if (frameSize != 2048 && frameSize != 4096)
    ThrowRange(env, "frameSize must be 2048 or 4096 (a power of two, at most one "
                    "4 KiB page, in aligned chunk mode), got " +
                        std::to_string(frameSize));
  if (headroom + 256 /* XDP_PACKET_HEADROOM */ + 64 > frameSize)
    ThrowRange(env, "headroom " + std::to_string(headroom) +
                        " leaves no room for a packet in a " + std::to_string(frameSize) +
                        "-byte frame (the kernel also reserves 256 bytes)");
  if (!IsPow2(fillSize) || !IsPow2(compSize))
    ThrowRange(env, "fillSize and compSize must be powers of two");
  if (offset % page != 0)
    ThrowRange(env, "UMEM offset " + std::to_string(offset) + " is not page-aligned (" +
                        std::to_string(page) + "): XDP_UMEM_REG needs a page-aligned area");
  if (size == 0 || size % page != 0 || size % frameSize != 0)
    ThrowRange(env, "UMEM size " + std::to_string(size) +
                        " must be a non-zero multiple of the page size (" +
                        std::to_string(page) + ") and of frameSize");

  napi_value buffer;
  uint8_t* data;
  size_t len;
  BufferOf(env, memory, &buffer, &data, &len);
  if (static_cast<uint64_t>(offset) + size > len)
    ThrowRange(env, "UMEM [" + std::to_string(offset) + ", " +
                        std::to_string(static_cast<uint64_t>(offset) + size) +
                        ") lies outside the wasm memory (" + std::to_string(len) +
                        " bytes)");
  uint8_t* area = data + offset;
  if (reinterpret_cast<uintptr_t>(area) % page != 0)
    ThrowRange(env, "the wasm memory's buffer is not page-aligned at offset " +
                        std::to_string(offset) + ": refusing to register it as UMEM");

  if (madvise(area, size, MADV_DONTFORK) != 0)
    ThrowErrno(env, errno, "madvise(MADV_DONTFORK) on the UMEM region");

  Umem* u = new Umem();
  u->area = area;
  u->offset = offset;
  u->size = size;
  u->frameSize = frameSize;
  u->headroom = headroom;
  u->fillSize = fillSize;
  u->compSize = compSize;
  u->base = data;
  u->bufLen = len;
  RingSet* rs0 = new RingSet();
  u->ringSets.push_back(rs0);

  xsk_umem_config cfg{};
  cfg.fill_size = fillSize;
  cfg.comp_size = compSize;
  cfg.frame_size = frameSize;
  cfg.frame_headroom = headroom;
  cfg.flags = 0;
  ClearLog();
  int err = xsk_umem__create(&u->umem, area, size, &rs0->fill, &rs0->comp, &cfg);
  if (err != 0) {
    madvise(area, size, MADV_DOFORK);
    delete rs0;
    delete u;
    ThrowErrno(env, err,
               "xsk_umem__create (XDP_UMEM_REG of " + std::to_string(size) +
                   " bytes at wasm offset " + std::to_string(offset) + ")");
  }

  napi_create_reference(env, memory, 1, &u->memoryRef);
  napi_create_reference(env, buffer, 1, &u->bufferRef);

  Napi::Object obj = WrapHandle(env, u);
  u->env = e;
  Track(e, u);
  SetReadOnly(obj, "offset", Napi::Number::New(env, offset));
  SetReadOnly(obj, "size", Napi::Number::New(env, size));
  SetReadOnly(obj, "frameSize", Napi::Number::New(env, frameSize));
  SetReadOnly(obj, "headroom", Napi::Number::New(env, headroom));
  SetReadOnly(obj, "fillSize", Napi::Number::New(env, fillSize));
  SetReadOnly(obj, "compSize", Napi::Number::New(env, compSize));
  SetReadOnly(obj, "fd", Napi::Number::New(env, xsk_umem__fd(u->umem)));
  return obj;
}

void CloseUmem(napi_env env, Umem* u) {
  if (u->closed) return;
  // Sockets first: the kernel must stop writing into the region before the
  // registration goes away.
  u->closing = true;
  while (!u->sockets.empty()) CloseSocket(env, u->sockets.back());
  if (u->parked.xsk != nullptr) {
    xsk_socket__delete(u->parked.xsk);
    u->parked.ringSet->refs--;
    delete u->parked.rings;
    u->parked = Parked{};
  }
  if (u->umem != nullptr) {
    xsk_umem__delete(u->umem);  // closes the UMEM fd: unpins the pages
    u->umem = nullptr;
  }
  // Give the pages back to fork() only if they are still the memory's.
  bool moved = false;
  if (u->bufferRef != nullptr) {
    napi_value buf;
    napi_get_reference_value(env, u->bufferRef, &buf);
    bool detached = false;
    if (buf != nullptr) napi_is_detached_arraybuffer(env, buf, &detached);
    moved = detached;
  }
  if (!moved) madvise(u->area, u->size, MADV_DOFORK);
  for (RingSet* rs : u->ringSets) delete rs;
  u->ringSets.clear();
  if (u->bufferRef != nullptr) napi_delete_reference(env, u->bufferRef);
  if (u->memoryRef != nullptr) napi_delete_reference(env, u->memoryRef);
  u->bufferRef = u->memoryRef = nullptr;
  u->closed = true;
  if (u->env != nullptr) Untrack(u->env, u);
}

// closeUmem(umem): closes its sockets too.
Napi::Value CloseUmemJs(const Napi::CallbackInfo& info) {
  Umem* u = Unwrap<Umem>(info[0], "umem", true);
  CloseUmem(info.Env(), u);
  return info.Env().Undefined();
}

}  // namespace xbr
