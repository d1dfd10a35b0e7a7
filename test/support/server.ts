import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { cliPath } from './paths.js';

export interface Server {
  readonly child: ChildProcess;
  readonly address: string;
  readonly exited: Promise<number | null>;
}

/** Starts `sparrow serve` as a real child process on a free loopback port (no keys, no rate limit). */
export async function startServer(
  t: { teardown: (fn: () => unknown) => void },
  dataDir: string,
  importDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Server> {
  const child = spawn(
    process.execPath,
    [cliPath, 'serve', '--port', '0', '--data-dir', dataDir, '--import-dir', importDir, '--workers', '1', '--rate-limit', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info', SPARROW_ADMIN_KEYS: '', SPARROW_WRITE_KEYS: '', SPARROW_READ_KEYS: '', ...env } },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${stderr}`)), 30_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before listening: ${stderr}`)));
  });
  return { child, address, exited };
}

/** One JSON request to a started server. */
export async function call(server: Server, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.address}${url}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}
