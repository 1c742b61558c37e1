/**
 * The runner's checks of `expect` (src/runner/run.ts): a syscall's value matches however the
 * scenario writes the integer.
 */
import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { sameSysValue } from '../../src/scenario/schema.ts';

/** ARCH_GET_MAX_TAG_BITS (0x4003) returns 6 on a CPU with LAM; ARCH_GET_UNTAG_MASK a 64-bit mask. */
const maxTagBits = (value: string): string =>
  `{"scenario":1,"name":"v","steps":[{"op":"spawn","process":"A"},{"op":"arch_prctl","thread":"A","code":"0x4003","expect":{"result":"ok","value":${value}}},` +
  `{"op":"arch_prctl","thread":"A","code":"0x4001","expect":{"value":"0xFFFFFFFFFFFFFFFF"}}]}`;

describe('expect.value', () => {
  it.each(['6', '"6"', '"0x6"', '"0X06"'])('%s matches the value 6', (value) => {
    const r = runScenario(parseScenario(maxTagBits(value), 'v.json'));
    expect(r.steps[1]?.value).toBe(6);
    expect(r.failures).toStrictEqual([]);
  });

  it.each(['7', '"7"', '"0x7"'])('%s does not match the value 6, and the failure shows both', (value) => {
    const r = runScenario(parseScenario(maxTagBits(value), 'v.json'));
    expect(r.failures).toStrictEqual([{ step: 1, what: 'value', expected: JSON.stringify(JSON.parse(value) as unknown), got: '6' }]);
  });

  it('a 64-bit mask compares as an integer, in decimal or hex', () => {
    expect(sameSysValue('18446744073709551615', '0xffffffffffffffff')).toBe(true);
    expect(sameSysValue('0x81ffffffffffffff', '0xffffffffffffffff')).toBe(false);
    expect(sameSysValue(6, undefined)).toBe(false);
  });

  it.each([
    ['"six"', 'expected an integer, or a string holding one ("6" or "0x6"), got "six"'],
    ['"0x"', 'expected an integer, or a string holding one ("6" or "0x6"), got "0x"'],
    ['1.5', 'expected an integer, or a string holding one ("6" or "0x6"), got 1.5'],
    ['true', 'expected an integer, or a string holding one ("6" or "0x6"), got true'],
    ['9007199254740993', 'expected an integer, or a string holding one ("6" or "0x6"), got 9007199254740993 (a JSON number beyond 2^53 is read rounded: write it as a string, in decimal or hex)'],
    ['1e400', 'expected an integer, or a string holding one ("6" or "0x6"), got 1e400 (a JSON number beyond 2^53 is read rounded: write it as a string, in decimal or hex)'],
  ])('%s is bad input at load time', (value, message) => {
    const text = maxTagBits(value);
    let got = '';
    try {
      parseScenario(text, 'v.json');
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      got = e.message;
    }
    expect(got).toBe(`v.json:1:${text.indexOf(`"value":${value}`) + 9}: steps[1].expect.value: ${message}`);
  });
});
