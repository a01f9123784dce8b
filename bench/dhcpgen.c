// dhcpgen: the DHCP 4o6 load generator's engine in C (bench/dhcpgen.ts drives it).
//
// Why it exists: the generator shares the two vCPUs with the server it measures, and
// the JavaScript one (src/dhcp/loadgen.ts) spends ~17 us of CPU per lease, one sixth
// of everything a lease costs on this machine. Kea's rate is bound by one process
// (kea-dhcp4 at ~95 % of a core, bench/dhcp4o6-results.md), xbr's by both cores, so
// that CPU came out of xbr's share only. This engine moves datagrams in batches
// (sendmmsg, recvmmsg) and does nothing else per lease.
//
// It knows no DHCP encoding: the queries are templates written by the TypeScript codec
// (src/dhcp/loadgen-wire.ts QueryFactory.templates) with the offsets of the fields to
// patch per client, so the bytes on the wire are the JavaScript generator's exactly
// (test/dhcp/dhcpgen.test.ts compares them). Answers are read like loadgen-wire.ts
// readAnswer: through Relay-replies (RFC 8415 section 9.2) to the DHCPV4-RESPONSE
// (RFC 7341 section 6.2) and its DHCPv4 message option (87), then options 53, 54, 159.
//
// The client state machine is loadgen.ts's: DISCOVER -> OFFER -> REQUEST -> ACK, a NAK
// or a timeout starts the client over, at most --tries starts. An OFFER whose shape
// differs from the REQUEST template's (option 159's offset and PSID length, a server
// identifier or not) cannot be answered from the template: the client fails and is
// counted as "unexpected".
//
//   dhcpgen --templates FILE --host ADDR --port P [--local-port P] --clients N
//           --in-flight K [--first F] [--timeout-ms T] [--tries R] [--deadline-ms D]
// prints one JSON line: acked, failed, naks, timeouts, unexpected, elapsedMs, rate,
// cpuMs (its own CPU time, user + system).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define MAXMSG 2048
#define MAXAT 8

struct tmpl {
  uint8_t buf[MAXMSG];
  int len;
  int xid[MAXAT], nxid, mac[MAXAT], nmac, iaid[MAXAT], niaid, peer[MAXAT], npeer, req[MAXAT], nreq, sid[MAXAT], nsid;
  int psid, psid_len; /* offset of option 159's PSID field, -1 if none */
};

enum { IDLE, DISCOVER, REQUEST, DONE };
struct flight {
  uint8_t state, tries;
  int slot; /* index in the active list */
  double sent_at;
  uint32_t yiaddr, sid;
  uint16_t psid;
};

static struct tmpl disc, reqt;
static int offer_pp_offset = -1, offer_psid_len = -1, offer_sid = 1;

static void die(const char *m) {
  fprintf(stderr, "dhcpgen: %s\n", m);
  exit(2);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int offsets(char *rest, int *out) {
  int n = 0;
  for (char *tok = strtok(rest, " \n"); tok != NULL; tok = strtok(NULL, " \n")) {
    if (n == MAXAT) die("too many offsets on a template line");
    out[n++] = atoi(tok);
  }
  return n;
}

static void hex(const char *h, struct tmpl *t) {
  size_t n = strcspn(h, " \n");
  if (n % 2 || n / 2 > MAXMSG) die("bad template hex");
  for (size_t i = 0; i < n / 2; i++) sscanf(h + 2 * i, "%2hhx", &t->buf[i]);
  t->len = (int)(n / 2);
}

// One line per item: "discover HEX", "discover.xid OFF...", ..., "request.psid OFF LEN",
// "offer PP-OFFSET PSID-LEN SERVER-ID" (-1 -1: no option 159 expected).
static void read_templates(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) die("cannot open the template file");
  static char line[2 * MAXMSG + 64];
  disc.psid = reqt.psid = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    char *sp = strchr(line, ' ');
    if (sp == NULL) continue;
    *sp++ = 0;
    struct tmpl *t = strncmp(line, "discover", 8) == 0 ? &disc : &reqt;
    const char *field = strchr(line, '.');
    if (strcmp(line, "offer") == 0) {
      if (sscanf(sp, "%d %d %d", &offer_pp_offset, &offer_psid_len, &offer_sid) != 3) die("bad offer line");
    } else if (field == NULL) hex(sp, t);
    else if (strcmp(field, ".xid") == 0) t->nxid = offsets(sp, t->xid);
    else if (strcmp(field, ".mac") == 0) t->nmac = offsets(sp, t->mac);
    else if (strcmp(field, ".iaid") == 0) t->niaid = offsets(sp, t->iaid);
    else if (strcmp(field, ".peer") == 0) t->npeer = offsets(sp, t->peer);
    else if (strcmp(field, ".req") == 0) t->nreq = offsets(sp, t->req);
    else if (strcmp(field, ".sid") == 0) t->nsid = offsets(sp, t->sid);
    else if (strcmp(field, ".psid") == 0) {
      if (sscanf(sp, "%d %d", &t->psid, &t->psid_len) != 2) die("bad psid line");
    } else die("unknown template line");
  }
  fclose(f);
  if (disc.len == 0 || reqt.len == 0 || disc.nxid == 0 || reqt.nxid == 0) die("template file lacks a message or its xid");
}

static void put32(uint8_t *b, int at, uint32_t v) {
  b[at] = v >> 24;
  b[at + 1] = v >> 16;
  b[at + 2] = v >> 8;
  b[at + 3] = v;
}
static uint16_t get16(const uint8_t *b, int at) { return (uint16_t)(b[at] << 8 | b[at + 1]); }
static uint32_t get32(const uint8_t *b, int at) { return (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3]; }

// loadgen-wire.ts fill(): xid, MAC (last 4 octets = n), IAID = n, peer 2001:(0x1000+n/65536):(n%65536)::1
static int fill(uint8_t *out, const struct tmpl *t, uint32_t n, uint32_t xid) {
  memcpy(out, t->buf, t->len);
  for (int i = 0; i < t->nxid; i++) put32(out, t->xid[i], xid);
  for (int i = 0; i < t->nmac; i++) put32(out, t->mac[i] + 2, n);
  for (int i = 0; i < t->niaid; i++) put32(out, t->iaid[i], n);
  uint16_t hi = 0x1000 + (n >> 16), lo = n & 0xffff;
  for (int i = 0; i < t->npeer; i++) {
    out[t->peer[i] + 2] = hi >> 8;
    out[t->peer[i] + 3] = hi;
    out[t->peer[i] + 4] = lo >> 8;
    out[t->peer[i] + 5] = lo;
  }
  return t->len;
}

/* A DHCPv6 option in [from, end): its data's start, and *dend; -1 if absent or truncated. */
static int option6(const uint8_t *b, int from, int end, int code, int *dend) {
  for (int p = from; p + 4 <= end;) {
    int c = get16(b, p), len = get16(b, p + 2);
    if (p + 4 + len > end) return -1;
    if (c == code) {
      *dend = p + 4 + len;
      return p + 4;
    }
    p += 4 + len;
  }
  return -1;
}

struct answer {
  uint32_t xid, yiaddr, sid;
  int type, has_sid, pp_offset, psid_len;
  uint16_t psid;
};

static int read_answer(const uint8_t *b, int len, struct answer *a) {
  int start = 0, end = len;
  for (int depth = 0; start < end && b[start] == 13 && depth < 32; depth++) { /* Relay-reply */
    int e, s = option6(b, start + 34, end, 9, &e); /* OPTION_RELAY_MSG */
    if (s < 0) return 0;
    start = s;
    end = e;
  }
  if (end - start < 4 || b[start] != 21) return 0; /* DHCPV4-RESPONSE */
  int vend, v = option6(b, start + 4, end, 87, &vend);
  if (v < 0 || vend - v < 240) return 0;
  memset(a, 0, sizeof *a);
  a->pp_offset = a->psid_len = -1;
  a->xid = get32(b, v + 4);
  a->yiaddr = get32(b, v + 16);
  for (int p = v + 240; p < vend;) {
    int code = b[p];
    if (code == 0) {
      p++;
      continue;
    }
    if (code == 255 || p + 1 >= vend) break;
    int l = b[p + 1], d = p + 2;
    if (d + l > vend) return 0;
    if (code == 53 && l == 1) a->type = b[d];
    else if (code == 54 && l == 4) {
      a->sid = get32(b, d);
      a->has_sid = 1;
    } else if (code == 159 && l == 4) { /* RFC 7618 section 4: offset, PSID-len, PSID */
      a->pp_offset = b[d];
      a->psid_len = b[d + 1];
      a->psid = a->psid_len == 0 ? 0 : get16(b, d + 2) >> (16 - a->psid_len);
    }
    p = d + l;
  }
  return 1;
}

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  if (def == NULL) {
    fprintf(stderr, "dhcpgen: %s is required\n", name);
    exit(2);
  }
  return def;
}

static int fd, tries;
static struct flight *fl;
static uint32_t *active, nactive, first;
static long failed;
static uint8_t sbuf[BATCH][MAXMSG], rbuf[BATCH][MAXMSG];
static struct iovec siov[BATCH], riov[BATCH];
static struct mmsghdr smsg[BATCH], rmsg[BATCH];
static int nsend;

static void flush(void) {
  for (int done = 0; done < nsend;) {
    int r = sendmmsg(fd, smsg + done, nsend - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("sendmmsg");
    }
    done += r;
  }
  nsend = 0;
}

/* Queues flight i's query (its state says which); sent by the next flush. */
static void send_query(uint32_t i, double at) {
  if (nsend == BATCH) flush();
  struct flight *f = &fl[i];
  uint32_t n = first + i, xid = 0x40000000u + n;
  uint8_t *b = sbuf[nsend];
  if (f->state == DISCOVER) siov[nsend].iov_len = fill(b, &disc, n, xid);
  else {
    siov[nsend].iov_len = fill(b, &reqt, n, xid);
    for (int k = 0; k < reqt.nreq; k++) put32(b, reqt.req[k], f->yiaddr);
    for (int k = 0; k < reqt.nsid; k++) put32(b, reqt.sid[k], f->sid);
    if (reqt.psid >= 0 && reqt.psid_len > 0) {
      uint16_t field = (uint16_t)(f->psid << (16 - reqt.psid_len));
      b[reqt.psid] = field >> 8;
      b[reqt.psid + 1] = field;
    }
  }
  f->sent_at = at;
  nsend++;
}

/* Flight i leaves the active list (its slot goes to the last one). */
static void retire(uint32_t i) {
  struct flight *f = &fl[i];
  f->state = DONE;
  uint32_t last = active[--nactive];
  active[f->slot] = last;
  fl[last].slot = f->slot;
}

/* A NAK or a timeout: the client starts over with a DISCOVER, or fails after --tries starts. */
static void restart(uint32_t i, double at) {
  struct flight *f = &fl[i];
  if (++f->tries > tries) {
    retire(i);
    failed++;
    return;
  }
  f->state = DISCOVER;
  send_query(i, at);
}

int main(int argc, char **argv) {
  read_templates(arg(argc, argv, "--templates", NULL));
  const char *host = arg(argc, argv, "--host", NULL);
  int port = atoi(arg(argc, argv, "--port", NULL));
  int local_port = atoi(arg(argc, argv, "--local-port", "0"));
  uint32_t clients = strtoul(arg(argc, argv, "--clients", NULL), NULL, 10);
  uint32_t in_flight = strtoul(arg(argc, argv, "--in-flight", NULL), NULL, 10);
  first = strtoul(arg(argc, argv, "--first", "0"), NULL, 10);
  double timeout_ms = atof(arg(argc, argv, "--timeout-ms", "2000"));
  tries = atoi(arg(argc, argv, "--tries", "5"));
  double deadline_ms = atof(arg(argc, argv, "--deadline-ms", "300000"));
  if (clients == 0 || in_flight == 0 || tries < 1 || tries > 255) die("--clients and --in-flight must be positive, --tries 1..255");

  struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
  if (inet_pton(AF_INET6, host, &to.sin6_addr) != 1) die("--host must be an IPv6 address literal");
  fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int big = 8 << 20; /* like loadgen.ts and the servers' sockets */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_in6 me = {.sin6_family = AF_INET6, .sin6_port = htons(local_port), .sin6_addr = IN6ADDR_ANY_INIT};
  if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) die("bind");

  fl = calloc(clients, sizeof *fl);
  active = calloc(in_flight, sizeof *active);
  if (fl == NULL || active == NULL) die("out of memory");
  uint32_t next = 0;
  long acked = 0, naks = 0, timeouts = 0, unexpected = 0;
  for (int i = 0; i < BATCH; i++) {
    siov[i].iov_base = sbuf[i];
    smsg[i].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &siov[i], .msg_iovlen = 1};
    riov[i] = (struct iovec){.iov_base = rbuf[i], .iov_len = MAXMSG};
    rmsg[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
  }

  double start = now_ms(), last_scan = start;
  for (;;) {
    double t = now_ms();
    while (nactive < in_flight && next < clients) {
      uint32_t i = next++;
      fl[i] = (struct flight){.state = DISCOVER, .tries = 1, .slot = (int)nactive};
      active[nactive++] = i;
      send_query(i, t);
    }
    flush();
    if (nactive == 0 && next >= clients) break;
    if (t - start > deadline_ms) break;
    if (t - last_scan >= 25) { /* loadgen.ts: the same 25 ms tick */
      last_scan = t;
      for (uint32_t k = 0; k < nactive;) {
        uint32_t i = active[k];
        if (t - fl[i].sent_at > timeout_ms) {
          timeouts++;
          restart(i, t); /* may move another flight into slot k */
          if (fl[i].state == DONE) continue;
        }
        k++;
      }
      flush();
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 5) <= 0) continue;
    int r = recvmmsg(fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (r <= 0) continue;
    t = now_ms();
    for (int k = 0; k < r; k++) {
      struct answer a;
      if (!read_answer(rbuf[k], (int)rmsg[k].msg_len, &a)) continue;
      uint32_t i = a.xid - 0x40000000u - first;
      if (a.xid < 0x40000000u + first || i >= next) continue;
      struct flight *f = &fl[i];
      if (f->state == DISCOVER && a.type == 2) { /* OFFER */
        if (a.pp_offset != offer_pp_offset || a.psid_len != offer_psid_len || a.has_sid != offer_sid) {
          unexpected++;
          retire(i);
          failed++;
          continue;
        }
        f->state = REQUEST;
        f->yiaddr = a.yiaddr;
        f->sid = a.sid;
        f->psid = a.psid;
        send_query(i, t);
      } else if (f->state == REQUEST && a.type == 5) { /* ACK */
        retire(i);
        acked++;
      } else if ((f->state == DISCOVER || f->state == REQUEST) && a.type == 6) { /* NAK */
        naks++;
        restart(i, t);
      }
    }
  }
  double elapsed = now_ms() - start;
  failed += nactive + (clients - next);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  printf("{\"acked\":%ld,\"failed\":%ld,\"naks\":%ld,\"timeouts\":%ld,\"unexpected\":%ld,\"elapsedMs\":%.3f,\"rate\":%.1f,\"cpuMs\":%.1f}\n", acked, failed, naks,
         timeouts, unexpected, elapsed, acked / (elapsed / 1e3), cpu_ms);
  return 0;
}
