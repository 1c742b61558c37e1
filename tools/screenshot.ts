/**
 * The README's screenshot of the inspector: seed case (a) run live to its DMAR fault, the fault
 * selected. `node --import tsx tools/screenshot.ts [out.png]` (needs /usr/bin/chromium).
 */
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/inspect/browser.ts';
import { LiveSession } from '../src/inspect/session.ts';
import { startInspector } from '../src/inspect/server.ts';
import { loadScenarioFile } from '../src/scenario/load.ts';
import { builtinPath } from '../src/scenarios/index.ts';

const out = process.argv[2] ?? new URL('./screenshots/inspector-seed-a.png', import.meta.url).pathname;
const path = builtinPath('seed-a-unbind-dmar');
if (!path) throw new Error('no built-in seed-a-unbind-dmar');
const scenario = loadScenarioFile(path);
const server = await startInspector(new LiveSession(scenario));
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(server.url);
  await page.waitForSelector('#statecharts');
  for (let i = 0; i < scenario.steps.length; i++) {
    const before = await page.locator('#seq-last').innerText();
    await page.click('#btn-next-step');
    // The step's records arrived and the statecharts show the state after its last message.
    await page.waitForFunction(
      (was) => {
        const last = document.querySelector('#seq-last')?.textContent ?? was;
        return last !== was && document.querySelector('#statecharts-seq')?.textContent === `state after #${last}`;
      },
      before,
      { timeout: 10_000 },
    );
  }
  const fault = page.locator('#sequence .msg-row[data-type="fault.dmar"]').first();
  await fault.waitFor();
  await fault.click();
  const seq = await fault.getAttribute('data-seq');
  await page.waitForFunction((s) => document.querySelector('#statecharts-seq')?.textContent === `state after #${s}` && document.querySelector('#details-summary')?.textContent?.includes('context at') === true, seq, { timeout: 10_000 });
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
