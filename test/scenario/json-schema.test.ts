/**
 * The scenario JSON Schema (src/scenario/json-schema.ts) accepts what the loader accepts: every scenario
 * the project ships or keeps as a fixture, random scenario-shaped values, and the known-bad inputs are
 * judged the same way by both. Where they differ, it is one of the loader-only checks the schema's
 * description lists, and each of those has an example here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ARCH_CODES, ERRNOS, LAM_POLICIES, MESSAGE_TYPES, PASID_MAX, PASID_POLICIES } from '../../machines/protocol.ts';
import { jsonSchemaOf, LOADER_ONLY_CHECKS, SCENARIO_SCHEMA_ID, scenarioJsonSchema, scenarioJsonSchemaText } from '../../src/scenario/json-schema.ts';
import { parseScenario, ScenarioError } from '../../src/scenario/load.ts';
import { NON_ERRNO_RESULTS, OPS } from '../../src/scenario/types.ts';

const ROOT = join(import.meta.dirname, '..', '..');

// strict: a keyword ajv does not know, or a type mismatch inside the schema, fails compilation.
const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
const validate = ajv.compile(scenarioJsonSchema());

/** The schema's verdict, with ajv's errors when it refuses. */
function schemaVerdict(value: unknown): { ok: boolean; errors: string } {
  const ok = validate(value);
  return { ok, errors: ajv.errorsText(validate.errors) };
}

/** The loader's verdict on a scenario's JSON text: accepted, or the lines it prints. */
function loaderVerdict(text: string): { ok: true } | { ok: false; lines: string[] } {
  try {
    parseScenario(text, 'gen.json');
    return { ok: true };
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    return { ok: false, lines: e.issues.map((i) => i.message) };
  }
}

/** The value at `path` in a JSON document; undefined where there is none. */
function at(value: unknown, ...path: readonly (string | number)[]): unknown {
  let v = value;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}

/** Every scenario JSON file under `dir` (recursively), and every log's header scenario. */
function scenariosUnder(dir: string): { source: string; text: string }[] {
  const out: { source: string; text: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (entry.name.endsWith('.json')) {
      const text = readFileSync(path, 'utf8');
      if (/"scenario"\s*:\s*1\b/.test(text)) out.push({ source: path, text });
    } else if (entry.name.endsWith('.jsonl')) {
      const header: unknown = JSON.parse(readFileSync(path, 'utf8').split('\n', 1)[0] ?? '');
      const scenario = typeof header === 'object' && header !== null ? (header as Record<string, unknown>)['scenario'] : undefined;
      if (scenario !== undefined) out.push({ source: `${path} (header)`, text: JSON.stringify(scenario) });
    }
  }
  return out;
}

describe('scenario JSON Schema: the shipped document', () => {
  it('is a draft-07 schema that ajv compiles strictly, with $id, title and a description of the loader-only checks', () => {
    const schema = scenarioJsonSchema();
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe(SCENARIO_SCHEMA_ID);
    expect(schema.title).toBe('svasim scenario');
    for (const check of LOADER_ONLY_CHECKS) expect(schema.description).toContain(check);
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(JSON.parse(scenarioJsonSchemaText())).toEqual(schema);
  });

  it('describes the main fields, each op and the expect fields (what an editor shows on hover)', () => {
    const schema = scenarioJsonSchema();
    for (const field of ['$schema', 'scenario', 'name', 'policy', 'devices', 'steps', 'final', 'forbid']) {
      expect(at(schema, 'properties', field, 'description'), field).toMatch(/\w/);
    }
    const variants = at(schema, 'definitions', 'step', 'oneOf');
    expect(Array.isArray(variants) ? variants.map((v) => at(v, 'properties', 'op', 'const')) : variants).toEqual([...OPS]);
    for (const op of OPS.keys()) expect(at(variants, op, 'properties', 'op', 'description'), OPS[op]).toMatch(/\w/);
    for (const field of ['result', 'value', 'pasid', 'events', 'noEvents']) {
      expect(at(schema, 'definitions', 'expect', 'properties', field, 'description'), field).toMatch(/\w/);
    }
  });

  it('refuses to generate a schema with a part that accepts anything (a leaf that does not say what it accepts)', () => {
    const silent = z.strictObject({ ok: z.string(), leaf: z.unknown().transform((v) => String(v)) });
    expect(() => jsonSchemaOf(silent)).toThrow('JSON Schema: /properties/leaf accepts anything');
    // A field meant to take any JSON value stays open.
    const open = jsonSchemaOf(z.strictObject({ ok: z.string(), options: z.record(z.string(), z.unknown()) }));
    expect(at(open, 'properties', 'ok')).toEqual({ type: 'string' });
    expect(at(open, 'properties', 'options', 'additionalProperties')).toEqual({});
  });
});

describe('scenario JSON Schema: accepts every scenario the project has', () => {
  const builtins = scenariosUnder(join(ROOT, 'src', 'scenarios'));
  const fixtures = scenariosUnder(join(ROOT, 'test'));
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const readmeExamples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .filter((t) => /"scenario"\s*:\s*1\b/.test(t))
    .map((text, i) => ({ source: `README.md json block ${i + 1}`, text }));

  it('finds them (the built-ins, the test fixtures and the README example)', () => {
    expect(builtins.length).toBeGreaterThanOrEqual(18);
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
    expect(readmeExamples.length).toBeGreaterThanOrEqual(1);
  });

  it.each([...builtins, ...fixtures, ...readmeExamples].map((s) => [s.source.replace(`${ROOT}/`, ''), s.text] as const))(
    '%s: the loader and the schema both accept it',
    (_source, text) => {
      expect(loaderVerdict(text)).toEqual({ ok: true });
      expect(schemaVerdict(JSON.parse(text))).toEqual({ ok: true, errors: 'No errors' });
    },
  );

  it('accepts "$schema" naming the shipped file (what the README tells editors to use)', () => {
    const text = '{"$schema":"./node_modules/svasim/scenario.schema.json","scenario":1,"name":"t","steps":[{"op":"spawn","process":"A"}]}';
    expect(loaderVerdict(text)).toEqual({ ok: true });
    expect(schemaVerdict(JSON.parse(text)).ok).toBe(true);
  });
});

/** A one-line scenario around `steps` (and extra top-level fields), with one device `dsa0` and process `A`. */
const withSteps = (steps: string, extra = ''): string =>
  `{"scenario":1,"name":"t","devices":[{"name":"dsa0"}],"steps":[{"op":"spawn","process":"A"}${steps === '' ? '' : `,${steps}`}]${extra}}`;

describe('scenario JSON Schema: known-bad inputs', () => {
  const BAD: readonly (readonly [string, string])[] = [
    ['unknown top-level field', withSteps('', ',"stepz":[]')],
    ['unknown step field (a misspelling)', withSteps('{"op":"bind","thred":"A","device":"dsa0"}')],
    ['wrong op', withSteps('{"op":"bnd","thread":"A","device":"dsa0"}')],
    ['missing thread', withSteps('{"op":"bind","device":"dsa0"}')],
    ['missing steps', '{"scenario":1,"name":"t"}'],
    ['missing name', '{"scenario":1,"steps":[]}'],
    ['empty name', '{"scenario":1,"name":"","steps":[]}'],
    ['scenario version 2', '{"scenario":2,"name":"t","steps":[]}'],
    ['scenario version as a string', '{"scenario":"1","name":"t","steps":[]}'],
    ['a step that is not an object', withSteps('"spawn B"')],
    ['field of another op', withSteps('{"op":"exit","thread":"A","device":"dsa0"}')],
    ['expect.value a fraction', withSteps('{"op":"exit","thread":"A","expect":{"value":1.5}}')],
    ['expect.value a number beyond 2^53', withSteps('{"op":"exit","thread":"A","expect":{"value":9007199254740993}}')],
    ['expect.value a word', withSteps('{"op":"exit","thread":"A","expect":{"value":"six"}}')],
    ['expect.result not an errno', withSteps('{"op":"exit","thread":"A","expect":{"result":"EWHAT"}}')],
    ['expect.events with a misspelt type', withSteps('{"op":"exit","thread":"A","expect":{"events":["fault.dmr"]}}')],
    ['expect.pasid negative', withSteps('{"op":"exit","thread":"A","expect":{"pasid":-1}}')],
    ['unknown expect field', withSteps('{"op":"exit","thread":"A","expect":{"errno":"EBUSY"}}')],
    ['arch_prctl code unknown name', withSteps('{"op":"arch_prctl","thread":"A","code":"ARCH_NOPE"}')],
    ['arch_prctl arg negative', withSteps('{"op":"arch_prctl","thread":"A","code":"0x4002","arg":-1}')],
    ['complete count 0', withSteps('{"op":"complete","device":"dsa0","count":0}')],
    ['device wqSize 0', '{"scenario":1,"name":"t","devices":[{"name":"dsa0","wqSize":0}],"steps":[]}'],
    ['device without a name', '{"scenario":1,"name":"t","devices":[{"wqSize":4}],"steps":[]}'],
    ['unknown pasid policy', withSteps('', ',"policy":{"pasid":"lazy"}')],
    ['unknown lam policy', withSteps('', ',"policy":{"lam":"v6.5"}')],
    ['cpu feature not a boolean', withSteps('', ',"cpu":{"lam":1}')],
    ['pasidRange starting at 0', withSteps('', ',"iommu":{"pasidRange":[0,10]}')],
    ['pasidRange beyond 0xFFFFF', withSteps('', ',"iommu":{"pasidRange":[1,1048576]}')],
    ['pasidRange of three', withSteps('', ',"iommu":{"pasidRange":[1,2,3]}')],
    ['final.refs key 0', withSteps('', ',"final":{"refs":{"0":1}}')],
    ['final.refs key with a leading zero', withSteps('', ',"final":{"refs":{"01":1}}')],
    ['final.refs key beyond 0xFFFFF', withSteps('', ',"final":{"refs":{"1048576":1}}')],
    ['final.msr value a string', withSteps('', ',"final":{"msr":{"A":"1"}}')],
    ['unknown final field', withSteps('', ',"final":{"mm":{}}')],
    ['forbid not an array', withSteps('', ',"forbid":"fault.dmar"')],
    ['$schema not a string', withSteps('', ',"$schema":true')],
    ['not an object', '[]'],
  ];

  it.each(BAD)('%s: the loader and the schema both refuse it', (_what, text) => {
    expect(loaderVerdict(text).ok).toBe(false);
    expect(schemaVerdict(JSON.parse(text)).ok).toBe(false);
  });

  /** One example per loader-only check (in LOADER_ONLY_CHECKS' order): the schema accepts it, the loader does not. */
  const LOADER_ONLY: readonly (readonly [string, string, RegExp])[] = [
    ['thread never created', withSteps('{"op":"exit","thread":"Z"}'), /unknown thread "Z"/],
    ['device not declared', withSteps('{"op":"bind","thread":"A","device":"iax0"}'), /unknown device "iax0"/],
    ['name created twice', withSteps('{"op":"clone","thread":"A","new":"A"}'), /duplicate name "A"/],
    ['threshold above the default wqSize', '{"scenario":1,"name":"t","devices":[{"name":"dsa0","threshold":33}],"steps":[]}', /threshold 33 exceeds wqSize 32/],
    ['final.pasid naming a cloned thread', withSteps('{"op":"clone","thread":"A","new":"A1"}', ',"final":{"pasid":{"A1":null}}'), /"A1" is a thread created by clone/],
    ['pasidRange min above max', withSteps('', ',"iommu":{"pasidRange":[10,5]}'), /min 10 is greater than max 5/],
    ['arch_prctl arg in hex beyond 2^53', withSteps('{"op":"arch_prctl","thread":"A","code":"0x4002","arg":"0x20000000000000"}'), /steps\[1\]\.arg: expected a non-negative integer or a hex string/],
    ['a duplicate field', '{"scenario":1,"name":"t","name":"u","steps":[]}', /duplicate field "name"/],
    ['a device model no plugin registered', '{"scenario":1,"name":"t","devices":[{"name":"iax0","kind":"iax","options":{"rate":2}}],"steps":[]}', /devices\[0\]\.kind: unknown device model "iax"/],
    ['an actor kind no plugin registered', withSteps('', ',"actors":[{"name":"gen","kind":"workload"}]'), /actors\[0\]\.kind: unknown actor kind "workload"/],
    ['a close with neither fd nor device', withSteps('{"op":"close","thread":"A"}'), /close takes fd \(a descriptor\) or device/],
    ['options on svasim\'s work queue', '{"scenario":1,"name":"t","devices":[{"name":"dsa0","options":{}}],"steps":[]}', /devices\[0\]\.options: only a registered device model takes options/],
  ];

  it('has one example per loader-only check the schema describes', () => {
    expect(LOADER_ONLY.length).toBe(LOADER_ONLY_CHECKS.length);
  });

  it.each(LOADER_ONLY)('%s: the schema accepts it, the loader refuses it (a loader-only check)', (_what, text, line) => {
    expect(schemaVerdict(JSON.parse(text))).toEqual({ ok: true, errors: 'No errors' });
    const loader = loaderVerdict(text);
    expect(loader.ok).toBe(false);
    if (!loader.ok) expect(loader.lines.join('\n')).toMatch(line);
  });

  it('final.refs keys: the schema\'s pattern is exactly the loader\'s decimal PASIDs 1..0xFFFFF', () => {
    const pattern = new RegExp(String(at(scenarioJsonSchema(), 'properties', 'final', 'properties', 'refs', 'propertyNames', 'pattern')));
    const loaderKey = (k: string): boolean => /^[1-9]\d*$/.test(k) && Number(k) <= PASID_MAX;
    const keys = ['0', '00', '01', '-1', '+1', '1.0', '1e3', ' 1', 'x', '', '10485750', '99999999'];
    for (let n = 0; n <= PASID_MAX + 1000; n++) keys.push(String(n));
    const differ = keys.filter((k) => pattern.test(k) !== loaderKey(k));
    expect(differ).toEqual([]);
  });
});

// ---- random scenario-shaped values ----

/** Values of every kind, near misses of the leaves' formats among them. */
const junk = fc.constantFrom<unknown>(
  null, true, false, [], {}, '', 'x', 'A', 'dsa0', 0, -1, 1.5, 2 ** 53, 1e300, '6', '0x6', '0X1f', '0x', 'six', '-7',
  '0x20000000000000', 'ok', 'EWHAT', 'fault.dmr', 'ARCH_NOPE', 'bnd', [0, 10], [1, PASID_MAX + 1], [1, 2, 3], { op: 'spawn' },
);

/**
 * Scenario-shaped values. With `noise` 0 every leaf has its format and every object its fields, so the
 * loader refuses only names that do not resolve (a loader-only check); with `noise` n, one leaf in
 * about 40/n is replaced by junk, and now and then a field goes missing or an unknown one appears.
 */
function scenarioShaped(noise: number): fc.Arbitrary<Record<string, unknown>> {
  const maybe = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
    noise === 0 ? valid : fc.oneof({ weight: 40, arbitrary: valid }, { weight: noise, arbitrary: junk });
  /** Now and then one of `values`, else null. */
  const rarely = <T>(...values: T[]): fc.Arbitrary<T | null> =>
    noise === 0 ? fc.constant(null) : fc.oneof({ weight: 15, arbitrary: fc.constant(null) }, { weight: noise, arbitrary: fc.constantFrom(...values) });
  /** Mostly the first of `values` (names that resolve), sometimes the others. */
  const mostly = <T>(first: T, ...others: T[]): fc.Arbitrary<T> => fc.oneof({ weight: 8, arbitrary: fc.constant(first) }, fc.constantFrom(...others));

  const threads = maybe(mostly('A', 'B', 'A1', 'B1'));
  const created = maybe(fc.constantFrom('B', 'A1', 'B1', 'C'));
  const devices = maybe(mostly('dsa0', 'iax0'));
  const safeInt = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(2 ** 53 - 1, PASID_MAX, PASID_MAX + 1));
  const signed = fc.oneof(safeInt, fc.integer({ min: -40, max: -1 }), fc.constant(-(2 ** 53 - 1)));
  const hex = fc.oneof(
    fc.integer({ min: 0, max: 0x5000 }).map((n) => `0x${n.toString(16)}`),
    fc.constantFrom('0X4002', '0x1fffffffffffff', '0x20000000000000', '0x81ffffffffffffff'),
  );
  const archCode = maybe(fc.oneof(fc.constantFrom(...Object.keys(ARCH_CODES)), safeInt, hex));
  const archArg = maybe(fc.oneof(safeInt, hex));
  const sysValue = maybe(fc.oneof(signed, hex, signed.map(String)));
  const pasid = maybe(fc.oneof(fc.constant(null), safeInt));
  const messageType = maybe(fc.constantFrom(...MESSAGE_TYPES));
  const types = maybe(fc.array(messageType, { maxLength: 3 }));

  const expectArb = maybe(fc.record({
    result: maybe(fc.constantFrom(...NON_ERRNO_RESULTS, ...ERRNOS)),
    value: sysValue,
    pasid,
    events: types,
    noEvents: types,
  }, { requiredKeys: [] }));
  const fieldArb: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
    process: created, new: created, thread: threads, device: devices, code: archCode, arg: archArg,
    count: maybe(fc.integer({ min: 1, max: 40 })), expect: expectArb, note: maybe(fc.constantFrom('why', '')),
  };
  /** A step of `op`: its fields, each optional one present or not; sometimes one field missing or one too many. */
  const stepArb = (noise === 0 ? fc.constantFrom(...OPS) : fc.constantFrom(...OPS, 'bnd')).chain((op) => {
    const [required, optional] = FIELDS[op] ?? [['thread'], []];
    const all = [...required, ...optional, 'expect', 'note'];
    return fc.record({
      values: fc.record(Object.fromEntries(all.map((f) => [f, fieldArb[f] ?? junk])), { requiredKeys: [...required] }),
      drop: rarely(...required),
      extra: rarely('thred', 'device', 'pid'),
    }).map(({ values, drop, extra }) => {
      const step: Record<string, unknown> = { op, ...values };
      if (drop !== null) delete step[drop];
      if (extra !== null && !(extra in step)) step[extra] = 'dsa0';
      return step;
    });
  });

  /** A device model's or an actor's options: any JSON object. */
  const options = maybe(fc.dictionary(fc.constantFrom('rate', 'seed', 'x'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }));
  /** Mostly absent or svasim's own kind ("wq"), else one no plugin registered. */
  const deviceKind = fc.option(maybe(mostly('wq', 'iax')), { freq: 2 });
  const deviceArb = (name: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => maybe(fc.record({
    name,
    wqSize: maybe(fc.integer({ min: 1, max: 40 })),
    threshold: maybe(fc.integer({ min: 1, max: 40 })),
    autoComplete: maybe(fc.boolean()),
    kind: deviceKind,
    options,
    // Options on svasim's own work queue are a loader-only refusal: kept now and then (1 in 8), not always.
    keepOptions: fc.integer({ min: 0, max: 7 }),
  }, { requiredKeys: ['name', 'keepOptions'] }).map((d) => {
    const ownQueue = d.kind === null || d.kind === undefined || d.kind === 'wq';
    return Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'keepOptions' && !(k === 'kind' && d.kind === null) && !(k === 'options' && ownQueue && d.keepOptions !== 0)));
  }));
  const actorArb = maybe(fc.record({ name: maybe(fc.constantFrom('gen', 'inj')), kind: maybe(fc.constantFrom('workload', 'wq')), options }, { requiredKeys: ['name', 'kind'] }));
  /** dsa0, then now and then a second device (iax0, or dsa0 again). */
  const devicesArb = fc.tuple(deviceArb(maybe(fc.constant('dsa0'))), fc.option(deviceArb(maybe(mostly('iax0', 'dsa0'))), { freq: 3 }))
    .map(([first, second]) => (second === null ? [first] : [first, second]));

  const names = mostly('A', 'B', 'A1', 'C', 'Z');
  const refsKey = maybe(mostly('1', '2', String(PASID_MAX)));
  const finalArb = maybe(fc.record({
    pasid: maybe(fc.dictionary(names, pasid, { maxKeys: 2 })),
    refs: maybe(fc.dictionary(refsKey.map(String), maybe(safeInt), { maxKeys: 2 })),
    msr: maybe(fc.dictionary(names, pasid, { maxKeys: 2 })),
  }, { requiredKeys: [] }));

  const pasidBound = fc.integer({ min: 1, max: PASID_MAX });
  return fc.record({
    file: fc.record({
      $schema: maybe(fc.constant('./node_modules/svasim/scenario.schema.json')),
      scenario: maybe(fc.constant(1)),
      name: maybe(fc.constantFrom('t', 'a scenario')),
      description: maybe(fc.constant('text')),
      policy: maybe(fc.record({ pasid: maybe(fc.constantFrom(...PASID_POLICIES)), lam: maybe(fc.constantFrom(...LAM_POLICIES)) }, { requiredKeys: [] })),
      cpu: maybe(fc.record({ enqcmd: maybe(fc.boolean()), lam: maybe(fc.boolean()) }, { requiredKeys: [] })),
      iommu: maybe(fc.record({ pasidRange: maybe(fc.oneof(fc.tuple(fc.constant(1), pasidBound), fc.tuple(pasidBound, pasidBound))) }, { requiredKeys: [] })),
      devices: maybe(devicesArb),
      steps: maybe(fc.array(stepArb, { maxLength: 5 }).map((s) => [{ op: 'spawn', process: 'A' }, ...s])),
      final: finalArb,
      forbid: types,
    }, { requiredKeys: ['scenario', 'name', 'steps'] }),
    // Actors need a registered kind, which the loader here has none of: now and then.
    actors: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, maybe(fc.array(actorArb, { maxLength: 2 }))),
    drop: rarely('scenario', 'name', 'steps'),
    extra: rarely('step', 'stepz', 'kind'),
  }).map(({ file, actors, drop, extra }) => {
    const out: Record<string, unknown> = { ...file, ...(actors === null ? {} : { actors }) };
    if (drop !== null) delete out[drop];
    if (extra !== null) out[extra] = [];
    return out;
  });
}

/** Each op's fields: required, then optional (`expect` and `note` besides). */
const FIELDS: Readonly<Record<string, readonly [readonly string[], readonly string[]]>> = {
  spawn: [['process'], []],
  clone: [['thread', 'new'], []],
  fork: [['thread', 'new'], []],
  exec: [['thread'], []],
  exit: [['thread'], []],
  bind: [['thread', 'device'], []],
  unbind: [['thread', 'device'], []],
  close: [['thread', 'device'], []],
  enqcmd: [['thread', 'device'], []],
  arch_prctl: [['thread', 'code'], ['arg']],
  complete: [['device'], ['count']],
};

/** Clean values half the time, noisy ones the other half (one leaf in 41 junk, or one in 11). */
const scenarioArb = fc.oneof({ weight: 2, arbitrary: scenarioShaped(0) }, scenarioShaped(1), scenarioShaped(4));

/** The loader-only checks as the loader words them: a schema-accepted value may be refused only for these. */
const LOADER_ONLY_LINE = [
  /: unknown thread "/,
  /: unknown device "/,
  /: duplicate (name|device) "/,
  /: threshold \d+ exceeds wqSize \d+$/,
  /: unknown process "|: "[^"]*" is a thread created by clone, not a process$/,
  /: min \d+ is greater than max \d+$/,
  /\.(code|arg): (unknown arch_prctl code|expected a non-negative integer or a hex string, got) "0x/i,
  /\.kind: unknown (device model|actor kind) "/,
  /: duplicate actor /,
  /\.options: only a registered device model takes options/,
  /: close takes fd /,
];

describe('scenario JSON Schema: random scenario-shaped values', () => {
  it('whatever the loader accepts, the schema accepts; whatever the schema accepts, the loader refuses only by a loader-only check', () => {
    const seen = { both: 0, loaderOnly: 0, neither: 0 };
    fc.assert(
      fc.property(scenarioArb, (value) => {
        const text = JSON.stringify(value);
        const loader = loaderVerdict(text);
        const schema = schemaVerdict(value);
        if (loader.ok) {
          expect(schema, text).toEqual({ ok: true, errors: 'No errors' });
          seen.both++;
        } else if (schema.ok) {
          const other = loader.lines.filter((l) => !LOADER_ONLY_LINE.some((re) => re.test(l)));
          expect(other, text).toEqual([]);
          seen.loaderOnly++;
        } else {
          seen.neither++;
        }
      }),
      { numRuns: 2000 },
    );
    // Not vacuous: a fair share of each verdict.
    expect(seen.both).toBeGreaterThan(100);
    expect(seen.loaderOnly).toBeGreaterThan(100);
    expect(seen.neither).toBeGreaterThan(100);
  });
});
