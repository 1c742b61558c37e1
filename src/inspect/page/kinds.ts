/**
 * Visual classes of messages (SPEC §5 vocabulary): each row of the sequence diagram gets one `msg-*`
 * class, and the legend lists them. The first matching kind wins.
 */
export interface MsgKind {
  /** CSS class on `.msg-row` (and the legend swatch). */
  readonly cls: string;
  readonly label: string;
  /** What the kind stands for and its message types (the legend's tooltip). */
  readonly types: string;
  readonly test: (type: string) => boolean;
}

export const KINDS: readonly MsgKind[] = [
  { cls: 'msg-invariant', label: 'invariant', types: 'invariant.violation: an invariant broke (each is stated in the README, Invariants and hazards)', test: (t) => t === 'invariant.violation' },
  { cls: 'msg-fault', label: 'DMAR fault', types: 'fault.dmar: VT-d fault (PASID entry not present)', test: (t) => t === 'fault.dmar' },
  { cls: 'msg-signal', label: 'SIGSEGV/SIGILL', types: 'signal.sigsegv, signal.sigill', test: (t) => t.startsWith('signal.') },
  { cls: 'msg-gp', label: '#GP/#UD trap, fixup', types: 'trap.gp, gp.fixup, trap.ud', test: (t) => t.startsWith('trap.') || t.startsWith('gp.') },
  { cls: 'msg-msr', label: 'MSR write', types: 'msr.write: IA32_PASID loaded', test: (t) => t === 'msr.write' },
  { cls: 'msg-ref', label: 'PASID alloc/get/put/free', types: 'pasid.alloc, pasid.get, pasid.put, pasid.free', test: (t) => t.startsWith('pasid.') },
  { cls: 'msg-table', label: 'PASID table', types: 'pasidtable.set, pasidtable.clear: device PASID-table entries', test: (t) => t.startsWith('pasidtable.') },
  { cls: 'msg-wq', label: 'WQ accept/retry/done', types: 'wq.accept, wq.retry, wq.complete', test: (t) => t === 'wq.accept' || t === 'wq.retry' || t === 'wq.complete' },
  {
    cls: 'msg-input',
    label: 'step input',
    types: 'step inputs: sys.spawn … sys.arch_prctl, insn.enqcmd, wq.execute',
    test: (t) => (t.startsWith('sys.') && t !== 'sys.return') || t.startsWith('insn.') || t === 'wq.execute',
  },
  { cls: 'msg-return', label: 'return', types: 'sys.return: the syscall returns', test: (t) => t === 'sys.return' },
  { cls: 'msg-internal', label: 'internal', types: 'mm.*, file.*, iommu.*, kernel.*, thread.*, portal.store, wq.submit, wq.drain…', test: () => true },
];

const cache = new Map<string, MsgKind>();
const FALLBACK = KINDS[KINDS.length - 1] as MsgKind;

export function kindOf(type: string): MsgKind {
  let k = cache.get(type);
  if (k === undefined) {
    k = KINDS.find((x) => x.test(type)) ?? FALLBACK;
    cache.set(type, k);
  }
  return k;
}
