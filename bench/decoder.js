'use strict';
// One decoder for bench/decode.js, in its own process: reads the trace with
// batches({ recycle: true }) and times only the decoding of each batch.
//   node decoder.js <read|columns|decode|node_pcap> <file> [node_pcap module dir]
// Prints {"packets":N,"decodeSeconds":D,"totalSeconds":T,"check":C}, C a
// sum over decoded fields so that no decoder's work can be optimised away.
const [mode, file, nodePcapDir] = process.argv.slice(2);
const { openOffline, decode, PacketColumns } = require('..');

(async () => {
  const cap = openOffline(file);
  const linktype = cap.linktype;
  const columns = new PacketColumns();
  let pcapDecode = null;
  const header = Buffer.alloc(16);
  if (mode === 'node_pcap') pcapDecode = require(require('node:path').join(nodePcapDir, 'decode')).decode.packet;
  let packets = 0;
  let check = 0;
  let decodeNs = 0n;
  const started = process.hrtime.bigint();
  for await (const batch of cap.batches({ recycle: true })) {
    const { data, offsets, caplens, lens, count } = batch;
    const t0 = process.hrtime.bigint();
    if (mode === 'columns') {
      columns.fill(batch, linktype);
      check += columns.dstPort[count - 1] + columns.payloadOffset[0];
    } else if (mode === 'decode') {
      for (let i = 0; i < count; i++) {
        const d = decode(data.subarray(offsets[i], offsets[i] + caplens[i]), linktype);
        check += d.layers.length;
      }
    } else if (mode === 'node_pcap') {
      for (let i = 0; i < count; i++) {
        header.writeUInt32LE(caplens[i], 8);
        header.writeUInt32LE(lens[i], 12);
        const p = pcapDecode({ buf: data.subarray(offsets[i], offsets[i] + caplens[i]), header, link_type: 'LINKTYPE_ETHERNET' });
        check += p.payload === null ? 0 : 1;
      }
    }
    decodeNs += process.hrtime.bigint() - t0;
    packets += count;
  }
  const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ packets, decodeSeconds: Number(decodeNs) / 1e9, totalSeconds, check })}\n`);
})();
