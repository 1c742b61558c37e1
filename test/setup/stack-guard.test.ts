/**
 * The stack-trace guard (test/setup/stack-guard.ts) fails exactly the tests that print a stack trace
 * unexpectedly: run a fixture file under it in a child vitest and read each test's verdict.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasStackTrace } from './stack-guard.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('stack-trace guard', () => {
  it('recognises V8 stack frames and nothing else', () => {
    expect(hasStackTrace(new Error('x').stack ?? '')).toBe(true);
    expect(hasStackTrace('LogError: a.jsonl:3: bad\n    at parse (file:///w/src/log/reader.ts:152:15)\n')).toBe(true);
    expect(hasStackTrace('    at new Foo (<anonymous>)')).toBe(true);
    expect(hasStackTrace('svasim: cannot write log run.jsonl: no space left on device (ENOSPC)\n')).toBe(false);
    expect(hasStackTrace('bad.json:7:43: steps[1].device: unknown device "dsa9"\n')).toBe(false);
    expect(hasStackTrace('  looked at 3 states\n')).toBe(false);
  });

  it('fails the tests that print one, passes the others', () => {
    const p = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/setup/fixtures/vitest.fixture.config.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(p.status, p.stderr).toBe(1);
    const report = JSON.parse(p.stdout) as { testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
    const verdicts = Object.fromEntries(report.testResults.flatMap((f) => f.assertionResults).map((t) => [t.title, t.status]));
    expect(verdicts).toEqual({
      quiet: 'passed',
      'plain stderr line': 'passed',
      'stack on stderr': 'failed',
      'stack through console.error': 'failed',
      'stack in captured output': 'failed',
      'stack expected': 'passed',
    });
    const messages = report.testResults.flatMap((f) => f.assertionResults).flatMap((t) => t.failureMessages).join('\n');
    expect(messages).toContain('an unexpected stack trace was printed during this test');
  });
});
