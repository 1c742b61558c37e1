/**
 * The IOMMU (Intel VT-d in scalable mode) and the SVA core above it: the global PASID allocator
 * (lowest free id in an inclusive range), per-PASID refcounts (seed-2021), SVA bonds per (device, PASID),
 * the per-device PASID tables, and DMA translation with DMAR fault reporting.
 */
import { assertEvent, enqueueActions, setup } from 'xstate';
import {
  DMAR_REASON_PASID_ENTRY_NOT_PRESENT,
  mmAddr,
  wqAddr,
  type Message,
  type Outgoing,
  type PasidPolicy,
} from './protocol.ts';
import type { TransitionMeta } from './citations.ts';
import { allocRefusal, fixupRef, onRebind, onUnbind, putRef, refsAtAlloc, type PutOutcome } from './pasid.ts';

export interface IommuInput {
  readonly policy: PasidPolicy;
  readonly pasidRange: readonly [number, number];
  readonly devices: readonly string[];
}

/** A scalable-mode PASID-table entry: `fpd` = Fault Processing Disable (torn down at exit, faults silent). */
export interface PasidEntry {
  readonly present: boolean;
  readonly fpd: boolean;
}

export interface IommuContext {
  readonly policy: PasidPolicy;
  readonly pasidRange: readonly [number, number];
  /** Allocated PASIDs and the mm that owns each. Keys are decimal PASIDs. */
  readonly owner: Readonly<Record<string, number>>;
  /** seed-2021: references per allocated PASID (binds + fixed-up tasks). Empty under merged. */
  readonly refs: Readonly<Record<string, number>>;
  /** SVA bonds (sdev / handle users): device -> PASID -> users. (Per device and keyed by number: cheap to copy.) */
  readonly bonds: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Per-device PASID tables: device -> PASID -> entry. */
  readonly tables: Readonly<Record<string, Readonly<Record<string, PasidEntry>>>>;
}

type IommuEvent = Extract<
  Message,
  { type: 'iommu.bind' | 'iommu.unbind' | 'iommu.get' | 'iommu.put' | 'iommu.teardown' | 'iommu.free' | 'iommu.translate' }
>;


/** Lowest free PASID in the inclusive range (ioasid xarray / IDA both hand out the lowest free id). */
export function lowestFreePasid(owner: Readonly<Record<string, number>>, [min, max]: readonly [number, number]): number | null {
  for (let p = min; p <= max; p++) if (owner[p] === undefined) return p;
  return null;
}

/**
 * A copy of a table keyed by PASID. Each kind of table is copied at its own call site: V8 copies an object
 * literal spread fast only where the site has seen few object shapes, and a shared `{ ...x }` over every
 * table (PASID-keyed element stores and device-keyed objects alike) took ~100x longer (~90 µs for 1,000
 * PASIDs).
 */
const copyOwner = (t: Readonly<Record<string, number>>): Record<string, number> => ({ ...t });
const copyRefs = (t: Readonly<Record<string, number>>): Record<string, number> => ({ ...t });
const copyBonds = (t: Readonly<Record<string, number>> | undefined): Record<string, number> => ({ ...t });
const copyEntries = (t: Readonly<Record<string, PasidEntry>> | undefined): Record<string, PasidEntry> => ({ ...t });
const copyPerDevice = <T>(t: Readonly<Record<string, T>>): Record<string, T> => ({ ...t });

type Tables = Pick<Draft, 'owner' | 'refs' | 'bonds' | 'tables'>;
/** The copy function of each table of the context (each its own spread site, as said above). */
const COPY: { readonly [K in keyof Tables]: (t: Tables[K]) => Tables[K] } = {
  owner: copyOwner,
  refs: copyRefs,
  bonds: copyPerDevice,
  tables: copyPerDevice,
};

/**
 * Working copy of the context for one handler, committed with a single assign. Each table is copied on
 * its first write only (the allocator can hold a million PASIDs; most handlers touch one or two tables).
 */
class Draft {
  private readonly copied = new Set<keyof Tables>();
  owner: Record<string, number>;
  refs: Record<string, number>;
  bonds: Record<string, Record<string, number>>;
  tables: Record<string, Record<string, PasidEntry>>;
  readonly out: Outgoing[] = [];

  constructor(c: IommuContext) {
    this.owner = c.owner as Record<string, number>;
    this.refs = c.refs as Record<string, number>;
    this.bonds = c.bonds as Record<string, Record<string, number>>;
    this.tables = c.tables as Record<string, Record<string, PasidEntry>>;
  }

  /** The named table, made private to this draft before its first change. */
  w<K extends keyof Tables>(k: K): Tables[K] {
    if (!this.copied.has(k)) {
      this.copied.add(k);
      (this as Tables)[k] = COPY[k]((this as Tables)[k]);
    }
    return (this as Tables)[k];
  }
}

const draftOf = (c: IommuContext): Draft => new Draft(c);

/** Set (or with 0, remove) the bond count of (device, pasid). */
function setBond(d: Draft, device: string, pasid: number, users: number): void {
  const perDevice = copyBonds(d.bonds[device]);
  if (users > 0) perDevice[pasid] = users;
  else delete perDevice[pasid];
  d.w('bonds')[device] = perDevice;
}

function setEntry(d: Draft, device: string, pasid: number, entry: PasidEntry | undefined): void {
  const table = copyEntries(d.tables[device]);
  if (entry === undefined) delete table[pasid];
  else table[pasid] = entry;
  d.w('tables')[device] = table;
}

/** Apply one dropped reference (seed-2021, machines/pasid.ts `putRef`): the new count, and the free at zero. */
function applyPut(d: Draft, pasid: number, mm: number, put: PutOutcome): void {
  d.w('refs')[pasid] = put.refs;
  d.out.push({ type: 'pasid.put', pasid, refs: put.refs, to: mmAddr(mm) });
  if (put.freed) freePasid(d, pasid, mm);
}

function freePasid(d: Draft, pasid: number, mm: number): void {
  delete d.w('owner')[pasid];
  delete d.w('refs')[pasid];
  d.out.push({ type: 'pasid.free', pasid, to: mmAddr(mm) });
}

function commit(d: Draft, enqueue: { assign: (c: Partial<IommuContext>) => void; emit: (o: Outgoing) => void }): void {
  enqueue.assign({ owner: d.owner, refs: d.refs, bonds: d.bonds, tables: d.tables });
  for (const o of d.out) enqueue.emit(o);
}

export const iommuMachine = setup({
  types: {
    input: {} as IommuInput,
    context: {} as IommuContext,
    events: {} as IommuEvent,
    emitted: {} as Outgoing,
    /** Each transition names the kernel code it models (machines/citations.ts). */
    transitionMeta: {} as TransitionMeta,
  },
  actions: {
    /** iommu_sva_bind_device(): allocate the mm's PASID if it has none, count the bond, program the entry. */
    bind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.bind');
      const d = draftOf(context);
      const to = mmAddr(event.mm);
      let pasid = event.pasid !== null && context.owner[event.pasid] === event.mm ? event.pasid : null;
      if (pasid === null) {
        pasid = lowestFreePasid(context.owner, context.pasidRange);
        if (pasid === null) {
          const r = allocRefusal(context.policy);
          enqueue.emit({ type: 'iommu.bind_failed', device: event.device, errno: r.errno, reason: r.reason, to });
          return;
        }
        d.w('owner')[pasid] = event.mm;
        const refs = refsAtAlloc(context.policy);
        if (refs !== null) d.w('refs')[pasid] = refs;
        d.out.push({ type: 'pasid.alloc', pasid, mm: event.mm, to });
      } else {
        const got = onRebind(context.policy, d.refs[pasid] ?? 0);
        if (got !== null) {
          d.w('refs')[pasid] = got.refs;
          d.out.push({ type: 'pasid.get', pasid, refs: got.refs, to });
        }
      }
      const users = (d.bonds[event.device]?.[pasid] ?? 0) + 1;
      setBond(d, event.device, pasid, users);
      if (users === 1) {
        setEntry(d, event.device, pasid, { present: true, fpd: false });
        d.out.push({ type: 'pasidtable.set', device: event.device, pasid, to });
      }
      d.out.push({ type: 'iommu.bound', device: event.device, pasid, to });
      commit(d, enqueue);
    }),
    /** iommu_sva_unbind_device(): entry removed when the last bond goes; seed-2021 drops a ref per call. */
    unbind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.unbind');
      const d = draftOf(context);
      const to = mmAddr(event.mm);
      const users = (d.bonds[event.device]?.[event.pasid] ?? 0) - event.count;
      setBond(d, event.device, event.pasid, users);
      if (users <= 0) {
        const entry = d.tables[event.device]?.[event.pasid];
        if (entry !== undefined) {
          setEntry(d, event.device, event.pasid, undefined);
          if (entry.present) d.out.push({ type: 'pasidtable.clear', device: event.device, pasid: event.pasid, to });
        }
      }
      // One put per unbound bind call while the mm still owns the PASID (the last one frees it).
      for (let i = 0; i < event.count && d.owner[event.pasid] === event.mm; i++) {
        const put = onUnbind(context.policy, d.refs[event.pasid] ?? 0);
        if (put === null) break;
        applyPut(d, event.pasid, event.mm, put);
      }
      // The file that asked gets the answer (its release or a driver-level unbind); else the mm.
      d.out.push({ type: 'iommu.unbound', device: event.device, pasid: event.pasid, to: event.file === undefined ? to : (event.file as Outgoing['to']) });
      commit(d, enqueue);
    }),
    /** seed-2021 #GP fixup: the task's reference (iommu_sva_alloc_pasid on an existing PASID). */
    get: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.get');
      const to = mmAddr(event.mm);
      const refs = context.owner[event.pasid] === event.mm ? fixupRef(context.refs[event.pasid]) : null;
      if (refs === null) {
        enqueue.emit({ type: 'iommu.get_failed', pasid: event.pasid, thread: event.thread, to });
        return;
      }
      const next = copyRefs(context.refs);
      next[event.pasid] = refs;
      enqueue.assign({ refs: next });
      enqueue.emit({ type: 'pasid.get', pasid: event.pasid, refs, thread: event.thread, to });
    }),
    /** seed-2021 deactivate_mm() -> pasid_put(). */
    put: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.put');
      if (context.owner[event.pasid] !== event.mm) return; // a stale put: the PASID was freed (and maybe reallocated)
      const d = draftOf(context);
      applyPut(d, event.pasid, event.mm, putRef(d.refs[event.pasid] ?? 0));
      commit(d, enqueue);
    }),
    /** intel_mm_release(): every entry of the mm's PASID cleared with fault-ignore (FPD). */
    teardown: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.teardown');
      const to = mmAddr(event.mm);
      if (context.owner[event.pasid] === event.mm) {
        const d = draftOf(context);
        for (const device of Object.keys(context.tables).sort()) {
          if (context.tables[device]?.[event.pasid]?.present) {
            setEntry(d, device, event.pasid, { present: false, fpd: true });
            d.out.push({ type: 'pasidtable.clear', device, pasid: event.pasid, silent: true, to });
          }
        }
        commit(d, enqueue);
      }
      enqueue.emit({ type: 'iommu.torndown', pasid: event.pasid, to });
    }),
    /** merged: mm_pasid_drop() in __mmdrop(). */
    free: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.free');
      if (context.owner[event.pasid] !== event.mm) return; // not this mm's PASID: nothing to free
      const d = draftOf(context);
      freePasid(d, event.pasid, event.mm);
      commit(d, enqueue);
    }),
    /** A descriptor's DMA: the device's PASID-table entry decides; a missing entry is DMAR fault 0x59. */
    translate: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.translate');
      const to = wqAddr(event.device);
      const entry = context.tables[event.device]?.[event.pasid];
      if (entry?.present) {
        // The entry walks its mm's page tables (intel_svm_set_dev_pasid programs mm->pgd): that mm is the
        // address space the DMA lands in, whoever submitted the descriptor (G10 compares the two).
        const space = context.owner[event.pasid];
        enqueue.emit({
          type: 'iommu.translated', device: event.device, pasid: event.pasid, thread: event.thread,
          ...(event.mm === undefined ? {} : { mm: event.mm }), ...(space === undefined ? {} : { space }), to,
        });
      } else if (entry?.fpd) {
        enqueue.emit({
          type: 'fault.dmar', device: event.device, pasid: event.pasid, reason: DMAR_REASON_PASID_ENTRY_NOT_PRESENT,
          suppressed: true, thread: event.thread, to,
        });
      } else {
        enqueue.emit({
          type: 'fault.dmar', device: event.device, pasid: event.pasid, reason: DMAR_REASON_PASID_ENTRY_NOT_PRESENT,
          thread: event.thread, to,
        });
      }
    }),
  },
}).createMachine({
  id: 'iommu',
  context: ({ input }) => ({
    policy: input.policy,
    pasidRange: input.pasidRange,
    owner: {},
    refs: {},
    bonds: Object.fromEntries(input.devices.map((d) => [d, {}])),
    tables: Object.fromEntries(input.devices.map((d) => [d, {}])),
  }),
  initial: 'enabled',
  states: {
    enabled: {
      description: 'Scalable mode on; SVA enabled for every device.',
      on: {
        'iommu.bind': { actions: 'bind', meta: { cite: 'sva-bind' } },
        'iommu.unbind': { actions: 'unbind', meta: { cite: 'sva-unbind' } },
        'iommu.get': { actions: 'get', meta: { cite: 'seed-fixup-ref' } },
        'iommu.put': { actions: 'put', meta: { cite: 'seed-pasid-put' } },
        'iommu.teardown': { actions: 'teardown', meta: { cite: 'mm-release' } },
        'iommu.free': { actions: 'free', meta: { cite: 'mmdrop' } },
        'iommu.translate': { actions: 'translate', meta: { cite: 'pasid-walk' } },
      },
    },
  },
});
