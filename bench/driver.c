/*
 * wskit benchmark driver: a small epoll WebSocket client that pre-builds masked
 * frames, keeps a fixed number of messages in flight per connection, verifies
 * every byte it receives, and reads the server's CPU time and RSS from /proc.
 * Built by bench/run.ts with gcc into bench/build/ at bench time.
 *
 *   driver echo    -p PORT -x PID -c CONNS -P INFLIGHT -s SIZE [-b] [-t SECS] [-w WARMUP]
 *   driver fanout  -p PORT -x PID -c SUBSCRIBERS -P WINDOW -s SIZE [-t SECS] [-w WARMUP]
 *   driver connect -p PORT -x PID -n CONNS -C CONCURRENCY [-k HOLD_SECS]
 *   driver hold    -p PORT -x PID -n CONNS -C CONCURRENCY -a SOURCES [-B BLOCK] -i IDLE_SECS -A ACTIVE_SECS -e SAMPLE_PER_S -r PROBE_HZ [-W] [-T RAMP_SECS]
 *
 * Prints one line: RESULT key=value ...; exit status 1 on any protocol or
 * verification error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* Linux 4.2 */
#endif

static int port = 8765, conns = 1, inflight = 1, binary = 0, npids = 0;
static long size = 64;
static double secs = 5, warm = 1, hold = 1;
static int nconnect = 1000, concurrency = 64;
static int pids[4];
static long errors = 0;
static int deflate_mode = 0; /* -z: offer permessage-deflate, send compressed messages */
static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double proc_cpu(int pid) { /* utime + stime of pid, in seconds */
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  unsigned long ut = 0, st = 0;
  /* after ") " come fields 3.. ; utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
  return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static double servers_cpu(void) {
  double total = 0;
  for (int i = 0; i < npids; i++) total += proc_cpu(pids[i]);
  return total;
}

static long proc_rss_kib(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  long kib = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
  fclose(f);
  return kib;
}

static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
  perror(what);
  printf("RESULT mode=failed errors=1\n");
  exit(1);
}

/* ------------------------------------------------------------ SHA-1, base64 */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  uint8_t block[128];
  size_t full = len / 64 * 64, rest = len - full;
  int blocks_tail = rest + 9 > 64 ? 2 : 1;
  memset(block, 0, sizeof block);
  memcpy(block, msg + full, rest);
  block[rest] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) block[blocks_tail * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
  size_t nblocks = full / 64 + blocks_tail;
  for (size_t b = 0; b < nblocks; b++) {
    const uint8_t *p = b < full / 64 ? msg + b * 64 : block + (b - full / 64) * 64;
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) f = (bb & c) | (~bb & d), k = 0x5A827999;
      else if (i < 40) f = bb ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDC;
      else f = bb ^ c ^ d, k = 0xCA62C1D6;
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(bb, 30), bb = a, a = t;
    }
    h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e;
  }
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void base64(const uint8_t *in, size_t len, char *out) {
  static const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    out[o++] = i + 1 < len ? t[v >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? t[v & 63] : '=';
  }
  out[o] = 0;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* Builds an upgrade request into req; writes the expected accept value to accept. */
static int build_request(char *req, size_t cap, const char *path, char *accept) {
  uint8_t raw[16], digest[20];
  char key[32], concat[96];
  for (int i = 0; i < 16; i++) raw[i] = (uint8_t)next_random();
  base64(raw, 16, key);
  snprintf(concat, sizeof concat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  sha1((const uint8_t *)concat, strlen(concat), digest);
  base64(digest, 20, accept);
  return snprintf(req, cap,
                  "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                  path, port, key,
                  deflate_mode ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
                                 "server_no_context_takeover\r\n" : "");
}

/* Whether head (NUL-terminated, complete) is a valid 101 with the expected accept value. */
static int check_response(const char *head, const char *accept) {
  if (strncmp(head, "HTTP/1.1 101", 12) != 0) return 0;
  const char *h = strcasestr(head, "\r\nsec-websocket-accept:");
  if (!h) return 0;
  h += 23;
  while (*h == ' ') h++;
  size_t n = strlen(accept);
  return strncmp(h, accept, n) == 0 && (h[n] == '\r' || h[n] == ' ');
}

/* Source addresses connections are spread over: 127.0.0.1-4 by default; `hold` uses 127.0.1.1 and up (-a). */
static uint32_t source_base = 0x7f000001, sources = 4;

static int open_socket(int src_index, int nonblocking) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* The port is picked at connect(), per destination, not at bind(): a bind() to port 0 searches the whole range for
   * a port free of every socket, and with the previous runs' tens of thousands of TIME_WAIT sockets that search
   * kept the driver's CPU busy in the kernel for 10-40 s of a run (the "stalled" connect runs). */
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET};
  src.sin_addr.s_addr = htonl(source_base + (uint32_t)src_index % sources);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind");
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
  dst.sin_addr.s_addr = htonl(0x7f000001);
  /* EADDRNOTAVAIL: this source address ran out of ephemeral ports toward the server (about 28k each). */
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) die("connect (EADDRNOTAVAIL: use more source addresses)");
  return fd;
}

/* ------------------------------------------------------------ frames */

typedef struct {
  int fd;
  uint8_t *out;
  size_t out_cap, out_head, out_tail;
  int want_out;
  uint8_t hdr[14];
  int hdr_have, in_payload, opcode, fin;
  uint64_t plen, ppos;
  uint64_t sent, recvd;
  double *sent_at; /* ring of `inflight` send times */
  int rsv1;
  uint8_t *zbuf; /* a compressed message being received */
  size_t zlen;
} conn_t;

static uint8_t *tmpl;      /* the unmasked payload (first 8 bytes replaced by the sequence number) */
static uint8_t *frame;     /* the masked frame for tmpl */
static size_t frame_len, frame_hdr;
static int ep;
static conn_t *cs;
static z_stream zd, zi;
static uint8_t *zscratch;
static size_t zcap;

static void seq_digits(uint64_t seq, uint8_t out[8]) {
  static const char *hex = "0123456789abcdef";
  for (int i = 0; i < 8; i++) out[i] = hex[(seq >> (28 - 4 * i)) & 15];
}

static void build_frame(void) {
  tmpl = malloc(size + 1);
  for (long i = 0; i < size; i++) tmpl[i] = binary ? (uint8_t)(i * 131 + 7) : (uint8_t)('a' + (i * 7) % 26);
  frame_hdr = (size < 126 ? 2 : size < 65536 ? 4 : 10) + 4;
  frame_len = frame_hdr + size;
  frame = malloc(frame_len);
  uint8_t *f = frame;
  f[0] = 0x80 | (binary ? 2 : 1);
  if (size < 126) f[1] = 0x80 | size;
  else if (size < 65536) f[1] = 0x80 | 126, f[2] = size >> 8, f[3] = size & 255;
  else {
    f[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) f[2 + i] = (uint8_t)((uint64_t)size >> (56 - 8 * i));
  }
  memcpy(f + frame_hdr - 4, MASK, 4);
  for (long i = 0; i < size; i++) f[frame_hdr + i] = tmpl[i] ^ MASK[i & 3];
  if (deflate_mode) {
    zcap = 2 * size + 1024;
    zscratch = malloc(zcap);
    if (deflateInit2(&zd, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
    if (inflateInit2(&zi, -15) != Z_OK) die("inflateInit2");
    frame_len = size + size / 8 + 64; /* room for a compressed frame that grew */
  }
}

/* Verifies a whole received payload (after inflating) against message seq. */
static int verify_whole(const uint8_t *p, size_t n, uint64_t seq) {
  if ((long)n != size) return 0;
  uint8_t digits[8];
  seq_digits(seq, digits);
  size_t d = n < 8 ? n : 8;
  return memcmp(p, digits, d) == 0 && memcmp(p + d, tmpl + d, n - d) == 0;
}

static void want_write(conn_t *c, int on) {
  if (c->want_out == on) return;
  c->want_out = on;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Compresses the message with sequence number seq into a masked frame with RSV1 set at f; returns its length. */
static size_t deflate_frame(uint64_t seq, uint8_t *f) {
  memcpy(zscratch, tmpl, size);
  uint8_t digits[8];
  seq_digits(seq, digits);
  memcpy(zscratch, digits, size < 8 ? size : 8);
  uint8_t *z = zscratch + size;
  deflateReset(&zd);
  zd.next_in = zscratch, zd.avail_in = size, zd.next_out = z, zd.avail_out = zcap - size;
  if (deflate(&zd, Z_SYNC_FLUSH) != Z_OK || zd.avail_in != 0) { fprintf(stderr, "driver: deflate failed\n"); exit(1); }
  size_t n = zd.next_out - z - 4; /* RFC 7692 §7.2.1: drop the 00 00 ff ff tail */
  size_t h = (n < 126 ? 2 : n < 65536 ? 4 : 10);
  f[0] = 0x80 | 0x40 | (binary ? 2 : 1);
  if (n < 126) f[1] = 0x80 | n;
  else if (n < 65536) f[1] = 0x80 | 126, f[2] = n >> 8, f[3] = n & 255;
  else { f[1] = 0x80 | 127; for (int i = 0; i < 8; i++) f[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i)); }
  memcpy(f + h, MASK, 4);
  for (size_t i = 0; i < n; i++) f[h + 4 + i] = z[i] ^ MASK[i & 3];
  return h + 4 + n;
}

static void queue_message(conn_t *c, double t) {
  if (c->out_tail + frame_len > c->out_cap) {
    memmove(c->out, c->out + c->out_head, c->out_tail - c->out_head);
    c->out_tail -= c->out_head;
    c->out_head = 0;
  }
  uint8_t *f = c->out + c->out_tail;
  if (deflate_mode) {
    c->out_tail += deflate_frame(c->sent, f);
    if (c->sent_at) c->sent_at[c->sent % inflight] = t;
    c->sent++;
    return;
  }
  memcpy(f, frame, frame_len);
  uint8_t digits[8];
  seq_digits(c->sent, digits);
  for (long i = 0; i < 8 && i < size; i++) f[frame_hdr + i] = digits[i] ^ MASK[i & 3];
  c->out_tail += frame_len;
  if (c->sent_at) c->sent_at[c->sent % inflight] = t;
  c->sent++;
}

static void flush(conn_t *c) {
  while (c->out_head < c->out_tail) {
    ssize_t n = write(c->fd, c->out + c->out_head, c->out_tail - c->out_head);
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (errno == EINTR) continue;
      fprintf(stderr, "driver: write: %s\n", strerror(errno));
      errors++;
      return;
    }
    c->out_head += n;
  }
  if (c->out_head == c->out_tail) c->out_head = c->out_tail = 0;
  want_write(c, c->out_head < c->out_tail);
}

/* Called for each complete data frame's payload, in order, piecewise. */
typedef void (*frame_done_fn)(conn_t *c, double t);

static void fail(conn_t *c, const char *why) {
  if (errors < 5) fprintf(stderr, "driver: connection %ld: %s\n", (long)(c - cs), why);
  errors++;
}

/* Parses received bytes; verifies each payload byte against the expected message. */
static void parse(conn_t *c, const uint8_t *buf, size_t n, frame_done_fn done) {
  size_t pos = 0;
  while (pos < n) {
    if (!c->in_payload) {
      while (c->hdr_have < 2 && pos < n) c->hdr[c->hdr_have++] = buf[pos++];
      if (c->hdr_have < 2) return;
      int l7 = c->hdr[1] & 0x7f, need = l7 < 126 ? 2 : l7 == 126 ? 4 : 10;
      if (c->hdr[1] & 0x80) { fail(c, "masked server frame"); return; }
      while (c->hdr_have < need && pos < n) c->hdr[c->hdr_have++] = buf[pos++];
      if (c->hdr_have < need) return;
      uint64_t len = l7;
      if (l7 == 126) len = c->hdr[2] << 8 | c->hdr[3];
      else if (l7 == 127) { len = 0; for (int i = 0; i < 8; i++) len = len << 8 | c->hdr[2 + i]; }
      c->opcode = c->hdr[0] & 0x0f;
      c->fin = c->hdr[0] >> 7;
      c->rsv1 = (c->hdr[0] & 0x40) != 0;
      if ((c->hdr[0] & 0x30) || (c->rsv1 && !deflate_mode)) { fail(c, "RSV bits set"); return; }
      c->hdr_have = 0;
      c->plen = len;
      c->ppos = 0;
      c->in_payload = 1;
      if (c->opcode == 8) { fail(c, "server sent a close frame"); return; }
      if (c->opcode < 8) {
        if (c->opcode != (binary ? 2 : 1) || !c->fin) { fail(c, "unexpected opcode or fragmented frame"); return; }
        if (!c->rsv1 && (long)len != size) { fail(c, "echoed message has the wrong length"); return; }
        if (c->rsv1) {
          if (len > (uint64_t)zcap) { fail(c, "compressed message too large"); return; }
          if (!c->zbuf) c->zbuf = malloc(zcap + 4);
          c->zlen = 0;
        }
      }
    }
    uint64_t take = c->plen - c->ppos;
    if (take > n - pos) take = n - pos;
    if (c->opcode < 8 && c->rsv1) {
      memcpy(c->zbuf + c->zlen, buf + pos, take);
      c->zlen += take;
    } else if (c->opcode < 8) {
      uint8_t digits[8];
      seq_digits(c->recvd, digits);
      uint64_t i = 0, p = c->ppos;
      for (; i < take && p < 8; i++, p++)
        if (buf[pos + i] != digits[p]) { fail(c, "payload byte differs (sequence)"); return; }
      if (i < take && memcmp(buf + pos + i, tmpl + p, take - i) != 0) { fail(c, "payload byte differs"); return; }
    }
    pos += take;
    c->ppos += take;
    if (c->ppos == c->plen) {
      c->in_payload = 0;
      if (c->opcode < 8 && c->rsv1) {
        memcpy(c->zbuf + c->zlen, "\x00\x00\xff\xff", 4);
        inflateReset(&zi);
        zi.next_in = c->zbuf, zi.avail_in = c->zlen + 4, zi.next_out = zscratch, zi.avail_out = zcap;
        int rc = inflate(&zi, Z_SYNC_FLUSH);
        if ((rc != Z_OK && rc != Z_STREAM_END) || !verify_whole(zscratch, zcap - zi.avail_out, c->recvd)) {
          fail(c, "inflated payload differs");
          return;
        }
      }
      if (c->opcode < 8) {
        done(c, 0);
        c->recvd++;
      }
    }
  }
}

/* Blocking handshake of a new connection; then the socket is made non-blocking. */
static int handshake(int index, const char *path) {
  int fd = open_socket(index, 0);
  char req[512], accept[32], head[4096];
  int len = build_request(req, sizeof req, path, accept);
  if (write(fd, req, len) != len) die("write");
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, head + have, sizeof head - 1 - have);
    if (n <= 0) die("handshake read");
    have += n;
    head[have] = 0;
    char *end = strstr(head, "\r\n\r\n");
    if (end) {
      if ((size_t)(end + 4 - head) != have) { fprintf(stderr, "driver: data after the handshake\n"); errors++; }
      break;
    }
    if (have == sizeof head - 1) break;
  }
  if (!check_response(head, accept)) { fprintf(stderr, "driver: bad handshake response: %.80s\n", head); errors++; }
  if (deflate_mode && !strcasestr(head, "\r\nsec-websocket-extensions: permessage-deflate")) {
    fprintf(stderr, "driver: permessage-deflate not negotiated\n");
    printf("RESULT mode=unsupported errors=0\n");
    exit(3);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void setup(int n, const char *path, size_t out_cap, int timed) {
  ep = epoll_create1(0);
  cs = calloc(n, sizeof *cs);
  for (int i = 0; i < n; i++) {
    conn_t *c = &cs[i];
    c->fd = handshake(i, path);
    c->out_cap = out_cap;
    c->out = out_cap ? malloc(out_cap) : NULL;
    if (timed) c->sent_at = calloc(inflight, sizeof(double));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
}

/* ------------------------------------------------------------ echo */

static int measuring = 0, latency_mode = 0;
static uint64_t done_count = 0;
static double *rtts;
static size_t nrtt, rtt_cap;

static void echo_done(conn_t *c, double t) {
  (void)t;
  if (!measuring) return;
  done_count++;
  if (latency_mode) {
    if (nrtt == rtt_cap) rtts = realloc(rtts, (rtt_cap = rtt_cap * 2 + 4096) * sizeof *rtts);
    rtts[nrtt++] = now() - c->sent_at[c->recvd % inflight];
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static size_t read_size = 256 * 1024;

static void pump(conn_t *c, uint8_t *buf, frame_done_fn done) {
  ssize_t n = read(c->fd, buf, read_size);
  if (n > 0) parse(c, buf, n, done);
  else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    fail(c, "connection closed by the server");
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  }
}

static void run_echo(void) {
  latency_mode = conns == 1 && inflight == 1;
  build_frame();
  setup(conns, "/echo", frame_len * (inflight + 1), 1);
  uint8_t *buf = malloc(read_size);
  double t = now();
  for (int i = 0; i < conns; i++) {
    for (int k = 0; k < inflight; k++) queue_message(&cs[i], t);
    flush(&cs[i]);
  }
  double start = now(), t0 = start + warm, t1 = t0 + secs, cpu0 = 0, self0 = 0;
  struct epoll_event evs[256];
  while (errors == 0) {
    t = now();
    if (!measuring && t >= t0) { measuring = 1; cpu0 = servers_cpu(); self0 = self_cpu(); t0 = t; }
    if (t >= t1) break;
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        uint64_t before = c->recvd;
        pump(c, buf, echo_done);
        if (c->recvd != before) {
          double tq = now();
          while (c->sent - c->recvd < (uint64_t)inflight) queue_message(c, tq);
          flush(c);
        }
      } else if (evs[i].events & EPOLLOUT) {
        flush(c);
      }
    }
  }
  t = now();
  double cpu = servers_cpu() - cpu0, self = self_cpu() - self0, el = t - t0;
  if (!measuring) el = 0;
  double mb = (double)done_count * size / 1e6;
  printf("RESULT mode=echo conns=%d inflight=%d size=%ld msgs=%llu secs=%.3f msg_per_s=%.0f mb_per_s=%.2f "
         "srv_cpu_s=%.3f msg_per_cpu_s=%.0f mb_per_cpu_s=%.2f srv_cpu_pct=%.0f lg_cpu_pct=%.0f",
         conns, inflight, size, (unsigned long long)done_count, el, el > 0 ? done_count / el : 0, el > 0 ? mb / el : 0,
         cpu, cpu > 0 ? done_count / cpu : 0, cpu > 0 ? mb / cpu : 0, el > 0 ? 100 * cpu / el : 0,
         el > 0 ? 100 * self / el : 0);
  if (latency_mode && nrtt > 0) {
    qsort(rtts, nrtt, sizeof *rtts, cmp_double);
    printf(" rtt_p50_us=%.1f rtt_p99_us=%.1f", rtts[nrtt / 2] * 1e6, rtts[(size_t)(nrtt * 0.99)] * 1e6);
  }
  printf(" errors=%ld\n", errors);
}

/* ------------------------------------------------------------ fanout */

static uint64_t pub_sent = 0, pub_done = 0, deliveries = 0;
static uint32_t *dcount; /* deliveries of message seq, at seq % inflight */

static void fanout_done(conn_t *c, double t) {
  (void)t;
  uint64_t seq = c->recvd;
  if (seq >= pub_sent) { fail(c, "received a message that was not published"); return; }
  if (++dcount[seq % inflight] == (uint32_t)conns && seq == pub_done) {
    while (pub_done < pub_sent && dcount[pub_done % inflight] == (uint32_t)conns) dcount[pub_done++ % inflight] = 0;
  }
  if (measuring) deliveries++;
}

static void run_fanout(void) {
  build_frame();
  setup(conns, "/broadcast", 0, 0);
  conn_t *pub = &cs[0];
  pub->out_cap = frame_len * (inflight + 1);
  pub->out = malloc(pub->out_cap);
  dcount = calloc(inflight, sizeof *dcount);
  uint8_t *buf = malloc(read_size);
  usleep(200 * 1000); /* let the server register every subscriber before the first message */
  double start = now(), t0 = start + warm, t1 = t0 + secs, cpu0 = 0, self0 = 0, t;
  struct epoll_event evs[256];
  while (errors == 0) {
    t = now();
    if (!measuring && t >= t0) { measuring = 1; cpu0 = servers_cpu(); self0 = self_cpu(); t0 = t; }
    if (t >= t1) break;
    if (pub_sent - pub_done < (uint64_t)inflight) {
      /* the publisher's own sequence numbers are those of the messages published */
      while (pub_sent - pub_done < (uint64_t)inflight) { pub->sent = pub_sent++; queue_message(pub, t); }
      flush(pub);
    }
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) pump(c, buf, fanout_done);
      else if (evs[i].events & EPOLLOUT) flush(c);
    }
  }
  t = now();
  double cpu = servers_cpu() - cpu0, self = self_cpu() - self0, el = measuring ? t - t0 : 0;
  printf("RESULT mode=fanout subscribers=%d window=%d size=%ld deliveries=%llu secs=%.3f deliv_per_s=%.0f "
         "srv_cpu_s=%.3f deliv_per_cpu_s=%.0f srv_cpu_pct=%.0f lg_cpu_pct=%.0f errors=%ld\n",
         conns, inflight, size, (unsigned long long)deliveries, el, el > 0 ? deliveries / el : 0, cpu,
         cpu > 0 ? deliveries / cpu : 0, el > 0 ? 100 * cpu / el : 0, el > 0 ? 100 * self / el : 0, errors);
}

/* ------------------------------------------------------------ connect */

typedef struct {
  int fd, state; /* 0 connecting, 1 request sent, 2 open */
  char accept[32];
  char head[1024];
  int have;
} hs_t;

static void run_connect(void) {
  ep = epoll_create1(0);
  hs_t *hs = calloc(nconnect, sizeof *hs);
  long rss0 = npids ? proc_rss_kib(pids[0]) : 0;
  double cpu0 = servers_cpu(), t0 = now(), deadline = t0 + 60;
  int started = 0, active = 0, opened = 0;
  struct epoll_event evs[256];
  char req[512];
  while (opened < nconnect && errors == 0 && now() < deadline) {
    while (active < concurrency && started < nconnect) {
      hs_t *h = &hs[started];
      h->fd = open_socket(started, 1);
      struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = h};
      epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &ev);
      started++, active++;
    }
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      hs_t *h = evs[i].data.ptr;
      if (h->state == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) { fprintf(stderr, "driver: connect: %s\n", strerror(err)); errors++; break; }
        int len = build_request(req, sizeof req, "/", h->accept);
        if (write(h->fd, req, len) != len) { fprintf(stderr, "driver: short request write\n"); errors++; break; }
        h->state = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
        epoll_ctl(ep, EPOLL_CTL_MOD, h->fd, &ev);
      } else if (h->state == 1) {
        ssize_t r = read(h->fd, h->head + h->have, sizeof h->head - 1 - h->have);
        if (r <= 0) { fprintf(stderr, "driver: handshake read failed\n"); errors++; break; }
        h->have += r;
        h->head[h->have] = 0;
        char *end = strstr(h->head, "\r\n\r\n");
        if (!end) continue;
        if (!check_response(h->head, h->accept)) { fprintf(stderr, "driver: bad handshake: %.60s\n", h->head); errors++; break; }
        h->state = 2;
        epoll_ctl(ep, EPOLL_CTL_DEL, h->fd, NULL);
        active--, opened++;
      }
    }
  }
  double t1 = now(), cpu1 = servers_cpu();
  /* Hold every connection idle, then read the server's memory. */
  double until = now() + hold;
  while (now() < until) usleep(50 * 1000);
  long rss1 = npids ? proc_rss_kib(pids[0]) : 0;
  double el = t1 - t0, cpu = cpu1 - cpu0;
  printf("RESULT mode=connect conns=%d opened=%d secs=%.3f hs_per_s=%.0f srv_cpu_s=%.3f hs_per_cpu_s=%.0f "
         "rss_before_kib=%ld rss_idle_kib=%ld rss_per_conn_kib=%.2f errors=%ld\n",
         nconnect, opened, el, opened / el, cpu, cpu > 0 ? opened / cpu : 0, rss0, rss1,
         opened ? (double)(rss1 - rss0) / opened : 0, errors + (opened < nconnect));
  for (int i = 0; i < started; i++) close(hs[i].fd);
  if (opened < nconnect) errors++;
}

/* ------------------------------------------------------------ hold */

/*
 * Many connections held open: a ramp of non-blocking handshakes (CONCURRENCY in flight, source addresses 127.0.1.1
 * to 127.0.1.SOURCES), then an idle window (only the server's keepalive pings, each answered by a masked pong), then
 * an active window (a probe connection's paced 64-byte echoes timed, a rotating sample of the held connections
 * echoing). The server's RSS is read at every tenth of the ramp and every second of the hold.
 */
static int hold_sources = 1;
/* -B: the third byte of the source addresses, 127.0.BLOCK.1 and up: drivers run side by side (one per server
 * process) each take their own block, so no two share a source address's ports. */
static int hold_block = 1;
static double idle_secs = 20, active_secs = 20, sample_per_s = 1000, probe_hz = 100;
/* -W: after the ramp, print a RAMPED line and wait for "go" on stdin (several drivers, one per server process,
 * start their idle windows together). */
static int wait_for_go = 0;

#define HOLD_MSG 64
#define HOLD_FRAME_MAX 127 /* every server frame here is under 126 bytes: pings, 64-byte echoes */

typedef struct {
  int fd;
  uint8_t state; /* 0 connecting, 1 request sent, 2 open, 3 lost (counted, closed, left alone) */
  uint8_t tries; /* handshakes tried for this slot */
  uint8_t have;  /* bytes of an incomplete server frame in buf */
  uint8_t buf[HOLD_FRAME_MAX];
  uint32_t sent, recvd; /* sample echoes sent and verified */
  char *hs;             /* while opening: the expected accept value (32 bytes), then the response head */
  int hs_have;
} held_t;

static held_t *held;
static int nheld;
static held_t probe;
static uint64_t pings_seen = 0, echoes_ok = 0, closed_by_server = 0;
static int probe_waiting = 0;
static double probe_sent_at, probe_record_from;
static double *probe_rtts;
static size_t nprobe, probe_cap;

/*
 * A held connection that failed (the server closed it, a frame that is not what was sent...) is counted as lost and
 * dropped; the measurement goes on with the others: one lost connection among 100,000 is a figure to report, not a
 * reason to stop. The first reason is reported; the first few are printed.
 */
static uint64_t lost = 0;
static const char *lost_why = NULL;
static void hold_fail(held_t *c, const char *why) {
  if (c->state == 3) return;
  if (lost < 5) fprintf(stderr, "driver: held connection %ld: %s\n", c == &probe ? -1L : (long)(c - held), why);
  if (lost_why == NULL) lost_why = why;
  lost++;
  c->state = 3;
}

/* Closes a lost connection with a reset (no TIME_WAIT) and forgets it. */
static void hold_drop(held_t *c) {
  if (c->fd < 0) return;
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(c->fd);
  c->fd = -1;
}

/* The sample message number seq of connection index (the probe is index -1): 64 printable bytes. */
static void hold_message(long index, uint32_t seq, uint8_t out[HOLD_MSG + 1]) {
  int n = snprintf((char *)out, HOLD_MSG + 1, "hold %ld message %u ", index, seq);
  memset(out + n, 'x', HOLD_MSG - n);
}

/* Writes one masked client frame; the sockets are idle, so a tiny frame fits their buffers whole. */
static void hold_send(held_t *c, int opcode, const uint8_t *payload, size_t len) {
  uint8_t f[6 + 125];
  f[0] = 0x80 | opcode;
  f[1] = 0x80 | (uint8_t)len;
  memcpy(f + 2, MASK, 4);
  for (size_t i = 0; i < len; i++) f[6 + i] = payload[i] ^ MASK[i & 3];
  if (write(c->fd, f, 6 + len) != (ssize_t)(6 + len)) hold_fail(c, "short write of a small frame");
}

static void hold_frame(held_t *c, const uint8_t *b) {
  int opcode = b[0] & 0x0f, len = b[1] & 0x7f;
  const uint8_t *payload = b + 2;
  if (!(b[0] & 0x80) || (b[0] & 0x70)) { hold_fail(c, "fragmented frame or RSV bits set"); return; }
  if (opcode == 9) { /* RFC 6455 5.5.2: a ping is answered by a pong with its payload */
    pings_seen++;
    hold_send(c, 10, payload, len);
  } else if (opcode == 10) {
    /* an unsolicited pong: nothing to do */
  } else if (opcode == 8) {
    closed_by_server++;
    hold_fail(c, "the server closed the connection");
  } else if (opcode == 1) {
    uint8_t expected[HOLD_MSG + 1];
    long index = c == &probe ? -1 : (long)(c - held);
    hold_message(index, c->recvd, expected);
    if (len != HOLD_MSG || memcmp(payload, expected, HOLD_MSG) != 0) { hold_fail(c, "echo differs"); return; }
    c->recvd++;
    if (c == &probe) {
      probe_waiting = 0;
      if (probe_sent_at < probe_record_from) return; /* warm-up */
      if (nprobe == probe_cap) probe_rtts = realloc(probe_rtts, (probe_cap = probe_cap * 2 + 4096) * sizeof *probe_rtts);
      probe_rtts[nprobe++] = now() - probe_sent_at;
    } else if (measuring) {
      echoes_ok++;
    }
  } else {
    hold_fail(c, "unexpected opcode");
  }
}

/* Splits received bytes into frames; an incomplete one waits in c->buf. */
static void hold_input(held_t *c, const uint8_t *in, size_t n) {
  size_t pos = 0;
  while (pos < n && c->state != 3) {
    while (c->have < 2 && pos < n) c->buf[c->have++] = in[pos++];
    if (c->have < 2) return;
    if ((c->buf[1] & 0x80) || (c->buf[1] & 0x7f) > 125) { hold_fail(c, "masked or large server frame"); return; }
    size_t need = 2 + (c->buf[1] & 0x7f);
    size_t take = need - c->have < n - pos ? need - c->have : n - pos;
    memcpy(c->buf + c->have, in + pos, take);
    c->have += take;
    pos += take;
    if (c->have < need) return;
    hold_frame(c, c->buf);
    c->have = 0;
  }
}

static void hold_read(held_t *c, uint8_t *buf) {
  for (;;) {
    if (c->state == 3) { hold_drop(c); return; }
    ssize_t n = read(c->fd, buf, 65536);
    if (n > 0) { hold_input(c, buf, n); continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    closed_by_server++;
    hold_fail(c, n == 0 ? "connection closed by the server" : "connection reset");
  }
}

static const char *hs_why = "";
static long hs_failed = 0;
static double ramp_limit = 300;

/* One step of a connection's handshake; returns 1 when it just opened, -1 when the server refused or dropped it. */
static int hold_handshake(held_t *c) {
  if (c->state == 0) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) { hs_why = strerror(err); return -1; }
    char req[512];
    int len = build_request(req, sizeof req, "/", c->hs);
    if (write(c->fd, req, len) != len) { hs_why = "short request write"; return -1; }
    c->state = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
  }
  char *head = c->hs + 32;
  ssize_t r = read(c->fd, head + c->hs_have, 1023 - c->hs_have);
  if (r < 0 && errno == EAGAIN) return 0;
  if (r <= 0) { hs_why = r == 0 ? "closed by the server during the handshake" : strerror(errno); return -1; }
  c->hs_have += r;
  head[c->hs_have] = 0;
  char *end = strstr(head, "\r\n\r\n");
  if (!end) {
    if (c->hs_have == 1023) { hs_why = "response head too long"; return -1; }
    return 0;
  }
  if (!check_response(head, c->hs)) { fprintf(stderr, "driver: bad handshake: %.60s\n", head); hs_why = "bad handshake response"; return -1; }
  size_t rest = c->hs_have - (end + 4 - head);
  uint8_t after[1024];
  memcpy(after, end + 4, rest);
  free(c->hs);
  c->hs = NULL;
  c->state = 2;
  if (rest) hold_input(c, after, rest);
  return 1;
}

static void hold_open(held_t *c, int index) {
  c->fd = open_socket(index, 1);
  c->hs = malloc(32 + 1024);
  c->hs_have = 0;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/*
 * A handshake the server dropped (its handshake timeout on a starved machine, a full accept queue) is tried again
 * on a new socket, and counted; after HOLD_TRIES tries the slot is given up (counted too) and the ramp goes on.
 */
#define HOLD_TRIES 5
static long hs_abandoned = 0;
static const char *hs_first_why = NULL;
static void hold_retry(held_t *c) {
  if (hs_failed < 3) fprintf(stderr, "driver: handshake %ld failed (%s), trying again\n", (long)(c - held), hs_why);
  if (hs_first_why == NULL) hs_first_why = hs_why;
  hs_failed++;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  free(c->hs);
  c->hs = NULL;
  if (++c->tries >= HOLD_TRIES) {
    c->state = 3;
    hs_abandoned++;
    return;
  }
  c->state = 0;
  hold_open(c, (int)(c - held));
}

static void hold_event(struct epoll_event *e, uint8_t *buf, int *opened) {
  held_t *c = e->data.ptr;
  if (c->state == 3) return; /* lost earlier in this batch of events */
  if (c->state < 2) {
    int step = hold_handshake(c);
    if (step > 0) (*opened)++;
    else if (step < 0) hold_retry(c);
  } else if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    hold_read(c, buf);
  }
}

static long rss_min = 0, rss_max = 0;
static void rss_sample(long *last) {
  long kib = npids ? proc_rss_kib(pids[0]) : 0;
  if (rss_min == 0 || kib < rss_min) rss_min = kib;
  if (kib > rss_max) rss_max = kib;
  *last = kib;
}

/* Runs the event loop until `until`, calling tick every 10 ms (NULL: none) and sampling RSS every second. */
static void hold_loop(double until, uint8_t *buf, void (*tick)(double), long *rss_last) {
  struct epoll_event evs[256];
  double next_tick = now(), next_rss = now() + 1;
  int opened = 0;
  while (errors == 0) {
    double t = now();
    if (t >= until) break;
    if (tick && t >= next_tick) { tick(t); next_tick += 0.01; }
    if (t >= next_rss) { rss_sample(rss_last); next_rss += 1; }
    double wake = until;
    if (tick && next_tick < wake) wake = next_tick;
    if (next_rss < wake) wake = next_rss;
    int ms = (int)((wake - t) * 1000);
    int n = epoll_wait(ep, evs, 256, ms < 0 ? 0 : ms);
    for (int i = 0; i < n; i++) hold_event(&evs[i], buf, &opened);
  }
}

/* Prints RAMPED and serves the held connections until a line with "go" arrives on stdin. */
static void hold_wait_go(int opened, uint8_t *buf) {
  static int go_marker;
  printf("RAMPED opened=%d\n", opened);
  fflush(stdout);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &go_marker};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  struct epoll_event evs[256];
  int unused = 0;
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 1000);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr != &go_marker) { hold_event(&evs[i], buf, &unused); continue; }
      char line[64];
      ssize_t r = read(0, line, sizeof line - 1);
      epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
      if (r <= 0) { fprintf(stderr, "driver: stdin closed before go\n"); errors++; }
      return;
    }
  }
}

static uint32_t sample_next = 0;
static double sample_credit = 0, next_probe = 0;

/* Active window, every 10 ms: the probe's next echo when its last one is back and due, and the sample's share. */
static void active_tick(double t) {
  if (probe_hz > 0 && probe.state == 2 && !probe_waiting && t >= next_probe) {
    uint8_t msg[HOLD_MSG + 1];
    hold_message(-1, probe.sent, msg);
    probe_sent_at = now();
    hold_send(&probe, 1, msg, HOLD_MSG);
    if (probe.state == 3) hold_drop(&probe);
    probe.sent++;
    probe_waiting = 1;
    next_probe = t + 1 / probe_hz;
  }
  sample_credit += sample_per_s / 100;
  for (; sample_credit >= 1; sample_credit--) {
    held_t *c = &held[sample_next++ % nheld];
    if (c->state != 2 || c->sent != c->recvd) continue; /* not open, or its last echo is not back yet */
    uint8_t msg[HOLD_MSG + 1];
    hold_message(c - held, c->sent, msg);
    hold_send(c, 1, msg, HOLD_MSG);
    c->sent++;
    if (c->state == 3) hold_drop(c);
  }
}

static void run_hold(void) {
  ep = epoll_create1(0);
  nheld = nconnect;
  held = calloc(nheld, sizeof *held);
  source_base = 0x7f000001 | (uint32_t)hold_block << 8; /* 127.0.BLOCK.1: away from the other scenarios' 127.0.0.1-4 */
  sources = hold_sources;
  uint8_t *buf = malloc(65536);
  long rss0 = npids ? proc_rss_kib(pids[0]) : 0;
  char curve[1024] = "";
  size_t curve_len = 0;
  int step = nheld >= 10 ? nheld / 10 : 1, next_mark = step;
  double cpu0 = servers_cpu(), self0 = self_cpu(), t0 = now(), deadline = t0 + ramp_limit;
  int started = 0, opened = 0;
  struct epoll_event evs[256];
  while (opened + hs_abandoned < nheld && errors == 0 && now() < deadline) {
    /* In flight: started, neither open nor given up. */
    while (started - opened - hs_abandoned < concurrency && started < nheld) { hold_open(&held[started], started); started++; }
    if (errors) break;
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int before = opened;
      hold_event(&evs[i], buf, &opened);
      if (opened != before && opened == next_mark) {
        curve_len += snprintf(curve + curve_len, sizeof curve - curve_len, "%s%d:%ld", curve_len ? "," : "", opened,
                              npids ? proc_rss_kib(pids[0]) : 0);
        next_mark += step;
      }
    }
  }
  double ramp_secs = now() - t0, ramp_cpu = servers_cpu() - cpu0;
  /* A ramp cut short by its deadline (a starved server on a shared machine) goes on with what it opened: the figures
   * are per connection held, and what was not opened is reported. The ones still opening are dropped. */
  int ramp_cut = opened + hs_abandoned < nheld;
  if (opened < nheld) {
    fprintf(stderr, "driver: %d of %d connections opened in %.0f s (%ld given up after %d tries%s%s)\n", opened, nheld,
            now() - t0, hs_abandoned, HOLD_TRIES, hs_first_why ? ", first failure: " : "", hs_first_why ? hs_first_why : "");
    for (int i = 0; i < started; i++)
      if (held[i].state < 2 && held[i].fd >= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, held[i].fd, NULL); close(held[i].fd); held[i].fd = -1; held[i].state = 3; }
    for (int i = started; i < nheld; i++) held[i].state = 3, held[i].fd = -1;
  }
  uint64_t lost_in_ramp = lost;

  /* The probe opens from 127.0.0.1, outside the held connections' addresses, before the idle window. */
  source_base = 0x7f000001, sources = 1;
  struct epoll_event pev = {.events = EPOLLIN, .data.ptr = &probe};
  probe.state = 2;
  if (errors == 0 && probe_hz > 0) {
    probe.fd = handshake(0, "/probe");
    epoll_ctl(ep, EPOLL_CTL_ADD, probe.fd, &pev);
  }

  if (wait_for_go && errors == 0) hold_wait_go(opened, buf);

  /* Idle: nothing but keepalive; the server's CPU over the window is what holding the connections costs. */
  long rss_idle_start = npids ? proc_rss_kib(pids[0]) : 0, rss_idle_end = rss_idle_start, rss_active_end = 0;
  rss_min = rss_max = 0;
  uint64_t pings0 = pings_seen; /* those answered during the ramp */
  double idle_cpu0 = servers_cpu(), idle_t0 = now();
  hold_loop(idle_t0 + idle_secs, buf, NULL, &rss_idle_end);
  double idle_el = now() - idle_t0, idle_cpu = servers_cpu() - idle_cpu0;
  rss_sample(&rss_idle_end);
  uint64_t idle_pings = pings_seen - pings0;

  /* Active: the probe's latency and the sample's echoes while every connection is held. */
  measuring = 1;
  next_probe = now();
  double active_cpu0 = servers_cpu(), active_t0 = now();
  /* The probe's first second (a quarter of a short window) warms the server's echo path and is not counted. */
  probe_record_from = active_t0 + (active_secs < 4 ? active_secs / 4 : 1);
  uint64_t pings1 = pings_seen;
  hold_loop(active_t0 + active_secs, buf, active_tick, &rss_active_end);
  double active_el = now() - active_t0, active_cpu = servers_cpu() - active_cpu0;
  uint64_t active_pings = pings_seen - pings1;
  /* The last echoes in flight: up to 10 s to come back (a starved server on a shared machine). */
  double drain_until = now() + 10;
  for (;;) {
    uint64_t missing = probe_waiting && probe.state == 2;
    for (int i = 0; i < nheld; i++) if (held[i].state == 2) missing += held[i].sent - held[i].recvd;
    if (missing == 0 || now() >= drain_until || errors) break;
    struct epoll_event evs2[256];
    int n = epoll_wait(ep, evs2, 256, 10);
    for (int i = 0; i < n; i++) hold_event(&evs2[i], buf, &opened);
  }
  rss_sample(&rss_active_end);
  /* Echoes still missing from connections that are open: slow or lost, reported (those of lost connections are in
   * `lost`). */
  uint64_t sample_sent = 0, sample_missing = 0, held_end = 0;
  for (int i = 0; i < nheld; i++) {
    sample_sent += held[i].sent;
    if (held[i].state == 2) sample_missing += held[i].sent - held[i].recvd, held_end++;
  }
  if (sample_missing) fprintf(stderr, "driver: %llu sample echoes did not come back within 10 s\n", (unsigned long long)sample_missing);
  /* The first reason a connection was lost, as one word for the RESULT line. */
  char why[64] = "-";
  if (lost_why != NULL) {
    snprintf(why, sizeof why, "%s", lost_why);
    for (char *p = why; *p; p++) if (*p == ' ') *p = '_';
  }

  double p50 = 0, p99 = 0, pmax = 0;
  if (nprobe > 0) {
    qsort(probe_rtts, nprobe, sizeof *probe_rtts, cmp_double);
    p50 = probe_rtts[nprobe / 2] * 1e6, p99 = probe_rtts[(size_t)(nprobe * 0.99)] * 1e6, pmax = probe_rtts[nprobe - 1] * 1e6;
  }
  double self = self_cpu() - self0;
  printf("RESULT mode=hold conns=%d opened=%d sources=%d ramp_secs=%.3f hs_per_s=%.0f ramp_srv_cpu_s=%.3f hs_per_cpu_s=%.0f hs_failed=%ld "
         "rss_before_kib=%ld rss_curve=%s rss_idle_start_kib=%ld rss_idle_end_kib=%ld rss_hold_min_kib=%ld "
         "rss_hold_max_kib=%ld rss_active_end_kib=%ld rss_per_conn_kib=%.2f idle_secs=%.3f idle_srv_cpu_s=%.3f "
         "idle_cpu_ms_per_s=%.2f idle_pings=%llu cpu_us_per_ping=%.2f active_secs=%.3f active_srv_cpu_s=%.3f "
         "active_pings=%llu ramp_pings=%llu probe_n=%zu probe_p50_us=%.1f probe_p99_us=%.1f probe_max_us=%.1f sample_sent=%llu "
         "sample_echoed=%llu sample_missing=%llu closed_by_server=%llu lost=%llu lost_in_ramp=%llu lost_why=%s held_end=%llu "
         "hs_abandoned=%ld ramp_cut=%d lg_cpu_s=%.3f errors=%ld\n",
         nheld, opened, hold_sources, ramp_secs, opened / ramp_secs, ramp_cpu, ramp_cpu > 0 ? opened / ramp_cpu : 0, hs_failed, rss0,
         curve_len ? curve : "-", rss_idle_start, rss_idle_end, rss_min, rss_max, rss_active_end,
         opened ? (double)(rss_idle_end - rss0) / opened : 0, idle_el, idle_cpu, idle_el > 0 ? 1000 * idle_cpu / idle_el : 0,
         (unsigned long long)idle_pings, idle_pings ? 1e6 * idle_cpu / idle_pings : 0, active_el, active_cpu,
         (unsigned long long)active_pings, (unsigned long long)pings0, nprobe, p50, p99, pmax, (unsigned long long)sample_sent,
         (unsigned long long)echoes_ok, (unsigned long long)sample_missing, (unsigned long long)closed_by_server,
         (unsigned long long)lost, (unsigned long long)lost_in_ramp, why, (unsigned long long)held_end, hs_abandoned, ramp_cut, self, errors);
  fflush(stdout);
  /* Reset, not FIN: no TIME_WAIT left holding this machine's ports for the next run or another user. */
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  for (int i = 0; i < started; i++) {
    if (held[i].fd < 0) continue;
    setsockopt(held[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(held[i].fd);
  }
  if (probe.fd > 0) setsockopt(probe.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), close(probe.fd);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: driver echo|fanout|connect [options]\n");
    return 2;
  }
  const char *mode = argv[1];
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "p:x:c:P:s:bzt:w:n:C:k:a:B:i:A:e:r:WT:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'x': if (npids < 4) pids[npids++] = atoi(optarg); break;
      case 'c': conns = atoi(optarg); break;
      case 'P': inflight = atoi(optarg); break;
      case 's': size = atol(optarg); break;
      case 'b': binary = 1; break;
      case 'z': deflate_mode = 1; break;
      case 't': secs = atof(optarg); break;
      case 'w': warm = atof(optarg); break;
      case 'n': nconnect = atoi(optarg); break;
      case 'C': concurrency = atoi(optarg); break;
      case 'k': hold = atof(optarg); break;
      case 'a': hold_sources = atoi(optarg); break;
      case 'B': hold_block = atoi(optarg); break;
      case 'i': idle_secs = atof(optarg); break;
      case 'A': active_secs = atof(optarg); break;
      case 'e': sample_per_s = atof(optarg); break;
      case 'r': probe_hz = atof(optarg); break;
      case 'W': wait_for_go = 1; break;
      case 'T': ramp_limit = atof(optarg); break;
      default: return 2;
    }
  }
  rng ^= (uint64_t)getpid() << 20 ^ (uint64_t)(now() * 1e6);
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(mode, "echo") == 0) run_echo();
  else if (strcmp(mode, "fanout") == 0) run_fanout();
  else if (strcmp(mode, "connect") == 0) run_connect();
  else if (strcmp(mode, "hold") == 0) run_hold();
  else { fprintf(stderr, "unknown mode %s\n", mode); return 2; }
  fflush(stdout);
  return errors ? 1 : 0;
}
