/* The dump benchmark's C baseline: a pcap_dispatch loop writing every
 * packet with pcap_dump, until SIGINT/SIGTERM.
 *   pcap_dump_loop <iface> <filter> <buffer bytes> <file>
 * Prints "ready" on stderr once capturing, then on exit
 * {"captured":N,"received":R,"dropped":D} as JSON. */
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static pcap_t* handle;
static unsigned long long captured;

static void on_signal(int sig) {
  (void)sig;
  pcap_breakloop(handle);
}

static void write_packet(u_char* dumper, const struct pcap_pkthdr* h, const u_char* bytes) {
  pcap_dump(dumper, h, bytes);
  captured++;
}

int main(int argc, char** argv) {
  char errbuf[PCAP_ERRBUF_SIZE];
  if (argc != 5) return 2;
  handle = pcap_create(argv[1], errbuf);
  if (handle == NULL) return 1;
  pcap_set_snaplen(handle, 262144);
  pcap_set_timeout(handle, 100);
  pcap_set_buffer_size(handle, atoi(argv[3]));
  struct bpf_program program;
  if (pcap_activate(handle) < 0 || pcap_compile(handle, &program, argv[2], 1, PCAP_NETMASK_UNKNOWN) != 0 ||
      pcap_setfilter(handle, &program) != 0) {
    fprintf(stderr, "%s\n", pcap_geterr(handle));
    return 1;
  }
  pcap_dumper_t* dumper = pcap_dump_open(handle, argv[4]);
  if (dumper == NULL) {
    fprintf(stderr, "%s\n", pcap_geterr(handle));
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  fprintf(stderr, "ready\n");
  while (pcap_dispatch(handle, -1, write_packet, (u_char*)dumper) >= 0) {
  }
  pcap_dump_close(dumper);
  struct pcap_stat stats = {0};
  pcap_stats(handle, &stats);
  printf("{\"captured\":%llu,\"received\":%u,\"dropped\":%u}\n", captured, stats.ps_recv, stats.ps_drop);
  return 0;
}
