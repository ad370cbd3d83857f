/** Zeek's connection summary for TCP: conn_state from the flags each side sent, and the history letters. */

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** History letters by bit: SYN, SYN-ACK, pure ACK, data, FIN, RST, retransmitted data. */
export const HISTORY_LETTERS = ['s', 'h', 'a', 'd', 'f', 'r', 't'] as const;

/** conn_state from the OR of the TCP flags the client (c) and the server (s) sent. */
export function connState(c: number, s: number): string {
  const syn = (c & SYN) !== 0;
  const synAck = (s & (SYN | ACK)) === (SYN | ACK);
  if (!syn) {
    if (synAck && (s & RST) !== 0) return 'RSTRH';
    if (synAck && (s & FIN) !== 0) return 'SHR';
    return 'OTH';
  }
  if (!synAck) {
    if ((s & RST) !== 0) return 'REJ';
    if ((c & RST) !== 0) return 'RSTOS0';
    if ((c & FIN) !== 0) return 'SH';
    return 'S0';
  }
  if ((c & RST) !== 0) return 'RSTO';
  if ((s & RST) !== 0) return 'RSTR';
  if ((c & FIN) !== 0 && (s & FIN) !== 0) return 'SF';
  if ((c & FIN) !== 0) return 'S2';
  if ((s & FIN) !== 0) return 'S3';
  return 'S1';
}
