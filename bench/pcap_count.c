/* The C baseline: counts the packets libpcap delivers, as fast as a C loop
 * over pcap_dispatch can, until SIGINT/SIGTERM.
 *   pcap_count <iface> <filter> <buffer bytes>
 * Prints "ready" on stderr once capturing, then on exit
 * {"captured":N,"received":R,"dropped":D,"ifDropped":I} as JSON. */
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static pcap_t* handle;

static void on_signal(int sig) {
  (void)sig;
  pcap_breakloop(handle);
}

static void count_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
  (void)h;
  (void)bytes;
  ++*(unsigned long long*)user;
}

int main(int argc, char** argv) {
  char errbuf[PCAP_ERRBUF_SIZE];
  if (argc != 4) return 2;
  handle = pcap_create(argv[1], errbuf);
  if (handle == NULL) return 1;
  pcap_set_snaplen(handle, 262144);
  pcap_set_timeout(handle, 100);
  pcap_set_buffer_size(handle, atoi(argv[3]));
  if (pcap_activate(handle) < 0) {
    fprintf(stderr, "%s\n", pcap_geterr(handle));
    return 1;
  }
  struct bpf_program program;
  if (pcap_compile(handle, &program, argv[2], 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(handle, &program) != 0) {
    fprintf(stderr, "%s\n", pcap_geterr(handle));
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  fprintf(stderr, "ready\n");
  unsigned long long captured = 0;
  while (pcap_dispatch(handle, -1, count_packet, (u_char*)&captured) >= 0) {
  }
  struct pcap_stat stats = {0};
  pcap_stats(handle, &stats);
  printf("{\"captured\":%llu,\"received\":%u,\"dropped\":%u,\"ifDropped\":%u}\n", captured, stats.ps_recv, stats.ps_drop,
         stats.ps_ifdrop);
  return 0;
}
