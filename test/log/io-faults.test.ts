/**
 * Faults injected under the whole command (node:fs mocked): a disk that fills up or fails in the middle
 * of a run, a file that cannot be opened. `svasim run` prints one line naming the file and the error and
 * exits 2 (not 1, which means "an expectation failed"), and the log on disk ends at a complete record:
 * a prefix of what the run would have written, which `replay` reports as incomplete.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from '../setup/cli.ts';

/** What the mocked fs does: fail writes once `budget` bytes are written (the write that reaches it is short), fail opening `path`. */
const fault = vi.hoisted(() => ({ budget: null as number | null, code: 'ENOSPC', open: null as { path: string; code: string } | null }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const errno = (code: string): Error => Object.assign(new Error(`${code}: injected`), { code });
  const writeSync = (fd: number, buf: Uint8Array, off: number, len: number): number => {
    if (fault.budget === null) return fs.writeSync(fd, buf, off, len);
    if (fault.budget <= 0) throw errno(fault.code);
    const n = Math.min(len, fault.budget);
    fault.budget -= n;
    return fs.writeSync(fd, buf, off, n);
  };
  const openSync = (path: string, flags: number | string, mode?: number): number => {
    if (fault.open !== null && String(path) === fault.open.path) throw errno(fault.open.code);
    return fs.openSync(path, flags, mode);
  };
  return { ...fs, default: { ...fs, writeSync, openSync }, writeSync, openSync };
});

const dir = mkdtempSync(join(tmpdir(), 'svasim-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  fault.budget = null;
  fault.code = 'ENOSPC';
  fault.open = null;
});

let n = 0;
const fresh = (name: string): string => join(dir, `${n++}-${name}`);

describe('svasim run on a disk that fails mid-run', () => {
  const full = fresh('full.jsonl');

  it.each([
    ['ENOSPC', 'no space left on device', 'step'],
    ['EIO', 'input/output error', 'step'],
    ['ENOSPC', 'no space left on device', 'record'],
    ['EDQUOT', 'disk quota exceeded', 'record'],
  ])('%s (%s), --flush %s: one line, exit 2, the log a prefix ending at a complete record', async (code, text, flush) => {
    expect((await cli(['run', 'seed-b-fixup-then-dmar', '--log', full, '--quiet'])).code).toBe(0);
    const whole = readFileSync(full, 'utf8');
    const log = fresh(`${code}-${flush}.jsonl`);
    // Room for the header and about half the records, ending inside one.
    fault.budget = Math.floor(whole.length / 2);
    fault.code = code ?? 'ENOSPC';
    const r = await cli(['run', 'seed-b-fixup-then-dmar', '--log', log, '--flush', flush ?? 'step', '--quiet']);
    fault.budget = null;
    expect(r.code).toBe(2);
    expect(r.err).toBe(`svasim: cannot write log ${log}: ${text} (${code})\n`);
    const got = readFileSync(log, 'utf8');
    expect(got.length).toBeGreaterThan(0);
    expect(got.endsWith('\n')).toBe(true);
    expect(whole.startsWith(got)).toBe(true);
    // What is on disk is a cut log, said so by replay (exit 2, "incomplete"), not a divergence.
    const replayed = await cli(['replay', log]);
    expect(replayed.code).toBe(2);
    expect(replayed.err).toMatch(new RegExp(`^${log}: incomplete log: it ends at seq \\d+ in step \\d+ of 8.*, with no closing record: the run ended early \\(it was stopped, or its log writes failed\\); --allow-truncated replays its \\d+ complete records\\n$`));
  });

  it('a log that cannot be opened (EACCES): one line, exit 2, nothing run', async () => {
    const log = fresh('denied.jsonl');
    fault.open = { path: log, code: 'EACCES' };
    const r = await cli(['run', 'seed-a-unbind-dmar', '--log', log]);
    expect(r).toStrictEqual({ code: 2, out: '', err: `svasim: cannot write log ${log}: permission denied (EACCES)\n` });
  });

  it('report: a write that fails leaves no partial report (the old one stays)', async () => {
    const log = fresh('rep.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const out = fresh('rep.html');
    writeFileSync(out, 'the previous report');
    fault.budget = 1000;
    const r = await cli(['report', log, '--out', out]);
    fault.budget = null;
    expect(r.code).toBe(2);
    expect(r.err).toBe(`svasim: cannot write report ${out}: no space left on device (ENOSPC)\n`);
    expect(readFileSync(out, 'utf8')).toBe('the previous report');
  });
});
