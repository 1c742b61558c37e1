/**
 * The whole system state as plain data: every process, thread, mm (with the process's fd table and
 * portal mappings), device file, the IOMMU (PASIDs, refs, device tables) and every work queue. For time
 * travel (`replay --until`), reports and inspectors.
 */
import type { FileContext } from '../../machines/file.ts';
import type { IommuContext } from '../../machines/iommu.ts';
import { hasRefcounts } from '../../machines/pasid.ts';
import type { MmContext } from '../../machines/mm.ts';
import type { ThreadContext } from '../../machines/thread.ts';
import type { WqContext } from '../../machines/wq.ts';
import type { Address, FdEntry } from '../../machines/protocol.ts';
import type { ActorKind, System } from './system.ts';

/** The whole system as plain data: processes, threads, mms, PASIDs, device tables, work queues. */
export interface SystemState {
  readonly seq: number;
  readonly processes: readonly { readonly process: string; readonly mm: number }[];
  readonly threads: readonly (Pick<ThreadContext, 'name' | 'process' | 'mm' | 'msr' | 'activated'> & { readonly state: string })[];
  /**
   * Each mm with the process's fd table (`fds`: descriptor name -> file; exec moves it to the new mm,
   * so an mm left by exec has none), its portal mappings (`maps`: each a reference to its file), and
   * `grabs`: the SVA bonds holding its mm_count (an exited mm stays, with its PASID under merged,
   * until they are gone).
   */
  readonly mms: readonly (Pick<MmContext, 'id' | 'process' | 'pasid' | 'users' | 'bindings' | 'portals' | 'lam' | 'fds' | 'maps' | 'grabs' | 'caps'> & {
    readonly state: string;
  })[];
  /**
   * Every device file (idxd user context) ever opened, released ones included: `mm` and `pasid` are
   * ctx->mm and ctx->pasid, `sva` whether its bond is still there, `holders` its references (f_count):
   * `fd:<process>/<name>` for a descriptor, `map:mm:<id>` for a portal mapping.
   */
  readonly files: readonly (Pick<FileContext, 'device' | 'mm' | 'pasid' | 'sva' | 'holders'> & { readonly address: string; readonly state: string })[];
  readonly iommu: {
    readonly pasids: readonly { readonly pasid: number; readonly mm: number; readonly refs: number | null }[];
    readonly tables: IommuContext['tables'];
  };
  readonly wqs: readonly (Pick<WqContext, 'device' | 'wqSize' | 'threshold' | 'accepted' | 'retried' | 'completed' | 'faulted'> & {
    /** Accepted descriptors waiting in the queue (out of `wqSize`; ENQCMD gets Retry from `threshold` on). */
    readonly occupancy: number;
    /** Descriptors dispatched and waiting for their translation. */
    readonly inflight: number;
  })[];
  /**
   * Actors of registered kinds (device models and others), each with its kind, state and context as its
   * behavior shows them. Absent when none exists (states of runs without plugins keep their shape).
   */
  readonly registered?: readonly { readonly address: string; readonly kind: string; readonly state: string; readonly context: unknown }[];
}

/** The system's state as plain data (what `replay --until` prints and the inspector shows). */
export function systemState(sys: System): SystemState {
  const threads: SystemState['threads'][number][] = [];
  const mms: SystemState['mms'][number][] = [];
  const wqs: SystemState['wqs'][number][] = [];
  const files: SystemState['files'][number][] = [];
  const registered: NonNullable<SystemState['registered']>[number][] = [];
  for (const { address, kind } of sys.addresses()) {
    if (sys.isForeign(address)) {
      const a = sys.actor(address);
      if (a) registered.push({ address, kind, state: a.state, context: a.context });
    } else if (kind === 'thread') {
      const t = sys.thread(address.slice('thread:'.length));
      if (t) threads.push({ name: t.context.name, process: t.context.process, state: t.state, mm: t.context.mm, msr: t.context.msr, activated: t.context.activated });
    } else if (kind === 'mm') {
      const m = sys.mm(Number(address.slice('mm:'.length)));
      if (m) {
        const c = m.context;
        mms.push({
          id: c.id, process: c.process, state: m.state, pasid: c.pasid, users: c.users, bindings: c.bindings, portals: c.portals, lam: c.lam,
          fds: c.fds, maps: c.maps, grabs: c.grabs, caps: c.caps,
        });
      }
    } else if (kind === 'file') {
      const f = fileView(sys, address);
      if (f) {
        const c = f.context;
        files.push({ address, device: c.device, state: f.state, mm: c.mm, pasid: c.pasid, sva: c.sva, holders: c.holders });
      }
    } else if (kind === 'wq') {
      const w = sys.wq(address.slice('wq:'.length));
      if (w) {
        const c = w.context;
        const inflight = c.inflight.reduce((a, f) => a + f.count, 0);
        wqs.push({ device: c.device, occupancy: c.queue.length, wqSize: c.wqSize, threshold: c.threshold, inflight, accepted: c.accepted, retried: c.retried, completed: c.completed, faulted: c.faulted });
      }
    }
  }
  const io = sys.iommu().context;
  const pasids = Object.entries(io.owner)
    .map(([p, mm]) => ({ pasid: Number(p), mm, refs: hasRefcounts(io.policy) ? (io.refs[p] ?? 0) : null }))
    .sort((a, b) => a.pasid - b.pasid);
  const processes = sys.processes().map(([process, mm]) => ({ process, mm }));
  return { seq: sys.lastSeq, processes, threads, mms, files, iommu: { pasids, tables: io.tables }, wqs, ...(registered.length > 0 ? { registered } : {}) };
}

/** A file actor's state and context (the system keeps every actor's context as `unknown`; a `file` actor's is the file machine's). */
function fileView(sys: System, address: Address): { readonly state: string; readonly context: FileContext } | undefined {
  const a = sys.actor(address);
  return a && a.kind === 'file' ? { state: a.state, context: a.context as FileContext } : undefined;
}

/** A descriptor in one line: `name→file (device[, O_CLOEXEC])`. */
const fdText = ([name, f]: readonly [string, FdEntry]): string => `${name}→${f.file} (${f.device}${f.cloexec ? ', O_CLOEXEC' : ''})`;

/** The state as readable text, one block per kind of actor. */
export function formatState(s: SystemState): string[] {
  const out: string[] = [`state after seq ${s.seq}`];
  out.push('processes:');
  for (const p of s.processes) out.push(`  ${p.process}: mm:${p.mm}`);
  out.push('threads:');
  for (const t of s.threads) {
    out.push(`  ${t.name} (${t.process}, mm:${t.mm}) ${t.state}: IA32_PASID ${t.msr ?? 'unset'}${t.activated ? ', activated' : ''}`);
  }
  out.push('mms:');
  for (const m of s.mms) {
    const binds = Object.entries(m.bindings).filter(([, n]) => n > 0).map(([d, n]) => `${d}×${n}`).join(' ') || 'none';
    const lam = m.lam.enabled ? 'LAM_U57' : 'LAM off';
    const flags = [m.lam.lockLam ? 'LOCK_LAM' : '', m.lam.force ? 'FORCE_TAGGED_SVA' : ''].filter((f) => f !== '').join(' ');
    out.push(
      `  mm:${m.id} (${m.process}) ${m.state}: PASID ${m.pasid ?? 'none'}; users ${m.users.join(' ') || 'none'}; binds ${binds}; ` +
        `portals ${m.portals.join(' ') || 'none'}; ${lam}${flags ? ` ${flags}` : ''}`,
    );
    // The process's fd table and the mm's mappings: what keeps files (and through their bonds, this mm) alive.
    const extra = [m.grabs > 0 ? `; held by ${m.grabs} SVA bond${m.grabs === 1 ? '' : 's'} (mm_count)` : '', m.caps.length > 0 ? `; caps ${m.caps.join(' ')}` : ''].join('');
    out.push(`    fds ${Object.entries(m.fds).map(fdText).join(', ') || 'none'}; mappings ${m.maps.map((p) => `${p.device} (${p.file})`).join(', ') || 'none'}${extra}`);
  }
  out.push('files:');
  if (s.files.length === 0) out.push('  none opened');
  for (const f of s.files) {
    out.push(`  ${f.address} (${f.device}) ${f.state}: ctx->mm mm:${f.mm}, PASID ${f.pasid}, SVA ${f.sva ? 'bound' : 'unbound'}; holders ${f.holders.join(' ') || 'none'}`);
  }
  out.push('iommu:');
  out.push(`  PASIDs ${s.iommu.pasids.map((p) => `${p.pasid}→mm:${p.mm}${p.refs === null ? '' : ` refs ${p.refs}`}`).join(', ') || 'none allocated'}`);
  for (const [device, table] of Object.entries(s.iommu.tables)) {
    const entries = Object.entries(table).map(([p, e]) => `${p}${e.present ? '' : e.fpd ? ' (torn down, FPD)' : ' (not present)'}`);
    out.push(`  ${device} PASID table: ${entries.join(', ') || 'empty'}`);
  }
  out.push('work queues:');
  for (const w of s.wqs) {
    out.push(
      `  ${w.device}: occupancy ${w.occupancy} of ${w.wqSize} (threshold ${w.threshold}), in flight ${w.inflight}; accepted ${w.accepted}, retry ${w.retried}, completed ${w.completed}, DMAR-faulted ${w.faulted}`,
    );
  }
  if (s.registered) {
    out.push('actors of registered kinds:');
    for (const a of s.registered) out.push(`  ${a.address} (${a.kind}) ${a.state}: ${compactJson(a.context)}`);
  }
  return out;
}

/** A context in one line, cut at 200 characters. */
function compactJson(v: unknown): string {
  let t: string;
  try {
    t = JSON.stringify(v) ?? String(v);
  } catch {
    t = String(v);
  }
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

/** One actor as the inspector shows it: where it belongs, its current state and its whole context. */
export interface ActorState {
  readonly address: string;
  /** One of svasim's ({@link ActorKind}) or a registered kind's name. */
  readonly kind: string;
  /**
   * The process a thread or mm belongs to; for a device file, the process that opened it (ctx->mm's),
   * which other processes may share it with (fork's dup_fd) and it may outlive.
   */
  readonly process: string | null;
  /** The device of a work queue or device model (the actor at `wq:<device>`). */
  readonly device: string | null;
  readonly state: string;
  readonly context: unknown;
}

/** Every actor's state and context, in creation order. */
export function actorStates(sys: System): ActorState[] {
  const out: ActorState[] = [];
  for (const { address } of sys.addresses()) {
    const a = sys.actor(address);
    if (!a) continue;
    const c = a.context as { process?: unknown };
    const f = a.kind === 'file' ? fileView(sys, address) : undefined;
    const process = f ? (sys.mm(f.context.mm)?.context.process ?? null) : (a.kind === 'thread' || a.kind === 'mm') && typeof c.process === 'string' ? c.process : null;
    // Every device's actor (svasim's queue or a registered device model) is at wq:<device>.
    const device = address.startsWith('wq:') ? address.slice('wq:'.length) : null;
    out.push({ address, kind: a.kind, process, device, state: a.state, context: a.context });
  }
  return out;
}
