// Stores distributed mode on in the fresh database of the multi-server tests before Playwright
// starts the servers that share it: they read the setting at start. Starts the first of them
// alone on the database (its own data directory, so its row in the server list is the one it
// has later), saves the setting through the API and stops it again.
// Run by playwright.config.ts: node seed-distributed.mjs <binary> <working directory> <env JSON>
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const [binary, cwd, envJson] = process.argv.slice(2);
const env = JSON.parse(envJson);
const base = `http://${env.PHAROS_LISTEN}`;

const server = spawn(binary, [], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
const exited = once(server, 'exit');

async function ready() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`the server stopped before it was ready (${server.exitCode ?? server.signalCode})`);
    }
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${base} was not ready within 60 s`);
}

async function check(reply, status) {
  if (reply.status !== status) {
    throw new Error(`${reply.url}: ${reply.status} ${await reply.text()}`);
  }
  return reply;
}

try {
  await ready();
  const basic = Buffer.from(`admin:${env.PHAROS_ADMIN_PASSWORD}`).toString('base64');
  const made = await check(
    await fetch(`${base}/api/v1/auth/tokens`, {
      method: 'POST',
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'end2end seed' }),
    }),
    201,
  );
  const headers = { Authorization: `Bearer ${(await made.json()).token}` };
  const current = await check(await fetch(`${base}/api/v1/settings/network`, { headers }), 200);
  const settings = await current.json();
  settings.distributed.enabled = true;
  await check(
    await fetch(`${base}/api/v1/settings/network`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': current.headers.get('etag') },
      body: JSON.stringify(settings),
    }),
    200,
  );
} finally {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
  await exited;
}
