/**
 * Upcasters: each converts a log of one format version to the next, line by line, before validation.
 * A log of any known older version is brought to LOG_FORMAT_VERSION through the chain; add one entry
 * per format change, never edit an old one.
 *
 * Version 0 was the draft format of svasim's first prototype: no `model` in the header, and each record
 * nested its message (`{"seq":1,"from":…,"to":…,"step":0,"msg":{"type":…,…payload}}`). Version 1
 * (SPEC §7) flattens the message into the record. Version 2 adds a closing record after the last one,
 * written when the run ends: its records are version 1's, byte for byte. A version-1 log has no closing
 * record to tell whether it is complete, so readers keep judging that as before (replay's heuristics).
 */
export interface Upcaster {
  readonly from: number;
  /** The header of the older version, converted (its `version` set to `from + 1`). */
  header(h: Record<string, unknown>): Record<string, unknown>;
  /** One record of the older version, converted. */
  record(r: Record<string, unknown>): Record<string, unknown>;
  /** The records are the same bytes in both versions: their lines need no conversion (nor parsing). */
  readonly sameRecords?: boolean;
}

export const UPCASTERS: readonly Upcaster[] = [
  {
    from: 0,
    header: (h) => ({ log: h['log'], version: 1, model: 'pre-0.1 (format 0)', policy: h['policy'], scenario: h['scenario'] }),
    record: (r) => {
      const { msg, seq, from, to, cause, step, ...rest } = r;
      const m = (typeof msg === 'object' && msg !== null ? msg : {}) as Record<string, unknown>;
      const { type, ...payload } = m;
      return { seq, type, from, to, ...(cause === undefined ? {} : { cause }), step, ...rest, ...payload };
    },
  },
  {
    from: 1,
    header: (h) => ({ ...h, version: 2 }),
    record: (r) => r,
    sameRecords: true,
  },
];

/** The upcasters that take `version` to `target`, in order; `null` if there is no such chain. */
export function chainFrom(version: number, target: number): Upcaster[] | null {
  const chain: Upcaster[] = [];
  for (let v = version; v < target; v++) {
    const u = UPCASTERS.find((x) => x.from === v);
    if (!u) return null;
    chain.push(u);
  }
  return version <= target ? chain : null;
}
