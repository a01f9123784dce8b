// adviseHugePages(memory): asks the kernel to back a WebAssembly.Memory with
// transparent huge pages (madvise MADV_HUGEPAGE), where THP is in "madvise" mode.
// The core's binding table is a large hash looked up at random, one cache line per
// packet: with 4 KiB pages nearly every look-up also misses the TLB. Called right
// after the memory is created, before the core touches it, so the first faults
// already take huge pages. Returns the bytes advised (0 when the range holds no
// whole 2 MiB page); never required for correctness.
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>

#include "common.h"

namespace xbr {

Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowType(env, "adviseHugePages(memory): a WebAssembly.Memory");
  Napi::Value buf = info[0].As<Napi::Object>().Get("buffer");
  if (!buf.IsArrayBuffer()) ThrowType(env, "memory.buffer is not an ArrayBuffer (a shared memory?)");
  Napi::ArrayBuffer ab = buf.As<Napi::ArrayBuffer>();
  const uintptr_t huge = 2u << 20;
  uintptr_t start = reinterpret_cast<uintptr_t>(ab.Data());
  uintptr_t end = start + ab.ByteLength();
  uintptr_t from = (start + huge - 1) & ~(huge - 1);
  uintptr_t to = end & ~(huge - 1);
  if (to <= from) return Napi::Number::New(env, 0);
  if (madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE) != 0) ThrowErrno(env, errno, "madvise(MADV_HUGEPAGE)");
  return Napi::Number::New(env, static_cast<double>(to - from));
}

}  // namespace xbr
