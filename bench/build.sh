#!/usr/bin/env bash
# Builds the benchmarks' C programs into bench/bin/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p bin
for tool in udp_blast pcap_count pcap_dump_loop pcap_read; do
  [ -f "$tool.c" ] || continue
  if [ ! -x "bin/$tool" ] || [ "$tool.c" -nt "bin/$tool" ]; then
    gcc -O2 -Wall -o "bin/$tool" "$tool.c" -lpcap
  fi
done
