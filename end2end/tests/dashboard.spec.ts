import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { watchErrors } from './errors';
import { apiClient, signIn } from './auth';
import { spawn, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVICE_PORT, WOL_PORT } from '../playwright.config';
import { ready } from './devsim';
import { open } from './hydrated';

// The dashboard (the start page) over simulated devices on 127.89.0.1–127.89.0.12, a quarter of
// them asleep; the server checks them every second (see playwright.config.ts). The devices are
// removed again at the end, for the specs that count them.
test.describe.configure({ mode: 'serial' });

const SIMULATOR = process.env.E2E_PHAROS_DEVSIM ?? 'target/debug/pharos-devsim';
const DEVICES = 12;

type Counts = { online: number; offline: number; unknown: number };

let simulator: ChildProcess;
let api: APIRequestContext;
let registered: number[] = [];
let awake = 0;
/** The counts once the simulated devices were checked. */
let checked: Counts;

async function stopSimulator() {
  if (simulator && simulator.exitCode === null) {
    simulator.kill('SIGTERM');
    await once(simulator, 'exit');
  }
}

/** The dashboard as the API reads it, once `done` holds for it (polled every 250 ms). */
async function dashboardWhen(done: (body: any) => boolean) {
  let body: any;
  await expect
    .poll(
      async () => {
        body = await (await api.get('/api/v1/dashboard')).json();
        return done(body);
      },
      { timeout: 20_000, intervals: [250] },
    )
    .toBe(true);
  return body;
}

test.beforeAll(async ({ playwright }, testInfo) => {
  api = await apiClient(playwright, testInfo.project.use.baseURL!);
  const manifest = join(mkdtempSync(join(tmpdir(), 'pharos-devsim-')), 'fleet.json');
  simulator = spawn(
    SIMULATOR,
    [
      '--devices', String(DEVICES),
      '--first-ip', '127.89.0.1',
      '--port', String(DEVICE_PORT),
      '--offline-fraction', '0.25',
      '--seed', '5',
      '--wol-port', String(WOL_PORT),
      '--manifest', manifest,
    ],
    { cwd: '..', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await ready(simulator);
  const fleet: { ip: string; asleep: boolean }[] = JSON.parse(readFileSync(manifest, 'utf8'));
  awake = fleet.filter((d) => !d.asleep).length;
  expect(awake).toBeGreaterThan(0);
  expect(awake).toBeLessThan(DEVICES);
  const before: Counts = (await (await api.get('/api/v1/dashboard')).json()).devices.counts;
  for (const device of fleet) {
    const reply = await api.post('/api/v1/devices', { data: { ip: device.ip } });
    expect(reply.status(), await reply.text()).toBe(201);
    registered.push((await reply.json()).id);
  }
  // the rounds (every second) found them, and recorded what they found
  const body = await dashboardWhen((b) => {
    const last = b.devices.history.at(-1);
    return (
      b.devices.counts.online === before.online + awake &&
      last?.counts.online === b.devices.counts.online
    );
  });
  checked = body.devices.counts;
  expect(checked.offline).toBeGreaterThanOrEqual(DEVICES - awake);
});

test.afterAll(async () => {
  await stopSimulator();
  for (const id of registered) await api.delete(`/api/v1/devices/${id}`);
  await api?.dispose();
});

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

const chart = (page: Page) => page.locator('svg.chart.history');

test('the start page charts the devices from the recorded rounds', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dashboard');
  await expect(page.locator('#count-online')).toHaveText(String(checked.online));
  await expect(page.locator('#count-offline')).toHaveText(String(checked.offline));
  // the chart is drawn from the history: bands with points, a summary in words
  await expect(chart(page)).toHaveAttribute('role', 'img');
  expect(Number(await chart(page).getAttribute('data-buckets'))).toBeGreaterThan(0);
  const online = await chart(page).locator('polygon.band.online').getAttribute('points');
  expect(online!.split(' ').length).toBeGreaterThanOrEqual(4);
  await expect(chart(page).locator('desc')).toContainText(`Now ${checked.online} online`);
  // the rounds against the timeout
  await expect(page.locator('svg.chart.rounds rect.bar').first()).toBeAttached();
  await expect(page.locator('svg.chart.rounds desc')).toContainText('the response timeout is 1000 ms');
  await expect(page.locator('.last-round')).toContainText('devices checked');
  // the other sections of a superuser
  await expect(page.getByRole('heading', { name: 'Servers' })).toBeVisible();
  await expect(page.locator('table.servers tbody tr').first()).toContainText('alive');
  await expect(page.getByRole('heading', { name: 'Certificates' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Latest changes' })).toBeVisible();
  await expect(page.locator('table.audit-latest tbody tr').first()).toBeVisible();
  // the week's chart, by its link
  await page.getByRole('navigation', { name: 'History range' }).getByRole('link', { name: '7 days' }).click();
  await expect(page).toHaveURL(/\?range=7d$/);
  await expect(chart(page).locator('title')).toHaveText(/over the last 7 days/);
  await expect(page.locator('#count-online')).toHaveText(String(checked.online));
  expect(errors).toEqual([]);
});

test('the start page reads without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await signIn(context);
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dashboard');
  await expect(page.locator('#count-online')).toHaveText(String(checked.online));
  await expect(chart(page).locator('desc')).toContainText(`Now ${checked.online} online`);
  const online = page.locator('table.range-table tbody tr', { hasText: 'Online' });
  await expect(online.locator('td').first()).toHaveText(String(checked.online));
  await page.getByRole('navigation', { name: 'History range' }).getByRole('link', { name: '7 days' }).click();
  await expect(page).toHaveURL(/\?range=7d$/);
  await expect(chart(page).locator('title')).toHaveText(/over the last 7 days/);
  await context.close();
});

test('devices going offline show at once, without a reload', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/');
  await expect(page.locator('#count-online')).toHaveText(String(checked.online));
  const bandBefore = await chart(page).locator('polygon.band.offline').getAttribute('points');
  await page.evaluate(() => ((window as any).sameDocument = true));

  await stopSimulator(); // every simulated device falls silent
  const online = checked.online - awake;
  const offline = checked.offline + awake;
  await expect(page.locator('#count-online')).toHaveText(String(online), { timeout: 15_000 });
  await expect(page.locator('#count-offline')).toHaveText(String(offline));
  await expect(chart(page).locator('desc')).toContainText(`Now ${online} online, ${offline} offline`);
  await expect(chart(page).locator('polygon.band.offline')).not.toHaveAttribute('points', bandBefore!);
  expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
  expect(errors).toEqual([]);
});
