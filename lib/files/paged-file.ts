/** Small reads of a capture file, counted, with a few pages cached: what navigation reads. */
import fs from 'node:fs';

const PAGE = 4096;
/** Pages kept: two windows, so that a seek reads no page twice (at most 32 MiB, which pcapng's 16 MiB windows take; longer windows are read again). */
const CACHED_PAGES = 256;
const MAX_CACHED_PAGES = 8192;

export class PagedFile {
  static readonly PAGE = PAGE;
  readonly size: number;
  bytesRead = 0;
  #capacity = CACHED_PAGES;
  #fd: number;
  #pages = new Map<number, Buffer>();
  #lastIndex = -1;
  #lastPage: Buffer = Buffer.alloc(0);

  constructor(fd: number, size: number) {
    this.#fd = fd;
    this.size = size;
  }

  /** Keeps enough pages for two windows of records up to maxRecord bytes (within bounds). */
  fitWindows(maxRecord: number): void {
    this.#capacity = Math.min(MAX_CACHED_PAGES, Math.max(CACHED_PAGES, Math.ceil((2 * maxRecord) / PAGE)));
  }

  /** Bytes [offset, offset + length), shorter at the end of the file. */
  read(offset: number, length: number): Buffer {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const first = Math.floor(offset / PAGE);
    const last = Math.floor((end - 1) / PAGE);
    if (first === last) {
      const page = this.#page(first);
      return page.subarray(offset - first * PAGE, end - first * PAGE);
    }
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) parts.push(this.#page(i));
    return Buffer.concat(parts).subarray(offset - first * PAGE, end - first * PAGE);
  }

  /** The 32-bit word at offset (the caller checked it lies inside the file), without a Buffer per call. */
  u32(offset: number, le: boolean): number {
    const index = Math.floor(offset / PAGE);
    const at = offset - index * PAGE;
    if (at + 4 > PAGE) {
      const b = this.read(offset, 4);
      return le ? b.readUInt32LE(0) : b.readUInt32BE(0);
    }
    const page = this.#page(index);
    return le ? page.readUInt32LE(at) : page.readUInt32BE(at);
  }

  close(): void {
    fs.closeSync(this.#fd);
  }

  #page(index: number): Buffer {
    // Resync reads word after word of one page: keep it at hand.
    if (index === this.#lastIndex) return this.#lastPage;
    let page = this.#pages.get(index);
    if (page === undefined) {
      page = Buffer.alloc(Math.min(PAGE, this.size - index * PAGE));
      const n = fs.readSync(this.#fd, page, 0, page.length, index * PAGE);
      this.bytesRead += n;
      if (this.#pages.size >= this.#capacity) this.#pages.delete(this.#pages.keys().next().value as number);
      this.#pages.set(index, page);
    }
    this.#lastIndex = index;
    this.#lastPage = page;
    return page;
  }
}

