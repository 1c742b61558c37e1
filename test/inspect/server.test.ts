import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeReport } from '../../src/cli/inspect.ts';
import { LiveSession, LogSession } from '../../src/inspect/session.ts';
import { startInspector, type InspectorServer } from '../../src/inspect/server.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { actorStates } from '../../src/runtime/state.ts';
import { runScenario, ScenarioRun } from '../../src/runner/run.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

const seedA = (): ReturnType<typeof loadScenarioFile> => {
  const p = builtinPath('seed-a-unbind-dmar');
  if (!p) throw new Error('no built-in seed-a-unbind-dmar');
  return loadScenarioFile(p);
};

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (no URL normalisation, any Host header, any body, any other headers). */
function raw(port: number, path: string, opts: { method?: string; host?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers = { host: opts.host ?? `127.0.0.1:${port}`, ...opts.headers };
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

describe('inspector server: live scenario', () => {
  let server: InspectorServer;
  beforeAll(async () => {
    server = await startInspector(new LiveSession(seedA()));
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on 127.0.0.1 only and serves the page with a same-origin-only CSP', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await raw(server.port, '/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('app.js');
    expect(String(r.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(String(r.headers['content-security-policy'])).toContain("connect-src 'self'");
    const js = await raw(server.port, '/app.js');
    expect(js.status).toBe(200);
    expect(js.body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost|www\.w3\.org)/);
  });

  it('describes the session: live, steps, machine layouts from the definitions', async () => {
    const info = JSON.parse((await raw(server.port, '/api/session')).body) as {
      live: boolean;
      nextStep: number;
      steps: { text: string }[];
      machines: Record<string, { nodes: { id: string }[]; edges: { source: string; target: string }[] }>;
    };
    expect(info.live).toBe(true);
    expect(info.nextStep).toBe(0);
    expect(info.steps.length).toBe(seedA().steps.length);
    expect(info.machines['thread']?.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(['running', 'trapping', 'enqueuing', 'exited']));
    expect(info.machines['thread']?.edges).toContainEqual(expect.objectContaining({ source: 'running', target: 'trapping' }));
    expect(info.machines['mm']?.nodes.map((n) => n.id)).toContain('alive.idle');
  });

  it('runs steps live, streams them to open event streams, and refuses a step past the end', async () => {
    const events: string[] = [];
    const stream = request({ host: '127.0.0.1', port: server.port, path: '/api/events', headers: { host: `127.0.0.1:${server.port}` } });
    const got = new Promise<void>((resolve) => {
      stream.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          events.push(c);
          if (events.join('').includes('event: step')) resolve();
        });
      });
    });
    stream.end();
    await new Promise((r) => setTimeout(r, 50));
    const first = JSON.parse((await raw(server.port, '/api/step', { method: 'POST' })).body) as { records: { seq: number; type: string }[]; nextStep: number; actors: { address: string }[] };
    expect(first.nextStep).toBe(1);
    expect(first.records[0]?.seq).toBe(1);
    expect(first.actors.map((a) => a.address)).toContain('mm:1');
    await got;
    expect(events.join('')).toContain('"nextStep":1');
    stream.destroy();

    const n = seedA().steps.length;
    let faults = 0;
    for (let i = 1; i < n; i++) {
      const r = JSON.parse((await raw(server.port, '/api/step', { method: 'POST' })).body) as { records: { type: string }[] };
      faults += r.records.filter((x) => x.type === 'fault.dmar').length;
    }
    expect(faults).toBeGreaterThan(0);
    const past = await raw(server.port, '/api/step', { method: 'POST' });
    expect(past.status).toBe(409);
    expect(past.body).toContain('steps have run');
  });

  it('answers the state at any seq, after the steps have run', async () => {
    const s = JSON.parse((await raw(server.port, '/api/state?seq=1')).body) as { seq: number; actors: { address: string; state: string }[] };
    expect(s.seq).toBe(1);
    const bad = await raw(server.port, '/api/state?seq=99999');
    expect(bad.status).toBe(400);
    const junk = await raw(server.port, '/api/state?seq=-1');
    expect(junk.status).toBe(400);
  });
});

/** Everything the server under test writes to stderr while `f` runs. */
async function stderrOf(f: () => Promise<void>): Promise<string> {
  const spy = vi.spyOn(process.stderr, 'write');
  try {
    await f();
    return spy.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    spy.mockRestore();
  }
}

/** A 4xx answer with a one-line JSON `{"error": …}`. */
function expectClientError(r: Raw, status: number, text: RegExp): void {
  expect(r.status, r.body).toBe(status);
  expect(r.headers['content-type']).toContain('application/json');
  const body = JSON.parse(r.body) as { error?: unknown };
  expect(typeof body.error).toBe('string');
  expect(String(body.error)).toMatch(text);
  expect(String(body.error)).not.toContain('\n');
}

describe('inspector server: a run in progress', () => {
  let server: InspectorServer;
  beforeAll(async () => {
    server = await startInspector(new LiveSession(seedA()));
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers the state at every seq after every step (a live log ends early: it is not a cut log)', async () => {
    const scenario = seedA();
    // The same scenario stepped here: the state the server must answer at each step's end.
    const expected = new ScenarioRun(scenario);
    const err = await stderrOf(async () => {
      const at0 = await raw(server.port, '/api/state?seq=0');
      expect(at0.status, at0.body).toBe(200);
      for (let i = 0; i < scenario.steps.length; i++) {
        expected.step();
        const step = await raw(server.port, '/api/step', { method: 'POST' });
        expect(step.status, step.body).toBe(200);
        const last = (JSON.parse(step.body) as { lastSeq: number }).lastSeq;
        expect(last).toBe(expected.sys.lastSeq);
        for (let seq = 0; seq <= last; seq++) {
          const r = await raw(server.port, `/api/state?seq=${seq}`);
          expect(r.status, `after step ${i}, seq ${seq}: ${r.body}`).toBe(200);
          expect((JSON.parse(r.body) as { seq: number }).seq).toBe(seq);
        }
        const now = JSON.parse((await raw(server.port, `/api/state?seq=${last}`)).body) as { actors: { address: string; state: string; context: unknown }[] };
        const want = actorStates(expected.sys).map((a) => ({ address: a.address, state: a.state, context: a.context }));
        expect(now.actors.map((a) => ({ address: a.address, state: a.state, context: a.context }))).toEqual(JSON.parse(JSON.stringify(want)));
      }
    });
    expect(err).toBe('');
  });

  it('expected errors are 4xx with a one-line JSON message and print nothing on stderr', async () => {
    const err = await stderrOf(async () => {
      expectClientError(await raw(server.port, '/api/state?seq=99999'), 400, /past the last record/);
      expectClientError(await raw(server.port, '/api/state?seq=-1'), 400, /non-negative integer/);
      expectClientError(await raw(server.port, '/api/state?seq=1.5'), 400, /non-negative integer/);
      expectClientError(await raw(server.port, '/api/records?from=x'), 400, /non-negative integer/);
      expectClientError(await raw(server.port, '/api/nothing'), 404, /no such page/);
      expectClientError(await raw(server.port, '/api/session', { method: 'PUT' }), 405, /not allowed/);
      // Every step has run (the test above): no step left.
      expectClientError(await raw(server.port, '/api/step', { method: 'POST' }), 409, /steps have run/);
    });
    expect(err).toBe('');
  });
});

describe('inspector server: state-changing requests from other web pages are refused', () => {
  let server: InspectorServer;
  beforeAll(async () => {
    server = await startInspector(new LiveSession(seedA()));
  });
  afterAll(async () => {
    await server.close();
  });
  const nextStep = async (): Promise<number> => (JSON.parse((await raw(server.port, '/api/session')).body) as { nextStep: number }).nextStep;

  it('another Origin, or a cross-site / same-site Sec-Fetch-Site: 403 with a one-line reason, and no step runs', async () => {
    const refused: Record<string, string>[] = [
      { origin: 'http://evil.example.com' },
      { origin: 'null' },
      { origin: `http://127.0.0.1:${server.port + 1}` },
      { origin: `https://127.0.0.1:${server.port}` },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: `http://127.0.0.1:${server.port}`, 'sec-fetch-site': 'cross-site' },
      { origin: 'http://evil.example.com', 'sec-fetch-site': 'same-origin' },
    ];
    const err = await stderrOf(async () => {
      for (const headers of refused) {
        const r = await raw(server.port, '/api/step', { method: 'POST', headers });
        expectClientError(r, 403, /^refused: /);
        expect(await nextStep(), JSON.stringify(headers)).toBe(0);
      }
      // Any state-changing method, not only the route that exists.
      expectClientError(await raw(server.port, '/api/session', { method: 'DELETE', headers: { origin: 'http://evil.example.com' } }), 403, /another origin/);
    });
    expect(err).toBe('');
  });

  it("its own origin (as 127.0.0.1 or localhost), Sec-Fetch-Site same-origin or none, or neither header (a local tool): the step runs", async () => {
    const allowed: Record<string, string>[] = [
      { origin: `http://127.0.0.1:${server.port}` },
      { origin: `http://localhost:${server.port}` },
      { origin: `http://127.0.0.1:${server.port}`, 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-site': 'none' },
      {},
    ];
    let want = await nextStep();
    for (const headers of allowed) {
      const r = await raw(server.port, '/api/step', { method: 'POST', headers });
      expect(r.status, `${JSON.stringify(headers)}: ${r.body}`).toBe(200);
      expect(await nextStep()).toBe(++want);
    }
    // Reading is not changing: a GET from another origin is answered (the browser withholds it from that page).
    expect((await raw(server.port, '/api/session', { headers: { origin: 'http://evil.example.com', 'sec-fetch-site': 'cross-site' } })).status).toBe(200);
  });
});

describe('inspector server: safety', () => {
  let server: InspectorServer;
  beforeAll(async () => {
    server = await startInspector(new LiveSession(seedA()));
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves only its own assets: traversal attempts get 404 and no file content', async () => {
    const pkg = readFileSync('package.json', 'utf8');
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/page/app.ts', '/src/inspect/server.ts', '//etc/passwd', '/app.js/../../package.json']) {
      const r = await raw(server.port, path);
      expect(r.status, path).toBe(404);
      expect(r.body).not.toContain(pkg.slice(0, 40));
    }
  });

  it('refuses other Host headers (DNS rebinding), long URLs, large bodies and other methods', async () => {
    expect((await raw(server.port, '/api/session', { host: 'evil.example:80' })).status).toBe(403);
    expect((await raw(server.port, `/api/records?x=${'a'.repeat(3000)}`)).status).toBe(414);
    expect((await raw(server.port, '/api/step', { method: 'POST', body: 'x'.repeat(5000) })).status).toBe(413);
    expect((await raw(server.port, '/api/session', { method: 'DELETE' })).status).toBe(405);
  });
});

describe('log sessions and reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svasim-inspect-'));
  const log = join(dir, 'seed-a.jsonl');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a log session pages records and seeks states with replay', async () => {
    const r = runScenario(seedA(), { log });
    const s = new LogSession(log);
    expect(s.live).toBe(false);
    expect(s.lastSeq).toBe(r.messages);
    const page = JSON.parse(s.recordsJson(2, 3)) as { seq: number }[];
    expect(page.map((x) => x.seq)).toEqual([2, 3]);
    const dmar = (JSON.parse(s.recordsJson()) as { seq: number; type: string }[]).find((x) => x.type === 'fault.dmar');
    if (!dmar) throw new Error('seed-a has no DMAR fault');
    const at = s.stateAt(dmar.seq);
    expect(at.seq).toBe(dmar.seq);
    expect(at.actors.find((a) => a.address === 'iommu')).toBeDefined();
    expect(() => s.step()).toThrow(/no steps/);
  });

  it('a log that diverges from the model opens with a warning; states up to the divergence, an error after', () => {
    const bad = join(dir, 'diverges.jsonl');
    writeFileSync(bad, readFileSync(log, 'utf8').replace('"refs":1', '"refs":7'));
    const s = new LogSession(bad);
    expect(s.warnings.join('\n')).toMatch(/diverges from this model at seq \d+/);
    expect(s.lastShowable).toBeLessThan(s.lastSeq);
    expect(s.stateAt(s.lastShowable).seq).toBe(s.lastShowable);
    expect(() => s.stateAt(s.lastSeq)).toThrow(new RegExp(`^no state at #${s.lastSeq}: .* diverges from this model at seq ${s.lastShowable + 1}; states can be shown up to #${s.lastShowable}$`));
  });

  it('the server says where the state stops: in the session, and as a 422 past it (nothing on stderr)', async () => {
    const bad = join(dir, 'diverges.jsonl');
    const s = new LogSession(bad);
    const server = await startInspector(s);
    try {
      const err = await stderrOf(async () => {
        const info = JSON.parse((await raw(server.port, '/api/session')).body) as { lastSeq: number; lastShowable: number; warnings: string[] };
        expect(info.lastShowable).toBe(s.lastShowable);
        expect(info.lastSeq).toBe(s.lastSeq);
        expect(info.warnings.join('\n')).toMatch(/diverges from this model/);
        expect((await raw(server.port, `/api/state?seq=${s.lastShowable}`)).status).toBe(200);
        expectClientError(await raw(server.port, `/api/state?seq=${s.lastShowable + 1}`), 422, /^no state at #\d+: .*diverges from this model/);
        expectClientError(await raw(server.port, '/api/step', { method: 'POST' }), 409, /no steps to run/);
      });
      expect(err).toBe('');
    } finally {
      await server.close();
    }
  });

  it('a log cut between steps opens with --allow-truncated as the prefix it holds: a state at every seq, a warning saying what is missing', () => {
    const lines = readFileSync(log, 'utf8').split('\n');
    const records = lines.slice(1).filter((l) => l !== '').map((l) => JSON.parse(l) as { seq?: number; step?: number });
    // Keep steps 0..2 (every record of them, in seq order) and nothing after.
    const keep = records.filter((r) => r.seq !== undefined && r.step !== undefined && r.step <= 2).length;
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, `${lines.slice(0, 1 + keep).join('\n')}\n`);
    const s = new LogSession(cut, { allowTruncated: true });
    expect(s.lastSeq).toBe(keep);
    expect(s.lastShowable).toBe(keep);
    expect(s.warnings.join('\n')).toMatch(/is incomplete, opened as a prefix: it ends at seq \d+ in step 2 of 6 \(steps 3\.\.5 have no record\)/);
    for (let seq = 0; seq <= keep; seq++) expect(s.stateAt(seq).seq).toBe(seq);
  });

  it('a report is one HTML file with the page and the data inlined, nothing fetched', async () => {
    const out = join(dir, 'seed-a.html');
    await writeReport(new LogSession(log), out);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('window.SVASIM_DATA');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href="(?!data:)/);
    expect(html).toContain('fault.dmar');
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost|www\.w3\.org)/);
  });
});

describe('inspector server: api/models names the kernel function the receiver\'s transition models', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svasim-models-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A built-in scenario run to its end in a live session. */
  const ran = (name: string): LiveSession => {
    const p = builtinPath(name);
    if (!p) throw new Error(`no built-in ${name}`);
    const s = new LiveSession(loadScenarioFile(p));
    while (s.nextStep < s.scenario.steps.length) s.step();
    return s;
  };
  const seqOf = (s: LiveSession | LogSession, type: string, to?: string): number => {
    const r = (JSON.parse(s.recordsJson()) as { seq: number; type: string; to: string }[]).find((x) => x.type === type && (to === undefined || x.to === to));
    if (!r) throw new Error(`no ${type} record`);
    return r.seq;
  };
  interface Models {
    seq: number;
    type: string;
    actor: string;
    state: string | null;
    transitions: { on: string; source: string; target: string | null; cite: string | null; models: { fn?: string; file?: string; model?: string } | null }[];
    why?: string;
  }
  const get = async (server: InspectorServer, seq: number): Promise<Models> => {
    const r = await raw(server.port, `/api/models?seq=${seq}`);
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as Models;
  };

  it('the #GP in seed case (b): the mm\'s transition cites the seed RFC\'s __fixup_pasid_exception under seed-2021', async () => {
    const s = ran('seed-b-fixup-then-dmar');
    const server = await startInspector(s);
    try {
      const m = await get(server, seqOf(s, 'trap.gp'));
      expect(m).toMatchObject({ type: 'trap.gp', actor: 'mm:1', state: 'alive.idle' });
      expect(m.transitions).toHaveLength(1);
      expect(m.transitions[0]).toMatchObject({ on: 'trap.gp', source: 'alive', target: null, cite: 'gp-fixup' });
      expect(m.transitions[0]?.models?.fn).toBe('exc_general_protection → fixup_pasid_exception → __fixup_pasid_exception');
      expect(m.transitions[0]?.models?.file).toBe('arch/x86/kernel/traps.c, drivers/iommu/intel/svm.c');
    } finally {
      await server.close();
    }
  });

  it('the same #GP under the merged policy cites try_fixup_enqcmd_gp (a log session)', async () => {
    const log = join(dir, 'merged-b.jsonl');
    const p = builtinPath('merged-b');
    if (!p) throw new Error('no built-in merged-b');
    runScenario(loadScenarioFile(p), { log });
    const s = new LogSession(log);
    const server = await startInspector(s);
    try {
      const m = await get(server, seqOf(s, 'trap.gp'));
      expect(m.transitions.map((t) => [t.cite, t.models?.fn, t.models?.file])).toStrictEqual([
        ['gp-fixup', 'exc_general_protection → try_fixup_enqcmd_gp', 'arch/x86/kernel/traps.c'],
      ]);
    } finally {
      await server.close();
    }
  });

  it('a message that leads to eventless transitions lists them in order (the last bond\'s mmdrop, then the held mm\'s __mmdrop); births and pseudo-actors say why there is none', async () => {
    // fork-keeps-file: A exited while its file (inherited by C) was open; C's close releases the file,
    // whose unbind drops the bond's grab of A's mm, and the mm held since A's exit is dropped.
    const s = ran('fork-keeps-file');
    const server = await startInspector(s);
    try {
      const drop = await get(server, seqOf(s, 'mm.drop'));
      expect(drop.actor).toBe('mm:1');
      expect(drop.transitions.map((t) => [t.on, t.source, t.target, t.cite])).toStrictEqual([
        ['mm.drop', '(root)', null, 'mmgrab-drop'],
        ['always', 'exiting.dropped', 'exiting.dropping', 'mmdrop'],
      ]);
      expect(drop.transitions[1]?.models?.fn).toBe('__mmdrop → mm_pasid_drop → iommu_free_global_pasid');
      const ignored = await get(server, seqOf(s, 'pasidtable.set'));
      expect(ignored.transitions).toStrictEqual([{ on: 'pasidtable.set', source: '(root)', target: null, cite: null, models: null }]);
      const birth = await get(server, seqOf(s, 'mm.create'));
      expect(birth).toMatchObject({ actor: 'mm:1', state: null, transitions: [], why: 'this message creates mm:1 (its birth): no transition is taken' });
      const toUser = await get(server, seqOf(s, 'sys.return', 'user'));
      expect(toUser.why).toBe('user is not an actor: no transition');
      const exited = await get(server, seqOf(s, 'sys.exit'));
      expect(exited.transitions.map((t) => t.cite)).toStrictEqual(['do-exit']);
    } finally {
      await server.close();
    }
  });

  it('a seq that is no record, none given, or past a divergence is a one-line 4xx (nothing on stderr)', async () => {
    const log = join(dir, 'seed-a.jsonl');
    runScenario(seedA(), { log });
    const bad = join(dir, 'diverges.jsonl');
    writeFileSync(bad, readFileSync(log, 'utf8').replace('"refs":1', '"refs":7'));
    const s = new LogSession(bad);
    const server = await startInspector(s);
    try {
      const err = await stderrOf(async () => {
        expectClientError(await raw(server.port, '/api/models'), 400, /^seq is required$/);
        expectClientError(await raw(server.port, '/api/models?seq=x'), 400, /non-negative integer/);
        expectClientError(await raw(server.port, '/api/models?seq=0'), 422, /^seq 0 is not a record of the log \(1\.\.\d+\)$/);
        expectClientError(await raw(server.port, `/api/models?seq=${s.lastSeq + 1}`), 422, /is not a record of the log/);
        expect((await raw(server.port, `/api/models?seq=${s.lastShowable}`)).status).toBe(200);
        expectClientError(await raw(server.port, `/api/models?seq=${s.lastShowable + 1}`), 422, /^no transition at #\d+: .*diverges from this model/);
      });
      expect(err).toBe('');
    } finally {
      await server.close();
    }
  });
});

describe('svasim inspect (the command)', () => {
  it('prints its URL, serves, and stops cleanly on Ctrl-C (SIGINT), exit 0', async () => {
    const child = spawn(process.execPath, ['src/cli/svasim.mjs', 'inspect', 'seed-a-unbind-dmar', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out} ${err}`)), 20_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m?.[1]) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
    });
    const res = await fetch(`${url}api/session`);
    expect(res.status).toBe(200);
    const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.kill('SIGINT');
    expect(await code).toBe(0);
    expect(out).toContain('stopped');
    // Its own pid (not npx's, when started through npx): what to signal to stop it.
    expect(out).toContain(`(127.0.0.1 only; pid ${child.pid}; Ctrl-C stops it)`);
    expect(err).toBe('');
  }, 30_000);

  it('bad input: an unknown source or port is one line and exit 2', async () => {
    const { main } = await import('../../src/cli/main.ts');
    const lines: string[] = [];
    const io = { stdout: { write: (s: string) => lines.push(s) }, stderr: { write: (s: string) => lines.push(`ERR ${s}`) }, env: {} };
    expect(await main(['inspect', 'no-such-scenario'], io)).toBe(2);
    expect(await main(['inspect', 'seed-a-unbind-dmar', '--port', 'http'], io)).toBe(2);
    expect(lines.filter((l) => l.startsWith('ERR')).length).toBe(2);
    expect(lines.join('')).toContain('--port expects a port number');
  });

  it('a port already in use is one line and exit 2', async () => {
    const { main } = await import('../../src/cli/main.ts');
    const busy = await startInspector(new LiveSession(seedA()));
    try {
      const lines: string[] = [];
      const io = { stdout: { write: (s: string) => lines.push(s) }, stderr: { write: (s: string) => lines.push(`ERR ${s}`) }, env: {}, until: Promise.resolve() };
      expect(await main(['inspect', 'seed-a-unbind-dmar', '--port', String(busy.port)], io)).toBe(2);
      expect(lines.filter((l) => l.startsWith('ERR'))).toEqual([`ERR svasim inspect: port ${busy.port} is already in use (--port 0 picks a free one)\n`]);
    } finally {
      await busy.close();
    }
  });
});
