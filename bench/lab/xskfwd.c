// The lab's AF_XDP ceiling (npm run bench:lab, path "xskfwd"): a forwarder that does
// nothing to a packet. Per queue, one thread receives on --in through an AF_XDP
// socket and transmits the same frame, untouched, on --out through a second socket
// sharing the UMEM — the I/O half of what `xbr run` does, with no look-up, no
// rewrite and no JavaScript. Whatever it forwards is the most any AF_XDP data plane
// can forward on this lab in this bind mode (veth: copy mode), so the gap between it
// and xbr is xbr's own cost, and the gap between it and the kernel's forwarding is
// the I/O mode's.
//
//   xskfwd --in IF --out IF2 [--queues N] [--cpus C0,C1..] [--batch 64] [--seconds S]
//
// Rings and UMEM as xbr's workers have them (src/dataplane/run-worker.ts): 32,768
// frames of 2 KiB, fill and RX rings of 8,192, TX and completion rings of 2,048; the
// frames on no ring wait in a free list, and the fill ring is topped up from it; the
// TX ring is kicked as xbr's shim kicks it.
// libxdp loads its default XDP program on --in (every frame of the queue to the
// socket); --out gets none (the socket only transmits). Prints "started" once its
// sockets are bound; runs until SIGINT/SIGTERM or --seconds, then prints
// {"rx":..,"tx":..,"txDropped":..,"kickErrors":..,"kickError":..} and each socket's
// XDP statistics (stderr), and removes its sockets (and with them libxdp's program).
// Built by bench/lab/generator.ts: cc -O2 xskfwd.c -lxdp -lbpf -lpthread
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include "labtool.h"

#define FRAMES 32768
#define FRAME_SIZE 2048
#define FILL_RING 8192
#define RX_RING 8192
#define TX_RING 2048
#define COMP_RING 2048
#define MAX_QUEUES 64

static atomic_int stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

struct queue {
  pthread_t thread;
  const char *in, *out;
  int queue, cpu;
  unsigned batch;
  void *area;
  struct xsk_umem *umem;
  struct xsk_ring_prod fill_in, fill_out;
  struct xsk_ring_cons comp_in, comp_out, rx;
  struct xsk_ring_prod tx;
  struct xsk_socket *xsk_in, *xsk_out;
  unsigned long long rx_n, tx_n, tx_dropped, kick_errors;
  int kick_errno;
  // frames that are on no ring: completions and refused frames wait here for the fill ring
  __u64 free_addr[FRAMES];
  unsigned nfree;
  char error[256];
};

static int fail(struct queue *q, const char *what, int err) {
  snprintf(q->error, sizeof q->error, "queue %d: %s: %s", q->queue, what, strerror(err < 0 ? -err : err));
  return -1;
}

static int setup(struct queue *q) {
  size_t size = (size_t)FRAMES * FRAME_SIZE;
  q->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q->area == MAP_FAILED) return fail(q, "mmap", errno);
  struct xsk_umem_config ucfg = {.fill_size = FILL_RING, .comp_size = COMP_RING, .frame_size = FRAME_SIZE,
                                 .frame_headroom = 0, .flags = 0};
  int err = xsk_umem__create(&q->umem, q->area, size, &q->fill_in, &q->comp_in, &ucfg);
  if (err) return fail(q, "xsk_umem__create", err);
  struct xsk_socket_config in_cfg = {.rx_size = RX_RING, .tx_size = 0, .libxdp_flags = 0,
                                     .xdp_flags = XDP_FLAGS_DRV_MODE, .bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP};
  err = xsk_socket__create_shared(&q->xsk_in, q->in, q->queue, q->umem, &q->rx, NULL, &q->fill_in, &q->comp_in, &in_cfg);
  if (err) return fail(q, "socket on --in", err);
  struct xsk_socket_config out_cfg = {.rx_size = 0, .tx_size = TX_RING, .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                                      .xdp_flags = XDP_FLAGS_DRV_MODE, .bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP};
  err = xsk_socket__create_shared(&q->xsk_out, q->out, q->queue, q->umem, NULL, &q->tx, &q->fill_out, &q->comp_out, &out_cfg);
  if (err) return fail(q, "socket on --out", err);
  for (unsigned i = 0; i < FRAMES; i++) q->free_addr[i] = (__u64)(FRAMES - 1 - i) * FRAME_SIZE;
  q->nfree = FRAMES;
  return 0;
}

// Tops the receiving side's fill ring up from the free frames.
static void refill(struct queue *q) {
  unsigned k = xsk_prod_nb_free(&q->fill_in, q->nfree);
  if (k > q->nfree) k = q->nfree;
  __u32 idx;
  if (k == 0 || xsk_ring_prod__reserve(&q->fill_in, k, &idx) != k) return;
  for (unsigned i = 0; i < k; i++) *xsk_ring_prod__fill_addr(&q->fill_in, idx + i) = q->free_addr[--q->nfree];
  xsk_ring_prod__submit(&q->fill_in, k);
}

// Copy mode transmits only inside sendto, and at most a batch per call (EAGAIN with
// more to do): asked again while the kernel keeps taking descriptors, as xbr's shim
// does (native/src/ring.cc KickTx).
static void kick(struct queue *q, int fd) {
  for (int i = 0; i < 64; i++) {
    __u32 before = __atomic_load_n(q->tx.consumer, __ATOMIC_ACQUIRE);
    if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0) return;
    if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS) {
      q->kick_errors++;
      q->kick_errno = errno;
      return;
    }
    if (errno != EAGAIN) return;
    __u32 after = __atomic_load_n(q->tx.consumer, __ATOMIC_ACQUIRE);
    if (after == before || after == *q->tx.producer) return;
  }
}

// Transmit completions become free frames.
static void recycle(struct queue *q) {
  __u32 idx_c;
  unsigned n = xsk_ring_cons__peek(&q->comp_out, COMP_RING, &idx_c);
  if (n == 0) return;
  for (unsigned i = 0; i < n; i++) q->free_addr[q->nfree++] = *xsk_ring_cons__comp_addr(&q->comp_out, idx_c + i);
  xsk_ring_cons__release(&q->comp_out, n);
}

static void *run(void *arg) {
  struct queue *q = arg;
  int e = pin_self(q->cpu);
  if (e != 0) {
    fail(q, "sched_setaffinity", e);
    return NULL;
  }
  int fd_in = xsk_socket__fd(q->xsk_in), fd_out = xsk_socket__fd(q->xsk_out);
  refill(q);
  while (!stop) {
    __u32 idx_rx, idx_tx;
    unsigned n = xsk_ring_cons__peek(&q->rx, q->batch, &idx_rx);
    if (n > 0) {
      // as many as the TX ring has room for (reserve is all or nothing)
      unsigned room = xsk_prod_nb_free(&q->tx, n);
      if (room > n) room = n;
      if (room > 0 && xsk_ring_prod__reserve(&q->tx, room, &idx_tx) != room) room = 0;
      for (unsigned i = 0; i < room; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx_rx + i);
        struct xdp_desc *t = xsk_ring_prod__tx_desc(&q->tx, idx_tx + i);
        t->addr = d->addr;
        t->len = d->len;
        t->options = 0;
      }
      if (room > 0) xsk_ring_prod__submit(&q->tx, room);
      // no room on the TX ring: the frame is dropped, back to the free frames
      for (unsigned i = room; i < n; i++) q->free_addr[q->nfree++] = xsk_ring_cons__rx_desc(&q->rx, idx_rx + i)->addr;
      q->tx_dropped += n - room;
      xsk_ring_cons__release(&q->rx, n);
      q->rx_n += n;
      q->tx_n += room;
      if (room > 0) kick(q, fd_out);
    }
    recycle(q);
    refill(q);
    if (xsk_ring_prod__needs_wakeup(&q->fill_in)) recvfrom(fd_in, NULL, 0, MSG_DONTWAIT, NULL, NULL);
  }
  return NULL;
}

int main(int argc, char **argv) {
  tool = "xskfwd";
  const char *in = arg(argc, argv, "--in", NULL);
  const char *out = arg(argc, argv, "--out", NULL);
  int queues = atoi(arg(argc, argv, "--queues", "1"));
  const char *cpus = arg(argc, argv, "--cpus", "");
  unsigned batch = (unsigned)atoi(arg(argc, argv, "--batch", "64"));
  double seconds = atof(arg(argc, argv, "--seconds", "3600"));
  if (queues < 1 || queues > MAX_QUEUES || batch < 1 || batch > TX_RING) {
    fprintf(stderr, "xskfwd: --queues 1..%d, --batch 1..%d\n", MAX_QUEUES, TX_RING);
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  static struct queue qs[MAX_QUEUES];
  int cpu[MAX_QUEUES];
  int ncpus = cpu_list(cpus, cpu, MAX_QUEUES);
  for (int i = 0; i < queues; i++) {
    qs[i] = (struct queue){.in = in, .out = out, .queue = i, .cpu = i < ncpus ? cpu[i] : -1, .batch = batch};
    if (setup(&qs[i]) != 0) {
      fprintf(stderr, "xskfwd: %s\n", qs[i].error);
      for (int j = 0; j <= i; j++) {
        if (qs[j].xsk_out) xsk_socket__delete(qs[j].xsk_out);
        if (qs[j].xsk_in) xsk_socket__delete(qs[j].xsk_in);
      }
      return 1;
    }
  }
  for (int i = 0; i < queues; i++) pthread_create(&qs[i].thread, NULL, run, &qs[i]);
  printf("started\n");
  fflush(stdout);
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!stop) {
    usleep(20000);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) stop = 1;
  }
  unsigned long long rx = 0, tx = 0, dropped = 0, kick_errors = 0;
  int kick_errno = 0;
  int bad = 0;
  for (int i = 0; i < queues; i++) {
    pthread_join(qs[i].thread, NULL);
    rx += qs[i].rx_n;
    tx += qs[i].tx_n;
    dropped += qs[i].tx_dropped;
    kick_errors += qs[i].kick_errors;
    if (qs[i].kick_errno) kick_errno = qs[i].kick_errno;
    if (qs[i].error[0]) {
      fprintf(stderr, "xskfwd: %s\n", qs[i].error);
      bad = 1;
    }
    struct xdp_statistics st;
    socklen_t sl = sizeof st;
    if (getsockopt(xsk_socket__fd(qs[i].xsk_out), SOL_XDP, XDP_STATISTICS, &st, &sl) == 0)
      fprintf(stderr, "xskfwd: queue %d out: tx_invalid %llu tx_ring_empty %llu\n", i, (unsigned long long)st.tx_invalid_descs, (unsigned long long)st.tx_ring_empty_descs);
    sl = sizeof st;
    if (getsockopt(xsk_socket__fd(qs[i].xsk_in), SOL_XDP, XDP_STATISTICS, &st, &sl) == 0)
      fprintf(stderr, "xskfwd: queue %d in: rx_dropped %llu rx_ring_full %llu fill_empty %llu\n", i, (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_ring_full, (unsigned long long)st.rx_fill_ring_empty_descs);
    xsk_socket__delete(qs[i].xsk_out);
    xsk_socket__delete(qs[i].xsk_in);
    xsk_umem__delete(qs[i].umem);
  }
  printf("{\"rx\":%llu,\"tx\":%llu,\"txDropped\":%llu,\"kickErrors\":%llu,\"kickError\":\"%s\"}\n", rx, tx, dropped, kick_errors,
         kick_errno ? strerror(kick_errno) : "");
  return bad;
}
