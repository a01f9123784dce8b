// errno -> JS errors that name the cause and the fix; capture of libxdp/libbpf logs.
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common.h"

namespace xbr {

namespace {

const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case ENOTSUP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case ENETDOWN: return "ENETDOWN";
    case ENOBUFS: return "ENOBUFS";
    case ENOTCONN: return "ENOTCONN";
    case ESRCH: return "ESRCH";
    case ERANGE: return "ERANGE";
    case ENOTSOCK: return "ENOTSOCK";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case 524: return "ENOTSUPP";  // kernel-internal, seen from BPF/XDP paths
    default: return "E?";
  }
}

// What usually causes `err` in this shim, and what to do about it.
const char* Hint(int e) {
  switch (e) {
    case ENOBUFS:
      return "Pinning the UMEM exceeds RLIMIT_MEMLOCK: raise the limit (ulimit -l "
             "unlimited, or LimitMEMLOCK=infinity in the systemd unit) or give the "
             "process CAP_IPC_LOCK (root has it).";
    case EPERM:
    case EACCES:
      return "AF_XDP sockets need CAP_NET_RAW, attaching XDP programs and BPF maps "
             "need CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN): run as root or grant "
             "those capabilities.";
    case EAFNOSUPPORT:
      return "This kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS=y is needed).";
    case ENODEV:
      return "No such network interface in this network namespace (check the name, "
             "or setNetns first).";
    case EBUSY:
      return "The interface queue is already bound by another AF_XDP socket, or an "
             "XDP program in another mode is attached: close the other socket, or "
             "detach the stale program (detachByName / detachAll).";
    case ENOTSUP:
    case 524:
      return "The driver does not support this mode: use mode 'copy' (sockets) or "
             "'skb' (programs), or 'auto' to let the kernel choose.";
    case EINVAL:
      return "The kernel rejected the parameters (ring sizes must be powers of two, "
             "frame size 2048 or 4096, queue id must exist on the interface).";
    case ENOMEM:
      return "The kernel could not allocate the rings or the map entries.";
    default:
      return "";
  }
}

thread_local std::string tLog;  // recent libxdp/libbpf warnings, this thread

void Append(const char* prefix, const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  tLog += prefix;
  tLog += buf;
  constexpr size_t kMax = 8192;  // verifier logs can be long: keep the tail
  if (tLog.size() > kMax) tLog.erase(0, tLog.size() - kMax);
}

bool Verbose() {
  static const bool v = [] {
    const char* s = getenv("XBR_XSK_DEBUG");
    return s != nullptr && s[0] != '\0' && s[0] != '0';
  }();
  return v;
}

int XdpPrint(enum libxdp_print_level level, const char* fmt, va_list ap) {
  if (Verbose()) {
    va_list cp;
    va_copy(cp, ap);
    vfprintf(stderr, fmt, cp);
    va_end(cp);
  }
  if (level == LIBXDP_WARN) Append("libxdp: ", fmt, ap);
  return 0;
}

int BpfPrint(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (Verbose()) {
    va_list cp;
    va_copy(cp, ap);
    vfprintf(stderr, fmt, cp);
    va_end(cp);
  }
  if (level == LIBBPF_WARN) Append("libbpf: ", fmt, ap);
  return 0;
}

}  // namespace

void InstallLogHooks() {
  libxdp_set_print(XdpPrint);
  libbpf_set_print(BpfPrint);
}

void ClearLog() { tLog.clear(); }

std::string LogTail() {
  std::string s = tLog;
  // Drop trailing newlines, keep the last ~2 KiB for the message.
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > 2048) s = "..." + s.substr(s.size() - 2048);
  return s;
}

void ThrowErrno(Napi::Env env, int err, const std::string& what) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + strerror(err) + " (" + ErrnoName(err) + ")";
  const char* hint = Hint(err);
  if (hint[0] != '\0') msg += ". " + std::string(hint);
  std::string log = LogTail();
  if (!log.empty()) msg += "\n" + log;
  ClearLog();
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

void ThrowType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "xbr_xsk: " + msg);
}

void ThrowRange(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "xbr_xsk: " + msg);
}

void ThrowPlain(Napi::Env env, const std::string& msg) {
  throw Napi::Error::New(env, "xbr_xsk: " + msg);
}

}  // namespace xbr
