/**
 * Invariant monitors: the G*, S*, M*, L* rules of the README's "Invariants and hazards", checked when a
 * step reaches quiescence against the actors the step touched. A break becomes an `invariant.violation`
 * message; it is data, not an exception, so a run (or an exploration) reports it and goes on.
 */
import type { MmContext } from '../../machines/mm.ts';
import { hasRefcounts } from '../../machines/pasid.ts';
import { isBuiltinMessage, type Address, type Message } from '../../machines/protocol.ts';
import { KindError, type Kinds, type StepView } from './kinds.ts';
import type { Delivered, System } from './system.ts';

/**
 * Which invariants a check looks at. `step` (a run's and a replay's): all, after a step reached quiescence,
 * over its messages and the actors it changed. Exploration checks every state it reaches: `always` after
 * every delivery (the invariants that hold in every state: G1, G10, M1, M2, M3, L1, L2, L3 and S2's
 * "no negative refcount"), `quiescent` in every state with no message in flight (the ones that relate
 * actors a message in flight may still be updating: G3–G8, S1, S2's other checks, and the monitors of
 * registered kinds).
 */
export type CheckMode = 'step' | 'always' | 'quiescent';

/** One broken invariant found after a step: its name (G1, S1, … or a kind monitor's) and what broke. */
export interface Violation {
  readonly invariant: string;
  readonly detail: string;
  /** The seq of the message after which it was found. */
  readonly at: number;
}

/** What the monitor remembers across steps (sticky flags, first PASIDs); part of a snapshot. */
export interface MonitorState {
  readonly firstPasid: Readonly<Record<string, number>>;
  readonly activated: readonly string[];
  readonly lockLam: readonly string[];
}

const isMmAlive = (state: string): boolean => state.startsWith('alive');

/** Collects the violations found after one step. */
const NO_MONITORS: ReturnType<Kinds['monitors']> = [];

/** Add to a short list unless it is there. */
function addOnce<T>(list: T[], x: T): void {
  if (!list.includes(x)) list.push(x);
}

class Reporter {
  constructor(
    private readonly out: Violation[],
    private readonly at: number,
  ) {}

  report(invariant: string, detail: string): void {
    this.out.push({ invariant, detail, at: this.at });
  }
}

/**
 * svasim's invariants (and the monitors of registered kinds) checked after every step; `check` returns
 * what broke, which the runner posts as `invariant.violation` messages. Its memory (`state()`) is part
 * of a checkpoint.
 */
export class InvariantMonitor {
  private firstPasid = new Map<number, number>();
  private activated = new Set<string>();
  private lockLam = new Set<number>();
  /**
   * Scratch of {@link check}: the threads, mms and PASIDs a step touched (a few at most: short lists,
   * emptied at each call, where a Set would be a new hash table a step, even emptied).
   */
  private readonly threadsNow: string[] = [];
  private readonly mmsNow: number[] = [];
  private readonly pasidsNow: number[] = [];

  constructor(state?: MonitorState) {
    if (state) this.load(state);
  }

  /** Replace what it remembers (exploration reuses one monitor, loading each transition's history). */
  load(state: MonitorState): void {
    this.forget();
    for (const k in state.firstPasid) this.firstPasid.set(Number(k), state.firstPasid[k] as number);
    for (const t of state.activated) this.activated.add(t);
    for (const m of state.lockLam) this.lockLam.add(Number(m));
  }

  /** Remember nothing (then {@link remember} what one delivery's check needs: exploration, per transition). */
  forget(): void {
    if (this.firstPasid.size > 0) this.firstPasid.clear();
    if (this.activated.size > 0) this.activated.clear();
    if (this.lockLam.size > 0) this.lockLam.clear();
  }

  /** Remember an mm's first PASID and LOCK_LAM, and a thread activated, as a run would have seen them. */
  remember(mm: { readonly id: number; readonly pasid: number | null; readonly lockLam: boolean } | undefined, activatedThread: string | undefined): void {
    if (mm !== undefined) {
      if (mm.pasid !== null) this.firstPasid.set(mm.id, mm.pasid);
      if (mm.lockLam) this.lockLam.add(mm.id);
    }
    if (activatedThread !== undefined) this.activated.add(activatedThread);
  }

  state(): MonitorState {
    return {
      firstPasid: Object.fromEntries(this.firstPasid),
      activated: [...this.activated],
      lockLam: [...this.lockLam].map(String),
    };
  }

  /**
   * Check the invariants touched by one step: its messages (delivered in order) and the actors whose
   * state changed (`System.takeChanged()`).
   */
  check(sys: System, messages: readonly Delivered[], changed: ReadonlySet<Address>, mode: CheckMode = 'step'): Violation[] {
    const out: Violation[] = [];
    if (messages.length === 0 && mode !== 'quiescent') return out;
    const always = mode !== 'quiescent';
    const settled = mode !== 'always';
    // No closures on this per-step path (each would cost a keepNames call under tsx).
    const v = new Reporter(out, messages[messages.length - 1]?.seq ?? sys.lastSeq);
    const policy = sys.config.policy;
    const [min, max] = sys.config.pasidRange;
    const iommu = sys.iommu().context;

    const threads = this.threadsNow;
    const mms = this.mmsNow;
    const pasids = this.pasidsNow;
    threads.length = 0;
    mms.length = 0;
    pasids.length = 0;
    for (const a of changed) {
      if (a.startsWith('thread:')) addOnce(threads, a.slice(7));
      else if (a.startsWith('mm:')) addOnce(mms, Number(a.slice(3)));
    }
    // Messages of registered kinds, and copies their observers hear, are theirs to check (kinds.ts);
    // a device model's messages (svasim's types) are checked like the built-in queue's.
    const foreign = sys.kinds.hasRegistered;
    for (const d of messages) {
      if (d.copy === true || (foreign && !isBuiltinMessage(d.msg))) continue;
      // Without registered kinds every message is svasim's (the bus checks inputs and what kinds send).
      const m = d.msg as Message;
      if ('pasid' in m && typeof m.pasid === 'number') addOnce(pasids, m.pasid);
      // G8: a #GP with no fixup ends in SIGSEGV.
      if (settled && m.type === 'trap.gp') {
        let answered = false;
        for (const e of messages) {
          if (e.seq > d.seq && (e.msg.type === 'gp.fixup' || e.msg.type === 'signal.sigsegv') && e.msg.thread === m.thread) {
            answered = true;
            break;
          }
        }
        if (!answered) v.report('G8', `#GP of thread ${m.thread} (seq ${d.seq}) was neither fixed up nor signalled`);
      }
      // M2: merged frees a PASID only after the last unbind (every bond holds mm_count).
      if (!always) continue;
      if (m.type === 'pasid.free' && policy.pasid === 'merged' && d.to.startsWith('mm:')) {
        const mm = sys.mm(Number(d.to.slice(3)));
        const held = mm ? Object.entries(mm.context.bindings).filter(([, n]) => n > 0) : [];
        if (held.length > 0) v.report('M2', `PASID ${m.pasid} freed (seq ${d.seq}) while ${d.to} still has bindings on ${held.map(([k]) => k).join(', ')}`);
      }
      // S2: refcounts never go negative.
      if ((m.type === 'pasid.put' || m.type === 'pasid.get') && m.refs < 0) v.report('S2', `PASID ${m.pasid} refcount ${m.refs} (seq ${d.seq})`);
      // G10: no descriptor is translated in an address space other than its submitter's (cross-address-space DMA).
      if (m.type === 'iommu.translated' && m.mm !== undefined && m.space !== undefined && m.mm !== m.space) {
        v.report('G10', `${m.device}: a descriptor of thread ${m.thread} (mm:${m.mm}) was translated through PASID ${m.pasid} in mm:${m.space}'s address space (seq ${d.seq})`);
      }
    }

    for (const name of threads) {
      const t = sys.thread(name);
      if (!t) continue;
      const c = t.context;
      if (always) {
        if (c.msr !== null && !c.activated) v.report('G1', `thread ${name}: IA32_PASID=${c.msr} but not activated`);
        if (this.activated.has(name) && !c.activated) v.report('M3', `thread ${name}: activated flag was cleared`);
        if (c.activated) this.activated.add(name);
      }
      if (t.state === 'exited' || !settled) continue;
      // G8, as a state (exploration): with nothing in flight, a thread still in its #GP or #UD handler
      // was never answered (a run checks the step's messages instead, above).
      if (mode === 'quiescent' && t.state === 'trapping') v.report('G8', `thread ${name} trapped (#GP or #UD) and was neither fixed up nor signalled`);
      const mm = sys.mm(c.mm);
      if (!mm || !isMmAlive(mm.state)) {
        v.report('G3', `thread ${name} is live but its mm:${c.mm} is ${mm ? mm.state : 'missing'}`);
        continue;
      }
      if (!mm.context.users.includes(name)) v.report('G3', `thread ${name} is live but not a user of mm:${c.mm}`);
      // G7 (and "no freed PASID in a live MSR"): a live MSR holds its mm's current PASID.
      if (c.msr !== null && c.msr !== mm.context.pasid) {
        v.report('G7', `thread ${name}: IA32_PASID=${c.msr} but mm:${c.mm} has PASID ${mm.context.pasid ?? 'none'}`);
      }
    }

    for (const id of mms) {
      const mm = sys.mm(id);
      if (!mm) continue;
      const c = mm.context;
      if (c.pasid !== null) addOnce(pasids, c.pasid);
      this.checkMm(sys, id, mm.state, c, v, always, settled);
    }

    // G4-G6 relate IOMMU state to mm state: they can only break in a step that changed either.
    const allocatorTouched = settled && (mms.length > 0 || changed.has('iommu'));
    if (allocatorTouched) for (const p of pasids) {
      const owner = iommu.owner[p];
      if (owner !== undefined) {
        if (p < min || p > max || p === 0) v.report('G4', `PASID ${p} allocated outside [${min}, ${max}]`);
        const mm = sys.mm(owner);
        if (!mm || (mm.context.pasid !== p && isMmAlive(mm.state))) {
          v.report('G4', `PASID ${p} is allocated to mm:${owner}, which has PASID ${mm?.context.pasid ?? 'none'}`);
        }
        if (hasRefcounts(policy.pasid) && !((iommu.refs[p] ?? 0) > 0)) v.report('S2', `PASID ${p} is allocated with refcount ${iommu.refs[p] ?? 0}`);
      }
      for (const device in iommu.tables) {
        const entry = iommu.tables[device]?.[p];
        if (!entry?.present) continue;
        if (owner === undefined) {
          v.report('G6', `freed PASID ${p} still has a present PASID-table entry on ${device}`);
          continue;
        }
        if (!((iommu.bonds[device]?.[p] ?? 0) > 0)) v.report('G5', `present entry ${device}/${p} has no bond`);
        const mm = sys.mm(owner);
        if (!mm || !isMmAlive(mm.state)) v.report('G5', `present entry ${device}/${p} belongs to mm:${owner}, which is ${mm?.state ?? 'gone'}`);
      }
    }
    // The invariants registered kinds add (src/runtime/kinds.ts), over the same step.
    const kindMonitors = settled ? sys.kinds.monitors() : NO_MONITORS;
    if (kindMonitors.length > 0) {
      const view: StepView = { messages, changed, actor: (a) => sys.actor(a) };
      for (const { kind, monitor } of kindMonitors) {
        let details: readonly string[];
        try {
          details = monitor.check(view);
        } catch (e) {
          if (e instanceof KindError) throw e;
          const origin = sys.kinds.get(kind)?.definition?.origin;
          const why = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
          throw new KindError(`${origin ? `plugin ${origin.name}: ` : ''}kind "${kind}": monitor ${monitor.invariant} threw: ${why}`, { cause: e });
        }
        if (!Array.isArray(details)) throw new KindError(`kind "${kind}": monitor ${monitor.invariant} returned ${typeof details}, not an array of details`);
        for (const detail of details) {
          if (typeof detail !== 'string') throw new KindError(`kind "${kind}": monitor ${monitor.invariant} returned ${typeof detail} ${JSON.stringify(detail) ?? ''} among its details (each must be a string)`);
          v.report(monitor.invariant, detail);
        }
      }
    }
    return out;
  }

  private checkMm(sys: System, id: number, state: string, c: MmContext, v: Reporter, always: boolean, settled: boolean): void {
    const policy = sys.config.policy;
    const iommu = sys.iommu().context;
    if (settled && c.pasid !== null && iommu.owner[c.pasid] !== id) {
      v.report('G4', `mm:${id} has PASID ${c.pasid}, which the IOMMU gives to ${iommu.owner[c.pasid] === undefined ? 'nobody' : `mm:${iommu.owner[c.pasid]}`}`);
    }
    // M1: merged: the PASID never changes between first allocation and __mmdrop.
    if (always && policy.pasid === 'merged') {
      const first = this.firstPasid.get(id);
      if (first === undefined && c.pasid !== null) this.firstPasid.set(id, c.pasid);
      else if (first !== undefined && c.pasid !== first && state !== 'dead') {
        v.report('M1', `mm:${id} PASID changed from ${first} to ${c.pasid ?? 'none'} before the mm was dropped`);
      }
    }
    if (settled && hasRefcounts(policy.pasid)) {
      // S1: refs = bind calls not yet unbound + live tasks that took the fixup in this mm. A task that
      // fixed up and then exec'd keeps has_valid_pasid (stale) but holds no ref in its new mm; its MSR is
      // reset, so "took the fixup here" is "has a valid MSR".
      if (c.pasid !== null && isMmAlive(state)) {
        let binds = 0;
        for (const device in c.bindings) binds += c.bindings[device] ?? 0;
        let tasks = 0;
        for (const u of c.users) if (sys.thread(u)?.context.msr != null) tasks++;
        const refs = iommu.refs[c.pasid] ?? 0;
        if (refs !== binds + tasks) v.report('S1', `PASID ${c.pasid} of mm:${id}: refcount ${refs} but ${binds} bind(s) + ${tasks} fixed-up task(s)`);
      }
      if (state === 'dead' && c.pasid !== null) v.report('S2', `mm:${id} is gone but PASID ${c.pasid} was never freed`);
    }
    if (!always) return;
    // LAM.
    if (policy.lam === 'v6.4' && c.lam.enabled && !c.lam.lockLam) v.report('L1', `mm:${id}: LAM enabled without LOCK_LAM`);
    if (!c.lam.force && c.lam.enabled && c.pasid !== null) v.report('L2', `mm:${id}: LAM enabled and PASID ${c.pasid} without FORCE_TAGGED_SVA`);
    if (this.lockLam.has(id) && !c.lam.lockLam) v.report('L3', `mm:${id}: LOCK_LAM was cleared`);
    if (c.lam.lockLam) this.lockLam.add(id);
  }
}
