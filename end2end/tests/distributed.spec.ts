import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ADMIN_PASSWORD, PG_PORTS, PG_SECRET_KEY, PHAROS_BIN, SPARE_PORT } from '../playwright.config';
import { apiClient, signIn } from './auth';

// Two servers, pg-a and pg-b, share one PostgreSQL database, and so their accounts, sessions
// and API tokens: the page signs in to pg-a, and its session is good on pg-b too.
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

test('turning distributed mode off with two live servers asks first', async ({ page }) => {
  await putSettings(A, (doc) => (doc.distributed.enabled = true));
  await expect(async () => {
    await open(page, A);
    await expect(page.getByText('2 servers with a recent heartbeat')).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 10_000 });
  // stored on, running off (read at start): a restart is due
  await expect(page.getByText(/Restart required/)).toBeVisible();
  const distributed = page.locator('#distributed-enabled');
  await expect(distributed).toBeChecked();

  await distributed.uncheck();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Disable distributed mode?' });
  await expect(confirm).toContainText('2 servers');
  await expect(confirm).toContainText('stop synchronising');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toBeHidden();
  let stored = await (await page.request.get(`${A}/api/v1/settings/network`)).json();
  expect(stored.distributed.enabled).toBe(true); // nothing saved

  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await confirm.getByRole('button', { name: 'Disable and save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();
  stored = await (await page.request.get(`${A}/api/v1/settings/network`)).json();
  expect(stored.distributed.enabled).toBe(false);
  // stored off, running off: no restart due any more
  await expect(page.getByText(/Restart required/)).toBeHidden();
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

test('the server list follows servers joining and leaving, without a reload', async ({ page }) => {
  await open(page, A);
  const count = (n: number) => page.getByText(`${n} servers with a recent heartbeat use this database.`);
  await expect(count(2)).toBeVisible();
  const third = spawn(PHAROS_BIN, [], {
    cwd: '..',
    env: {
      ...process.env,
      PHAROS_LISTEN: `127.0.0.1:${SPARE_PORT}`,
      PHAROS_DATA_DIR: join(process.env.E2E_PHAROS_DATA_DIR!, 'pg-c'),
      PHAROS_SERVER_NAME: 'pg-c',
      PHAROS_DATABASE_URL: process.env.E2E_PHAROS_PG_URL!,
      PHAROS_SECRET_KEY: PG_SECRET_KEY!,
      PHAROS_TLS: 'off',
      RUST_LOG: 'warn',
      PHAROS_ADMIN_PASSWORD: ADMIN_PASSWORD,
    },
    stdio: 'inherit',
  });
  try {
    await expect(count(3)).toBeVisible();
    // registered is not started: a server stopped before it is ready cannot say it leaves
    await expect(async () => {
      expect((await fetch(`http://127.0.0.1:${SPARE_PORT}/healthz`)).status).toBe(200);
    }).toPass({ timeout: 30_000 });
  } finally {
    third.kill('SIGTERM');
    await once(third, 'exit');
  }
  // a server that stops cleanly says so: the others see it leave at once, not after the timeout
  await expect(count(2)).toBeVisible({ timeout: 5_000 });
});
