// mqload: a small MQTT 3.1.1 load generator (single thread, epoll, raw sockets) for broker
// throughput and latency: S subscribers and P publishers in one process.
//
// mqload -p PORT [-t TOPIC] [-s SUBS] [-P PUBS] [-n MSGS_PER_PUB] [-q QOS(pub and sub)]
//        [-z PAYLOAD] [-r TOTAL_RATE msgs/s (0: as fast as possible)] [-w INFLIGHT]
//        [-b BROKER_PID] [-W (one write per PUBLISH, as most clients do)]
// Prints: delivered, elapsed, msgs/s, latency percentiles (send time in the payload), CPU of
// the broker (its threads' schedstat) and of mqload. bench/compare.py builds and runs it beside
// `skeeter bench`: it costs less CPU than either broker, so its figures are the broker's.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

typedef struct {
  int fd;
  int is_pub;
  unsigned char *rbuf;
  size_t rlen, rcap;
  unsigned char *wbuf;
  size_t wlen, wcap, woff;
  uint64_t sent, acked, received;
  int want_out;
} Conn;

static int single_writes = 0;
static int port = 1883, nsubs = 1, npubs = 1, qos = 0, size = 64, inflight = 100;
static long msgs = 100000;
static double rate = 0;
static const char *topic = "bench/t";
static int broker_pid = 0;
static int epfd;
static uint64_t *lat;
static size_t nlat, latcap;

static void die(const char *what) { perror(what); exit(1); }

static void put_len(unsigned char **p, size_t len) {
  do {
    unsigned char b = len % 128;
    len /= 128;
    if (len) b |= 0x80;
    *(*p)++ = b;
  } while (len);
}

static void ensure_w(Conn *c, size_t more) {
  if (c->woff > 0 && c->woff == c->wlen) c->woff = c->wlen = 0;
  if (c->wlen + more > c->wcap) {
    if (c->woff) {
      memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
      c->wlen -= c->woff;
      c->woff = 0;
    }
    while (c->wlen + more > c->wcap) c->wcap = c->wcap ? c->wcap * 2 : 65536;
    c->wbuf = realloc(c->wbuf, c->wcap);
  }
}

static void blocking_io(int fd, void *buf, size_t len, int writing) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = writing ? write(fd, (char *)buf + done, len - done) : read(fd, (char *)buf + done, len - done);
    if (n <= 0) die(writing ? "write" : "read");
    done += n;
  }
}

static int connect_one(const char *id) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(0x7f000001);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  unsigned char pkt[256], *p = pkt;
  size_t idlen = strlen(id);
  *p++ = 0x10;
  put_len(&p, 10 + 2 + idlen);
  memcpy(p, "\0\4MQTT\4\2\0\x3c", 10);
  p += 10;
  *p++ = idlen >> 8; *p++ = idlen & 0xff;
  memcpy(p, id, idlen); p += idlen;
  blocking_io(fd, pkt, p - pkt, 1);
  unsigned char ack[4];
  blocking_io(fd, ack, 4, 0);
  if (ack[0] != 0x20 || ack[3] != 0) { fprintf(stderr, "bad CONNACK\n"); exit(1); }
  return fd;
}

static void subscribe_one(int fd) {
  unsigned char pkt[256], *p = pkt;
  size_t tl = strlen(topic);
  *p++ = 0x82;
  put_len(&p, 2 + 2 + tl + 1);
  *p++ = 0; *p++ = 1;
  *p++ = tl >> 8; *p++ = tl & 0xff;
  memcpy(p, topic, tl); p += tl;
  *p++ = qos;
  blocking_io(fd, pkt, p - pkt, 1);
  unsigned char ack[5];
  blocking_io(fd, ack, 5, 0);
  if (ack[0] != 0x90 || ack[4] > 2) { fprintf(stderr, "bad SUBACK\n"); exit(1); }
}

static void set_events(Conn *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev)) die("epoll_ctl");
  c->want_out = out;
}

static size_t pkt_len;  // one PUBLISH, whole

static void queue_publish(Conn *c) {
  ensure_w(c, pkt_len);
  unsigned char *p = c->wbuf + c->wlen;
  size_t tl = strlen(topic);
  *p++ = 0x30 | (qos << 1);
  put_len(&p, 2 + tl + (qos ? 2 : 0) + size);
  *p++ = tl >> 8; *p++ = tl & 0xff;
  memcpy(p, topic, tl); p += tl;
  if (qos) {
    uint16_t id = (c->sent % 65535) + 1;
    *p++ = id >> 8; *p++ = id & 0xff;
  }
  uint64_t t = now_ns();
  memcpy(p, &t, 8);
  memcpy(p + 8, &c->sent, 8);
  memset(p + 16, 'x', size - 16);
  p += size;
  c->wlen = p - c->wbuf;
  c->sent++;
}

static int flush_w(Conn *c) {
  while (c->woff < c->wlen) {
    ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      die("write");
    }
    c->woff += n;
  }
  c->woff = c->wlen = 0;
  return 1;
}

static uint64_t total_received, total_expected;

static void record_latency(uint64_t ns) {
  if (nlat == latcap) { latcap = latcap ? latcap * 2 : 1 << 20; lat = realloc(lat, latcap * 8); }
  lat[nlat++] = ns;
}

static void on_read(Conn *c) {
  for (;;) {
    if (c->rcap - c->rlen < 65536) { c->rcap = c->rcap ? c->rcap * 2 : 262144; c->rbuf = realloc(c->rbuf, c->rcap); }
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n < 0) { if (errno == EAGAIN) break; die("read"); }
    if (n == 0) { fprintf(stderr, "broker closed a connection\n"); exit(1); }
    c->rlen += n;
    if ((size_t)n < c->rcap - c->rlen + n) { /* short read: drain frames then stop */ }
    size_t off = 0;
    uint64_t t = now_ns();
    for (;;) {
      if (c->rlen - off < 2) break;
      size_t rl = 0, mul = 1, i = off + 1;
      int ok = 0;
      while (i < c->rlen) {
        unsigned char b = c->rbuf[i++];
        rl += (b & 127) * mul; mul *= 128;
        if (!(b & 128)) { ok = 1; break; }
      }
      if (!ok || c->rlen - i < rl) break;
      unsigned char type = c->rbuf[off] >> 4, q = (c->rbuf[off] >> 1) & 3;
      unsigned char *body = c->rbuf + i;
      if (type == 3) {
        size_t tl = (body[0] << 8) | body[1];
        size_t pl = 2 + tl + (q ? 2 : 0);
        if (rl >= pl + 8) { uint64_t ts; memcpy(&ts, body + pl, 8); record_latency(t - ts); }
        if (q == 1) {
          ensure_w(c, 4);
          unsigned char *w = c->wbuf + c->wlen;
          w[0] = 0x40; w[1] = 2; w[2] = body[2 + tl]; w[3] = body[3 + tl];
          c->wlen += 4;
        }
        c->received++;
        total_received++;
      } else if (type == 4) {
        c->acked++;
      }
      off = i + rl;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    if ((size_t)n < 65536) break;
  }
  if (c->wlen > c->woff && !flush_w(c) && !c->want_out) set_events(c, 1);
}

static uint64_t broker_cpu_ns(void) {
  if (!broker_pid) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", broker_pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  uint64_t sum = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p2[300];
    snprintf(p2, sizeof p2, "/proc/%d/task/%s/schedstat", broker_pid, e->d_name);
    FILE *f = fopen(p2, "r");
    if (!f) continue;
    unsigned long long ns;
    if (fscanf(f, "%llu", &ns) == 1) sum += ns;
    fclose(f);
  }
  closedir(d);
  return sum;
}

static uint64_t self_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int o;
  while ((o = getopt(argc, argv, "p:t:s:P:n:q:z:r:w:b:W")) != -1) {
    switch (o) {
      case 'p': port = atoi(optarg); break;
      case 't': topic = optarg; break;
      case 's': nsubs = atoi(optarg); break;
      case 'P': npubs = atoi(optarg); break;
      case 'n': msgs = atol(optarg); break;
      case 'q': qos = atoi(optarg); break;
      case 'z': size = atoi(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 'w': inflight = atoi(optarg); break;
      case 'b': broker_pid = atoi(optarg); break;
      case 'W': single_writes = 1; break;
      default: fprintf(stderr, "bad option\n"); return 2;
    }
  }
  if (size < 16) size = 16;
  pkt_len = 1 + 4 + 2 + strlen(topic) + 2 + size;
  epfd = epoll_create1(0);
  Conn *conns = calloc(nsubs + npubs, sizeof(Conn));
  char id[64];
  for (int i = 0; i < nsubs; i++) {
    snprintf(id, sizeof id, "mqload-sub-%d-%d", getpid(), i);
    conns[i].fd = connect_one(id);
    subscribe_one(conns[i].fd);
  }
  for (int i = 0; i < npubs; i++) {
    snprintf(id, sizeof id, "mqload-pub-%d-%d", getpid(), i);
    conns[nsubs + i].fd = connect_one(id);
    conns[nsubs + i].is_pub = 1;
  }
  for (int i = 0; i < nsubs + npubs; i++) {
    fcntl(conns[i].fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  total_expected = (uint64_t)nsubs * npubs * msgs;
  usleep(100000);
  uint64_t b0 = broker_cpu_ns(), s0 = self_cpu_ns(), t0 = now_ns(), last_progress = t0;
  uint64_t last_count = 0;
  struct epoll_event evs[256];
  while (total_received < total_expected) {
    uint64_t t = now_ns();
    int pending_pub = 0;
    int timeout_ms = 100;
    for (int i = nsubs; i < nsubs + npubs; i++) {
      Conn *c = &conns[i];
      if ((long)c->sent >= msgs) continue;
      long allowed = msgs;
      if (rate > 0) {
        double per = rate / npubs;
        allowed = (long)((t - t0) / 1e9 * per) + 1;
        if (allowed > msgs) allowed = msgs;
        if ((long)c->sent >= allowed) {
          double next = (c->sent) / per * 1e9 + t0;
          int ms = (int)((next - t) / 1e6);
          if (ms < timeout_ms) timeout_ms = ms < 0 ? 0 : ms;
          pending_pub = 1;
          continue;
        }
      }
      if (c->wlen - c->woff > 65536) { pending_pub = 1; continue; }  // wait for EPOLLOUT
      int batch = 0;
      while ((long)c->sent < allowed && batch < 256 && (!qos || c->sent - c->acked < (uint64_t)inflight)) {
        queue_publish(c);
        batch++;
        if (single_writes && !flush_w(c)) break;
      }
      if (batch && !flush_w(c) && !c->want_out) set_events(c, 1);
      if ((long)c->sent < msgs) pending_pub = 1;
      if (batch && (long)c->sent < allowed && (!qos || c->sent - c->acked < (uint64_t)inflight)) timeout_ms = 0;
    }
    (void)pending_pub;
    int n = epoll_wait(epfd, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
      Conn *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLIN) on_read(c);
      if (evs[i].events & EPOLLOUT) {
        if (flush_w(c) && c->want_out) set_events(c, 0);
      }
    }
    if (total_received != last_count) { last_count = total_received; last_progress = now_ns(); }
    else if (now_ns() - last_progress > 5000000000ull) {
      fprintf(stderr, "stalled: %llu of %llu received\n", (unsigned long long)total_received, (unsigned long long)total_expected);
      break;
    }
  }
  uint64_t t1 = now_ns(), b1 = broker_cpu_ns(), s1 = self_cpu_ns();
  double secs = (t1 - t0) / 1e9;
  qsort(lat, nlat, 8, cmp64);
#define PCT(p) (nlat ? lat[(size_t)((nlat - 1) * (p))] / 1e3 : 0)
  printf("subs=%d pubs=%d qos=%d size=%d rate=%.0f: delivered %llu/%llu in %.3f s = %.0f msg/s; "
         "latency us p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f; broker cpu %.2f s (%.0f%%, %.2f us/msg); "
         "mqload cpu %.2f s\n",
         nsubs, npubs, qos, size, rate, (unsigned long long)total_received,
         (unsigned long long)total_expected, secs, total_received / secs, PCT(0.5), PCT(0.9), PCT(0.99),
         PCT(0.999), PCT(1.0), (b1 - b0) / 1e9, (b1 - b0) / 1e9 / secs * 100,
         total_received ? (b1 - b0) / 1e3 / total_received : 0, (s1 - s0) / 1e9);
  return total_received == total_expected ? 0 : 1;
}
