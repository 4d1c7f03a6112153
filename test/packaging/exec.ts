/** Small process helpers for the packaging tests: run a tool in a directory, throw with its output on failure. */
import { execFile } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs to completion and resolves with the exit code (never rejects on a non-zero exit). */
export function exec(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 180_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

/** Like exec, but throws (with stderr and stdout) unless the exit code is 0; returns stdout. */
export async function must(
  file: string,
  args: readonly string[],
  opts: Parameters<typeof exec>[2] = {},
): Promise<string> {
  const r = await exec(file, args, opts);
  if (r.code !== 0)
    throw new Error(
      `${file} ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`,
    );
  return r.stdout;
}
