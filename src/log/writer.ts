/**
 * Writes the event log as the run goes. Lines are buffered and written whole (at every step boundary and
 * whenever the buffer passes 64 KiB), so a crash leaves a valid prefix ending at a complete record.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Delivered } from '../runtime/system.ts';
import { recordLine } from './format.ts';

const FLUSH_AT = 64 * 1024;

export class LogWriter {
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;
  bytes = 0;

  constructor(readonly path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.push(header);
    this.flush();
  }

  private push(line: string): void {
    this.buf.push(line);
    this.size += line.length + 1;
    if (this.size >= FLUSH_AT) this.flush();
  }

  write(d: Delivered): void {
    this.push(recordLine(d));
  }

  flush(): void {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    this.bytes += Buffer.byteLength(chunk);
    writeSync(this.fd, chunk);
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
