/**
 * A green run prints no stack trace: one that reaches stderr (or the console) unexpected is a bug — a
 * server answering 500, a CLI crashing on input it should have refused with one line — and must fail
 * the test that caused it, not scroll by in a passing run.
 *
 * Loaded for every test file (vitest.config.ts `setupFiles`). It watches this worker's
 * `process.stderr`/`process.stdout` writes and `console.*`, and after each test fails it if anything it
 * saw there looks like a stack trace. Output that never reaches the process — a CLI driven in-process
 * through fake streams, a spawned child's stderr — is handed to `checkOutput`, which does the same.
 * A test that provokes a stack trace on purpose says so with `expectStackTrace()`.
 */
import { afterEach, beforeEach, expect } from 'vitest';

/** A V8 stack frame line: `    at fn (file:line:col)`, `    at file:line:col`, `    at new X (<anonymous>)`. */
const FRAME = /^\s+at (?:.+ \()?(?:[^()\s]+:\d+:\d+|<anonymous>|native)\)?$/m;

/** Whether `text` holds a stack trace (at least one V8 frame line). */
export function hasStackTrace(text: string): boolean {
  return FRAME.test(text);
}

let seen: string[] = [];
let allowed = false;

/** The current test provokes a stack trace on purpose: do not fail it for one. */
export function expectStackTrace(): void {
  allowed = true;
}

/**
 * Output captured by the test itself (fake streams of an in-process CLI, a child's stderr): a stack
 * trace in it fails the current test like one on this process's stderr. Returns `text` for chaining.
 */
export function checkOutput(text: string, where: string): string {
  if (hasStackTrace(text)) seen.push(`${where}:\n${text}`);
  return text;
}

function watchStream(stream: NodeJS.WriteStream, name: string): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : '';
    checkOutput(text, name);
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

function watchConsole(method: 'error' | 'warn' | 'log' | 'info' | 'debug' | 'trace'): void {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]): void => {
    const text = args.map((a) => (a instanceof Error ? (a.stack ?? String(a)) : typeof a === 'string' ? a : '')).join(' ');
    if (method === 'trace') seen.push(`console.trace: ${text}`);
    else checkOutput(text, `console.${method}`);
    original(...args);
  };
}

watchStream(process.stderr, 'stderr');
watchStream(process.stdout, 'stdout');
for (const m of ['error', 'warn', 'log', 'info', 'debug', 'trace'] as const) watchConsole(m);

beforeEach(() => {
  seen = [];
  allowed = false;
});

afterEach(() => {
  const found = seen;
  seen = [];
  if (allowed || found.length === 0) return;
  expect.fail(`an unexpected stack trace was printed during this test:\n${found.join('\n---\n').slice(0, 4000)}`);
});
