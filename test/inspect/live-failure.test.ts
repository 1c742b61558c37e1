/**
 * Live inspection with registered kinds: a step that fails (a plugin's kind throwing, or a bug) stops
 * the session — the failing POST says where and why (a 4xx for a plugin's error, no stack trace on the
 * server's stderr; a 500 with its stack for a bug), every open page hears it, and every later step is
 * refused instead of running on a system left in the middle of a step. A device model's actor is a
 * device (grouped and filtered with the devices).
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveSession } from '../../src/inspect/session.ts';
import { startInspector, type InspectorServer } from '../../src/inspect/server.ts';
import { Kinds } from '../../src/runtime/kinds.ts';
import { ScenarioRun } from '../../src/runner/run.ts';
import { scenarioFromValue } from '../../src/scenario/load.ts';
import { iaxKind, KINDS_SCENARIO } from '../fixtures/kinds.ts';
import { bombScenario, STOPPED } from './bomb-kind.ts';

interface Answer {
  readonly status: number;
  readonly body: string;
}

function call(server: InspectorServer, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers: { host: `127.0.0.1:${server.port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The server's `step` events, as they arrive. */
function events(server: InspectorServer): { readonly steps: { stopped?: string; lastSeq: number; records: { seq: number; step: number }[] }[]; readonly ready: Promise<void>; close(): void } {
  const steps: { stopped?: string; lastSeq: number; records: { seq: number; step: number }[] }[] = [];
  let buf = '';
  const req = request({ host: '127.0.0.1', port: server.port, path: '/api/events', headers: { host: `127.0.0.1:${server.port}` } });
  const ready = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        if (buf.includes('event: hello')) resolve();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^event: step\ndata: (.*)$/s.exec(chunk)?.[1];
          if (data !== undefined) steps.push(JSON.parse(data) as (typeof steps)[number]);
        }
      });
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { steps, ready, close: () => req.destroy() };
}

/** What the server writes to stderr while `f` runs (kept off the real stderr). */
async function stderrOf(f: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    await f();
    return out.join('');
  } finally {
    spy.mockRestore();
  }
}

const errorOf = (a: Answer): string => {
  const body = JSON.parse(a.body) as { error?: unknown };
  if (typeof body.error !== 'string') throw new Error(`not an error answer: ${a.body}`);
  expect(body.error).not.toContain('\n');
  return body.error;
};

describe('live inspection: a step that fails stops the session', () => {
  let server: InspectorServer | null = null;
  afterEach(async () => {
    vi.restoreAllMocks();
    await server?.close();
    server = null;
  });

  it('a plugin\'s error: 422 saying where and why, one line on stderr, every page hears it, later steps are refused', async () => {
    const session = bombScenario();
    const s = await startInspector(session);
    server = s;
    const stream = events(s);
    await stream.ready;
    let failed: Answer | undefined;
    let again: Answer | undefined;
    const err = await stderrOf(async () => {
      expect((await call(s, '/api/step', 'POST')).status).toBe(200);
      failed = await call(s, '/api/step', 'POST');
      again = await call(s, '/api/step', 'POST');
    });
    if (failed === undefined || again === undefined) throw new Error('no answers');
    expect(failed.status).toBe(422);
    expect(errorOf(failed)).toBe(STOPPED);
    // One line on the server's stderr, no stack trace.
    expect(err).toBe(`svasim inspect: ${STOPPED}\n`);
    // The next step is refused: nothing runs on a system left in the middle of step 1.
    expect(again.status).toBe(409);
    expect(errorOf(again)).toBe(`no further step can run: ${STOPPED}`);
    const info = JSON.parse((await call(s, '/api/session')).body) as { stopped: string | null; lastSeq: number; nextStep: number };
    expect(info.stopped).toBe(STOPPED);
    const records = JSON.parse((await call(s, '/api/records')).body) as { records: { seq: number; step: number }[] };
    expect(records.records.length).toBe(info.lastSeq);
    expect(Math.max(...records.records.map((r) => r.step))).toBe(1);
    // What step 1 delivered before it failed can still be shown.
    const state = await call(s, `/api/state?seq=${info.lastSeq}`);
    expect(state.status, state.body).toBe(200);
    // Open pages heard the failed step: its records so far, and that the run stopped.
    await vi.waitFor(() => expect(stream.steps.length).toBe(2));
    expect(stream.steps[1]?.stopped).toBe(STOPPED);
    expect(stream.steps[1]?.lastSeq).toBe(info.lastSeq);
    expect(stream.steps[1]?.records.every((r) => r.step === 1)).toBe(true);
    stream.close();
  });

  it('a bug (any other error in a step): 500 with its stack on stderr, and the session refuses further steps', async () => {
    const session = bombScenario();
    const s = await startInspector(session);
    server = s;
    const real = ScenarioRun.prototype.step;
    vi.spyOn(ScenarioRun.prototype, 'step').mockImplementation(function (this: ScenarioRun) {
      if (this.nextStep === 1) throw new TypeError('svasim itself is broken');
      return real.call(this);
    });
    let failed: Answer | undefined;
    let again: Answer | undefined;
    const err = await stderrOf(async () => {
      expect((await call(s, '/api/step', 'POST')).status).toBe(200);
      failed = await call(s, '/api/step', 'POST');
      again = await call(s, '/api/step', 'POST');
    });
    if (failed === undefined || again === undefined) throw new Error('no answers');
    expect(failed.status).toBe(500);
    expect(errorOf(failed)).toBe('the run stopped at step 1: svasim itself is broken');
    expect(err).toMatch(/^svasim inspect: the run stopped at step 1: svasim itself is broken\nTypeError: svasim itself is broken\n\s+at /);
    expect(again.status).toBe(409);
    expect(errorOf(again)).toBe('no further step can run: the run stopped at step 1: svasim itself is broken');
  });
});

describe('live inspection: a kind whose own view code throws', () => {
  it('is a 422 with the one-line KindError naming it, and nothing on stderr', async () => {
    const kinds = new Kinds([{ ...iaxKind, behavior: { ...iaxKind.behavior, value: () => { throw new Error('stateName exploded'); } } }]);
    const server = await startInspector(new LiveSession(scenarioFromValue({ ...KINDS_SCENARIO, actors: [] }, 'iax.json', undefined, { kinds }), undefined, kinds));
    try {
      let session: Answer | undefined;
      const err = await stderrOf(async () => {
        session = await call(server, '/api/session');
      });
      if (session === undefined) throw new Error('no answer');
      expect(session.status).toBe(422);
      expect(errorOf(session)).toBe('kind "iax" at wq:iax0 threw while shown (value or context): stateName exploded');
      expect(err).toBe('');
    } finally {
      await server.close();
    }
  });
});

describe('live inspection: a device model is a device', () => {
  it('its actor (at wq:<device>) has its device in /api/session and /api/state', async () => {
    const kinds = new Kinds([iaxKind]);
    const value = { ...KINDS_SCENARIO, actors: [] };
    const server = await startInspector(new LiveSession(scenarioFromValue(value, 'iax.json', undefined, { kinds }), undefined, kinds));
    try {
      const info = JSON.parse((await call(server, '/api/session')).body) as { actors: { address: string; kind: string; device: string | null }[] };
      expect(info.actors.filter((a) => a.address.startsWith('wq:'))).toStrictEqual([
        { address: 'wq:dsa0', kind: 'wq', process: null, device: 'dsa0' },
        { address: 'wq:iax0', kind: 'iax', process: null, device: 'iax0' },
      ]);
      const state = JSON.parse((await call(server, '/api/state?seq=0')).body) as { actors: { address: string; device: string | null }[] };
      expect(state.actors.find((a) => a.address === 'wq:iax0')?.device).toBe('iax0');
    } finally {
      await server.close();
    }
  });
});
