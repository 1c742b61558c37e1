/**
 * Every transition of svasim's five machines that does something names the kernel code it models: its
 * xstate `meta.cite` is an id of machines/citations.ts, read from the machine definitions themselves
 * (every state node's `on`, eventless `always` and `onDone` transitions). And every entry of the table
 * is cited by some transition (no stale words), says where to read it, and resolves per policy.
 */
import type { AnyStateMachine, AnyTransitionDefinition, StateNode } from 'xstate';
import { describe, expect, it } from 'vitest';
import { CITATIONS, CITATION_IDS, citationFor, describeCitation, isCitationId, type Citation } from '../../machines/citations.ts';
import { MACHINES } from '../../machines/index.ts';

interface Found {
  readonly where: string;
  readonly t: AnyTransitionDefinition;
}

/** Every transition of a machine: each state node's event, `always` and `onDone` transitions. */
function transitionsOf(machine: AnyStateMachine): Found[] {
  const out: Found[] = [];
  const visit = (n: StateNode): void => {
    for (const [event, ts] of n.transitions) for (const t of ts) out.push({ where: `#${n.id} on ${event}`, t });
    for (const t of n.always ?? []) out.push({ where: `#${n.id} always`, t });
    for (const child of Object.values(n.states)) visit(child);
  };
  visit(machine.root);
  return out;
}

/** A transition taken on purpose without effect (IGNORE): no target, no actions. */
const hasEffect = (t: AnyTransitionDefinition): boolean => (t.target?.length ?? 0) > 0 || t.actions.length > 0;
const citeOf = (t: AnyTransitionDefinition): unknown => (t.meta as { cite?: unknown } | undefined)?.cite;

describe('every transition cites the kernel code it models (machines/citations.ts)', () => {
  const all = Object.entries(MACHINES).flatMap(([kind, m]) => transitionsOf(m).map((f) => ({ ...f, kind })));

  it('the walk finds the transitions of all six machines, eventless and done ones included', () => {
    expect(new Set(all.map((f) => f.kind))).toStrictEqual(new Set(['thread', 'mm', 'iommu', 'wq', 'kernel', 'file']));
    expect(all.some((f) => f.where.endsWith(' always'))).toBe(true);
    // (The machines have no onDone transition since the file model; the walk still visits them: see its code.)
    expect(all.filter((f) => hasEffect(f.t)).length).toBeGreaterThan(80);
  });

  it('each transition with a target or actions names an id of the table', () => {
    const missing = all.filter((f) => hasEffect(f.t) && !isCitationId(citeOf(f.t))).map((f) => `${f.where}: ${JSON.stringify(citeOf(f.t))}`);
    expect(missing).toStrictEqual([]);
  });

  it('a transition taken without effect cites nothing (there is no kernel code to name)', () => {
    const cited = all.filter((f) => !hasEffect(f.t) && citeOf(f.t) !== undefined).map((f) => f.where);
    expect(cited).toStrictEqual([]);
  });

  it('every entry of the table is cited by some transition', () => {
    const used = new Set(all.map((f) => citeOf(f.t)));
    expect(CITATION_IDS.filter((id) => !used.has(id))).toStrictEqual([]);
  });

  it('every entry says where to read it (function and file), or that it is the model\'s own rule', () => {
    for (const [id, c] of Object.entries(CITATIONS) as [string, Citation][]) {
      if ('model' in c) {
        expect(c.model.length, id).toBeGreaterThan(20);
        continue;
      }
      expect(c.fn.length, id).toBeGreaterThan(2);
      expect(c.file, id).toMatch(/\.[ch]\b|Intel /);
      if (c.seed !== undefined) expect(c.seed.file, `${id} (seed)`).toMatch(/\.[ch]\b|Intel /);
    }
  });
});

describe('citationFor: one entry, read per PASID policy', () => {
  it('the #GP fixup is try_fixup_enqcmd_gp when merged, the RFC\'s __fixup_pasid_exception under seed-2021', () => {
    expect(describeCitation(citationFor('gp-fixup', 'merged'))).toBe('exc_general_protection → try_fixup_enqcmd_gp (arch/x86/kernel/traps.c)');
    expect(describeCitation(citationFor('gp-fixup', 'seed-2021'))).toBe(
      'exc_general_protection → fixup_pasid_exception → __fixup_pasid_exception (arch/x86/kernel/traps.c, drivers/iommu/intel/svm.c)',
    );
  });

  it('an entry without a seed counterpart reads the same under both; a model rule says it is the model\'s', () => {
    expect(citationFor('ud-sigill', 'seed-2021')).toStrictEqual(citationFor('ud-sigill', 'merged'));
    expect(describeCitation(citationFor('model-not-held', 'merged'))).toMatch(/^the model's own rule: /);
  });

  it('isCitationId refuses what is not a key of the table (Object.prototype included)', () => {
    expect(isCitationId('gp-fixup')).toBe(true);
    expect(isCitationId('toString')).toBe(false);
    expect(isCitationId(undefined)).toBe(false);
  });
});
