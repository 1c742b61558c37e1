/**
 * The results of a search split into shards (`svasim explore --shard K/N`), combined: every shard's
 * findings (the shortest of each kind), the schedules they ran, and for bfs the distinct states of their
 * union, counted exactly from the fingerprints each shard wrote. Any batch scheduler can run the shards
 * (a Kubernetes indexed Job, a Slurm array, a CI matrix); nothing here runs anything.
 */
import { z } from 'zod';
import { FINDING_KINDS } from '../runtime/scheduler.ts';
import { FingerprintTable } from './table.ts';

const findingSchema = z
  .object({
    kind: z.enum(FINDING_KINDS),
    what: z.string(),
    detail: z.string(),
    depth: z.number().int().min(0),
    schedule: z.number().int().min(0).optional(),
    log: z.string(),
    seq: z.number().int().min(1),
  })
  .strict();

/** What `svasim explore --shard K/N` writes next to its counterexamples. */
export const shardResultSchema = z
  .object({
    svasim: z.literal('explore-shard'),
    format: z.literal(1),
    scenario: z.string(),
    policy: z.object({ pasid: z.string(), lam: z.string() }).strict(),
    strategy: z.enum(['bfs', 'random', 'pct']),
    seed: z.number().int().min(0).optional(),
    shard: z.object({ k: z.number().int().min(0), n: z.number().int().min(1) }).strict(),
    /** What makes two shards parts of one search: the scenario's hash and the options that shape it. */
    search: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    complete: z.boolean(),
    boundedBy: z.array(z.string()),
    stats: z.object({ distinct: z.number().int().min(0), transitions: z.number().int().min(0), schedules: z.number().int().min(0), depth: z.number().int().min(0), elapsedMs: z.number().min(0) }).passthrough(),
    findings: z.array(findingSchema),
    /** The fingerprints' file (bfs), beside this one. */
    fingerprints: z.string().nullable(),
    /** Its contents' SHA-256 (a merge refuses a damaged or swapped file; absent in results of earlier releases). */
    fingerprintsSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .strict();
export type ShardResult = z.infer<typeof shardResultSchema>;

/** The shards combined. */
export interface Merged {
  readonly scenario: string;
  readonly policy: ShardResult['policy'];
  readonly strategy: string;
  readonly seed?: number | undefined;
  readonly shards: number;
  /** Every shard present and none bounded (first findings aside): the whole search ran. */
  readonly complete: boolean;
  readonly boundedBy: readonly string[];
  /** bfs: distinct states of the union (exact); random and PCT: 0. */
  readonly distinct: number;
  readonly transitions: number;
  readonly schedules: number;
  /** The sum of the shards' elapsed times (ms): the work, not the wall-clock of a parallel run. */
  readonly workMs: number;
  /** The shortest finding of each kind over all shards, with the directory its log is in. */
  readonly findings: readonly (ShardResult['findings'][number] & { readonly shard: number })[];
}

/** A problem with the shards given (bad input): one line. */
export class MergeError extends Error {}

/** Combine shard results (each with its fingerprints, bfs) into one verdict. */
export function mergeShards(results: readonly { readonly result: ShardResult; readonly where: string; readonly fingerprints: Uint32Array | null }[]): Merged {
  const first = results[0];
  if (first === undefined) throw new MergeError('no shard results to merge');
  const { scenario, strategy, seed } = first.result;
  const n = first.result.shard.n;
  const seen = new Map<number, string>();
  for (const { result: r, where } of results) {
    if (r.scenario !== scenario || r.strategy !== strategy || r.seed !== seed || r.shard.n !== n || r.policy.pasid !== first.result.policy.pasid || r.policy.lam !== first.result.policy.lam) {
      throw new MergeError(`${where}: shard ${r.shard.k}/${r.shard.n} of "${r.scenario}" (${r.strategy}${r.seed === undefined ? '' : `, seed ${r.seed}`}) is not part of the same search as ${first.where} ("${scenario}", ${strategy}${seed === undefined ? '' : `, seed ${seed}`}, ${n} shards)`);
    }
    for (const key of new Set([...Object.keys(r.search), ...Object.keys(first.result.search)])) {
      const mine = r.search[key];
      const theirs = first.result.search[key];
      if (mine !== theirs) {
        const what = key === 'scenarioSha256' ? `the scenario "${r.scenario}" differs in its contents (edited between the shards?)` : `${key} ${JSON.stringify(mine ?? null)} there, ${JSON.stringify(theirs ?? null)} in ${first.where}`;
        throw new MergeError(`${where}: shard ${r.shard.k}/${r.shard.n} is not part of the same search as ${first.where}: ${what}`);
      }
    }
    const other = seen.get(r.shard.k);
    if (other !== undefined) throw new MergeError(`${where}: shard ${r.shard.k}/${n} is given twice (also ${other})`);
    seen.set(r.shard.k, where);
  }
  const missing = [...Array(n).keys()].filter((k) => !seen.has(k));
  if (missing.length > 0) throw new MergeError(`shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${n}`).join(', ')} missing: a merge needs every shard's result`);
  let distinct = 0;
  if (strategy === 'bfs') {
    const union = new FingerprintTable();
    for (const { fingerprints, where } of results) {
      if (fingerprints === null) throw new MergeError(`${where}: a bfs shard without its fingerprints`);
      for (let i = 0; i + 1 < fingerprints.length; i += 2) {
        const a = fingerprints[i] as number;
        const b = fingerprints[i + 1] as number;
        if (union.find(a, b) < 0) union.add(a, b);
      }
    }
    distinct = union.size;
  }
  const byKind = new Map<string, Merged['findings'][number]>();
  for (const { result: r } of results) {
    for (const f of r.findings) {
      const key = `${f.kind}:${f.what}`;
      const had = byKind.get(key);
      if (had === undefined || f.depth < had.depth) byKind.set(key, { ...f, shard: r.shard.k });
    }
  }
  const bounded = new Set<string>();
  for (const { result: r } of results) for (const b of r.boundedBy) if (b !== 'schedules') bounded.add(b);
  return {
    scenario,
    policy: first.result.policy,
    strategy,
    ...(seed === undefined ? {} : { seed }),
    shards: n,
    complete: strategy === 'bfs' && results.every((x) => x.result.complete),
    boundedBy: [...bounded],
    distinct,
    transitions: results.reduce((t, x) => t + x.result.stats.transitions, 0),
    schedules: results.reduce((t, x) => t + x.result.stats.schedules, 0),
    workMs: results.reduce((t, x) => t + x.result.stats.elapsedMs, 0),
    findings: [...byKind.values()],
  };
}
