// setAffinity and setNetns: per-thread settings (of the calling thread, or for
// setAffinity of another thread of this process).
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "common.h"

namespace xbr {

// setAffinity(cpu | cpu[], tid?): pins the calling thread (a piscina worker, say;
// piscina itself cannot, DESIGN.md) to the given CPU(s); with a tid (from
// /proc/self/task), that thread of this process instead: the main thread moves its
// other threads (V8's platform threads, libuv's) off the workers' CPUs.
Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<uint32_t> cpus;
  if (info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) ThrowType(env, "cpu list must hold numbers");
      cpus.push_back(v.As<Napi::Number>().Uint32Value());
    }
  } else {
    cpus.push_back(ArgU32(info, 0, "cpu"));
  }
  if (cpus.empty()) ThrowRange(env, "empty cpu list");
  for (uint32_t c : cpus) {
    if (c >= CPU_SETSIZE) ThrowRange(env, "cpu " + std::to_string(c) + " out of range");
    CPU_SET(c, &set);
  }
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    pid_t tid = static_cast<pid_t>(ArgU32(info, 1, "tid"));
    if (sched_setaffinity(tid, sizeof set, &set) != 0) ThrowErrno(env, errno, "sched_setaffinity");
    return env.Undefined();
  }
  int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (err != 0) ThrowErrno(env, err, "pthread_setaffinity_np");
  return env.Undefined();
}

namespace {
thread_local int tOrigNetns = -1;  // the thread's netns before its first setNetns
}

// setNetns(pathOrName | null): moves the calling thread (only) into a network
// namespace: a path (/proc/PID/ns/net, /run/netns/NAME) or an `ip netns` name;
// null or '' goes back to the namespace the thread had before its first call.
// Interfaces are looked up, and sockets and programs created, in the thread's
// namespace at the time of the call; they keep working after a switch back.
Napi::Value SetNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string target;
  if (!info[0].IsNull() && !info[0].IsUndefined()) target = ArgString(info, 0, "netns");
  if (tOrigNetns < 0) {
    tOrigNetns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (tOrigNetns < 0) ThrowErrno(env, errno, "opening /proc/thread-self/ns/net");
  }
  if (target.empty()) {
    if (setns(tOrigNetns, CLONE_NEWNET) != 0) ThrowErrno(env, errno, "setns(original netns)");
    return env.Undefined();
  }
  std::string path = target.find('/') == std::string::npos ? "/run/netns/" + target : target;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "opening network namespace " + path);
  int r = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  if (r != 0) ThrowErrno(env, e, "setns(" + path + ")");
  return env.Undefined();
}

}  // namespace xbr
