/**
 * Writes the event log as the run goes. Lines are buffered and written whole — when the runner flushes at
 * the end of every step, and whenever the buffer would pass 256 KiB — so a crash leaves a valid prefix
 * ending at a complete record, and a killed run loses at most the step it was in.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Delivered } from '../runtime/system.ts';
import { recordLine } from './format.ts';

const CHUNK = 256 * 1024;

export class LogWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private closed = false;
  bytes = 0;

  constructor(readonly path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.line(header);
    this.flush();
  }

  /** Append one line; lines are never split across writes. */
  private line(text: string): void {
    const max = text.length * 3 + 1;
    if (this.pos + max > this.buf.length) {
      this.flush();
      if (max > this.buf.length) this.buf = Buffer.allocUnsafe(max);
    }
    this.pos += this.buf.write(text, this.pos, 'utf8');
    this.buf[this.pos++] = 10;
  }

  write(d: Delivered): void {
    this.line(recordLine(d));
  }

  flush(): void {
    if (this.pos === 0) return;
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.bytes += this.pos;
    this.pos = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    closeSync(this.fd);
  }
}
