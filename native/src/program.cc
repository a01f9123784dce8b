// The XDP program (native/bpf/xbr_steer.bpf.c): attach through libxdp's dispatcher
// (so it coexists with other XDP programs), find it again (another worker, or a
// restart), detach stale copies left by a killed process, and fill its maps:
// xsks_map (queue -> AF_XDP socket), v4_prefixes / v6_prefixes (LPM tries),
// xbr_counters (per-CPU).
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common.h"

namespace xbr {

namespace {

constexpr const char* kXsksMap = "xsks_map";
constexpr const char* kV4Map = "v4_prefixes";
constexpr const char* kV6Map = "v6_prefixes";
constexpr const char* kCountersMap = "xbr_counters";
// Mirrors the enum in xbr_steer.bpf.c.
constexpr const char* kCounterNames[] = {"pass", "steer4", "steer6", "passNd", "passDhcpv6",
                                         "noSocket"};
constexpr uint32_t kCounterSlots = 8;

const char* ModeName(enum xdp_attach_mode m) {
  switch (m) {
    case XDP_MODE_NATIVE: return "native";
    case XDP_MODE_SKB: return "skb";
    case XDP_MODE_HW: return "hw";
    default: return "none";
  }
}

int IfIndex(Napi::Env env, const std::string& ifname) {
  if (ifname.size() >= IFNAMSIZ) ThrowRange(env, "interface name too long: " + ifname);
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) ThrowErrno(env, errno == 0 ? ENODEV : errno, "interface " + ifname);
  return ifindex;
}

// libxdp needs a bpffs to pin the programs of its dispatcher; without one it falls
// back to attaching a single program (no coexistence). Mount one at /sys/fs/bpf
// when none is there, as LIBXDP_BPFFS_AUTOMOUNT=1 would, unless LIBXDP_BPFFS
// points elsewhere.
void EnsureBpffs() {
  static bool done = false;
  if (done) return;
  done = true;
  if (getenv("LIBXDP_BPFFS") != nullptr) return;
  struct statfs st;
  if (statfs("/sys/fs/bpf", &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC)
    return;
  if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0 && getenv("XBR_XSK_DEBUG"))
    fprintf(stderr, "xbr_xsk: cannot mount bpffs at /sys/fs/bpf: %s\n", strerror(errno));
}

// Finds the program's maps by name through the kernel (works for a program we
// loaded and for one found on the interface).
void ResolveMaps(Napi::Env env, Program* p) {
  int pfd = xdp_program__fd(p->prog);
  if (pfd < 0) ThrowPlain(env, "program has no fd (not loaded)");
  uint32_t ids[16] = {};
  bpf_prog_info info{};
  info.nr_map_ids = 16;
  info.map_ids = reinterpret_cast<uint64_t>(ids);
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(pfd, &info, &len) != 0)
    ThrowErrno(env, errno, "bpf_obj_get_info_by_fd(program)");
  uint32_t n = std::min<uint32_t>(info.nr_map_ids, 16);
  for (uint32_t i = 0; i < n; i++) {
    int mfd = bpf_map_get_fd_by_id(ids[i]);
    if (mfd < 0) continue;
    bpf_map_info mi{};
    uint32_t mlen = sizeof mi;
    if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) != 0) {
      close(mfd);
      continue;
    }
    int* slot = nullptr;
    if (strcmp(mi.name, kXsksMap) == 0) slot = &p->xsksMapFd;
    else if (strcmp(mi.name, kV4Map) == 0) slot = &p->v4Fd;
    else if (strcmp(mi.name, kV6Map) == 0) slot = &p->v6Fd;
    else if (strcmp(mi.name, kCountersMap) == 0) slot = &p->countersFd;
    if (slot != nullptr && *slot < 0) *slot = mfd;
    else close(mfd);
  }
  if (p->xsksMapFd < 0 || p->v4Fd < 0 || p->v6Fd < 0)
    ThrowPlain(env, "program " + p->name + " has no xsks_map / v4_prefixes / v6_prefixes "
                    "maps: is it xbr_steer.bpf.o?");
}

Napi::Object MakeProgramObject(Napi::Env env, Program* p) {
  Env* e = GetEnv(env);
  Napi::Object obj = WrapHandle(env, p);
  p->env = e;
  Track(e, p);
  SetReadOnly(obj, "ifname", Napi::String::New(env, p->ifname));
  SetReadOnly(obj, "ifindex", Napi::Number::New(env, p->ifindex));
  SetReadOnly(obj, "name", Napi::String::New(env, p->name));
  SetReadOnly(obj, "id", Napi::Number::New(env, p->id));
  SetReadOnly(obj, "mode", Napi::String::New(env, ModeName(p->mode)));
  SetReadOnly(obj, "owned", Napi::Boolean::New(env, p->owned));
  bool multiprog = false;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(p->ifindex);
  if (!libxdp_get_error(mp) && mp != nullptr) {
    multiprog = !xdp_multiprog__is_legacy(mp);
    xdp_multiprog__close(mp);
  }
  SetReadOnly(obj, "multiprog", Napi::Boolean::New(env, multiprog));
  return obj;
}

struct Found {
  uint32_t id;
  std::string name;
  enum xdp_attach_mode mode;
  unsigned prio;
  bool dispatcher;  // entry is a component of libxdp's dispatcher
};

// The XDP programs on an interface: components of the dispatcher, or the single
// legacy program.
std::vector<Found> Inspect(int ifindex) {
  std::vector<Found> out;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || mp == nullptr) return out;
  enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* m = xdp_multiprog__main_prog(mp);
    if (m != nullptr)
      out.push_back({xdp_program__id(m), xdp_program__name(m), mode,
                     xdp_program__run_prio(m), false});
  } else {
    for (xdp_program* q = xdp_multiprog__next_prog(nullptr, mp); q != nullptr;
         q = xdp_multiprog__next_prog(q, mp))
      out.push_back({xdp_program__id(q), xdp_program__name(q), mode,
                     xdp_program__run_prio(q), true});
  }
  xdp_multiprog__close(mp);
  return out;
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Parses [{addr: Uint8Array(N), len}] into masked LPM keys {u32 len; u8 addr[N]}.
std::set<std::vector<uint8_t>> ParsePrefixes(Napi::Env env, Napi::Value v, size_t n) {
  if (!v.IsArray()) ThrowType(env, "prefixes must be an array of {addr: Uint8Array, len}");
  Napi::Array arr = v.As<Napi::Array>();
  std::set<std::vector<uint8_t>> keys;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value ev = arr.Get(i);
    if (!ev.IsObject()) ThrowType(env, "prefixes[" + std::to_string(i) + "] must be an object");
    Napi::Object o = ev.As<Napi::Object>();
    Napi::Value a = o.Get("addr");
    Napi::Value l = o.Get("len");
    if (!a.IsTypedArray() || a.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowType(env, "prefixes[" + std::to_string(i) + "].addr must be a Uint8Array");
    Napi::Uint8Array ua = a.As<Napi::Uint8Array>();
    if (ua.ElementLength() != n)
      ThrowRange(env, "prefixes[" + std::to_string(i) + "].addr must have " +
                          std::to_string(n) + " bytes");
    if (!l.IsNumber()) ThrowType(env, "prefixes[" + std::to_string(i) + "].len must be a number");
    double dl = l.As<Napi::Number>().DoubleValue();
    if (!(dl >= 0 && dl <= n * 8) || static_cast<double>(static_cast<uint32_t>(dl)) != dl)
      ThrowRange(env, "prefixes[" + std::to_string(i) + "].len must be an integer in [0, " +
                          std::to_string(n * 8) + "]");
    uint32_t plen = static_cast<uint32_t>(dl);
    std::vector<uint8_t> key(4 + n, 0);
    memcpy(key.data(), &plen, 4);
    for (size_t b = 0; b < n; b++) {
      uint32_t bitsHere = plen > b * 8 ? std::min<uint32_t>(8, plen - b * 8) : 0;
      uint8_t mask = bitsHere == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bitsHere));
      key[4 + b] = ua[b] & mask;
    }
    keys.insert(key);
  }
  return keys;
}

// Replaces the contents of an LPM trie: add the new prefixes first, then remove
// the ones no longer wanted, so a prefix in both sets is never missing.
uint32_t ReplacePrefixes(Napi::Env env, int fd, const std::set<std::vector<uint8_t>>& keys,
                         size_t n, const char* mapName) {
  std::vector<std::vector<uint8_t>> old;
  std::vector<uint8_t> cur(4 + n), next(4 + n);
  bool first = true;
  while (true) {
    int r = bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data());
    if (r != 0) {
      if (errno == ENOENT) break;
      ThrowErrno(env, errno, std::string("reading ") + mapName);
    }
    old.push_back(next);
    cur = next;
    first = false;
    if (old.size() > 1u << 20) break;  // the map holds far fewer; never loop forever
  }
  uint8_t one = 1;
  for (const auto& k : keys)
    if (bpf_map_update_elem(fd, k.data(), &one, BPF_ANY) != 0)
      ThrowErrno(env, errno, std::string("adding a prefix to ") + mapName +
                                 (errno == ENOSPC ? " (map full: at most 16384 prefixes)" : ""));
  for (const auto& k : old)
    if (keys.count(k) == 0 && bpf_map_delete_elem(fd, k.data()) != 0 && errno != ENOENT)
      ThrowErrno(env, errno, std::string("removing a prefix from ") + mapName);
  return static_cast<uint32_t>(keys.size());
}

}  // namespace

void CloseProgram(Program* p, bool detach) {
  if (p->closed) return;
  if (detach && p->prog != nullptr)
    xdp_program__detach(p->prog, p->ifindex, XDP_MODE_UNSPEC, 0);
  if (p->prog != nullptr) xdp_program__close(p->prog);
  p->prog = nullptr;
  CloseFd(&p->xsksMapFd);
  CloseFd(&p->v4Fd);
  CloseFd(&p->v6Fd);
  CloseFd(&p->countersFd);
  p->closed = true;
  if (p->env != nullptr) Untrack(p->env, p);
}

// attachProgram(ifname, objPath, mode 'native'|'skb'|'auto') -> prog
Napi::Value AttachProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  std::string path = ArgString(info, 1, "objPath");
  std::string mode = info[2].IsUndefined() ? "auto" : ArgString(info, 2, "mode");
  enum xdp_attach_mode m;
  if (mode == "native") m = XDP_MODE_NATIVE;
  else if (mode == "skb") m = XDP_MODE_SKB;
  else if (mode == "auto") m = XDP_MODE_UNSPEC;  // the kernel picks native if it can
  else ThrowType(env, "mode must be 'native', 'skb' or 'auto'");
  int ifindex = IfIndex(env, ifname);
  if (access(path.c_str(), R_OK) != 0)
    ThrowErrno(env, errno, "BPF object " + path + " (build it: npm run build:native)");

  EnsureBpffs();
  ClearLog();
  xdp_program* prog = xdp_program__open_file(path.c_str(), "xdp", nullptr);
  long err = libxdp_get_error(prog);
  if (err != 0 || prog == nullptr)
    ThrowErrno(env, err != 0 ? static_cast<int>(err) : ENOENT, "opening BPF object " + path);
  int aerr = xdp_program__attach(prog, ifindex, m, 0);
  if (aerr != 0) {
    xdp_program__close(prog);
    ThrowErrno(env, aerr, "attaching " + path + " to " + ifname + " (mode " + mode + ")");
  }
  Program* p = new Program();
  p->prog = prog;
  p->owned = true;
  p->ifindex = ifindex;
  p->ifname = ifname;
  p->name = xdp_program__name(prog);
  p->id = xdp_program__id(prog);
  p->mode = xdp_program__is_attached(prog, ifindex);
  try {
    ResolveMaps(env, p);
  } catch (...) {
    CloseProgram(p, true);
    delete p;
    throw;
  }
  return MakeProgramObject(env, p);
}

// findProgram(ifname, name = 'xbr_steer') -> prog | null: a handle on a program
// already attached (by another worker of this process, say). Not owned: its end
// does not detach it, detachProgram does.
Napi::Value FindProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  std::string name = info[1].IsUndefined() ? "xbr_steer" : ArgString(info, 1, "name");
  int ifindex = IfIndex(env, ifname);
  for (const Found& f : Inspect(ifindex)) {
    if (f.name != name) continue;
    xdp_program* prog = xdp_program__from_id(f.id);
    if (libxdp_get_error(prog) || prog == nullptr) continue;
    Program* p = new Program();
    p->prog = prog;
    p->owned = false;
    p->ifindex = ifindex;
    p->ifname = ifname;
    p->name = f.name;
    p->id = f.id;
    p->mode = f.mode;
    try {
      ResolveMaps(env, p);
    } catch (...) {
      CloseProgram(p, false);
      delete p;
      throw;
    }
    return MakeProgramObject(env, p);
  }
  return env.Null();
}

// detachProgram(prog): detaches from the interface (the dispatcher goes when its
// last program does) and closes the handle.
Napi::Value DetachProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Program* p = Unwrap<Program>(info[0], "program", true);
  if (p->closed) return env.Undefined();
  int err = xdp_program__detach(p->prog, p->ifindex, XDP_MODE_UNSPEC, 0);
  if (err != 0 && err != -ENOENT) ThrowErrno(env, err, "detaching " + p->name + " from " + p->ifname);
  CloseProgram(p, false);
  return env.Undefined();
}

// closeProgram(prog): closes the handle, leaves the program attached.
Napi::Value CloseProgramJs(const Napi::CallbackInfo& info) {
  Program* p = Unwrap<Program>(info[0], "program", true);
  CloseProgram(p, false);
  return info.Env().Undefined();
}

// detachByName(ifname, name = 'xbr_steer') -> number detached. For a restart after
// kill -9: the old process's program (attached through netlink and pinned in
// bpffs) outlives it.
Napi::Value DetachByName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  std::string name = info[1].IsUndefined() ? "xbr_steer" : ArgString(info, 1, "name");
  int ifindex = IfIndex(env, ifname);
  EnsureBpffs();
  uint32_t count = 0;
  for (const Found& f : Inspect(ifindex)) {
    if (f.name != name) continue;
    ClearLog();
    if (!f.dispatcher) {
      xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
      if (libxdp_get_error(mp) || mp == nullptr) continue;
      int err = xdp_multiprog__detach(mp);
      xdp_multiprog__close(mp);
      if (err != 0) ThrowErrno(env, err, "detaching " + name + " from " + ifname);
    } else {
      xdp_program* prog = xdp_program__from_id(f.id);
      if (libxdp_get_error(prog) || prog == nullptr) continue;
      int err = xdp_program__detach(prog, ifindex, XDP_MODE_UNSPEC, 0);
      xdp_program__close(prog);
      if (err != 0 && err != -ENOENT) ThrowErrno(env, err, "detaching " + name + " from " + ifname);
    }
    count++;
  }
  return Napi::Number::New(env, count);
}

// detachAll(ifname) -> boolean: removes every XDP program (and the dispatcher)
// from the interface. Heavy-handed: other applications' programs go too.
Napi::Value DetachAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  int ifindex = IfIndex(env, ifname);
  EnsureBpffs();
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || mp == nullptr) return Napi::Boolean::New(env, false);
  ClearLog();
  int err = xdp_multiprog__detach(mp);
  xdp_multiprog__close(mp);
  if (err != 0) ThrowErrno(env, err, "detaching all XDP programs from " + ifname);
  return Napi::Boolean::New(env, true);
}

// listPrograms(ifname) -> [{name, id, mode, priority, dispatcher}]
Napi::Value ListPrograms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  int ifindex = IfIndex(env, ifname);
  std::vector<Found> found = Inspect(ifindex);
  Napi::Array arr = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", found[i].name);
    o.Set("id", Napi::Number::New(env, found[i].id));
    o.Set("mode", ModeName(found[i].mode));
    o.Set("priority", Napi::Number::New(env, found[i].prio));
    o.Set("dispatcher", Napi::Boolean::New(env, found[i].dispatcher));
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

// registerSocket(prog, sock, queue): xsks_map[queue] = sock. The kernel only
// delivers a queue's packets to a socket bound to that queue of that interface.
Napi::Value RegisterSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Program* p = Unwrap<Program>(info[0], "program");
  Socket* s = Unwrap<Socket>(info[1], "socket");
  uint32_t queue = info[2].IsUndefined() ? s->queue : ArgU32(info, 2, "queue");
  if (queue != s->queue)
    ThrowRange(env, "socket is bound to queue " + std::to_string(s->queue) +
                        "; the XSKMAP key must be that queue (the kernel drops packets "
                        "redirected to a socket of another queue)");
  int fd = s->fd;
  if (bpf_map_update_elem(p->xsksMapFd, &queue, &fd, BPF_ANY) != 0)
    ThrowErrno(env, errno, "xsks_map[" + std::to_string(queue) + "] = socket");
  int dupFd = dup(p->xsksMapFd);
  if (dupFd >= 0) s->registrations.push_back({dupFd, queue});
  return env.Undefined();
}

// unregisterSocket(prog, queue): removes xsks_map[queue]; that queue's packets
// for our prefixes then go to the kernel.
Napi::Value UnregisterSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Program* p = Unwrap<Program>(info[0], "program");
  uint32_t queue = ArgU32(info, 1, "queue");
  if (bpf_map_delete_elem(p->xsksMapFd, &queue) != 0 && errno != ENOENT)
    ThrowErrno(env, errno, "deleting xsks_map[" + std::to_string(queue) + "]");
  return env.Undefined();
}

// setPrefixes4(prog, [{addr: Uint8Array(4), len}]) -> count
Napi::Value SetPrefixes4(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Program* p = Unwrap<Program>(info[0], "program");
  auto keys = ParsePrefixes(env, info[1], 4);
  return Napi::Number::New(env, ReplacePrefixes(env, p->v4Fd, keys, 4, kV4Map));
}

// setPrefixes6(prog, [{addr: Uint8Array(16), len}]) -> count
Napi::Value SetPrefixes6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Program* p = Unwrap<Program>(info[0], "program");
  auto keys = ParsePrefixes(env, info[1], 16);
  return Napi::Number::New(env, ReplacePrefixes(env, p->v6Fd, keys, 16, kV6Map));
}

// programCounters(prog) -> {pass, steer4, steer6, passNd, passDhcpv6, noSocket},
// summed over CPUs.
Napi::Value ProgramCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Program* p = Unwrap<Program>(info[0], "program");
  Napi::Object o = Napi::Object::New(env);
  if (p->countersFd < 0) return o;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) ThrowErrno(env, ncpu, "libbpf_num_possible_cpus");
  std::vector<uint64_t> vals(static_cast<size_t>(ncpu));
  for (uint32_t i = 0; i < sizeof kCounterNames / sizeof kCounterNames[0] && i < kCounterSlots; i++) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(p->countersFd, &i, vals.data()) == 0)
      for (uint64_t v : vals) sum += v;
    o.Set(kCounterNames[i], Napi::Number::New(env, static_cast<double>(sum)));
  }
  return o;
}

}  // namespace xbr
