// xbr_xsk.node: module init, per-environment registry, env cleanup hook.
//
// Each Node-API environment (the main thread, or one worker) keeps the list of
// what it opened. When the environment goes away (worker exit), the cleanup hook
// closes its sockets, then detaches and closes the programs it attached, then
// closes its UMEMs, before V8 can free the wasm memory the kernel writes into.
#include <algorithm>

#include "common.h"

namespace xbr {

namespace {

void Cleanup(void* arg) {
  Env* e = static_cast<Env*>(arg);
  e->tearingDown = true;
  napi_env env = nullptr;  // not needed by the close paths below except for refs
  (void)env;
  // Copies: Close* untracks.
  std::vector<Handle*> all = e->live;
  for (Handle* h : all)
    if (h->magic == Kind::Socket && !h->closed) {
      Socket* s = static_cast<Socket*>(h);
      // Node-API refs are released with the environment; free kernel state only.
      s->umemRef = nullptr;
      CloseSocket(nullptr, s);
    }
  for (Handle* h : all)
    if (h->magic == Kind::Program && !h->closed) {
      Program* p = static_cast<Program*>(h);
      CloseProgram(p, p->owned);
    }
  for (Handle* h : all)
    if (h->magic == Kind::Umem && !h->closed) {
      Umem* u = static_cast<Umem*>(h);
      u->bufferRef = nullptr;
      u->memoryRef = nullptr;
      CloseUmem(nullptr, u);
    }
  e->live.clear();
}

}  // namespace

Env* GetEnv(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Env*>(data);
}

void Track(Env* e, Handle* h) { e->live.push_back(h); }

void Untrack(Env* e, Handle* h) {
  auto& v = e->live;
  v.erase(std::remove(v.begin(), v.end(), h), v.end());
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLogHooks();
  Env* e = new Env();
  napi_set_instance_data(
      env, e, [](napi_env, void* data, void*) { delete static_cast<Env*>(data); }, nullptr);

  Napi::Object wasm = env.Global().Get("WebAssembly").As<Napi::Object>();
  napi_create_reference(env, wasm.Get("Memory"), 1, &e->wasmMemoryCtor);
  napi_add_env_cleanup_hook(env, Cleanup, e);

  struct Fn {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Fn fns[] = {
      {"createUmem", CreateUmem},
      {"closeUmem", CloseUmemJs},
      {"createSocket", CreateSocket},
      {"close", CloseSocketJs},
      {"rx", Rx},
      {"tx", Tx},
      {"fill", Fill},
      {"complete", Complete},
      {"wakeupRx", WakeupRx},
      {"poll", Poll},
      {"stats", Stats},
      {"attachProgram", AttachProgram},
      {"findProgram", FindProgram},
      {"detachProgram", DetachProgramJs},
      {"closeProgram", CloseProgramJs},
      {"detachByName", DetachByName},
      {"detachAll", DetachAll},
      {"listPrograms", ListPrograms},
      {"registerSocket", RegisterSocket},
      {"unregisterSocket", UnregisterSocket},
      {"setPrefixes4", SetPrefixes4},
      {"setPrefixes6", SetPrefixes6},
      {"programCounters", ProgramCounters},
      {"setAffinity", SetAffinity},
      {"adviseHugePages", AdviseHugePages},
      {"setNetns", SetNetns},
  };
  for (const Fn& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  exports.Set("DESC_SIZE", Napi::Number::New(env, 8));
  return exports;
}

}  // namespace

}  // namespace xbr

static Napi::Object InitXbrXsk(Napi::Env env, Napi::Object exports) {
  return xbr::Init(env, exports);
}

NODE_API_MODULE(xbr_xsk, InitXbrXsk)
