// The lab's in-kernel packet generator (npm run bench:lab --gen xdp): hands one
// prebuilt Ethernet frame to xdpgen.bpf.c through BPF_PROG_RUN in live-frames mode,
// which transmits each copy out of --dev by XDP redirect. No socket, no skb: the
// cheapest way to put frames on a veth, so that the generator's CPU is left to what
// the receiving side does with them (on veth that runs on the sending CPU).
//
//   xdpgen --obj xdpgen.bpf.o --dev IF --anchor IF2 --frame HEX --seconds S [--pps R] [--cpu C[,C2...]]
//
// --cpu with a list starts one sender thread per CPU, each pinned to its CPU and
// sending its share of --pps. On a veth the receiving queue is picked by the sending
// CPU (veth_xdp_xmit: smp_processor_id() modulo the peer's queue count), so senders
// on CPUs 0..N-1 fill N receive queues, queue q's receive work running on CPU q —
// the way RSS spreads a NIC's traffic over its queues and their CPUs.
//
// --anchor names a spare device (the lab makes a veth pair that carries no traffic)
// to which the program stays attached while the generator runs. Why: every
// BPF_PROG_RUN of an XDP program that is attached nowhere adds it to the kernel's XDP
// dispatcher and removes it again, and each change rewrites kernel text with IPIs to
// every CPU (a measured 40 % of the generator's time, and a disturbance of the BR's
// CPU). A program already in the dispatcher is only reference-counted.
//
// Speaks bench/lab/gen.ts's protocol: "started", a line "t <ms> sent <n>" every
// 100 ms, and at the end {"sent":..,"seconds":..,"pps":..,"cpuMs":..}. --pps caps
// the rate: frames go in calls of at most 1 ms worth, and the generator sleeps when
// ahead. Within a call the kernel sends batches of 64 and lets the receiver's softirq
// run after each, so a call is not one burst of its whole count.
// Built by bench/lab/generator.ts: cc -O2 xdpgen.c -lbpf -lpthread (and clang -g -target bpf
// for xdpgen.bpf.c: its map is declared with BTF)
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "labtool.h"

#define MAX_SENDERS 64

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

static double now_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int die(const char *what, int err) {
  fprintf(stderr, "xdpgen: %s: %s\n", what, strerror(err < 0 ? -err : err));
  return 1;
}

struct sender {
  pthread_t thread;
  int cpu; // -1: not pinned
  int prog;
  const unsigned char *frame;
  size_t len;
  double cap; // this sender's share of --pps, 0 = unthrottled
  double t0, end;
  _Atomic unsigned long long sent;
  int err;
  const char *what; // what failed, with err
};

// One sender: BPF_PROG_RUN runs on the calling CPU, so pinning the thread picks the queue.
static void *send_loop(void *arg) {
  struct sender *s = arg;
  int e = pin_self(s->cpu);
  if (e != 0) {
    s->err = -e;
    s->what = "sched_setaffinity";
    return NULL;
  }
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = s->frame, .data_size_in = (__u32)s->len,
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
  // One call's count: uncapped, 8192 (the call's set-up is amortised); capped, 1 ms worth.
  unsigned chunk = s->cap > 0 ? (unsigned)(s->cap / 1000 < 64 ? 64 : s->cap / 1000) : 8192;
  unsigned long long sent = 0;
  for (;;) {
    double now = now_ms(CLOCK_MONOTONIC);
    if (now >= s->end) break;
    if (s->cap > 0) {
      // ahead of the rate: sleep (not spin) until the next call is due
      double due = s->t0 + (sent + chunk) / s->cap * 1000;
      if (due > now) {
        double ms = due - now < 1 ? due - now : 1;
        struct timespec ts = {0, (long)(ms * 1e6)};
        nanosleep(&ts, NULL);
        continue;
      }
    }
    opts.repeat = chunk;
    int err = bpf_prog_test_run_opts(s->prog, &opts);
    if (err) {
      s->err = err;
      s->what = "BPF_PROG_RUN (live frames)";
      break;
    }
    sent += chunk;
    s->sent = sent;
  }
  return NULL;
}

int main(int argc, char **argv) {
  tool = "xdpgen";
  const char *obj_path = arg(argc, argv, "--obj", NULL);
  const char *dev = arg(argc, argv, "--dev", NULL);
  const char *hex = arg(argc, argv, "--frame", NULL);
  double seconds = atof(arg(argc, argv, "--seconds", "5"));
  double cap = atof(arg(argc, argv, "--pps", "0"));
  const char *cpu_arg = arg(argc, argv, "--cpu", "");
  const char *anchor = arg(argc, argv, "--anchor", NULL);

  size_t len = strlen(hex) / 2;
  if (len < 64 || len > 1792) { // xdpgen.bpf.c rewrites the first 64 bytes of each
    fprintf(stderr, "xdpgen: frame of %zu bytes\n", len);
    return 2;
  }
  unsigned char *frame = malloc(len);
  for (size_t i = 0; i < len; i++) sscanf(hex + 2 * i, "%2hhx", &frame[i]);
  int cpus[MAX_SENDERS];
  int n = cpu_list(cpu_arg, cpus, MAX_SENDERS);
  if (n == 0) cpus[n++] = -1; // one sender, not pinned
  unsigned ifindex = if_nametoindex(dev);
  if (ifindex == 0) return die(dev, errno);
  unsigned anchor_ifindex = if_nametoindex(anchor);
  if (anchor_ifindex == 0) return die(anchor, errno);

  struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
  if (obj == NULL) return die(obj_path, errno);
  // Only the generator runs here; the pass program is attached by `ip link`.
  bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "xbr_lab_pass"), false);
  int err = bpf_object__load(obj);
  if (err) return die("loading the BPF object", err);
  int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "xbr_lab_gen"));
  int map = bpf_map__fd(bpf_object__find_map_by_name(obj, "tx_port"));
  __u32 key = 0;
  if (bpf_map_update_elem(map, &key, &ifindex, 0) != 0) return die("tx_port", errno);
  if (bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "head")), &key, frame, 0) != 0) return die("head", errno);
  err = bpf_xdp_attach((int)anchor_ifindex, prog, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
  if (err) return die("attaching to the anchor device", err);

  static struct sender senders[MAX_SENDERS];
  double t0 = now_ms(CLOCK_MONOTONIC), end = t0 + seconds * 1000;
  double cpu0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
  printf("started\n");
  fflush(stdout);
  for (int i = 0; i < n; i++) {
    senders[i] = (struct sender){.cpu = cpus[i], .prog = prog, .frame = frame, .len = len, .cap = cap / n, .t0 = t0, .end = end};
    if ((err = pthread_create(&senders[i].thread, NULL, send_loop, &senders[i])) != 0) {
      bpf_xdp_detach((int)anchor_ifindex, XDP_FLAGS_DRV_MODE, NULL);
      return die("pthread_create", err);
    }
  }
  // progress, every 100 ms, from the main thread (it sends nothing)
  for (double next_report = t0;; next_report += 100) {
    double now = now_ms(CLOCK_MONOTONIC);
    if (now >= end) break;
    unsigned long long sent = 0;
    for (int i = 0; i < n; i++) sent += senders[i].sent;
    printf("t %.1f sent %llu\n", now - t0, sent);
    fflush(stdout);
    double wait = (next_report + 100 < end ? next_report + 100 : end) - now_ms(CLOCK_MONOTONIC);
    if (wait > 0) {
      struct timespec ts = {(time_t)(wait / 1000), (long)((wait - (time_t)(wait / 1000) * 1000) * 1e6)};
      nanosleep(&ts, NULL);
    }
  }
  unsigned long long sent = 0;
  struct sender *failed = NULL;
  for (int i = 0; i < n; i++) {
    pthread_join(senders[i].thread, NULL);
    sent += senders[i].sent;
    if (senders[i].err && failed == NULL) failed = &senders[i];
  }
  bpf_xdp_detach((int)anchor_ifindex, XDP_FLAGS_DRV_MODE, NULL);
  if (failed != NULL) return die(failed->what, failed->err);
  double secs = (now_ms(CLOCK_MONOTONIC) - t0) / 1000;
  printf("{\"sent\":%llu,\"seconds\":%.6f,\"pps\":%.0f,\"cpuMs\":%.1f}\n", sent, secs, sent / secs,
         now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
  bpf_object__close(obj);
  return 0;
}
