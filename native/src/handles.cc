// JS handle objects <-> native structs, and argument helpers.
//
// A handle is a plain JS object (with read-only info properties) that napi_wrap
// ties to a Umem, Socket or Program. Closing frees the kernel resources at once;
// the struct itself is freed when the object is finalized. A handle collected
// while still open is closed by its finalizer (a program is then left attached:
// only detachProgram, or the end of its environment, detaches).
#include <cmath>

#include "common.h"

namespace xbr {

namespace {

void Finalize(napi_env env, void* data, void* /*hint*/) {
  Handle* h = static_cast<Handle*>(data);
  h->finalized = true;
  if (!h->closed) {
    Env* e = h->env;
    bool teardown = e != nullptr && e->tearingDown;
    if (!teardown) {
      switch (h->magic) {
        case Kind::Socket: CloseSocket(env, static_cast<Socket*>(h)); break;
        case Kind::Umem: CloseUmem(env, static_cast<Umem*>(h)); break;
        case Kind::Program: CloseProgram(static_cast<Program*>(h), false); break;
      }
    }
  }
  if (h->closed) {
    delete h;
  }
  // else: teardown with the handle still open cannot happen (the cleanup hook
  // closed everything first); leak rather than touch freed state.
}

}  // namespace

Napi::Object WrapHandle(Napi::Env env, Handle* h) {
  Napi::Object obj = Napi::Object::New(env);
  napi_status st = napi_wrap(env, obj, h, Finalize, nullptr, nullptr);
  if (st != napi_ok) {
    ThrowPlain(env, "napi_wrap failed");
  }
  return obj;
}

Handle* UnwrapAny(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  void* p = nullptr;
  if (napi_unwrap(v.Env(), v, &p) != napi_ok) return nullptr;
  return static_cast<Handle*>(p);
}

Socket* UnwrapSocketFast(const Napi::CallbackInfo& info, size_t i) {
  napi_env env = info.Env();
  napi_value arg = info[i];
  Env* e = GetEnv(env);
  for (Env::CacheEntry& c : e->sockCache) {
    if (c.ref == nullptr) continue;
    napi_value v = nullptr;
    napi_get_reference_value(env, c.ref, &v);
    bool same = false;
    if (v != nullptr && napi_strict_equals(env, v, arg, &same) == napi_ok && same) {
      if (c.sock->closed) ThrowPlain(info.Env(), "socket is closed");
      return c.sock;
    }
  }
  Socket* s = Unwrap<Socket>(info[i], "socket");
  Env::CacheEntry& c = e->sockCache[e->sockCacheNext++ % 2];
  if (c.ref != nullptr) napi_delete_reference(env, c.ref);
  c.ref = nullptr;
  napi_create_reference(env, arg, 0, &c.ref);  // weak: never keeps the socket alive
  c.sock = s;
  return s;
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || std::floor(d) != d)
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [0, 2^32)");
  return static_cast<uint32_t>(d);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString()) ThrowType(info.Env(), std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

void SetReadOnly(Napi::Object obj, const char* key, Napi::Value v) {
  obj.DefineProperty(Napi::PropertyDescriptor::Value(key, v, napi_enumerable));
}

}  // namespace xbr
