import { test, expect, Page } from '@playwright/test';
import { PG_PORTS } from '../playwright.config';

// Two servers, pg-a and pg-b, share one PostgreSQL database.
const A = `http://127.0.0.1:${PG_PORTS[0]}`;
const B = `http://127.0.0.1:${PG_PORTS[1]}`;

async function putSettings(page: Page, base: string, change: (doc: any) => void) {
  const current = await page.request.get(`${base}/api/v1/settings/network`);
  const doc = await current.json();
  change(doc);
  const reply = await page.request.put(`${base}/api/v1/settings/network`, {
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
  await putSettings(page, B, (doc) => (doc.scan.timeout_ms = 4444));
  // settings are polled every 200 ms, the server list refreshed with each 1 s heartbeat
  await expect(async () => {
    await open(page, A);
    await expect(page.locator('#scan-timeout_ms')).toHaveValue('4444', { timeout: 500 });
    await expect(page.getByText('2 servers with a recent heartbeat use this database.')).toBeVisible({
      timeout: 500,
    });
  }).toPass({ timeout: 10_000 });
});

test('turning distributed mode off with two live servers asks first', async ({ page }) => {
  await putSettings(page, A, (doc) => (doc.distributed.enabled = true));
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
