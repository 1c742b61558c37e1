/**
 * The files svasim writes (src/log/io.ts, the log writer): an I/O error is one line naming the file and
 * the error, exit 2; a failed or partial write leaves the log ending at its last complete record; a
 * second writer of a log is refused, naming the process that holds it (an OS lock: a crash releases
 * it); a run never writes its log over its own scenario, nor a report over its log.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../machines/protocol.ts';
import { LogFileError } from '../../src/log/errors.ts';
import { recordLine } from '../../src/log/format.ts';
import { describeIoError, NODE_FILE_OPS, writeFileAtomic, type FileOps } from '../../src/log/io.ts';
import { LogWriter } from '../../src/log/writer.ts';
import { SeekableLog } from '../../src/replay/checkpoints.ts';
import type { Delivered } from '../../src/runtime/system.ts';
import { builtinPath } from '../../src/scenarios/index.ts';
import { checkOutput } from '../setup/stack-guard.ts';
import { cli } from '../setup/cli.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'svasim-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const fresh = (name: string): string => join(dir, `${n++}-${name}`);

const errno = (code: string): Error => Object.assign(new Error(`${code}: injected, write`), { code });

/**
 * File ops whose writes stop after `budget` bytes: the write that reaches the budget writes what is left
 * of it (a short write, as the kernel does on a filling disk), the next write throws `code`.
 */
function failingAfter(budget: number, code: string, more: Partial<FileOps> = {}): FileOps {
  let left = budget;
  return {
    ...NODE_FILE_OPS,
    write: (fd, buf, off, len) => {
      if (left <= 0) throw errno(code);
      const k = Math.min(len, left);
      left -= k;
      return NODE_FILE_OPS.write(fd, buf, off, k);
    },
    ...more,
  };
}

const rec = (seq: number, device = 'dsa0'): Delivered => ({ msg: { type: 'wq.execute', device } as Message, from: 'user', to: `wq:${device}`, cause: undefined, step: 0, seq });
const HEADER = '{"log":"svasim","version":2}';
const lineOf = (d: Delivered): string => `${recordLine(d)}\n`;

describe('a failed write leaves the log at its last complete record', () => {
  const records = Array.from({ length: 6 }, (_, i) => rec(i + 1));
  /** The header and the first `k` records, as bytes on disk. */
  const prefix = (k: number): string => `${HEADER}\n${records.slice(0, k).map(lineOf).join('')}`;
  // Enough for the header and two and a half records.
  const budget = Buffer.byteLength(prefix(2)) + Math.floor(Buffer.byteLength(lineOf(rec(3))) / 2);

  it.each(['ENOSPC', 'EIO'])('a write that writes half a record and then fails with %s (flush at step end)', (code) => {
    const path = fresh('half.jsonl');
    const w = new LogWriter(path, HEADER, 'step', { fs: failingAfter(budget, code) });
    for (const d of records) w.write(d);
    expect(() => w.flush()).toThrow(new LogFileError(`svasim: cannot write log ${path}: ${describeIoError(errno(code))}`));
    expect(readFileSync(path, 'utf8')).toBe(prefix(2));
    // Nothing more is written, and closing says the same.
    w.write(rec(7));
    expect(() => w.close()).toThrow(LogFileError);
    expect(readFileSync(path, 'utf8')).toBe(prefix(2));
  });

  it("flush 'record': a failing write inside the bus's subscriber is kept and thrown at the step's flush", () => {
    const path = fresh('record.jsonl');
    const w = new LogWriter(path, HEADER, 'record', { fs: failingAfter(budget, 'ENOSPC') });
    for (const d of records) expect(() => w.write(d)).not.toThrow();
    expect(() => w.flush()).toThrow(`svasim: cannot write log ${path}: no space left on device (ENOSPC)`);
    expect(readFileSync(path, 'utf8')).toBe(prefix(2));
  });

  it('short writes are continued: every byte reaches the file', () => {
    const path = fresh('short.jsonl');
    const fs: FileOps = { ...NODE_FILE_OPS, write: (fd, buf, off, len) => NODE_FILE_OPS.write(fd, buf, off, Math.min(len, 7)) };
    const w = new LogWriter(path, HEADER, 'step', { fs });
    for (const d of records) w.write(d);
    w.close();
    expect(readFileSync(path, 'utf8')).toBe(prefix(6));
  });

  it('a header that cannot be written: the constructor throws, and the file holds no partial line', () => {
    const path = fresh('header.jsonl');
    writeFileSync(path, 'old content\n');
    expect(() => new LogWriter(path, HEADER, 'step', { fs: failingAfter(10, 'ENOSPC') })).toThrow(`svasim: cannot write log ${path}: no space left on device (ENOSPC)`);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('when cutting the file back fails too, the line says so', () => {
    const path = fresh('trunc.jsonl');
    const w = new LogWriter(path, HEADER, 'step', {
      fs: failingAfter(budget, 'EIO', {
        truncate: (fd, len) => {
          if (len > 0) throw errno('EIO');
          NODE_FILE_OPS.truncate(fd, len);
        },
      }),
    });
    for (const d of records) w.write(d);
    expect(() => w.flush()).toThrow(`svasim: cannot write log ${path}: input/output error (EIO), and cutting it back to its last complete record failed too: input/output error (EIO)`);
  });

  it('an open or a close that fails is one line too (EACCES by injection: root ignores file modes)', () => {
    const path = fresh('eacces.jsonl');
    expect(() => new LogWriter(path, HEADER, 'step', { fs: { ...NODE_FILE_OPS, open: () => { throw errno('EACCES'); } } })).toThrow(
      new LogFileError(`svasim: cannot write log ${path}: permission denied (EACCES)`),
    );
    const closing = fresh('close.jsonl');
    const w = new LogWriter(closing, HEADER, 'step', {
      fs: {
        ...NODE_FILE_OPS,
        close: (fd) => {
          NODE_FILE_OPS.close(fd);
          throw errno('EIO');
        },
      },
    });
    expect(() => w.end('{"end":"svasim","records":0,"steps":0}')).toThrow(`svasim: cannot write log ${closing}: input/output error (EIO)`);
  });
});

describe('svasim run with a log that cannot be written: one line, exit 2', () => {
  it('/dev/full (ENOSPC on a real device)', async () => {
    const r = await cli(['run', 'seed-a-unbind-dmar', '--log', '/dev/full', '--quiet']);
    expect(r).toMatchObject({ code: 2, err: 'svasim: cannot write log /dev/full: no space left on device (ENOSPC)\n' });
    const rec = await cli(['run', 'seed-a-unbind-dmar', '--log', '/dev/full', '--flush', 'record', '--quiet']);
    expect(rec).toMatchObject({ code: 2, err: 'svasim: cannot write log /dev/full: no space left on device (ENOSPC)\n' });
  });

  it('a directory', async () => {
    const d = fresh('a-dir');
    mkdirSync(d);
    const r = await cli(['run', 'seed-a-unbind-dmar', '--log', d]);
    expect(r).toMatchObject({ code: 2, out: '', err: `svasim: cannot write log ${d}: is a directory (EISDIR)\n` });
  });

  it('report: an output that cannot be written (a directory) is one line, and no temp file is left', async () => {
    const log = fresh('r.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const d = fresh('out-dir');
    mkdirSync(d);
    const r = await cli(['report', log, '--out', d]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`svasim: cannot write report ${d}: is a directory (EISDIR)\n`);
    expect(existsSync(`${d}.svasim-tmp`)).toBe(false);
  });
});

describe('report outputs that are not plain files', () => {
  it('a device (/dev/null) is written in place, never replaced by a file; a symlink keeps pointing at its target, which gets the report', async () => {
    const log = fresh('dev.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const r = await cli(['report', log, '--out', '/dev/null']);
    expect(r.code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(existsSync('/dev/null.svasim-tmp')).toBe(false);
    const target = fresh('target.html');
    writeFileSync(target, 'old');
    const link = fresh('link.html');
    symlinkSync(target, link);
    expect((await cli(['report', log, '--out', link])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toContain('window.SVASIM_DATA');
  });
});

describe("a run never writes over one of its inputs", () => {
  const scenarioText = readFileSync(builtinPath('seed-a-unbind-dmar') ?? '', 'utf8');

  it('run x.json --log x.json, a hard link to it, a symlink to it: refused, x.json unchanged', async () => {
    const x = fresh('mine.json');
    writeFileSync(x, scenarioText);
    const hard = fresh('hard.jsonl');
    linkSync(x, hard);
    const soft = fresh('soft.jsonl');
    symlinkSync(x, soft);
    for (const log of [x, hard, soft]) {
      const r = await cli(['run', x, '--log', log, '--quiet']);
      expect(r.code, log).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(`svasim: cannot write log ${log}: ${log === x ? 'it is' : 'it is the same file as'} the scenario this run reads (${x}); choose another file\n`);
      expect(readFileSync(x, 'utf8')).toBe(scenarioText);
    }
  });

  it('report --out the log it reads (or a hard link to it): refused, the log unchanged', async () => {
    const log = fresh('self.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const before = readFileSync(log, 'utf8');
    const hard = fresh('self-link.html');
    linkSync(log, hard);
    for (const out of [log, hard]) {
      const r = await cli(['report', log, '--out', out]);
      expect(r.code, out).toBe(2);
      expect(r.err).toMatch(/^svasim: cannot write report .*: it is (the same file as )?the log this report reads/);
      expect(readFileSync(log, 'utf8')).toBe(before);
    }
  });
});

/** A node process that holds an exclusive flock on `path` (opened for appending) until it is killed. */
async function holder(path: string): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs'), cp = require('node:child_process');
    const fd = fs.openSync(process.argv[1], 'a');
    const r = cp.spawnSync('flock', ['-n', '-x', '3'], { stdio: ['ignore', 'ignore', 'inherit', fd] });
    if (r.status !== 0) process.exit(3);
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok, fail) => {
    let said = '';
    child.stdout?.on('data', (b: Buffer) => {
      said += b.toString();
      if (said.includes('locked')) ok();
    });
    child.once('exit', (code) => fail(new Error(`the lock holder exited (${code}) before locking`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGKILL');
  await gone;
}

describe('one writer per log: an OS lock (flock), released by the kernel when its holder dies', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await kill(c);
  });

  it('a second writer is refused, naming the holder by pid; the held file is unchanged; after a SIGKILL of the holder the run goes ahead', async () => {
    const log = fresh('held.jsonl');
    writeFileSync(log, 'being written by someone else\n');
    const child = await holder(log);
    children.push(child);
    const r = await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toHaveLength(2);
    expect(r.err).toMatch(new RegExp(`^svasim: cannot write log ${log}: pid ${child.pid} \\(.*node.*\\) holds its lock \\(another run is writing it\\); wait for it or choose another file\\n$`));
    expect(readFileSync(log, 'utf8')).toBe('being written by someone else\n');
    // A crash leaves nothing behind: no lock file, and the kernel drops the lock with the process.
    await kill(child);
    const again = await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet']);
    expect(again.code).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/^\{"log":"svasim","version":2,.*\n\{"end":"svasim","records":48,"steps":6\}\n$/s);
  });

  it('two runs (of different policies) writing one log, started together: one is refused, or they ran one after the other; never a mixed file', async () => {
    const log = fresh('race.jsonl');
    // A scenario that runs long enough for both to overlap.
    const big = fresh('race.json');
    const steps = [{ op: 'spawn', process: 'A' }, { op: 'bind', thread: 'A', device: 'dsa0' }, ...Array.from({ length: 3000 }, () => ({ op: 'enqcmd', thread: 'A', device: 'dsa0' }))];
    writeFileSync(big, JSON.stringify({ scenario: 1, name: 'race', devices: [{ name: 'dsa0', wqSize: 64, threshold: 64 }], steps }));
    const script = `
      const cp = require('node:child_process');
      const args = [${JSON.stringify(join(ROOT, 'src/cli/svasim.mjs'))}, 'run', ${JSON.stringify(big)}, '--log', ${JSON.stringify(log)}, '--quiet', '--flush', 'record'];
      // Different logs: interleaved writes would not be a copy of either.
      const ps = ['seed-2021', 'merged'].map((p) => cp.spawn(process.execPath, [...args, '--policy', 'pasid=' + p], { stdio: ['ignore', 'ignore', 'pipe'] }));
      const out = [];
      let left = 2;
      ps.forEach((p, i) => { let err = ''; p.stderr.on('data', (b) => (err += b)); p.on('exit', (code) => { out[i] = { code, err }; if (--left === 0) console.log(JSON.stringify(out)); }); });`;
    const p = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    const results = JSON.parse(p.stdout) as { code: number; err: string }[];
    for (const x of results) checkOutput(x.err, 'racing run (stderr)');
    const codes = results.map((x) => x.code).sort();
    // Both may also run one after the other (the first done before the second starts): then both write it whole.
    if (codes[0] === 0 && codes[1] === 2) {
      const refused = results.find((x) => x.code === 2);
      expect(refused?.err).toMatch(new RegExp(`^svasim: cannot write log ${log}: (pid \\d+ \\(.*svasim.*\\)|another process) holds its lock`));
    } else {
      expect(codes).toStrictEqual([0, 0]);
    }
    // Either way the log is one run's, whole, and replays.
    const text = readFileSync(log, 'utf8');
    expect(text.split('\n').filter((l) => l.startsWith('{"log"'))).toHaveLength(1);
    expect(text).toMatch(/\{"end":"svasim","records":\d+,"steps":3002\}\n$/);
    expect((await cli(['replay', log])).code).toBe(0);
  });

  it("the .idx sidecar: written to a temp file and renamed; a temp file locked by another writer is skipped (a cache), a report's is refused", async () => {
    const log = fresh('idx.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const tmp = `${log}.idx.svasim-tmp`;
    const child = await holder(tmp);
    children.push(child);
    const warnings: string[] = [];
    SeekableLog.open(log, { warn: (w) => warnings.push(w) });
    expect(existsSync(`${log}.idx`)).toBe(false);
    expect(warnings).toStrictEqual([]);
    expect(writeFileAtomic(`${log}.idx`, 'x', { what: 'index', onHeld: 'skip' })).toBe(false);
    const out = fresh('held.html');
    const reportTmp = `${out}.svasim-tmp`;
    const other = await holder(reportTmp);
    children.push(other);
    expect(() => writeFileAtomic(out, '<html>', { what: 'report', onHeld: 'fail' })).toThrow(new RegExp(`^svasim: cannot write report ${out}: pid ${other.pid} \\(`));
    await kill(child);
    SeekableLog.open(log, { warn: (w) => warnings.push(w) });
    expect(existsSync(`${log}.idx`)).toBe(true);
    expect(existsSync(tmp)).toBe(false);
    expect(warnings).toStrictEqual([]);
  });

  it('an index that cannot be written is a one-line warning; --until still answers', async () => {
    const log = fresh('ro.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    mkdirSync(`${log}.idx`);
    const r = await cli(['replay', log, '--until', '35']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dsa0 PASID table: empty');
    expect(r.err).toBe(`svasim: warning: cannot write index ${log}.idx: is a directory (EISDIR); seeking works without it, but the next command will build it again\n`);
  });

  it('without the flock command the log is written unlocked, after a one-line warning', () => {
    const log = fresh('noflock.jsonl');
    const p = spawnSync(process.execPath, [join(ROOT, 'src/cli/svasim.mjs'), 'run', 'seed-a-unbind-dmar', '--log', log, '--quiet'], {
      encoding: 'utf8',
      env: { PATH: fresh('empty-path') },
      timeout: 60_000,
    });
    checkOutput(p.stderr, 'run without flock (stderr)');
    expect(p.status).toBe(0);
    expect(p.stderr).toBe(`svasim: warning: util-linux's flock command is not installed: ${log} is written without a lock (a second writer of it would not be refused)\n`);
    expect(readFileSync(log, 'utf8')).toMatch(/\{"end":"svasim","records":48,"steps":6\}\n$/);
  });
});
