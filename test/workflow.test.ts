// .github/workflows/hosted.yml cannot run here: this checks what can be
// checked of it. It parses as YAML, runs the jobs on the runners the README
// names, uses only the official actions it names, at their current major
// versions, and its bash steps pass `bash -n`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './helpers/traffic';

interface Step {
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  needs?: string | string[];
  strategy?: { matrix: { include: Record<string, string>[] } };
  steps: Step[];
}

const workflow = parse(fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'hosted.yml'), 'utf8'), { strict: true, uniqueKeys: true }) as {
  on: unknown;
  jobs: Record<string, Job>;
};
const jobs = Object.entries(workflow.jobs);
const steps = jobs.flatMap(([, job]) => job.steps);

test('runs darwin-arm64 on macos-14, darwin-x64 on macos-13 and win32-arm64 on windows-11-arm, after the job that packs', () => {
  expect(workflow.jobs.macos.strategy?.matrix.include).toEqual([
    { os: 'macos-14', target: 'darwin-arm64' },
    { os: 'macos-13', target: 'darwin-x64' },
  ]);
  expect(workflow.jobs.macos['runs-on']).toBe('${{ matrix.os }}');
  expect(workflow.jobs['windows-arm64']['runs-on']).toBe('windows-11-arm');
  for (const [, job] of jobs) {
    for (const need of [job.needs ?? []].flat()) expect(Object.keys(workflow.jobs)).toContain(need);
  }
  expect(workflow.jobs.macos.needs).toBe('pack');
  expect(workflow.jobs['windows-arm64'].needs).toBe('pack');
});

test('names only official GitHub actions, each at its current major version', () => {
  const current: Record<string, string> = {
    'actions/checkout': 'v4',
    'actions/setup-node': 'v4',
    'actions/upload-artifact': 'v4',
    'actions/download-artifact': 'v4',
  };
  const used = steps.filter((s) => s.uses !== undefined).map((s) => s.uses as string);
  expect(used.length).toBeGreaterThan(0);
  for (const uses of used) {
    const [name, version] = uses.split('@');
    expect([name, version]).toEqual([name, current[name]]);
  }
  // The artifact the Linux job uploads is the one the others download.
  const uploads = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact')).map((s) => s.with?.name);
  const downloads = steps.filter((s) => s.uses?.startsWith('actions/download-artifact')).map((s) => s.with?.name);
  expect(new Set(downloads)).toEqual(new Set(uploads));
});

test('every run step is a bash script that parses (bash -n)', () => {
  const scripts = steps.filter((s) => s.run !== undefined);
  expect(scripts.length).toBeGreaterThan(5);
  for (const step of scripts) {
    expect([step.shell ?? 'bash', step.run]).toEqual(['bash', step.run]);
    // GitHub's expressions are replaced before the shell sees the script.
    const script = (step.run as string).replace(/\$\{\{[^}]*\}\}/g, 'x');
    const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect([check.status, check.stderr]).toEqual([0, '']);
  }
});
