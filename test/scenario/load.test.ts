import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioFile, parsePolicyOverride, parseScenario, ScenarioError } from '../../src/scenario/load.ts';
import type { Scenario } from '../../src/scenario/types.ts';

/** The message of the ScenarioError that parsing `text` throws. */
function errorOf(text: string, source = 's.json'): string {
  try {
    parseScenario(text, source);
  } catch (e) {
    if (e instanceof ScenarioError) return e.message;
    throw e;
  }
  throw new Error('expected a ScenarioError, but the scenario parsed');
}

/** Lines joined with \n, so that line:col in expectations can be read off the source. */
const lines = (...ls: string[]): string => ls.join('\n');

/** A one-line scenario around `steps` (and extra top-level fields), with one device `dsa0` and process `A`. */
const withSteps = (steps: string, extra = ''): string =>
  `{"scenario":1,"name":"t","devices":[{"name":"dsa0"}],"steps":[{"op":"spawn","process":"A"},${steps}]${extra}}`;
/** Column (1-based) of the first occurrence of `needle` in a one-line text. */
const col = (text: string, needle: string, nth = 0): number => {
  let at = -1;
  for (let k = 0; k <= nth; k++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not in ${text}`);
  return at + 1;
};

const SPEC_EXAMPLE = `{
  "scenario": 1,
  "name": "seed case (a): unbind leaves a live MSR, next ENQCMD gets a DMAR fault",
  "policy": { "pasid": "seed-2021", "lam": "poc-2022" },
  "cpu": { "enqcmd": true, "lam": true },
  "iommu": { "pasidRange": [1, 1048575] },
  "devices": [{ "name": "dsa0", "wqSize": 32, "threshold": 16 }],
  "steps": [
    { "op": "spawn", "process": "A" },
    { "op": "bind", "thread": "A", "device": "dsa0", "expect": { "result": "ok", "pasid": 1 } },
    { "op": "clone", "thread": "A", "new": "A1" },
    { "op": "enqcmd", "thread": "A1", "device": "dsa0",
      "expect": { "result": "accepted", "events": ["trap.gp", "pasid.get", "msr.write", "wq.accept", "wq.complete"] } },
    { "op": "unbind", "thread": "A", "device": "dsa0",
      "expect": { "result": "ok", "events": ["pasidtable.clear", "pasid.put"], "noEvents": ["pasid.free"] } },
    { "op": "enqcmd", "thread": "A1", "device": "dsa0",
      "expect": { "result": "accepted", "events": ["wq.accept", "fault.dmar"], "noEvents": ["trap.gp"] } }
  ],
  "final": { "pasid": { "A": 1 }, "refs": { "1": 1 }, "msr": { "A1": 1, "A": null } }
}`;

describe('parseScenario: valid scenarios', () => {
  it('normalizes the SPEC §6 example', () => {
    const s = parseScenario(SPEC_EXAMPLE, 'spec.json');
    const expected: Scenario = {
      scenario: 1,
      name: 'seed case (a): unbind leaves a live MSR, next ENQCMD gets a DMAR fault',
      policy: { pasid: 'seed-2021', lam: 'poc-2022' },
      cpu: { enqcmd: true, lam: true },
      iommu: { pasidRange: [1, 0xfffff] },
      devices: [{ name: 'dsa0', wqSize: 32, threshold: 16, autoComplete: true }],
      steps: [
        { op: 'spawn', process: 'A' },
        { op: 'bind', thread: 'A', device: 'dsa0', expect: { result: 'ok', pasid: 1 } },
        { op: 'clone', thread: 'A', new: 'A1' },
        {
          op: 'enqcmd', thread: 'A1', device: 'dsa0',
          expect: { result: 'accepted', events: ['trap.gp', 'pasid.get', 'msr.write', 'wq.accept', 'wq.complete'] },
        },
        {
          op: 'unbind', thread: 'A', device: 'dsa0',
          expect: { result: 'ok', events: ['pasidtable.clear', 'pasid.put'], noEvents: ['pasid.free'] },
        },
        {
          op: 'enqcmd', thread: 'A1', device: 'dsa0',
          expect: { result: 'accepted', events: ['wq.accept', 'fault.dmar'], noEvents: ['trap.gp'] },
        },
      ],
      final: { pasid: { A: 1 }, refs: { '1': 1 }, msr: { A1: 1, A: null } },
      forbid: [],
    };
    expect(s).toStrictEqual(expected);
  });

  it('fills in every default', () => {
    const s = parseScenario(
      '{"scenario":1,"name":"m","devices":[{"name":"d0"},{"name":"d1","wqSize":8,"autoComplete":false}],"steps":[]}',
      'm.json',
    );
    expect(s).toStrictEqual({
      scenario: 1,
      name: 'm',
      policy: { pasid: 'seed-2021', lam: 'poc-2022' },
      cpu: { enqcmd: true, lam: true },
      iommu: { pasidRange: [1, 0xfffff] },
      devices: [
        { name: 'd0', wqSize: 32, threshold: 32, autoComplete: true },
        { name: 'd1', wqSize: 8, threshold: 8, autoComplete: false },
      ],
      steps: [],
      final: { pasid: {}, refs: {}, msr: {} },
      forbid: [],
    });
  });

  it('fills in a partial policy and cpu, keeps description, forbid and notes', () => {
    const s = parseScenario(
      withSteps('{"op":"exit","thread":"A","note":"bye"}', ',"description":"d","policy":{"lam":"v6.4"},"cpu":{"enqcmd":false},"forbid":["fault.dmar"]'),
      'p.json',
    );
    expect(s.policy).toStrictEqual({ pasid: 'seed-2021', lam: 'v6.4' });
    expect(s.cpu).toStrictEqual({ enqcmd: false, lam: true });
    expect(s.description).toBe('d');
    expect(s.forbid).toStrictEqual(['fault.dmar']);
    expect(s.steps[1]).toStrictEqual({ op: 'exit', thread: 'A', note: 'bye' });
  });

  it('accepts a $schema string for editors and ignores its value; a non-string $schema is bad input', () => {
    const body = '"scenario":1,"name":"t","steps":[{"op":"spawn","process":"A"}]}';
    const s = parseScenario(`{"$schema":"./node_modules/svasim/scenario.schema.json",${body}`, 's.json');
    expect(s.name).toBe('t');
    expect('$schema' in s).toBe(false);
    expect(() => parseScenario(`{"$schema":7,${body}`, 's.json')).toThrow(ScenarioError);
  });

  it('normalizes arch_prctl codes and args to numbers, and hex values to lowercase', () => {
    const s = parseScenario(withSteps([
      '{"op":"arch_prctl","thread":"A","code":"ARCH_ENABLE_TAGGED_ADDR","arg":6}',
      '{"op":"arch_prctl","thread":"A","code":"ARCH_XXX"}',
      '{"op":"arch_prctl","thread":"A","code":"ARCH_FORCE_TAGGED_SVA"}',
      '{"op":"arch_prctl","thread":"A","code":"0x4001","expect":{"result":"ok","value":"0x81FFFFFFFFFFFFFF"}}',
      '{"op":"arch_prctl","thread":"A","code":16387,"arg":"0x7","expect":{"value":6}}',
    ].join(',')), 'a.json');
    expect(s.steps.slice(1)).toStrictEqual([
      { op: 'arch_prctl', thread: 'A', code: 0x4002, arg: 6 },
      { op: 'arch_prctl', thread: 'A', code: 0x4004 },
      { op: 'arch_prctl', thread: 'A', code: 0x4004 },
      { op: 'arch_prctl', thread: 'A', code: 0x4001, expect: { result: 'ok', value: '0x81ffffffffffffff' } },
      { op: 'arch_prctl', thread: 'A', code: 0x4003, arg: 7, expect: { value: 6 } },
    ]);
  });

  it('accepts every op, a thread used before the step that creates it, and complete with a count', () => {
    const s = parseScenario(withSteps([
      '{"op":"exit","thread":"B1","expect":{"result":"ESRCH"}}',
      '{"op":"fork","thread":"A","new":"B"}',
      '{"op":"clone","thread":"B","new":"B1"}',
      '{"op":"bind","thread":"B","device":"dsa0","expect":{"pasid":null}}',
      '{"op":"enqcmd","thread":"B1","device":"dsa0","expect":{"result":"sigsegv"}}',
      '{"op":"complete","device":"dsa0","count":2}',
      '{"op":"unbind","thread":"B","device":"dsa0"}',
      '{"op":"close","thread":"B","device":"dsa0"}',
      '{"op":"exec","thread":"B"}',
    ].join(','), ',"final":{"pasid":{"A":null,"B":2},"msr":{"B1":null},"refs":{"2":0}}'), 'ops.json');
    expect(s.steps.map((step) => step.op)).toStrictEqual(
      ['spawn', 'exit', 'fork', 'clone', 'bind', 'enqcmd', 'complete', 'unbind', 'close', 'exec'],
    );
    expect(s.steps[6]).toStrictEqual({ op: 'complete', device: 'dsa0', count: 2 });
    expect(s.final).toStrictEqual({ pasid: { A: null, B: 2 }, refs: { '2': 0 }, msr: { B1: null } });
  });
});

describe('policy override', () => {
  const text = withSteps('{"op":"exit","thread":"A"}', ',"policy":{"pasid":"seed-2021","lam":"off"}');

  it('wins over the file policy, key by key', () => {
    expect(parseScenario(text, 'o.json', { pasid: 'merged' }).policy).toStrictEqual({ pasid: 'merged', lam: 'off' });
    expect(parseScenario(text, 'o.json', { pasid: 'merged', lam: 'v6.4' }).policy).toStrictEqual({ pasid: 'merged', lam: 'v6.4' });
    expect(parseScenario(text, 'o.json', {}).policy).toStrictEqual({ pasid: 'seed-2021', lam: 'off' });
  });

  it('parsePolicyOverride parses KEY=VALUE lists', () => {
    expect(parsePolicyOverride('pasid=merged,lam=v6.4')).toStrictEqual({ pasid: 'merged', lam: 'v6.4' });
    expect(parsePolicyOverride('lam=off')).toStrictEqual({ lam: 'off' });
    expect(parsePolicyOverride(' pasid = seed-2021 ')).toStrictEqual({ pasid: 'seed-2021' });
  });

  it('parsePolicyOverride names an unknown key or value and lists the allowed ones', () => {
    expect(() => parsePolicyOverride('pasid=mergd')).toThrow(
      new ScenarioError('--policy: unknown pasid policy "mergd" (expected seed-2021 or merged)'),
    );
    expect(() => parsePolicyOverride('pasid=merged,lam=v6')).toThrow(
      new ScenarioError('--policy: unknown lam policy "v6" (expected poc-2022, v6.4 or off)'),
    );
    expect(() => parsePolicyOverride('cpu=x')).toThrow(
      new ScenarioError('--policy: unknown policy key "cpu" (expected pasid or lam)'),
    );
    expect(() => parsePolicyOverride('merged')).toThrow(
      new ScenarioError('--policy: expected KEY=VALUE (e.g. pasid=merged,lam=v6.4), got "merged"'),
    );
    expect(() => parsePolicyOverride('lam=off,lam=v6.4')).toThrow(new ScenarioError('--policy: lam given twice'));
    expect(() => parsePolicyOverride('lam=off')).not.toThrow();
  });
});

describe('invalid JSON', () => {
  it('reports a trailing comma at the comma', () => {
    const text = lines('{', '  "scenario": 1,', '  "name": "x",', '  "steps": [],', '}');
    expect(errorOf(text)).toBe('s.json:4:14: invalid JSON: trailing comma is not allowed');
  });

  it('reports a missing comma where the next property begins', () => {
    const text = lines('{', '  "scenario": 1', '  "name": "x"', '}');
    expect(errorOf(text)).toBe("s.json:3:3: invalid JSON: expected ',' or '}' after property value");
  });

  it('reports comments, unterminated strings, bad tokens and truncation', () => {
    expect(errorOf(lines('{', '  // a comment', '  "scenario": 1', '}'))).toBe('s.json:2:3: invalid JSON: comments are not allowed');
    expect(errorOf(lines('{"scenario": 1,', ' "name": "x', '}'))).toBe('s.json:2:10: invalid JSON: unterminated string');
    expect(errorOf('{"scenario": tru}')).toBe('s.json:1:14: invalid JSON: unexpected token "tru"');
    expect(errorOf("{'scenario': 1}")).toBe('s.json:1:2: invalid JSON: expected a property name in double quotes');
    expect(errorOf('{"scenario": 01}')).toBe('s.json:1:14: invalid JSON: invalid number');
    expect(errorOf('{"steps": [1,')).toBe('s.json:1:14: invalid JSON: unexpected end of input');
    expect(errorOf('')).toBe('s.json:1:1: invalid JSON: unexpected end of input');
    expect(errorOf('{} {}')).toBe('s.json:1:4: invalid JSON: unexpected content after the JSON value');
  });

  it('counts CRLF line ends as one', () => {
    expect(errorOf('{\r\n  "a": 1,\r\n}')).toBe('s.json:2:9: invalid JSON: trailing comma is not allowed');
  });
});

describe('schema errors', () => {
  it('unknown op', () => {
    const text = withSteps('{"op":"exit","thread":"A"},{"op":"bnd","thread":"A","device":"dsa0"}');
    expect(errorOf(text)).toBe(
      `s.json:1:${col(text, '"bnd"')}: steps[2].op: unknown op "bnd" ` +
        '(expected one of spawn, clone, fork, exec, exit, open, mmap, munmap, bind, unbind, close, enqcmd, arch_prctl, complete)',
    );
  });

  it('unknown field, named, at the field', () => {
    const text = withSteps('{"op":"bind","thred":"A","device":"dsa0"}');
    // One mistake, one line: the misspelt field, with the required field it was meant to be (not also "missing").
    expect(errorOf(text)).toBe(`s.json:1:${col(text, '"thred"')}: steps[1].thred: unknown field "thred" (did you mean "thread"?)`);
    const top = '{"scenario":1,"name":"x","steps":[],"polcy":{}}';
    expect(errorOf(top)).toBe(`s.json:1:${col(top, '"polcy"')}: polcy: unknown field "polcy"`);
  });

  it('a missing required field points at the containing object', () => {
    const text = lines('{', '  "scenario": 1,', '  "name": "x",', '  "steps": [', '    { "op": "spawn", "process": "A" },', '    { "op": "clone", "thread": "A" }', '  ]', '}');
    expect(errorOf(text)).toBe('s.json:6:5: steps[1].new: missing required field "new"');
    expect(errorOf('{"scenario":1,"steps":[]}')).toBe('s.json:1:1: name: missing required field "name"');
  });

  it('unknown errno in expect', () => {
    const text = withSteps('{"op":"exit","thread":"A","expect":{"result":"EFOO"}}');
    expect(errorOf(text)).toBe(
      `s.json:1:${col(text, '"EFOO"')}: steps[1].expect.result: unknown result "EFOO" ` +
        '(expected ok, accepted, retry, sigsegv, sigill or an errno: EBUSY, EINVAL, ENOMEM, ENOSPC, EOVERFLOW, ENODEV, EINTR, ESRCH, EPERM, EBADF, ENOENT)',
    );
  });

  it('unknown policy values', () => {
    const pasid = lines('{', '  "scenario": 1, "name": "x", "steps": [],', '  "policy": { "pasid": "x" }', '}');
    expect(errorOf(pasid)).toBe('s.json:3:24: policy.pasid: unknown pasid policy "x" (expected seed-2021 or merged)');
    const lam = '{"scenario":1,"name":"x","steps":[],"policy":{"lam":"6.4"}}';
    expect(errorOf(lam)).toBe(`s.json:1:${col(lam, '"6.4"')}: policy.lam: unknown lam policy "6.4" (expected poc-2022, v6.4 or off)`);
  });

  it('invalid pasidRange', () => {
    const range = (r: string) => `{"scenario":1,"name":"x","steps":[],"iommu":{"pasidRange":${r}}}`;
    const at = col(range('[]'), '[]', 1);
    expect(errorOf(range('[0, 10]'))).toBe(`s.json:1:${at}: iommu.pasidRange: min 0 is below 1 (PASID 0 is reserved)`);
    expect(errorOf(range('[10, 5]'))).toBe(`s.json:1:${at}: iommu.pasidRange: min 10 is greater than max 5`);
    expect(errorOf(range('[1, 1048576]'))).toBe(`s.json:1:${at}: iommu.pasidRange: max 1048576 is above 0xFFFFF (1048575)`);
    expect(errorOf(range('[1]'))).toBe(`s.json:1:${at}: iommu.pasidRange: expected [min, max], two non-negative integers, got [1]`);
    expect(parseScenario(range('[5, 5]'), 's.json').iommu.pasidRange).toStrictEqual([5, 5]);
  });

  it('a misspelt optional field of a step names the field of that op it is near', () => {
    const text = withSteps('{"op":"open","thread":"A","device":"dsa0","fd":"q","cloexex":true}');
    expect(errorOf(text)).toBe(`s.json:1:${col(text, '"cloexex"')}: steps[1].cloexex: unknown field "cloexex" (did you mean "cloexec"?)`);
    // Only the fields of that op: "caps" belongs to spawn, so exit's "cpas" gets no suggestion.
    const other = withSteps('{"op":"exit","thread":"A","cpas":[]}');
    expect(errorOf(other)).toBe(`s.json:1:${col(other, '"cpas"')}: steps[1].cpas: unknown field "cpas"`);
  });

  it('an unknown capability is bad input, not a capability the process lacks', () => {
    // A typo in caps would otherwise load, and the mmap it was meant to allow would fail with EPERM (exit 1).
    const typo = '{"scenario":1,"name":"x","steps":[{"op":"spawn","process":"A","caps":["CAP_SYS_RAWI0"]}]}';
    expect(errorOf(typo)).toMatch(new RegExp(`^s\\.json:1:${col(typo, '"CAP_SYS_RAWI0"')}: steps\\[0\\]\\.caps\\[0\\]: unknown capability "CAP_SYS_RAWI0" \\(did you mean "CAP_SYS_RAWIO"`));
    const other = '{"scenario":1,"name":"x","steps":[{"op":"spawn","process":"A","caps":["rawio"]}]}';
    expect(errorOf(other)).toBe(`s.json:1:${col(other, '"rawio"')}: steps[0].caps[0]: unknown capability "rawio" (expected a Linux capability name such as "CAP_SYS_RAWIO")`);
    const good = '{"scenario":1,"name":"x","steps":[{"op":"spawn","process":"A","caps":["CAP_SYS_RAWIO","CAP_SYS_ADMIN"]}]}';
    expect(parseScenario(good, 's.json').steps[0]).toMatchObject({ caps: ['CAP_SYS_RAWIO', 'CAP_SYS_ADMIN'] });
  });

  it('unknown message type in forbid and in expect.events', () => {
    const forbid = '{"scenario":1,"name":"x","steps":[],"forbid":["fault.dmar","fault.dmr"]}';
    const e = errorOf(forbid);
    // A misspelt type names the nearest types, not all sixty.
    expect(e).toBe(`s.json:1:${col(forbid, '"fault.dmr"')}: forbid[1]: unknown message type "fault.dmr" (did you mean "fault.dmar"?)`);
    const events = withSteps('{"op":"exit","thread":"A","expect":{"events":["sys.exit"],"noEvents":["pasid.freed"]}}');
    expect(errorOf(events)).toBe(`s.json:1:${col(events, '"pasid.freed"')}: steps[1].expect.noEvents[0]: unknown message type "pasid.freed" (did you mean "pasid.free"?)`);
    // A type like no other: every type is listed.
    const far = '{"scenario":1,"name":"x","steps":[],"forbid":["something.else"]}';
    const f = errorOf(far);
    expect(f.startsWith(`s.json:1:${col(far, '"something.else"')}: forbid[0]: unknown message type "something.else" (expected one of sys.spawn, `)).toBe(true);
    expect(f.endsWith(', fault.dmar, invariant.violation, file.open, file.mmap, file.mapped, file.store, file.get, file.got, file.put, file.dropped, file.unbind, file.unbound, mm.drop)')).toBe(true);
  });

  it('bad arch_prctl code name', () => {
    const text = withSteps('{"op":"arch_prctl","thread":"A","code":"ARCH_ENABLE_LAM"}');
    expect(errorOf(text)).toBe(
      `s.json:1:${col(text, '"ARCH_ENABLE_LAM"')}: steps[1].code: unknown arch_prctl code "ARCH_ENABLE_LAM" ` +
        '(expected ARCH_GET_UNTAG_MASK, ARCH_ENABLE_TAGGED_ADDR, ARCH_GET_MAX_TAG_BITS, ARCH_FORCE_TAGGED_SVA, ARCH_XXX, ' +
        'a number or a hex string like "0x4002")',
    );
  });

  it('wrong types, versions and duplicate keys', () => {
    expect(errorOf('[]')).toBe('s.json:1:1: (root): expected an object, got an array');
    expect(errorOf('{"scenario":2,"name":"x","steps":[]}')).toBe('s.json:1:13: scenario: unsupported scenario version 2 (expected 1)');
    const steps = '{"scenario":1,"name":"x","steps":[{"op":"spawn","process":"A"},7]}';
    expect(errorOf(steps)).toBe(`s.json:1:${col(steps, '7]')}: steps[1]: expected a step object, got 7`);
    const count = withSteps('{"op":"complete","device":"dsa0","count":0}');
    expect(errorOf(count)).toBe(`s.json:1:${col(count, '0}')}: steps[1].count: expected a positive integer, got 0`);
    const dup = withSteps('{"op":"exit","thread":"A","thread":"A"}');
    expect(errorOf(dup)).toBe(`s.json:1:${col(dup, '"thread"', 1)}: steps[1].thread: duplicate field "thread"`);
  });
});

describe('reference errors', () => {
  it('unknown device', () => {
    const text = withSteps('{"op":"bind","thread":"A","device":"dsa9"}');
    expect(errorOf(text)).toBe(`s.json:1:${col(text, '"dsa9"')}: steps[1].device: unknown device "dsa9"`);
    const complete = withSteps('{"op":"complete","device":"dsa1"}');
    expect(errorOf(complete)).toBe(`s.json:1:${col(complete, '"dsa1"')}: steps[1].device: unknown device "dsa1"`);
  });

  it('unknown thread', () => {
    const text = lines(
      '{', '  "scenario": 1, "name": "x", "devices": [{ "name": "dsa0" }],', '  "steps": [',
      '    { "op": "spawn", "process": "A" },',
      '    { "op": "clone", "thread": "A", "new": "A1" },',
      '    { "op": "bind", "thread": "A", "device": "dsa0" },',
      '    { "op": "enqcmd", "thread": "X", "device": "dsa0" }',
      '  ]', '}',
    );
    expect(errorOf(text)).toBe('s.json:7:33: steps[3].thread: unknown thread "X"');
  });

  it('duplicate device names', () => {
    const text = '{"scenario":1,"name":"x","devices":[{"name":"dsa0"},{"name":"dsa0","wqSize":4}],"steps":[]}';
    expect(errorOf(text)).toBe(`s.json:1:${col(text, '"dsa0"', 1)}: devices[1].name: duplicate device "dsa0" (already declared at devices[0])`);
  });

  it('threshold above wqSize', () => {
    const text = '{"scenario":1,"name":"x","devices":[{"name":"d","wqSize":4,"threshold":5}],"steps":[]}';
    expect(errorOf(text)).toBe(`s.json:1:${col(text, '5}')}: devices[0].threshold: threshold 5 exceeds wqSize 4`);
    const dflt = '{"scenario":1,"name":"x","devices":[{"name":"d","threshold":33}],"steps":[]}';
    expect(errorOf(dflt)).toBe(`s.json:1:${col(dflt, '33')}: devices[0].threshold: threshold 33 exceeds wqSize 32`);
  });

  it('duplicate thread and process names, at the second creation', () => {
    const clone = withSteps('{"op":"clone","thread":"A","new":"A1"},{"op":"clone","thread":"A","new":"A1"}');
    expect(errorOf(clone)).toBe(`s.json:1:${col(clone, '"A1"', 1)}: steps[2].new: duplicate name "A1" (already created by steps[1])`);
    const fork = withSteps('{"op":"fork","thread":"A","new":"A"}');
    expect(errorOf(fork)).toBe(`s.json:1:${col(fork, '"A"}', 1)}: steps[1].new: duplicate name "A" (already created by steps[0])`);
    const spawn = withSteps('{"op":"clone","thread":"A","new":"B"},{"op":"spawn","process":"B"}');
    expect(errorOf(spawn)).toBe(`s.json:1:${col(spawn, '"B"}', 1)}: steps[2].process: duplicate name "B" (already created by steps[1])`);
  });

  it('final keys must name processes, threads and PASIDs', () => {
    const clone = '{"op":"clone","thread":"A","new":"A1"}';
    const pasid = withSteps(clone, ',"final":{"pasid":{"A":null,"A2":1}}');
    expect(errorOf(pasid)).toBe(`s.json:1:${col(pasid, '"A2"')}: final.pasid.A2: unknown process "A2"`);
    const thread = withSteps(clone, ',"final":{"pasid":{"A1":1}}');
    expect(errorOf(thread)).toBe(`s.json:1:${col(thread, '"A1"', 1)}: final.pasid.A1: "A1" is a thread created by clone, not a process`);
    const msr = withSteps(clone, ',"final":{"msr":{"A1":1,"Z":null}}');
    expect(errorOf(msr)).toBe(`s.json:1:${col(msr, '"Z"')}: final.msr.Z: unknown thread "Z"`);
    const refs = withSteps(clone, ',"final":{"refs":{"01":1}}');
    expect(errorOf(refs)).toBe(`s.json:1:${col(refs, '"01"')}: final.refs["01"]: invalid PASID key "01" (expected a decimal PASID between 1 and 1048575)`);
    const value = withSteps(clone, ',"final":{"refs":{"1":-1}}');
    expect(errorOf(value)).toBe(`s.json:1:${col(value, '-1')}: final.refs["1"]: expected a non-negative integer, got -1`);
  });
});

describe('error order', () => {
  it('reports every error in document order, whatever its kind, one line each', () => {
    const text = lines(
      '{', '  "scenario": 1, "name": "x", "devices": [{ "name": "dsa0" }],', '  "steps": [',
      '    { "op": "spawn", "process": "A" },',
      '    { "op": "bind", "thread": "B", "device": "dsa0" },',
      '    { "op": "bind", "thread": "A", "device": "dsa0", "bogus": 1 }',
      '  ],', '  "policy": { "pasid": "nope" }', '}',
    );
    expect(errorOf(text).split('\n')).toStrictEqual([
      's.json:5:31: steps[1].thread: unknown thread "B"',
      's.json:6:54: steps[2].bogus: unknown field "bogus"',
      's.json:8:24: policy.pasid: unknown pasid policy "nope" (expected seed-2021 or merged)',
    ]);
  });

  it('every error is in the ScenarioError\'s issues, each with its location; the first is its location', () => {
    try {
      parseScenario(withSteps('{"op":"exit","thread":"Z"},{"op":"enqcmd","thread":"A","device":"dsa9"}'), 'm.json');
      expect.unreachable();
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      expect(e.issues.map((i) => i.location.path)).toStrictEqual(['steps[1].thread', 'steps[2].device']);
      expect(e.issues.map((i) => i.message)).toStrictEqual(e.message.split('\n'));
      expect(e.location).toStrictEqual(e.issues[0]?.location);
    }
  });

  it('more than 20 errors: the first 20, then how many more', () => {
    const steps = Array.from({ length: 25 }, (_, k) => `{"op":"exit","thread":"T${k}"}`).join(',');
    const out = errorOf(withSteps(steps)).split('\n');
    expect(out).toHaveLength(21);
    expect(out[0]).toMatch(/^s\.json:1:\d+: steps\[1\]\.thread: unknown thread "T0"$/);
    expect(out[19]).toMatch(/steps\[20\]\.thread: unknown thread "T19"$/);
    expect(out[20]).toBe('s.json: … and 5 more');
  });

  it('numbers are echoed as written in the file, not as the double they read as', () => {
    const big = withSteps('{"op":"complete","device":"dsa0","count":9007199254740993}');
    expect(errorOf(big)).toBe(`s.json:1:${col(big, '9007199254740993')}: steps[1].count: expected a positive integer, got 9007199254740993`);
    const huge = '{"scenario":1,"name":"x","steps":[],"devices":[{"name":"d","wqSize":1e400}]}';
    expect(errorOf(huge)).toMatch(/devices\[0\]\.wqSize: expected a positive integer, got 1e400$/);
    const range = '{"scenario":1,"name":"x","steps":[],"iommu":{"pasidRange":[1, 18446744073709551617]}}';
    expect(errorOf(range)).toMatch(/iommu\.pasidRange: expected \[min, max\], two non-negative integers, got \[1,18446744073709551617\]$/);
    const version = '{"scenario":2.0,"name":"x","steps":[]}';
    expect(errorOf(version)).toBe('s.json:1:13: scenario: unsupported scenario version 2.0 (expected 1)');
  });

  it('an unknown field comes before the missing field it was meant to be', () => {
    const text = withSteps('{"op":"enqcmd","thread":"A","devise":"dsa0"}');
    expect(errorOf(text)).toBe(`s.json:1:${col(text, '"devise"')}: steps[1].devise: unknown field "devise" (did you mean "device"?)`);
  });

  it('attaches a location to the error', () => {
    try {
      parseScenario('{"scenario":1,"name":"x","steps":[],"cpu":{"lam":1}}', 'loc.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      expect((e as ScenarioError).message).toBe('loc.json:1:50: cpu.lam: expected true or false, got 1');
      expect((e as ScenarioError).location).toStrictEqual({ source: 'loc.json', line: 1, column: 50, path: 'cpu.lam' });
    }
  });
});

describe('loadScenarioFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svasim-scenario-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file, applying the override, and names the path in errors', () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, SPEC_EXAMPLE);
    expect(loadScenarioFile(good, { lam: 'v6.4' }).policy).toStrictEqual({ pasid: 'seed-2021', lam: 'v6.4' });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"scenario":1,"name":"x","steps":[{"op":"nop"}]}');
    expect(() => loadScenarioFile(bad)).toThrow(`${bad}:1:41: steps[0].op: unknown op "nop" (expected one of`);
  });

  it('reports a missing file', () => {
    const missing = join(dir, 'missing.json');
    expect(() => loadScenarioFile(missing)).toThrow(new ScenarioError(`${missing}: cannot read file: no such file or directory`));
  });
});
