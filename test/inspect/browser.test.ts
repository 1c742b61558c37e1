/**
 * The inspector in a real browser: Debian's chromium driven by playwright-core, on the seed case (a)
 * scenario run live. Required in CI (`.ci/run` installs chromium and sets SVASIM_REQUIRE_BROWSER=1);
 * elsewhere it is reported as skipped when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../src/inspect/browser.ts';
import { LiveSession, LogSession } from '../../src/inspect/session.ts';
import { startInspector, type InspectorServer } from '../../src/inspect/server.ts';
import { actorStates } from '../../src/runtime/state.ts';
import { loadScenarioFile, scenarioFromValue } from '../../src/scenario/load.ts';
import { Kinds } from '../../src/runtime/kinds.ts';
import { iaxKind, KINDS_SCENARIO } from '../fixtures/kinds.ts';
import { runScenario, ScenarioRun } from '../../src/runner/run.ts';
import type { Scenario, Step } from '../../src/scenario/types.ts';
import { builtinPath } from '../../src/scenarios/index.ts';
import { bombScenario, STOPPED } from './bomb-kind.ts';

const CHROMIUM = CHROMIUM_PATH;
const required = process.env['SVASIM_REQUIRE_BROWSER'] === '1';
const available = existsSync(CHROMIUM);
if (required && !available) throw new Error(`SVASIM_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing (apt-get install chromium)`);

const seedA = (): ReturnType<typeof loadScenarioFile> => {
  const p = builtinPath('seed-a-unbind-dmar');
  if (!p) throw new Error('no built-in seed-a-unbind-dmar');
  return loadScenarioFile(p);
};

/** How long a wait for the page may take before the test fails (the page answers in well under 1 s). */
const WAIT = { timeout: 10_000 };

/** Jump to `seq` with the timeline's input and wait until every panel shows it. */
async function jump(page: Page, seq: number): Promise<void> {
  await page.fill('#seq-input', String(seq));
  await page.click('#btn-jump');
  await page.waitForFunction((s) => document.querySelector('#seq-current')?.textContent === String(s) && document.querySelector('#statecharts-seq')?.textContent === `state after #${s}`, seq, WAIT);
}

/** The current message's lanes (sender and receiver heads) lie inside the sequence's visible width. */
function currentLanesInView(): boolean {
  const sc = document.querySelector('#sequence-scroll');
  const gutter = sc?.querySelector('.lane-gutter');
  const to = sc?.querySelector('.lane-head.to');
  const from = sc?.querySelector('.lane-head.from');
  if (!sc || !gutter || !to || !from) return false;
  const view = sc.getBoundingClientRect();
  const left = gutter.getBoundingClientRect().right;
  return [to, from].every((el) => {
    const r = el.getBoundingClientRect();
    return r.left >= left - 1 && r.right <= view.left + (sc as HTMLElement).clientWidth + 1;
  });
}

/** Row `seq` of the sequence is drawn whole between the sticky lane header and the panel's bottom. */
function rowWhole(seq: number): boolean {
  const sc = document.querySelector<HTMLElement>('#sequence-scroll');
  const head = sc?.querySelector('.seq-head');
  const row = sc?.querySelector(`.msg-row[data-seq="${seq}"]:not([hidden])`);
  if (!sc || !head || !row) return false;
  const r = row.getBoundingClientRect();
  return r.top >= head.getBoundingClientRect().bottom - 0.5 && r.bottom <= sc.getBoundingClientRect().top + sc.clientHeight + 0.5;
}

describe.skipIf(!available)('inspector in chromium (seed case a, live)', () => {
  let server: InspectorServer;
  let browser: Browser;
  let page: Page;
  const outside: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startInspector(new LiveSession(seedA()));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    // Nothing may leave the machine: any request to another origin is recorded and aborted.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url) || url.startsWith('data:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('steps live one step at a time: after each, the latest seq, every thread state and IA32_PASID', async () => {
    await page.waitForSelector('#statecharts');
    const scenario = seedA();
    // The same scenario run here, step for step, says what the page must show after each step.
    const expected = new ScenarioRun(scenario);
    for (let i = 0; i < scenario.steps.length; i++) {
      expected.step();
      const last = expected.sys.lastSeq;
      await page.click('#btn-next-step');
      await page.waitForFunction(
        (n) =>
          document.querySelector('#seq-last')?.textContent === String(n) &&
          document.querySelector('#seq-current')?.textContent === String(n) &&
          document.querySelector('#statecharts-seq')?.textContent === `state after #${n}`,
        last,
        WAIT,
      );
      const threads = actorStates(expected.sys).filter((a) => a.kind === 'thread');
      expect(threads.length, `step ${i}`).toBeGreaterThan(0);
      for (const t of threads) {
        const ctx = t.context as { msr: number | null; activated: boolean };
        const card = page.locator(`#statecharts .actor[data-actor="${t.address}"]`);
        expect(await card.getAttribute('data-state'), `step ${i}: ${t.address}`).toBe(t.state);
        expect(await card.locator('.facts').innerText(), `step ${i}: ${t.address}`).toBe(ctx.msr === null ? 'MSR unset' : `MSR ${ctx.msr}${ctx.activated ? '' : ' (!act)'}`);
        // Its context beside the chart (drawn once the card scrolls into view): the MSR row.
        await card.scrollIntoViewIfNeeded();
        const want = ctx.msr === null ? 'unset' : `${ctx.msr}  (MSR 0x${((ctx.msr | 0x80000000) >>> 0).toString(16)})`;
        await page.waitForFunction(
          ([address, text]) => {
            const dts = [...document.querySelectorAll(`#statecharts .actor[data-actor="${address}"] dl.ctx dt`)];
            return dts.find((dt) => dt.textContent === 'IA32_PASID')?.nextElementSibling?.textContent === text;
          },
          [t.address, want] as const,
          WAIT,
        );
      }
    }
    expect(await page.locator('#btn-next-step').isDisabled()).toBe(true);
    expect(await page.locator('#status').getAttribute('class')).not.toContain('error');
    const fault = page.locator('#sequence .msg-row[data-type="fault.dmar"]').first();
    await fault.waitFor(WAIT);
    expect(await page.locator('#statecharts [data-actor="mm:1"]').first().getAttribute('data-state')).toMatch(/^alive/);
    expect(await page.locator('#statecharts svg').count()).toBeGreaterThan(0);
  }, 60_000);

  let faultSeq = 0;
  it('selecting the fault shows its payload and its chain of causes', async () => {
    const fault = page.locator('#sequence .msg-row[data-type="fault.dmar"]').first();
    faultSeq = Number(await fault.getAttribute('data-seq'));
    expect(faultSeq).toBeGreaterThan(1);
    await fault.click();
    const payload = await page.locator('#details-payload').innerText();
    expect(payload).toContain('fault.dmar');
    expect(payload).toMatch(/"?pasid"?\s*:\s*1/);
    const causes = await page.locator('#details-causes').innerText();
    expect(causes).toMatch(/insn\.enqcmd|portal\.store|wq\./);
  });

  it('time travel: jump to a seq, step back and forward, and the panels follow', async () => {
    await jump(page, 1);
    // At seq 1 only the spawn has happened: thread A1 does not exist yet.
    expect(await page.locator('#statecharts [data-actor="thread:A1"]').getAttribute('data-state')).toBe('');
    await page.click('#btn-forward');
    await page.waitForFunction(() => document.querySelector('#statecharts-seq')?.textContent === 'state after #2', undefined, WAIT);
    await page.click('#btn-back');
    await page.waitForFunction(() => document.querySelector('#statecharts-seq')?.textContent === 'state after #1', undefined, WAIT);
  });

  it('statecharts: a chart that fits is drawn whole; a scrolled one keeps the followed state whole in view', async () => {
    await jump(page, faultSeq);
    // At this width every machine fits its card: nothing is cut at a chart's edge.
    const cut = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('#statecharts .actor .chart:not(.trivial)')]
        .filter((box) => box.scrollWidth > box.clientWidth + 1)
        .map((box) => `${box.closest<HTMLElement>('.actor')?.dataset['actor'] ?? '?'}: ${box.scrollWidth} > ${box.clientWidth}`),
    );
    expect(cut).toEqual([]);
    // A narrow panel: charts scroll sideways; at every step's end each active state lies whole in its box.
    // (360px: the widest charts, mm's and thread's, ~670 units, still fit a 420px panel whole at 0.55.)
    await page.evaluate(() => document.getElementById('main')?.style.setProperty('--left-w', '360px'));
    await page.waitForFunction(() => (document.querySelector('#statecharts-scroll')?.clientWidth ?? 0) <= 360, undefined, WAIT);
    // The last seq of each step.
    const { records } = (await (await fetch(`${server.url}api/records`)).json()) as { records: { seq: number; step: number }[] };
    const ends = new Map<number, number>();
    for (const r of records) ends.set(r.step, r.seq);
    expect(ends.size).toBe(seedA().steps.length);
    for (const end of ends.values()) {
      await jump(page, end);
      await page.waitForFunction(
        () => {
          const cards = [...document.querySelectorAll<HTMLElement>('#statecharts .actor')].filter((c) => c.querySelector('.chart svg') !== null && c.dataset['state'] !== '');
          // Some chart scrolls at this width (else this checks nothing), and every active state is whole.
          const scrolls = cards.some((c) => {
            const box = c.querySelector<HTMLElement>('.chart');
            return box !== null && box.scrollWidth > box.clientWidth + 1;
          });
          return (
            scrolls &&
            cards.every((c) => {
              const box = c.querySelector<HTMLElement>('.chart')?.getBoundingClientRect();
              const leaf = c.querySelector('g.sc-node.leaf rect')?.getBoundingClientRect();
              return box !== undefined && leaf !== undefined && leaf.left >= box.left && leaf.right <= box.right;
            })
          );
        },
        undefined,
        WAIT,
      );
    }
    await page.evaluate(() => document.getElementById('main')?.style.removeProperty('--left-w'));
  });

  it('sequence: the view follows the current message sideways in the per-process view; the first row is never under the header', async () => {
    // A narrow sequence panel: its lanes do not all fit.
    await page.evaluate(() => document.getElementById('main')?.style.setProperty('--left-w', '1250px'));
    await page.waitForFunction(() => (document.querySelector('#sequence-scroll')?.clientWidth ?? 1e9) < 400, undefined, WAIT);
    await page.selectOption('#lane-mode', 'actors');
    await jump(page, 1);
    await jump(page, faultSeq);
    await page.waitForFunction(currentLanesInView, undefined, WAIT);
    // The user looks elsewhere (scrolls to the left end), then switches to one lane per process.
    await page.evaluate(() => {
      const sc = document.querySelector('#sequence-scroll');
      if (sc) sc.scrollLeft = 0;
    });
    await page.waitForFunction(() => !document.querySelector('#sequence-scroll .lane-head.to') || document.querySelector('#sequence-scroll')?.scrollLeft === 0, undefined, WAIT);
    await page.selectOption('#lane-mode', 'processes');
    await page.waitForFunction(() => document.querySelector('#sequence .lane-gutter')?.textContent === 'seq · per process', undefined, WAIT);
    await page.waitForFunction(currentLanesInView, undefined, WAIT);
    // Selected by a click on a cause in the details panel: its lanes come into view too.
    await page.locator('#details-causes [data-goto]').last().click();
    const cause = Number(await page.locator('#seq-current').innerText());
    expect(cause).toBeLessThan(faultSeq);
    await page.waitForFunction(currentLanesInView, undefined, WAIT);

    // The first row: whole below the sticky header when selected, and when scrolled to the top.
    await jump(page, 1);
    await page.waitForFunction(rowWhole, 1, WAIT);
    await jump(page, faultSeq);
    await page.waitForFunction(() => (document.querySelector('#sequence-scroll')?.scrollTop ?? 0) > 0, undefined, WAIT);
    await page.evaluate(() => {
      const sc = document.querySelector('#sequence-scroll');
      if (sc) sc.scrollTop = 0;
    });
    await page.waitForFunction(rowWhole, 1, WAIT);
    await page.selectOption('#lane-mode', 'auto');
    await page.evaluate(() => document.getElementById('main')?.style.removeProperty('--left-w'));
  });

  it('no request left the machine, the page raised no error; a screenshot is saved', async () => {
    const dir = join(tmpdir(), 'svasim-browser');
    mkdirSync(dir, { recursive: true });
    // Back to the fault (the sequence scrolls to it), selected, for the picture.
    await jump(page, faultSeq);
    await page.locator(`#sequence .msg-row[data-seq="${faultSeq}"]`).first().click();
    const shot = join(dir, 'inspector-seed-a.png');
    await page.screenshot({ path: shot, fullPage: false });
    expect(existsSync(shot)).toBe(true);
    expect(outside).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe.skipIf(!available)('inspector in chromium: what cannot be shown is said, never "loading…" for ever', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svasim-browser-errors-'));
  let server: InspectorServer;
  let browser: Browser;
  let diverges = 0;
  let lastSeq = 0;

  beforeAll(async () => {
    const log = join(dir, 'seed-a.jsonl');
    runScenario(seedA(), { log });
    const bad = join(dir, 'diverges.jsonl');
    writeFileSync(bad, readFileSync(log, 'utf8').replace('"refs":1', '"refs":7'));
    const session = new LogSession(bad);
    diverges = session.lastShowable + 1;
    lastSeq = session.lastSeq;
    server = await startInspector(session);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a log that diverges opens at its last state, and past it says why in the statecharts and the status bar', async () => {
    expect(diverges).toBeLessThanOrEqual(lastSeq);
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(server.url);
    await page.waitForFunction((s) => document.querySelector('#statecharts-seq')?.textContent === `state after #${s}`, diverges - 1, WAIT);
    expect(await page.locator('#status').innerText()).toContain(`diverges from this model at seq ${diverges}`);
    await page.fill('#seq-input', String(lastSeq));
    await page.click('#btn-jump');
    await page.waitForFunction((s) => document.querySelector('#statecharts-seq')?.textContent === `no state at #${s}`, lastSeq, WAIT);
    const shown = await page.locator('#statecharts-error').innerText();
    expect(shown).toContain(`no state at #${lastSeq}`);
    expect(shown).toContain(`diverges from this model at seq ${diverges}`);
    expect(await page.locator('#status').innerText()).toMatch(new RegExp(`^no state at #${lastSeq}: .*diverges from this model at seq ${diverges}`));
    // The record's readable summary (a DMAR fault) says why it has no context.
    expect(await page.locator('#details-summary').innerText()).toContain(`no state at #${lastSeq}: `);
    expect(shown).not.toMatch(/no state at #\d+: no state/);
    expect(await page.locator('#status').getAttribute('class')).toContain('error');
    // Back before the divergence: the state again, and the error gone.
    await page.fill('#seq-input', '1');
    await page.click('#btn-jump');
    await page.waitForFunction(() => document.querySelector('#statecharts-seq')?.textContent === 'state after #1', undefined, WAIT);
    expect(await page.locator('#statecharts-error').isHidden()).toBe(true);
    await page.close();
  });

  it('failed state and record requests show their error text where the data would be and in the status bar', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const fail = (what: string) => ({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: `${what} unavailable (test)` }) });
    await page.route('**/api/state*', (route) => route.fulfill(fail('states')));
    await page.route('**/api/records*', (route) => route.fulfill(fail('records')));
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector('#statecharts-error')?.textContent?.includes('states unavailable (test)') === true, undefined, WAIT);
    // No state ever arrived: each actor says so instead of "loading…".
    await page.waitForFunction(() => [...document.querySelectorAll('#statecharts .actor .state-pill')].every((p) => p.textContent === 'no state'), undefined, WAIT);
    await page.waitForFunction(() => document.querySelector('#sequence .msg-row.failed')?.textContent?.includes('not loaded: records unavailable (test)') === true, undefined, WAIT);
    await page.waitForFunction(() => /unavailable \(test\)/.test(document.querySelector('#status')?.textContent ?? ''), undefined, WAIT);
    expect(await page.locator('#status').getAttribute('class')).toContain('error');
    expect(await page.locator('#details').innerText()).toContain('not loaded');
    await page.close();
  });
});

/** `processes` processes of two threads (P0 and P0t …) that bind, then `rounds` ENQCMDs from every thread. */
function manyProcesses(processes: number, rounds: number): Scenario {
  const steps: Step[] = [];
  for (let p = 0; p < processes; p++) {
    steps.push({ op: 'spawn', process: `P${p}` }, { op: 'bind', thread: `P${p}`, device: 'dsa0' }, { op: 'clone', thread: `P${p}`, new: `P${p}t` });
  }
  for (let i = 0; i < rounds; i++) for (let p = 0; p < processes; p++) for (const t of [`P${p}`, `P${p}t`]) steps.push({ op: 'enqcmd', thread: t, device: 'dsa0' });
  return {
    scenario: 1,
    name: `${processes} processes`,
    policy: { pasid: 'seed-2021', lam: 'poc-2022' },
    cpu: { enqcmd: true, lam: true },
    iommu: { pasidRange: [1, 0xfffff] },
    devices: [{ name: 'dsa0', wqSize: 128, threshold: 128, autoComplete: true }],
    steps,
    final: { pasid: {}, refs: {}, msr: {} },
    forbid: [],
  };
}

/** The statecharts card of `address` lies whole inside the statecharts panel's visible box (at least its head). */
function cardInView(address: string): boolean {
  const sc = document.querySelector<HTMLElement>('#statecharts-scroll');
  const head = sc?.querySelector(`.actor[data-actor="${address}"] .actor-head`);
  if (!sc || !head) return false;
  const view = sc.getBoundingClientRect();
  const r = head.getBoundingClientRect();
  return r.top >= view.top - 0.5 && r.bottom <= view.top + sc.clientHeight + 0.5;
}

describe.skipIf(!available)('inspector in chromium: a large log (records load as you scroll) follows jumps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svasim-browser-large-'));
  let server: InspectorServer;
  let browser: Browser;
  let records: { seq: number; type: string; from: string; to: string }[] = [];

  beforeAll(async () => {
    const log = join(dir, 'many.jsonl');
    runScenario(manyProcesses(60, 4), { log });
    records = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"seq"'))
      .map((l) => JSON.parse(l) as { seq: number; type: string; from: string; to: string });
    server = await startInspector(new LogSession(log));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A page that loads records in chunks of 500 as they are viewed (as it does logs over 400,000 records). */
  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.addInitScript(() => {
      window.SVASIM_LOADING = { chunk: 500, backgroundMax: 2000 };
    });
    // Records arrive after the state (as a chunk of a big log can): the panels must still follow.
    await page.route('**/api/records*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    await page.goto(`${server.url}${hash}`);
    await page.waitForFunction(() => document.body.dataset['ready'] === 'true', undefined, WAIT);
    expect(await page.locator('#status').innerText()).toContain('large log: records load as you scroll');
    return page;
  }

  /** Both panels show `seq`: its row and lanes in the sequence, the card of its receiver in the statecharts. */
  async function shown(page: Page, seq: number): Promise<void> {
    const r = records.find((x) => x.seq === seq);
    if (!r) throw new Error(`no record ${seq}`);
    await page.waitForFunction(rowWhole, seq, WAIT);
    await page.waitForFunction(currentLanesInView, undefined, WAIT);
    await page.waitForFunction(cardInView, r.to, WAIT);
    // Marked as receiving it (the record may arrive after the state).
    await page.waitForFunction((a) => document.querySelector(`#statecharts .actor[data-actor="${a}"]`)?.classList.contains('receiving') === true, r.to, WAIT);
  }

  it('a jump (and the first opening) scrolls both panels to the selected message once its records are loaded', async () => {
    expect(records.length).toBeGreaterThan(4000);
    // Far from the first chunk, to a process in the middle: its lane and card start out of view.
    const late = records.filter((r) => r.type === 'portal.store' && r.from === 'thread:P28t' && r.to === 'mm:29').at(-1);
    const early = records.find((r) => r.seq > 1000 && r.to === 'mm:6' && r.type === 'portal.store');
    if (!late || !early) throw new Error('no such records');
    const page = await open('');
    await jump(page, late.seq);
    await shown(page, late.seq);
    await jump(page, early.seq);
    await shown(page, early.seq);
    await page.close();
    const first = await open(`#seq=${late.seq}`);
    await first.waitForFunction((s) => document.querySelector('#statecharts-seq')?.textContent === `state after #${s}`, late.seq, WAIT);
    await shown(first, late.seq);
    await first.close();
  }, 60_000);
});

/**
 * What keeps the receiving actor's active state from being seen: its box outside the statecharts panel
 * (vertically) or its chart's box (sideways), or (with `labels`) a label in sight cut by the chart box's
 * left or right edge.
 */
function activeStateProblems(labels: boolean): string[] {
  const sc = document.querySelector<HTMLElement>('#statecharts-scroll');
  const card = document.querySelector<HTMLElement>('#statecharts .actor.receiving');
  const box = card?.querySelector<HTMLElement>('.chart');
  const leaf = box?.querySelector('g.sc-node.leaf rect');
  if (!sc || !card) return ['no receiving actor'];
  if (!box || !leaf) return [`${card.dataset['actor'] ?? ''}: ${!box ? 'no chart drawn' : `no active state in its chart (state "${card.dataset['state'] ?? ''}")`}`];
  const panel = sc.getBoundingClientRect();
  const bottom = panel.top + sc.clientHeight;
  const b = box.getBoundingClientRect();
  const right = b.left + box.clientWidth;
  const l = leaf.getBoundingClientRect();
  const problems: string[] = [];
  const state = card.dataset['state'] ?? '';
  if (l.top < panel.top || l.bottom > bottom) problems.push(`${state} at y ${l.top}..${l.bottom}, panel ${panel.top}..${bottom}`);
  if (l.left < b.left || l.right > right) problems.push(`${state} at x ${l.left}..${l.right}, chart box ${b.left}..${right}`);
  if (!labels) return problems;
  for (const t of box.querySelectorAll('text')) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || r.bottom <= panel.top || r.top >= bottom) continue;
    if ((r.left < b.left - 0.5 && r.right > b.left + 0.5) || (r.left < right - 0.5 && r.right > right + 0.5)) problems.push(`label "${t.textContent ?? ''}" cut at x ${r.left}..${r.right}`);
  }
  return problems;
}

/**
 * What keeps the active state of a drawn chart from being seen sideways: for every card whose chart is
 * drawn and that has a state, its active state's box must lie inside the chart's scroll box.
 */
function chartsCutSideways(): string[] {
  const problems: string[] = [];
  for (const card of document.querySelectorAll<HTMLElement>('#statecharts .actor')) {
    const box = card.querySelector<HTMLElement>('.chart:not(.trivial)');
    const leaf = box?.querySelector('g.sc-node.leaf rect');
    if (!box || !leaf || card.hidden || card.dataset['state'] === '') continue;
    const b = box.getBoundingClientRect();
    const right = b.left + box.clientWidth;
    const l = leaf.getBoundingClientRect();
    if (l.left < b.left - 0.5 || l.right > right + 0.5) problems.push(`${card.dataset['actor'] ?? ''} ${card.dataset['state'] ?? ''} at x ${l.left}..${l.right}, chart box ${b.left}..${right} (scrollLeft ${box.scrollLeft})`);
  }
  return problems;
}

describe.skipIf(!available)('inspector in chromium: following at 1100×750 shows the active state', () => {
  let server: InspectorServer;
  let browser: Browser;

  beforeAll(async () => {
    const p = builtinPath('exit-teardown-silent');
    if (!p) throw new Error('no built-in exit-teardown-silent');
    server = await startInspector(new LiveSession(loadScenarioFile(p)));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('run live with "follow": after each step every active state lies whole in its chart\'s box and the receiver\'s in the panel; at the end no label beside it is cut, the status is whole, and following undoes a sideways scroll', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset['ready'] === 'true', undefined, WAIT);
    expect(await page.locator('#follow-actor').isChecked()).toBe(true);
    const p = builtinPath('exit-teardown-silent');
    if (!p) throw new Error('no built-in exit-teardown-silent');
    // After every step: the receiver's active state in the panel and in its chart's box, and every drawn
    // chart's active state inside its box (a step that adds an actor rebuilds the groups: the charts'
    // sideways scroll must survive it).
    // (A step whose last message goes to no actor, e.g. `sys.return` to the user, has no receiver.)
    const seen = async (step: number, toActor: boolean): Promise<string[]> =>
      [...(toActor ? await page.evaluate(activeStateProblems, false) : []), ...(await page.evaluate(chartsCutSideways))].map((x) => `step ${step}: ${x}`);
    for (let i = 0; i < loadScenarioFile(p).steps.length; i++) {
      const before = Number(await page.locator('#seq-last').innerText());
      // The button is disabled while a step runs: click() waits until it is enabled again.
      await page.click('#btn-next-step', WAIT);
      await page.waitForFunction((n) => Number(document.querySelector('#seq-last')?.textContent) > n, before, WAIT);
      const now = Number(await page.locator('#seq-last').innerText());
      await page.waitForFunction((s) => document.querySelector('#statecharts-seq')?.textContent === `state after #${s}`, now, WAIT);
      const { records } = (await (await fetch(`${server.url}api/records?from=${now}&to=${now}`)).json()) as { records: { seq: number; to: string }[] };
      const to = records.find((r) => r.seq === now)?.to ?? '';
      const toActor = (await page.locator(`#statecharts .actor[data-actor="${to}"]`).count()) > 0;
      // Polled until the page shows it (the charts scroll a frame or two after the state arrives).
      let problems = await seen(i, toActor);
      for (let t = 0; t < 30 && problems.length > 0; t++) {
        await page.waitForTimeout(100);
        problems = await seen(i, toActor);
      }
      expect(problems).toEqual([]);
    }
    await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('#btn-next-step')?.disabled === true, undefined, WAIT);
    const last = Number(await page.locator('#seq-last').innerText());
    await page.waitForFunction((s) => document.querySelector('#statecharts-seq')?.textContent === `state after #${s}`, last, WAIT);
    // The top bar's status is whole at this width (the long title gives way first).
    const status = await page.evaluate(() => {
      const el = document.querySelector<HTMLElement>('#status');
      return { text: el?.textContent ?? '', cut: el === null || el.scrollWidth > el.clientWidth };
    });
    expect(status).toEqual({ text: expect.stringMatching(/^step \d+ ran: \d+ messages$/) as unknown, cut: false });
    // Polled until the page shows it (the charts scroll a frame or two after the state arrives).
    let problems = await page.evaluate(activeStateProblems, true);
    for (let i = 0; i < 50 && problems.length > 0; i++) {
      await page.waitForTimeout(100);
      problems = await page.evaluate(activeStateProblems, true);
    }
    expect(problems).toEqual([]);
    // The user scrolls the receiver's chart away from its active state, then selects an earlier message
    // to the same actor in the same state: following scrolls its chart back to the state. (An mm's
    // `alive.idle`, near one end of its chart at this width: scrolling to the other end hides it.)
    const { records } = (await (await fetch(`${server.url}api/records`)).json()) as { records: { seq: number; to: string }[] };
    const stateOf = async (seq: number, address: string): Promise<string | undefined> =>
      ((await (await fetch(`${server.url}api/state?seq=${seq}`)).json()) as { actors: { address: string; state: string }[] }).actors.find((a) => a.address === address)?.state;
    let pair: [number, number] | undefined;
    for (let b = records.length - 1; b > 0 && !pair; b--) {
      const rb = records[b];
      const ra = records[b - 2];
      if (!rb || !ra || ra.to !== rb.to || !rb.to.startsWith('mm:')) continue;
      const st = await stateOf(rb.seq, rb.to);
      if (st === 'alive.idle' && (await stateOf(ra.seq, rb.to)) === st) pair = [rb.seq, ra.seq];
    }
    if (!pair) throw new Error('no two messages two apart to an mm in alive.idle');
    // A panel narrow enough for the mm's chart to scroll far enough to hide `alive.idle`, in the middle
    // of its chart (at this viewport's own width the chart fits whole).
    await page.evaluate(() => document.getElementById('main')?.style.setProperty('--left-w', '260px'));
    await page.waitForFunction(() => (document.querySelector('#statecharts-scroll')?.clientWidth ?? 0) <= 260, undefined, WAIT);
    await jump(page, pair[0]);
    problems = await page.evaluate(activeStateProblems, false);
    for (let i = 0; i < 30 && problems.length > 0; i++) {
      await page.waitForTimeout(100);
      problems = await page.evaluate(activeStateProblems, false);
    }
    expect(problems).toEqual([]);
    // To the end of the chart farther from the state. (Scrolled again until it shows: on a loaded
    // machine the jump's last redraw can land after the first scroll and replace the chart.)
    const scrollAway = (): Promise<void> =>
      page.evaluate(() => {
        const box = document.querySelector<HTMLElement>('#statecharts .actor.receiving .chart');
        const leaf = box?.querySelector('g.sc-node.leaf rect')?.getBoundingClientRect();
        if (!box || !leaf) return;
        const b = box.getBoundingClientRect();
        box.scrollLeft = leaf.left - b.left + box.scrollLeft > box.scrollWidth / 2 ? 0 : box.scrollWidth;
      });
    await scrollAway();
    let away = (await page.evaluate(activeStateProblems, false)).join();
    for (let i = 0; i < 30 && !away.includes(' at x '); i++) {
      await page.waitForTimeout(100);
      await scrollAway();
      away = (await page.evaluate(activeStateProblems, false)).join();
    }
    expect(away).toContain(' at x ');
    await jump(page, pair[1]);
    problems = await page.evaluate(activeStateProblems, false);
    for (let i = 0; i < 30 && problems.length > 0; i++) {
      await page.waitForTimeout(100);
      problems = await page.evaluate(activeStateProblems, false);
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

describe.skipIf(!available)('inspector in chromium: a live run whose step fails', () => {
  let server: InspectorServer;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startInspector(bombScenario());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  }, 60_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    await browser?.close();
    await server?.close();
  });

  it('says where and why it stopped in the status bar (this tab, another open tab, a tab opened later) and runs no further step', async () => {
    const open = async (): Promise<Page> => {
      const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      p.on('pageerror', (e) => pageErrors.push(e.message));
      await p.goto(server.url);
      await p.waitForFunction(() => document.body.dataset['ready'] === 'true', undefined, WAIT);
      return p;
    };
    const stoppedShown = (p: Page): Promise<unknown> =>
      p.waitForFunction(
        (why) => {
          const status = document.querySelector('#status');
          return status?.textContent === why && status.classList.contains('error') && document.querySelector<HTMLButtonElement>('#btn-next-step')?.disabled === true;
        },
        STOPPED,
        WAIT,
      );
    // The server's one line about the failure stays off this run's output (it is checked below).
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
    const page = await open();
    const other = await open();
    await page.click('#btn-next-step');
    await page.waitForFunction(() => /^step 0 ran: /.test(document.querySelector('#status')?.textContent ?? ''), undefined, WAIT);
    await page.click('#btn-next-step');
    await stoppedShown(page);
    expect(await page.locator('#next-step-text').innerText()).toBe('the run stopped: no further step');
    // The records step 1 delivered before it failed are listed, and the state after the last one shown.
    const info = (await (await fetch(`${server.url}api/session`)).json()) as { lastSeq: number; stopped: string };
    expect(info.stopped).toBe(STOPPED);
    await page.waitForFunction((n) => document.querySelector('#seq-last')?.textContent === String(n) && document.querySelector('#statecharts-seq')?.textContent === `state after #${n}`, info.lastSeq, WAIT);
    // The tab that was open heard it from the server; a tab opened now reads it from the session.
    await stoppedShown(other);
    const later = await open();
    await stoppedShown(later);
    expect(written.join('')).toBe(`svasim inspect: ${STOPPED}\n`);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});

describe.skipIf(!available)('inspector in chromium: a device model, and machines of one state', () => {
  let server: InspectorServer;
  let browser: Browser;

  beforeAll(async () => {
    const kinds = new Kinds([iaxKind]);
    server = await startInspector(new LiveSession(scenarioFromValue({ ...KINDS_SCENARIO, actors: [] }, 'iax.json', undefined, { kinds }), undefined, kinds));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the device model is grouped and filtered with the devices; svasim\'s one-state work queue is drawn as a chart', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset['ready'] === 'true', undefined, WAIT);
    const devices = page.locator('#statecharts section.group[data-group="devices"]');
    expect(await devices.locator('.actor').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['actor']))).toStrictEqual(['wq:dsa0', 'wq:iax0']);
    // The work queue (one state, `enabled`) has its chart; the decider device model shows its state and context.
    await page.waitForSelector('#statecharts .actor[data-actor="wq:dsa0"] .chart svg g.sc-node', WAIT);
    expect(await page.locator('#statecharts .actor[data-actor="wq:iax0"] .chart svg').count()).toBe(0);
    // The device filter offers both devices, and filtering to iax0 keeps its actor in view.
    await page.focus('#filter-device');
    await page.waitForFunction(() => document.querySelectorAll('#dl-device option').length === 2, undefined, WAIT);
    expect(await page.locator('#dl-device option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toStrictEqual(['dsa0', 'iax0']);
    await page.fill('#filter-device', 'iax0');
    await page.press('#filter-device', 'Enter');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#statecharts .actor[data-actor="wq:dsa0"]')?.closest('[hidden]') !== null, undefined, WAIT);
    expect(await page.locator('#statecharts .actor[data-actor="wq:iax0"]').isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe.skipIf(!available)('inspector in chromium: a selected message names the kernel function its transition models', () => {
  let server: InspectorServer;
  let browser: Browser;
  let session: LiveSession;

  beforeAll(async () => {
    const p = builtinPath('seed-b-fixup-then-dmar');
    if (!p) throw new Error('no built-in seed-b-fixup-then-dmar');
    session = new LiveSession(loadScenarioFile(p));
    while (session.nextStep < session.scenario.steps.length) session.step();
    server = await startInspector(session);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('seed case (b): the #GP shows the seed RFC\'s fixup and its files; a birth says there is no transition', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset['ready'] === 'true', undefined, WAIT);
    const records = JSON.parse(session.recordsJson()) as { seq: number; type: string }[];
    const seqOf = (type: string): number => {
      const r = records.find((x) => x.type === type);
      if (!r) throw new Error(`no ${type}`);
      return r.seq;
    };
    const gp = seqOf('trap.gp');
    await jump(page, gp);
    await page.locator(`#sequence .msg-row[data-seq="${gp}"]`).first().click();
    await page.waitForSelector('#details-models .models-line[data-cite="gp-fixup"]', WAIT);
    expect(await page.locator('#details-models').getAttribute('data-seq')).toBe(String(gp));
    const line = await page.locator('#details-models .models-line').first().innerText();
    expect(line).toContain('models: exc_general_protection → fixup_pasid_exception → __fixup_pasid_exception (arch/x86/kernel/traps.c, drivers/iommu/intel/svm.c)');
    expect(await page.locator('#details-models .models-file').first().innerText()).toBe('arch/x86/kernel/traps.c, drivers/iommu/intel/svm.c');

    const birth = seqOf('mm.create');
    await jump(page, birth);
    await page.locator(`#sequence .msg-row[data-seq="${birth}"]`).first().click();
    await page.waitForFunction((s) => document.querySelector('#details-models')?.getAttribute('data-seq') === String(s) && document.querySelector('#details-models .models-text') !== null, birth, WAIT);
    expect(await page.locator('#details-models').innerText()).toBe('models: this message creates mm:1 (its birth): no transition is taken');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe.skipIf(!available)('inspector in chromium: device files, fd tables and mappings (fork-keeps-file)', () => {
  let server: InspectorServer;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'svasim-browser-files-'));
  const pageErrors: string[] = [];
  /** The last seq of each step. */
  const ends = new Map<number, number>();

  beforeAll(async () => {
    const p = builtinPath('fork-keeps-file');
    if (!p) throw new Error('no built-in fork-keeps-file');
    const log = join(dir, 'fork-keeps-file.jsonl');
    runScenario(loadScenarioFile(p), { log, onRecord: (d) => ends.set(d.step, d.seq) });
    server = await startInspector(new LogSession(log));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
    page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset['ready'] === 'true', undefined, WAIT);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The last seq of step `i`. */
  const endOf = (i: number): number => {
    const s = ends.get(i);
    if (s === undefined) throw new Error(`no record of step ${i}`);
    return s;
  };

  /** One card's context rows (label -> value), once its body is drawn. */
  async function contextOf(address: string): Promise<Record<string, string>> {
    const card = page.locator(`#statecharts .actor[data-actor="${address}"]`);
    await card.scrollIntoViewIfNeeded();
    await page.waitForSelector(`#statecharts .actor[data-actor="${address}"] .ctx dt`, WAIT);
    return card.locator('.ctx').evaluate((dl) => {
      const out: Record<string, string> = {};
      for (const dt of dl.querySelectorAll('dt')) out[dt.textContent ?? ''] = dt.nextElementSibling?.textContent ?? '';
      return out;
    });
  }

  it('the file is drawn from its statechart in the group of the process that opened it, after its mm and threads', async () => {
    await jump(page, endOf(1));
    const a = page.locator('#statecharts section.group[data-group="proc:A"] .actor');
    expect(await a.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['actor']))).toStrictEqual(['mm:1', 'thread:A', 'file:1.1']);
    const file = page.locator('#statecharts .actor[data-actor="file:1.1"]');
    expect(await file.locator('.kind-badge').innerText()).toBe('FILE');
    await file.scrollIntoViewIfNeeded();
    await page.waitForSelector('#statecharts .actor[data-actor="file:1.1"] .chart svg g.sc-node.leaf', WAIT);
    expect(await file.getAttribute('data-state')).toBe('open');
    expect(await file.locator('.facts').innerText()).toBe('dsa0 · PASID 1 · 2 refs');
    expect(await contextOf('file:1.1')).toMatchObject({ 'ctx->mm': '1', 'ctx->pasid': '1', 'SVA bound (ctx->sva)': 'true', 'holders (f_count)': '2: fd:A/dsa0 map:mm:1' });
  });

  it('a process shows its fd table and mappings: in its mm\'s card and its group\'s summary', async () => {
    await jump(page, endOf(1));
    expect(await page.locator('#statecharts section.group[data-group="proc:A"] .group-summary').innerText()).toBe('1/1 threads live · PASID 1 · fds dsa0→file:1.1 · mapped dsa0 (file:1.1)');
    expect(await contextOf('mm:1')).toMatchObject({ 'fd table': 'dsa0→file:1.1', mappings: 'dsa0 (file:1.1)', 'grabs (SVA bonds: mm_count)': '1' });
    expect(await page.locator('#statecharts .actor[data-actor="mm:1"] .facts').innerText()).toBe('PASID 1 · 1 fd · 1 map');
    // After the fork and A's exit: C's descriptor refers to A's file, which C never mapped; A's mm is
    // held by the bond with no descriptor or mapping left.
    await jump(page, endOf(4));
    expect(await page.locator('#statecharts section.group[data-group="proc:C"] .group-summary').innerText()).toBe('1/1 threads live · fds dsa0→file:1.1');
    expect(await contextOf('mm:2')).toMatchObject({ 'fd table': 'dsa0→file:1.1', mappings: 'none' });
    expect(await contextOf('mm:1')).toMatchObject({ 'fd table': 'none', mappings: 'none', 'grabs (SVA bonds: mm_count)': '1' });
    expect(await page.locator('#statecharts section.group[data-group="proc:A"] .group-summary').innerText()).toBe('0/1 threads live · PASID 1');
    expect(await page.locator('#statecharts .actor[data-actor="file:1.1"] .facts').innerText()).toBe('dsa0 · PASID 1 · 1 ref');
  });

  it('the file is released by the child\'s close: its chart and pill follow', async () => {
    await jump(page, endOf(7));
    const file = page.locator('#statecharts .actor[data-actor="file:1.1"]');
    expect(await file.getAttribute('data-state')).toBe('released');
    expect(await file.locator('.facts').innerText()).toBe('dsa0 · PASID 1 (unbound) · 0 refs');
    // The sequence has a lane for the file, named after it and its opener.
    await page.selectOption('#lane-mode', 'actors');
    const lane = page.locator('#sequence-scroll .lane-head.lane-file');
    expect(await lane.count()).toBeGreaterThan(0);
    expect(await lane.first().innerText()).toMatch(/^1\.1\s+file · A$/);
    expect(pageErrors).toEqual([]);
  });
});
