/* The read benchmark's limit: a C loop over pcap_dispatch that counts the
 * packets and bytes of a file.  pcap_read <file>
 * Prints {"packets":N,"bytes":B,"seconds":S,"cpuSeconds":C}, C the user and
 * system time of the process while reading. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct totals {
  unsigned long long packets, bytes;
};

static void count_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* data) {
  struct totals* t = (struct totals*)user;
  t->packets++;
  t->bytes += h->caplen + data[0] * 0;  /* touch the data, as a real reader would */
}

int main(int argc, char** argv) {
  char errbuf[PCAP_ERRBUF_SIZE];
  if (argc != 2) return 2;
  struct timespec a, b;
  const double cpu = cpu_seconds();
  clock_gettime(CLOCK_MONOTONIC, &a);
  pcap_t* p = pcap_open_offline(argv[1], errbuf);
  if (p == NULL) {
    fprintf(stderr, "%s\n", errbuf);
    return 1;
  }
  struct totals t = {0, 0};
  while (pcap_dispatch(p, 4096, count_packet, (u_char*)&t) > 0) {
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("{\"packets\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpuSeconds\":%.6f}\n", t.packets, t.bytes,
         (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, cpu_seconds() - cpu);
  pcap_close(p);
  return 0;
}
