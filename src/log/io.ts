/**
 * The files svasim writes — event logs, their `.idx` sidecars, HTML reports — and what can go wrong
 * with them: an I/O error (a full disk, EIO, no permission, a directory) is one line naming the file
 * and the error (`LogFileError`, exit 2), never a stack trace; a second writer of a file being written
 * is refused, naming who holds it; a run never writes over one of its own inputs.
 *
 * Locking uses the OS, so a crash leaves nothing behind: an exclusive `flock` on the open file
 * description. Node has no flock, and a native addon would force a C++ build on every install, so the
 * lock is taken by util-linux's `flock -n -x 3` run on our descriptor (inherited as the child's fd 3):
 * a flock belongs to the open file description, not to the process that took it, so it stays held by
 * our descriptor after the child exits and the kernel drops it when our last descriptor closes — when
 * the process dies too, SIGKILL included. That is also why a log is opened without truncating it
 * (O_WRONLY|O_CREAT, not 'w'): the file is emptied only once the lock is ours and the file is known
 * not to be an input. Without `flock` installed, files are written unlocked after a one-line warning.
 *
 * Every fs call goes through `FileOps`, so tests can inject faults (a write that writes half and then
 * fails with ENOSPC, an EIO, an EACCES that root would not get from chmod).
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LogFileError } from './errors.ts';

/** The fs calls the writers make (injectable for fault tests). */
export interface FileOps {
  open(path: string, flags: number, mode: number): number;
  /** Writes up to `len` bytes; may write fewer (the caller loops). */
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  truncate(fd: number, len: number): void;
  fstat(fd: number): Stats;
  close(fd: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
}

export const NODE_FILE_OPS: FileOps = {
  open: (path, flags, mode) => openSync(path, flags, mode),
  write: (fd, buf, off, len) => writeSync(fd, buf, off, len),
  truncate: (fd, len) => ftruncateSync(fd, len),
  fstat: (fd) => fstatSync(fd),
  close: (fd) => closeSync(fd),
  rename: (from, to) => renameSync(from, to),
  unlink: (path) => unlinkSync(path),
};

/** A file the run reads, which its outputs must not overwrite. `role` names it in the refusal. */
export interface InputFile {
  readonly path: string;
  /** e.g. "the scenario this run reads". */
  readonly role: string;
}

/** How a file is written: what to call it in messages, what it must not be, how to warn. */
export interface WriteTarget {
  /** "log", "index", "report": the word in `svasim: cannot write log run.jsonl: …`. */
  readonly what: string;
  readonly inputs?: readonly InputFile[];
  readonly fs?: FileOps;
  /** One line for things that do not stop the command (no `flock`); default: stderr. */
  readonly warn?: (line: string) => void;
}

export const warnOnStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const IO_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'is a directory',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a component of the path is not a directory',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
  EINVAL: 'invalid argument',
};

function errnoCode(e: unknown): string | null {
  if (typeof e !== 'object' || e === null || !('code' in e)) return null;
  const code = (e as { code: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : null;
}

/** `no space left on device (ENOSPC)`: the error's text and its code (Node's own text for others). */
export function describeIoError(e: unknown): string {
  const code = errnoCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (code === null) return message;
  // Node's messages read "ENOSPC: no space left on device, write": keep the middle part.
  const text = IO_ERRORS[code] ?? /^[A-Z0-9_]+: (.*?)(?:, \w+(?: '.*')?)?$/.exec(message)?.[1] ?? message;
  return `${text} (${code})`;
}

/** `svasim: cannot write log run.jsonl: no space left on device (ENOSPC)` */
export function writeError(what: string, path: string, e: unknown): LogFileError {
  return new LogFileError(`svasim: cannot write ${what} ${path}: ${describeIoError(e)}`);
}

/** An error carrying an errno code, as Node's fs errors do (for a write that wrote nothing). */
function ioFailure(code: string, text: string): Error {
  return Object.assign(new Error(`${code}: ${text}`), { code });
}

/**
 * Write all of `buf[off, off + len)`: a write may take fewer bytes than asked, so loop. `done.n` counts
 * the bytes written, also when a write throws (a partial write followed by ENOSPC).
 */
export function writeAll(fs: FileOps, fd: number, buf: Uint8Array, off: number, len: number, done: { n: number } = { n: 0 }): void {
  done.n = 0;
  while (done.n < len) {
    const n = fs.write(fd, buf, off + done.n, len - done.n);
    if (!(n > 0)) throw ioFailure('EIO', 'a write wrote nothing');
    done.n += n;
  }
}

/** The real path of `path`, also when it does not exist yet (its deepest existing ancestor resolved). */
function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(resolve(path));
    if (parent === resolve(path)) return parent;
    return join(realPathOf(parent), basename(path));
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Whether `a` and `b` name the same file: dev+ino when both exist (links and symlinks too), else real paths. */
export function sameFile(a: string, b: string): boolean {
  const sa = statOrNull(a);
  const sb = statOrNull(b);
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return realPathOf(a) === realPathOf(b);
}

/**
 * Refuse (a LogFileError) to write `path` when it is one of the run's inputs: the same file by dev+ino
 * (a hard link or a symlink to it too), or by real path when one of them does not exist. `st`: the
 * file as opened, when it is (compared by identity only).
 */
export function refuseInputs(path: string, t: WriteTarget, st?: Stats): void {
  for (const input of t.inputs ?? []) {
    let same: boolean;
    if (st) {
      const si = statOrNull(input.path);
      same = si !== null && si.dev === st.dev && si.ino === st.ino;
    } else same = sameFile(path, input.path);
    if (same) {
      const how = resolve(path) === resolve(input.path) ? 'it is' : 'it is the same file as';
      throw new LogFileError(`svasim: cannot write ${t.what} ${path}: ${how} ${input.role} (${input.path}); choose another file`);
    }
  }
}

// ---- Locks.

/** glibc's dev_t encoding: major and minor numbers, as /proc prints them (hex, at least two digits). */
function devString(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  const hex = (n: bigint): string => n.toString(16).padStart(2, '0');
  return `${hex(major)}:${hex(minor)}`;
}

/**
 * Who holds the flock on the file `st` (at `path`): a process with a descriptor whose fdinfo has a
 * `lock:` line for this dev:inode (or, where the file system reports another dev there, a descriptor
 * of this path with a lock). Named by pid and command line; "another process" when none is found
 * (it exited meanwhile, or /proc is not readable).
 */
export function lockHolder(path: string, st: Stats): string {
  const want = `${devString(st.dev)}:${st.ino}`;
  const real = realPathOf(path);
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return 'another process';
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let info: string;
      try {
        info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      // "lock:\t1: FLOCK  ADVISORY  WRITE 11768 fe:00:2146550 0 EOF" (waiters read "1: -> FLOCK …").
      const m = /^lock:\s+\d+:\s+FLOCK\s+\S+\s+\S+\s+\d+\s+([0-9a-f]+:[0-9a-f]+:\d+)\s/m.exec(info);
      if (!m) continue;
      let mine = m[1] === want;
      if (!mine) {
        try {
          mine = readlinkSync(`/proc/${pid}/fd/${fd}`) === real;
        } catch {
          mine = false;
        }
      }
      if (!mine) continue;
      let cmd = '';
      try {
        // On one line whatever the arguments hold (a `node -e` script has line breaks).
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '').join(' ').replace(/[\s\x00-\x1f\x7f]+/g, ' ').trim();
      } catch {
        // gone meanwhile: the pid alone
      }
      if (cmd.length > 200) cmd = `${cmd.slice(0, 199)}…`;
      return cmd === '' ? `pid ${pid}` : `pid ${pid} (${cmd})`;
    }
  }
  return 'another process';
}

/** What `tryLock` found. */
type Locked = 'locked' | 'held' | 'unlocked';

/**
 * Take an exclusive flock on `fd` without waiting. `held`: another open file description has it;
 * `unlocked`: no `flock` command (or it failed for another reason), said once in a warning.
 */
function tryLock(fd: number, path: string, t: WriteTarget): Locked {
  const r = spawnSync('flock', ['-n', '-x', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  const warn = t.warn ?? warnOnStderr;
  if (r.error) {
    const why = errnoCode(r.error) === 'ENOENT' ? "util-linux's flock command is not installed" : `flock could not be run (${describeIoError(r.error)})`;
    warn(`svasim: warning: ${why}: ${path} is written without a lock (a second writer of it would not be refused)`);
    return 'unlocked';
  }
  if (r.status === 0) return 'locked';
  if (r.status === 1) return 'held';
  const said = String(r.stderr ?? '').trim().split('\n')[0] ?? '';
  warn(`svasim: warning: could not lock ${path} (flock exited with ${r.status ?? r.signal}${said === '' ? '' : `: ${said}`}): written without a lock`);
  return 'unlocked';
}

function heldError(t: WriteTarget, path: string, st: Stats, by: string): LogFileError {
  return new LogFileError(`svasim: cannot write ${t.what} ${path}: ${lockHolder(path, st)} holds its lock (${by}); wait for it or choose another file`);
}

function closeQuietly(fs: FileOps, fd: number): void {
  if (fd < 0) return;
  try {
    fs.close(fd);
  } catch {
    // already failing: the first error is the one to report
  }
}

/**
 * Open `path` to write it from the start, as its only writer: opened without truncating, refused when
 * it is one of `t.inputs`, locked (refused when another process holds the lock), then emptied. A
 * file that is not a regular file (`/dev/null`, `/dev/full`, a pipe) is neither locked nor truncated.
 */
export function openExclusive(path: string, t: WriteTarget): { fd: number; regular: boolean } {
  const fs = t.fs ?? NODE_FILE_OPS;
  refuseInputs(path, t);
  let fd: number;
  try {
    fd = fs.open(path, constants.O_WRONLY | constants.O_CREAT, 0o666);
  } catch (e) {
    throw writeError(t.what, path, e);
  }
  try {
    const st = fs.fstat(fd);
    const regular = st.isFile();
    if (regular) {
      if (tryLock(fd, path, t) === 'held') throw heldError(t, path, st, 'another run is writing it');
      // Checked again on the file actually opened: the path may have been replaced since.
      refuseInputs(path, t, st);
      fs.truncate(fd, 0);
    }
    return { fd, regular };
  } catch (e) {
    closeQuietly(fs, fd);
    if (e instanceof LogFileError) throw e;
    throw writeError(t.what, path, e);
  }
}

/**
 * Write `data` as the whole new content of `path`, atomically: into `<path>.svasim-tmp` in the same
 * directory (locked, so two writers never write one temp file), then renamed over `path` — a reader
 * sees the old file or the new one, never a torn one, and a failed write leaves the old file as it
 * was. `onHeld`: when another process is writing the same file, `skip` (return false: a cache someone
 * else is writing) or `fail` (a LogFileError naming the holder). A symlink keeps pointing where it did
 * (its target is replaced); a device or a pipe (`/dev/null`, `/dev/stdout`) is written in place, never
 * replaced by a file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, t: WriteTarget & { readonly onHeld: 'skip' | 'fail' }): boolean {
  const fs = t.fs ?? NODE_FILE_OPS;
  refuseInputs(path, t);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const st = statOrNull(path);
  if (st !== null && !st.isFile() && !st.isDirectory()) {
    const { fd } = openExclusive(path, t);
    try {
      writeAll(fs, fd, bytes, 0, bytes.length);
    } catch (e) {
      closeQuietly(fs, fd);
      throw writeError(t.what, path, e);
    }
    try {
      fs.close(fd);
    } catch (e) {
      throw writeError(t.what, path, e);
    }
    return true;
  }
  // The file a symlink names is the one to replace (the link stays).
  const real = st !== null && st.isFile() ? realpathSync(path) : path;
  const tmp = `${real}.svasim-tmp`;
  // The temp file can be renamed by its holder between our open and our lock: then start again.
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = fs.open(tmp, constants.O_WRONLY | constants.O_CREAT, 0o666);
    } catch (e) {
      throw writeError(t.what, path, e);
    }
    let ours = false;
    try {
      const st = fs.fstat(fd);
      if (!st.isFile()) throw ioFailure('EINVAL', `${tmp} is not a regular file`);
      const lock = tryLock(fd, tmp, t);
      if (lock === 'held') {
        if (t.onHeld === 'skip') {
          closeQuietly(fs, fd);
          return false;
        }
        throw heldError(t, path, st, `another process is writing ${path}`);
      }
      const now = statOrNull(tmp);
      if (now === null || now.dev !== st.dev || now.ino !== st.ino) {
        closeQuietly(fs, fd);
        if (attempt < 3) continue;
        if (t.onHeld === 'skip') return false;
        throw new LogFileError(`svasim: cannot write ${t.what} ${path}: other processes keep writing it`);
      }
      ours = true;
      fs.truncate(fd, 0);
      writeAll(fs, fd, bytes, 0, bytes.length);
      refuseInputs(path, t);
      fs.rename(tmp, real);
      ours = false;
      const f = fd;
      fd = -1;
      fs.close(f);
      return true;
    } catch (e) {
      if (ours) {
        try {
          fs.unlink(tmp);
        } catch {
          // left behind: the next writer reuses it (it holds no lock once we are gone)
        }
      }
      closeQuietly(fs, fd);
      if (e instanceof LogFileError) throw e;
      throw writeError(t.what, path, e);
    }
  }
}
