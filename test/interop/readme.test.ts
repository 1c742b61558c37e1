/**
 * The README's xstate interop examples run as written (against the sources: `svasim` and `xstate`
 * resolved to this checkout) and print what the README says they print.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutput } from '../setup/stack-guard.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'svasim-readme-xstate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The example whose first line is `// <file>: …`, and the output the README shows after it. */
function example(file: string): { code: string; prints: string } {
  const m = new RegExp(`\`\`\`js\\n(// ${file.replace('.', '\\.')}:[\\s\\S]*?)\`\`\`\\n\\nprints\\n\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (m === null) throw new Error(`README: no example ${file} followed by what it prints`);
  return { code: m[1] ?? '', prints: m[2] ?? '' };
}

/** Run an example with `svasim` and `xstate` pointing into this checkout (the sources, through tsx). */
function run(file: string, code: string): { status: number | null; stdout: string; stderr: string } {
  const xstate = import.meta.resolve('xstate');
  const source = code
    .replaceAll("from 'svasim'", `from '${pathToFileURL(join(ROOT, 'src/index.ts')).href}'`)
    .replaceAll("from 'xstate'", `from '${xstate}'`);
  const path = join(tmp, file);
  writeFileSync(path, source);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: checkOutput(r.stderr, `${file} stderr`) };
}

describe('README: xstate interop examples', () => {
  it.each(['parent.mjs', 'routed.mjs'])('%s runs and prints what the README shows', (file) => {
    const { code, prints } = example(file);
    const r = run(file, code);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(prints);
  });
});
