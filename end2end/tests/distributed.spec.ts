import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  ADMIN_PASSWORD,
  PG_ENV,
  PG_PORTS,
  PHAROS_BIN,
  SPARE_PORT,
  SPARE_PORT_2,
  pgDatabaseUrl,
  psql,
} from '../playwright.config';
import { apiClient, signIn } from './auth';

// Two servers, pg-a and pg-b, share one PostgreSQL database, and so their accounts, sessions
// and API tokens: the page signs in to pg-a, and its session is good on pg-b too. They run in
// distributed mode (the configuration stores it before they start), so changes travel between
// them.
const A = `http://127.0.0.1:${PG_PORTS[0]}`;
const B = `http://127.0.0.1:${PG_PORTS[1]}`;

/** The superuser's API client; its token, made on pg-a, is good on pg-b. */
let api: APIRequestContext;

test.beforeAll(async ({ playwright }) => {
  api = await apiClient(playwright, A);
});

test.afterAll(async () => {
  await api?.dispose();
});

test.beforeEach(async ({ page }) => {
  await signIn(page, A);
});

async function putSettings(base: string, change: (doc: any) => void) {
  const current = await api.get(`${base}/api/v1/settings/network`);
  const doc = await current.json();
  change(doc);
  const reply = await api.put(`${base}/api/v1/settings/network`, {
    data: doc,
    headers: { 'If-Match': current.headers()['etag'] },
  });
  expect(reply.status()).toBe(200);
}

async function open(page: Page, base: string) {
  await page.goto(`${base}/settings/network`);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

test('a change saved on one server shows on the other', async ({ page }) => {
  await putSettings(B, (doc) => (doc.scan.timeout_ms = 4444));
  // the change travels through the database's notifications; the heartbeat is 1 s
  await expect(async () => {
    await open(page, A);
    await expect(page.locator('#scan-timeout_ms')).toHaveValue('4444', { timeout: 500 });
    await expect(page.getByText('2 servers with a recent heartbeat use this database.')).toBeVisible({
      timeout: 500,
    });
  }).toPass({ timeout: 10_000 });
});

test('turning distributed mode off with other live servers asks first, naming them', async ({ page }) => {
  await expect(async () => {
    await open(page, A);
    await expect(page.getByText('2 servers with a recent heartbeat')).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 10_000 });
  // stored on and running on: no restart due, and no warning of servers that do not synchronise
  await expect(page.getByText(/Restart required/)).toBeHidden();
  await expect(page.getByTestId('unsynchronised')).toBeHidden();
  const distributed = page.locator('#distributed-enabled');
  await expect(distributed).toBeChecked();

  try {
    await distributed.uncheck();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Disable distributed mode?' });
    await expect(confirm).toContainText('pg-b also has a recent heartbeat on this database.');
    await expect(confirm).toContainText('stop synchronising');
    await expect(confirm).not.toContainText('pg-a'); // this server is not among the others
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect(confirm).toBeHidden();
    let stored = await (await page.request.get(`${A}/api/v1/settings/network`)).json();
    expect(stored.distributed.enabled).toBe(true); // nothing saved

    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await confirm.getByRole('button', { name: 'Disable and save' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();
    stored = await (await page.request.get(`${A}/api/v1/settings/network`)).json();
    expect(stored.distributed.enabled).toBe(false);
    // stored off, running on (read at start): a restart is due
    await expect(
      page.getByText('Restart required: distributed mode is stored as off but this server runs with it on.'),
    ).toBeVisible();
  } finally {
    // the servers the next tests start read it at their start
    await putSettings(A, (doc) => (doc.distributed.enabled = true));
  }
});

test('a change saved on another server is announced on the open page', async ({ page }) => {
  await open(page, A);
  const before = await page.locator('#scan-timeout_ms').inputValue();
  await putSettings(B, (doc) => (doc.scan.timeout_ms = Number(before) === 5151 ? 5252 : 5151));
  const live = page.locator('.live-change');
  await expect(live).toContainText('Scan timeout');
  await live.getByRole('button', { name: 'Load the new values' }).click();
  await expect(page.locator('#scan-timeout_ms')).not.toHaveValue(before);
  await expect(live).toBeHidden();
});

/** Starts a server of the shared database (or, with `env`, of another one) on `port`. */
function start(name: string, port: number, env: Record<string, string> = {}): ChildProcess {
  return spawn(PHAROS_BIN, [], {
    cwd: '..',
    env: {
      ...process.env,
      ...PG_ENV,
      PHAROS_LISTEN: `127.0.0.1:${port}`,
      PHAROS_DATA_DIR: join(process.env.E2E_PHAROS_DATA_DIR!, name),
      PHAROS_SERVER_NAME: name,
      PHAROS_TLS: 'off',
      RUST_LOG: 'warn',
      PHAROS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ...env,
    },
    stdio: 'inherit',
  });
}

/** Registered is not started: a server stopped before it is ready cannot say it leaves. */
async function ready(port: number) {
  await expect(async () => {
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  }).toPass({ timeout: 30_000 });
}

async function stop(server: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = once(server, 'exit');
  server.kill(signal);
  await exited;
}

const count = (page: Page, n: number) =>
  page.getByText(`${n} server${n === 1 ? '' : 's'} with a recent heartbeat ${n === 1 ? 'uses' : 'use'} this database.`);
/** A server's row in the list of servers on this database. */
const row = (page: Page, name: string) => page.locator(`table.servers tr[data-server="${name}"]`);
const state = (page: Page, name: string) => row(page, name).locator('.badge');

test('the server list follows servers joining and leaving, without a reload', async ({ page }) => {
  await open(page, A);
  await expect(count(page, 2)).toBeVisible();
  const third = start('pg-c', SPARE_PORT);
  try {
    await expect(count(page, 3)).toBeVisible();
    await expect(state(page, 'pg-c')).toHaveText('live');
    await ready(SPARE_PORT);
  } finally {
    await stop(third);
  }
  // a server that stops cleanly says so: the others see it leave at once, not after the timeout
  await expect(count(page, 2)).toBeVisible({ timeout: 4_000 });
  await expect(state(page, 'pg-c')).toHaveText('gone');
});

test('a killed server turns gone after the heartbeat timeout, and live again when it restarts', async ({ page }) => {
  test.setTimeout(90_000);
  await open(page, A);
  await page.evaluate(() => ((window as any).notReloaded = true));
  let third = start('pg-c', SPARE_PORT);
  try {
    await expect(count(page, 3)).toBeVisible({ timeout: 30_000 });
    for (const name of ['pg-a', 'pg-b', 'pg-c']) {
      await expect(state(page, name)).toHaveText('live');
    }
    await expect(row(page, 'pg-a')).toContainText('this server');
    await expect(row(page, 'pg-c')).not.toContainText('this server');
    await ready(SPARE_PORT);

    // killed, it cannot say it leaves: pg-a sees its heartbeat stop, and waits for the timeout
    const killedAt = Date.now();
    await stop(third, 'SIGKILL');
    await expect(state(page, 'pg-c')).toHaveText('gone', { timeout: 20_000 });
    expect(Date.now() - killedAt).toBeGreaterThan(3_000);
    await expect(count(page, 2)).toBeVisible();
    await expect(state(page, 'pg-a')).toHaveText('live');
    await expect(state(page, 'pg-b')).toHaveText('live');

    // the same data directory is the same server: its row is live again, not a second one
    third = start('pg-c', SPARE_PORT);
    await expect(state(page, 'pg-c')).toHaveText('live', { timeout: 30_000 });
    await expect(row(page, 'pg-c')).toHaveCount(1);
    await expect(count(page, 3)).toBeVisible();
    await ready(SPARE_PORT);
  } finally {
    await stop(third);
  }
  await expect(state(page, 'pg-c')).toHaveText('gone', { timeout: 4_000 });
  expect(await page.evaluate(() => (window as any).notReloaded)).toBe(true);
});

test('servers sharing a database without distributed mode are named in a warning', async ({ page }) => {
  test.setTimeout(120_000);
  // a database of their own, where distributed mode is off (the default)
  const database = `pharos_e2e_solo_${process.pid}`;
  psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  psql(`CREATE DATABASE ${database}`);
  const env = { PHAROS_DATABASE_URL: pgDatabaseUrl(database) };
  const servers: ChildProcess[] = [];
  try {
    servers.push(start('solo-a', SPARE_PORT, env));
    await ready(SPARE_PORT);
    const SOLO = `http://127.0.0.1:${SPARE_PORT}`;
    await signIn(page, SOLO);
    await open(page, SOLO);
    const warning = page.getByTestId('unsynchronised');
    await expect(count(page, 1)).toBeVisible();
    await expect(warning).toBeHidden();

    servers.push(start('solo-b', SPARE_PORT_2, env));
    await expect(warning).toHaveText(
      'Distributed mode is off, but solo-b uses this database too: changes made on one server do not reach the others.',
      { timeout: 30_000 },
    );
    await expect(warning).toHaveAttribute('role', 'status');
    await expect(count(page, 2)).toBeVisible();
    await ready(SPARE_PORT_2);

    // it names the live ones only
    await stop(servers.pop()!);
    await expect(state(page, 'solo-b')).toHaveText('gone', { timeout: 15_000 });
    await expect(warning).toBeHidden();
  } finally {
    for (const server of servers) await stop(server);
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
});
