/* UDP load for the benchmarks: sends datagrams to 127.0.0.1, or to the
 * address given (bench/multidump.js gives its own namespace's), with
 * sendmmsg, at the highest rate it can or at a fixed rate, and stops after
 * a packet count or a duration, whichever comes first.
 *   udp_blast <port> <count> <duration_ms> <rate_pps (0: max)> <payload bytes> [IPv4 address]
 * Prints {"sent":N,"seconds":S,"rate":R} as JSON. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: udp_blast port count duration_ms rate payload [address]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  long long count = atoll(argv[2]);
  double duration = atof(argv[3]) / 1000.0;
  double rate = atof(argv[4]);
  int size = atoi(argv[5]);
  if (size < 1 || size > 9000) size = 64;

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (argc == 7 && inet_pton(AF_INET, argv[6], &to.sin_addr) != 1) return 2;
  if (connect(fd, (struct sockaddr*)&to, sizeof to) != 0) return 1;

  static char payload[9000];
  memset(payload, 'w', sizeof payload);
  struct iovec iov[BURST];
  struct mmsghdr msgs[BURST];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BURST; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  long long sent = 0;
  double start = now(), t = start;
  while (sent < count && (t = now()) - start < duration) {
    int burst = BURST;
    if (rate > 0) {
      long long due = (long long)((t - start) * rate) - sent;
      if (due <= 0) {
        usleep(50);
        continue;
      }
      if (due < burst) burst = (int)due;
    }
    if (count - sent < burst) burst = (int)(count - sent);
    int n = sendmmsg(fd, msgs, burst, 0);
    if (n > 0) sent += n;
  }
  double seconds = now() - start;
  printf("{\"sent\":%lld,\"seconds\":%.6f,\"rate\":%.1f}\n", sent, seconds, sent / seconds);
  return 0;
}
