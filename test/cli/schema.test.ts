/** `svasim schema`: prints the scenario JSON Schema (the shipped scenario.schema.json), exit 0. */
import { describe, expect, it } from 'vitest';
import { scenarioJsonSchemaText, SCENARIO_SCHEMA_ID } from '../../src/scenario/json-schema.ts';
import { cli } from '../setup/cli.ts';

describe('svasim schema', () => {
  it('prints the scenario JSON Schema on stdout and nothing on stderr, exit 0', async () => {
    const r = await cli(['schema']);
    expect(r).toEqual({ code: 0, out: scenarioJsonSchemaText(), err: '' });
    const schema: unknown = JSON.parse(r.out);
    expect(schema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', $id: SCENARIO_SCHEMA_ID, required: ['scenario', 'name', 'steps'] });
  });

  it('is listed in svasim --help, and --help tells the $schema path', async () => {
    expect((await cli(['--help'])).out).toMatch(/^ {2}schema +print the scenario format's JSON Schema/m);
    const help = await cli(['schema', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: svasim schema\n/);
    expect(help.out).toContain('"$schema": "./node_modules/svasim/scenario.schema.json"');
  });

  it('refuses an argument or an unknown option with one line, exit 2', async () => {
    expect(await cli(['schema', 'out.json'])).toEqual({
      code: 2,
      out: '',
      err: 'svasim schema: unexpected argument "out.json" (it takes none; to save the schema: svasim schema > scenario.schema.json)\n',
    });
    const r = await cli(['schema', '--out', 'x.json']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe('svasim schema: unknown option --out (see svasim schema --help)\n');
  });
});
