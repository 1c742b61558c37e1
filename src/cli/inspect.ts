/**
 * What `svasim inspect` (the offline inspector server) and `svasim report` (one self-contained HTML file)
 * share: telling a log from a scenario, opening a log, serving, writing the report.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { writeFileAtomic, type InputFile } from '../log/io.ts';
import { LogSession, type InspectSession } from '../inspect/session.ts';
import type { Kinds } from '../runtime/kinds.ts';
import { pageAssets, startInspector } from '../inspect/server.ts';
import type { Io } from './command.ts';
import { pluginChangeLines } from './args.ts';
import { streamLog } from '../log/reader.ts';

/** Is `path` an event log (by name, or by its first bytes) rather than a scenario? */
export function looksLikeLog(path: string): boolean {
  if (path.endsWith('.jsonl')) return true;
  if (!path.includes('/') && !path.endsWith('.json')) return false;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(32);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return /^\{\s*"log"\s*:\s*"svasim"/.test(buf.subarray(0, n).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/**
 * A log for the inspector or a report; what it cannot show is said on stderr, once, and so is a plugin
 * the log names that is loaded in another version (its header is read again for that: the session
 * keeps its log to itself).
 */
export function openLogSession(path: string, allowTruncated: boolean, io: Io, kinds?: Kinds): LogSession {
  const session = new LogSession(path, { allowTruncated, kinds });
  if (kinds !== undefined) {
    const head = streamLog(path, { allowTruncated, kinds });
    head.close();
    for (const line of pluginChangeLines(head.log.source, head.log.pluginChanges)) io.stderr.write(`${line}\n`);
  }
  for (const w of session.warnings) io.stderr.write(`warning: ${w}\n`);
  return session;
}

export interface ServeOptions {
  readonly port: number;
  readonly write: (line: string) => void;
  /** Resolves when the server should stop (Ctrl-C); by default SIGINT or SIGTERM. */
  readonly until?: Promise<unknown>;
}

/** Serve `session` until stopped; returns the exit code. */
export async function serve(session: InspectSession, opts: ServeOptions): Promise<number> {
  const server = await startInspector(session, { port: opts.port });
  opts.write(`svasim inspect: ${session.source === 'log' ? 'log' : 'scenario'} "${session.scenario.name}" (${session.lastSeq} records${session.live ? `, ${session.scenario.steps.length} steps to run live` : ''})`);
  // The pid is this server's own: under `npx` it is not npx's, and stopping npx leaves this one running.
  opts.write(`  open ${server.url}  (127.0.0.1 only; pid ${process.pid}; Ctrl-C stops it)`);
  const stop =
    opts.until ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  await stop;
  await server.close();
  opts.write('svasim inspect: stopped');
  return 0;
}


/**
 * One HTML file that opens from disk: the inspector page with its script, stylesheet and data inlined
 * (the records, the session, the state after each step — or only the final state for long logs).
 */
export async function writeReport(session: InspectSession, out: string, inputs: readonly InputFile[] = []): Promise<{ bytes: number }> {
  const page = pageAssets();
  const info = await session.info();
  const states: Record<number, unknown> = {};
  const stepEnds = new Map<number, number>();
  const records = JSON.parse(session.recordsJson()) as { seq: number; step: number }[];
  for (const r of records) stepEnds.set(r.step, r.seq);
  const seqs = stepEnds.size <= 200 ? [...stepEnds.values()] : [];
  // Seq 0 (nothing has happened), each step's end, the end — up to where the model reproduces the log.
  for (const seq of [0, ...seqs, session.lastSeq]) if (seq <= session.lastShowable) states[seq] = session.stateAt(seq);
  // JSON inside <script>: `<` escaped so no `</script>` (or `<!--`) in the data can end the element.
  const data = JSON.stringify({ session: info, records, states }).replace(/</g, '\\u003c');
  const js = page.js.replace(/<\/script/gi, '<\\/script');
  const html = page.html
    .replace(/<link[^>]*href="\/?style\.css"[^>]*>/, () => `<style>\n${page.css}\n</style>`)
    .replace(/<script[^>]*src="\/?app\.js"[^>]*><\/script>/, () => `<script>window.SVASIM_DATA = ${data};</script>\n<script>\n${js}\n</script>`);
  if (!html.includes('window.SVASIM_DATA')) throw new Error('the inspector page has no app.js script tag to inline');
  // Whole or not at all (a temp file renamed over `out`); an I/O error is one line (LogFileError), and
  // `out` may not be one of `inputs` (the log it shows).
  writeFileAtomic(out, html, { what: 'report', inputs, onHeld: 'fail' });
  return { bytes: Buffer.byteLength(html) };
}
