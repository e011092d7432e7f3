import { test, expect, Page, APIRequestContext, Locator } from '@playwright/test';
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

// Discovery against simulated devices on loopback addresses (127.88.0.1–127.88.0.20), a fifth of
// them asleep; the server under test sends only to 127.0.0.0/8 (see playwright.config.ts). The
// tests build on each other: a scan registers the devices the later tests work with.
test.describe.configure({ mode: 'serial' });

const SIMULATOR = process.env.E2E_PHAROS_DEVSIM ?? 'target/debug/pharos-devsim';
const SETTINGS = '/api/v1/settings/network';

type SimulatedDevice = { ip: string; mac: string; hostname: string; asleep: boolean };

let simulator: ChildProcess;
let fleet: SimulatedDevice[] = [];
let api: APIRequestContext;
let originalSettings: unknown;

const awake = () => fleet.filter((d) => !d.asleep);
const asleep = () => fleet.filter((d) => d.asleep);

async function changeSettings(change: (doc: any) => void) {
  const current = await api.get(SETTINGS);
  const doc = await current.json();
  change(doc);
  const reply = await api.put(SETTINGS, { data: doc, headers: { 'If-Match': current.headers()['etag'] } });
  expect(reply.status()).toBe(200);
}

test.beforeAll(async ({ playwright }, testInfo) => {
  api = await apiClient(playwright, testInfo.project.use.baseURL!);
  const manifest = join(mkdtempSync(join(tmpdir(), 'pharos-devsim-')), 'fleet.json');
  simulator = spawn(
    SIMULATOR,
    [
      '--devices', '20',
      '--first-ip', '127.88.0.1',
      '--port', String(DEVICE_PORT),
      '--offline-fraction', '0.2',
      '--seed', '7',
      '--wol-port', String(WOL_PORT),
      '--reboot-secs', '5',
      '--manifest', manifest,
    ],
    { cwd: '..', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await ready(simulator);
  fleet = JSON.parse(readFileSync(manifest, 'utf8'));
  expect(asleep()).toHaveLength(4);

  originalSettings = await (await api.get(SETTINGS)).json();
  // scans broadcast on loopback only, and wait 3 s for replies instead of 6
  await changeSettings((doc) => {
    doc.scan.broadcast_ip = '127.255.255.255';
    doc.scan.timeout_ms = 3000;
  });
});

test.afterAll(async () => {
  if (simulator && simulator.exitCode === null) {
    simulator.kill('SIGTERM');
    await once(simulator, 'exit');
  }
  if (api) {
    if (originalSettings) await changeSettings((doc) => Object.assign(doc, originalSettings));
    await api.dispose();
  }
});

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

/** The row of the devices table that lists `ip`. */
const deviceRow = (page: Page, ip: string) =>
  page.locator('table.devices tbody tr', { has: page.getByText(ip, { exact: true }) });
const deviceRows = (page: Page) => page.locator('table.devices tbody tr[data-id]');
const filters = (page: Page) => page.getByRole('navigation', { name: 'Filter by status' });
const count = (page: Page, status: 'All' | 'Online' | 'Offline' | 'Unknown') =>
  filters(page).getByRole('link', { name: new RegExp(`^${status}`) }).locator('.count');

const scanState = (page: Page) => page.locator('.scan-state .badge');
const foundRows = (page: Page) => page.locator('table.found tbody tr');

/** A time `offsetMs` from now as an `<input type="datetime-local">` takes it: the browser's
 * local time, to the minute. */
const localTime = (page: Page, offsetMs: number) =>
  page.evaluate((offset) => {
    const d = new Date(Date.now() + offset);
    const two = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  }, offsetMs);

/** Kathmandu is UTC+05:45 all year: a zone whose offset is not a whole hour. */
const KATHMANDU = { timezoneId: 'Asia/Kathmandu', offsetMinutes: 5 * 60 + 45 };

/** The whole minute `offsetMs` from now: the instant, and Kathmandu's wall-clock time of it as an
 * `<input type="datetime-local">` takes it. */
function kathmanduMinute(offsetMs: number) {
  const due = new Date(Math.floor((Date.now() + offsetMs) / 60_000) * 60_000);
  const local = new Date(due.getTime() + KATHMANDU.offsetMinutes * 60_000).toISOString().slice(0, 16);
  return { due, local };
}

/** A time as the pages show it: `2026-11-29 08:00:00 UTC`. */
const shownUtc = (time: Date) => `${time.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** The job called `name`, as the API has it. */
async function storedJob(name: string) {
  const list = await (await api.get('/api/v1/jobs')).json();
  return list.jobs.find((j: any) => j.name === name);
}

/** The id the API gives the device at `ip`. */
async function deviceId(ip: string): Promise<number> {
  const listed = await (await api.get(`/api/v1/devices?limit=1000`)).json();
  return listed.devices.find((d: any) => d.ip === ip).id;
}

/** Marks the page's document; `sameDocument(page)` then says whether no reload replaced it. */
const markDocument = (page: Page) => page.evaluate(() => ((window as any).sameDocument = true));
const sameDocument = (page: Page) => page.evaluate(() => (window as any).sameDocument === true);

const jobItem = (page: Page, name: string) =>
  page.locator('li.job', { has: page.getByRole('heading', { name, exact: true }) });
const lastRun = (job: Locator) => job.locator('table.executions tbody tr').first().locator('.badge');

test('a range scan shows its progress, finds the awake devices and registers them', async ({ page }) => {
  test.setTimeout(60_000);
  const errors = watchErrors(page);
  await open(page, '/scans');
  await expect(page.getByText('No scans yet.')).toBeVisible();
  const start = page.getByRole('button', { name: 'Start scan' });
  await expect(start).toBeDisabled(); // no ranges yet
  await page.locator('#scan-ranges').fill('127.88.0.1-127.88.0.40\n127.88.0.300');
  await expect(page.locator('#scan-ranges-error')).toHaveText('127.88.0.300 is not a valid IPv4 address: 300 is above 255');
  await expect(start).toBeDisabled();
  await page.locator('#scan-ranges').fill('127.88.0.1-127.88.0.40');
  await expect(page.locator('#scan-ranges-error')).toBeHidden();
  await expect(page.locator('#scan-ranges-count')).toHaveText('40 addresses');
  await start.click();

  await expect(page.getByRole('heading', { name: 'Scan: 127.88.0.1-127.88.0.40' })).toBeVisible();
  await expect(scanState(page)).toHaveText('running');
  const progress = page.locator('#scan-progress');
  await expect(progress).toHaveAttribute('max', '40');
  await expect(page.locator('.progress-text')).toContainText(/left/);
  await expect(scanState(page)).toHaveText('done', { timeout: 20_000 });
  await expect(progress).toHaveAttribute('value', '40');
  await expect(page.locator('.progress-text')).toContainText('40 of 40 datagrams sent · 16 devices found');
  await expect(foundRows(page)).toHaveCount(16);
  for (const device of awake()) {
    await expect(page.getByRole('checkbox', { name: `Select ${device.ip}`, exact: true })).toBeEnabled();
  }
  for (const device of asleep()) {
    await expect(page.getByRole('checkbox', { name: `Select ${device.ip}`, exact: true })).toHaveCount(0);
  }

  // one by hand, then all of them
  const first = page.getByRole('checkbox', { name: `Select ${awake()[0].ip}`, exact: true });
  await first.check();
  const register = page.getByRole('button', { name: /^Register selected/ });
  await expect(register).toHaveText('Register selected (1)');
  await page.getByRole('button', { name: 'Select all new' }).click();
  await expect(register).toHaveText('Register selected (16)');
  await register.click();
  await expect(page.locator('.current-scan .notice-area')).toContainText('Registered 16 devices.');
  await expect(page.locator('table.found .badge.registered')).toHaveCount(16);
  await expect(first).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Select all new' })).toBeDisabled();
  await expect(page.locator('table.scans tbody tr')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('the devices page shows status and counts as they change, without a reload', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/devices');
  await markDocument(page);
  // the online check runs every second here
  for (const device of awake()) {
    await expect(deviceRow(page, device.ip).locator('.badge')).toHaveText('online');
  }
  await expect(deviceRow(page, awake()[0].ip)).toContainText(awake()[0].hostname);
  await expect(count(page, 'Online')).toHaveText('16');
  await expect(count(page, 'All')).toHaveText('16');
  await expect(page.getByText('Devices 1–16 of 16')).toBeVisible();

  await page.getByRole('button', { name: 'Check now' }).click();
  await expect(page.locator('section[aria-labelledby="devices-title"] .notice-area')).toContainText(
    /Checked 16 devices in \d+ ms: 16 online, 0 offline\./,
  );

  // registered elsewhere: the row appears, and its status follows the online check
  const device = awake()[1];
  const id = await deviceId(device.ip);
  expect((await api.delete(`/api/v1/devices/${id}`)).status()).toBe(204);
  await expect(deviceRow(page, device.ip)).toHaveCount(0);
  await expect(count(page, 'All')).toHaveText('15');
  expect((await api.post('/api/v1/devices', { data: { ip: device.ip } })).status()).toBe(201);
  await expect(deviceRow(page, device.ip).locator('.badge')).toHaveText('online');
  await expect(deviceRow(page, device.ip)).toContainText(device.mac); // learnt from its answer
  await expect(count(page, 'Online')).toHaveText('16');
  expect(await sameDocument(page)).toBe(true);
  expect(errors).toEqual([]);
});

test('registering by address checks the address as it is typed', async ({ page }) => {
  const errors = watchErrors(page, [409]);
  await open(page, '/devices');
  const ip = page.locator('#register-ip');
  const register = page.getByRole('button', { name: 'Register', exact: true });
  const notice = page.locator('form.register .notice-area');
  await expect(register).toBeDisabled();
  await ip.fill('127.88.0');
  await expect(page.locator('#register-ip-error')).toHaveText('127.88.0 is not an IP address');
  await expect(ip).toHaveAttribute('aria-invalid', 'true');
  await expect(register).toBeDisabled();
  await ip.fill('0.0.0.0');
  await expect(page.locator('#register-ip-error')).toHaveText('0.0.0.0 is not the address of one device');
  await expect(register).toBeDisabled();
  await page.locator('#register-mac').fill('zz');
  await expect(page.locator('#register-mac-error')).toContainText('zz is not a MAC address');
  await page.locator('#register-mac').fill('');
  await expect(page.locator('#register-mac-error')).toBeHidden();

  const sleeper = asleep()[0];
  await ip.fill(sleeper.ip);
  await expect(page.locator('#register-ip-error')).toBeHidden();
  await expect(ip).toHaveAttribute('aria-invalid', 'false');
  await page.locator('#register-hostname').fill('sleepy');
  await register.click();
  await expect(notice).toContainText(`${sleeper.ip} is registered.`);
  await expect(ip).toHaveValue('');
  const row = deviceRow(page, sleeper.ip);
  await expect(row).toContainText('sleepy');
  await expect(row.locator('.badge')).toHaveText('offline'); // asleep: it never answers
  await expect(count(page, 'Offline')).toHaveText('1');

  // the same address twice is refused by the server
  await ip.fill(sleeper.ip);
  await register.click();
  await expect(notice).toContainText('The device was not registered');
  expect(errors).toEqual([]);
});

test('the counts filter the list, in the address too', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/devices');
  await markDocument(page);
  const offline = filters(page).getByRole('link', { name: /^Offline/ });
  await offline.click();
  await expect(page).toHaveURL(/\/devices\?status=offline$/);
  await expect(offline).toHaveAttribute('aria-current', 'page');
  await expect(deviceRows(page)).toHaveCount(1);
  await expect(deviceRow(page, asleep()[0].ip)).toBeVisible();
  await filters(page).getByRole('link', { name: /^Online/ }).click();
  await expect(page).toHaveURL(/\/devices\?status=online$/);
  await expect(deviceRows(page)).toHaveCount(16);
  await expect(deviceRow(page, asleep()[0].ip)).toHaveCount(0);
  await filters(page).getByRole('link', { name: /^Unknown/ }).click();
  await expect(page.getByText('No device is unknown.')).toBeVisible();
  await filters(page).getByRole('link', { name: /^All/ }).click();
  await expect(page).toHaveURL(/\/devices$/);
  await expect(deviceRows(page)).toHaveCount(17);
  expect(await sameDocument(page)).toBe(true);

  // pages of 5
  await open(page, '/devices?limit=5');
  await markDocument(page);
  await expect(deviceRows(page)).toHaveCount(5);
  await expect(page.getByText('Devices 1–5 of 17')).toBeVisible();
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/offset=5&limit=5/);
  await expect(page.getByText('Devices 6–10 of 17')).toBeVisible();
  expect(await sameDocument(page)).toBe(true);
  expect(errors).toEqual([]);
});

test('a device is removed once that is confirmed', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/devices');
  const sleeper = asleep()[0];
  const row = deviceRow(page, sleeper.ip);
  const remove = row.getByRole('button', { name: `Remove ${sleeper.ip}` });
  await remove.click();
  const dialog = page.getByRole('alertdialog', { name: `Remove sleepy (${sleeper.ip})?` });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(row).toBeVisible();

  await remove.click();
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(row).toHaveCount(0);
  await expect(page.locator('section[aria-labelledby="devices-title"] .notice-area')).toContainText(
    `${sleeper.ip} was removed.`,
  );
  await expect(count(page, 'Offline')).toHaveText('0');
  await expect(count(page, 'All')).toHaveText('16');
  expect(errors).toEqual([]);
});

test('a device that reboots goes offline and comes back on the open page', async ({ page }) => {
  test.setTimeout(60_000);
  const errors = watchErrors(page);
  await open(page, '/devices');
  await markDocument(page);
  const device = awake()[3];
  const badge = deviceRow(page, device.ip).locator('.badge');
  await expect(badge).toHaveText('online');
  await expect(count(page, 'Online')).toHaveText('16');
  await expect(count(page, 'Offline')).toHaveText('0');

  // the simulated device is away for 5 s after a reboot; the online check runs every second
  const job = await api.post('/api/v1/jobs', {
    data: {
      name: 'Reboot one',
      command: 'reboot',
      targets: [await deviceId(device.ip)],
      due_at: new Date().toISOString(),
      repeat_minutes: null,
    },
  });
  expect(job.status()).toBe(201);
  await expect(badge).toHaveText('offline', { timeout: 15_000 });
  await expect(count(page, 'Offline')).toHaveText('1');
  await expect(count(page, 'Online')).toHaveText('15');
  await expect(badge).toHaveText('online', { timeout: 15_000 });
  await expect(count(page, 'Online')).toHaveText('16');
  await expect(count(page, 'Offline')).toHaveText('0');
  expect(await sameDocument(page)).toBe(true);
  expect((await api.delete(`/api/v1/jobs/${(await job.json()).id}`)).status()).toBe(204);
  expect(errors).toEqual([]);
});

test('a broadcast scan finds the same devices, registered already; earlier scans open again', async ({ page }) => {
  test.setTimeout(60_000);
  const errors = watchErrors(page);
  await open(page, '/scans');
  await page.locator('#scan-kind-broadcast').check();
  await expect(page.locator('#scan-ranges')).toBeDisabled();
  await page.getByRole('button', { name: 'Start scan' }).click();
  await expect(page.getByRole('heading', { name: 'Scan: Broadcast' })).toBeVisible();
  await expect(scanState(page)).toHaveText('done', { timeout: 20_000 });
  await expect(foundRows(page)).toHaveCount(16);
  await expect(page.locator('table.found .badge.registered')).toHaveCount(16);
  await expect(page.getByRole('button', { name: 'Select all new' })).toBeDisabled();

  const earlier = page.locator('table.scans tbody tr');
  await expect(earlier).toHaveCount(2);
  await expect(earlier.first()).toContainText('Broadcast');
  await markDocument(page);
  const openEarlier = earlier.nth(1).getByRole('link', { name: /^Open the scan/ });
  await openEarlier.click();
  await expect(page.getByRole('heading', { name: 'Scan: 127.88.0.1-127.88.0.40' })).toBeVisible();
  await expect(foundRows(page)).toHaveCount(16);
  await expect(openEarlier).toHaveAttribute('aria-current', 'true');
  expect(await sameDocument(page)).toBe(true); // opened in place, not by loading its link
  expect(errors).toEqual([]);
});

// The reader's zone is not the server's: due times are entered in the browser's local time
// and stored as the UTC instant they name.
test.describe('in a time zone half an hour off UTC', () => {
  test.use({ timezoneId: KATHMANDU.timezoneId });

  test('a job due in the past runs at once, or expires when jobs expire', async ({ page }) => {
    test.setTimeout(60_000);
    const errors = watchErrors(page);
    await changeSettings((doc) => (doc.scheduled_jobs.never_expire = true));
    await open(page, '/jobs');
    expect(await page.evaluate(() => new Date().getTimezoneOffset())).toBe(-KATHMANDU.offsetMinutes);
    const schedule = page.getByRole('button', { name: 'Schedule job' });
    const notice = page.locator('form.new-job .notice-area');

    await page.locator('#job-name').fill('Check everything now');
    const { due, local } = kathmanduMinute(-60_000);
    await page.locator('#job-due').fill(local);
    await expect(page.locator('#job-due-hint')).toHaveText(
      `${local.replace('T', ' ')} your local time, that is ${shownUtc(due)}`,
    );
    await schedule.click();
    await expect(notice).toContainText('The job “Check everything now” is scheduled.');
    await expect(page.locator('#job-name')).toHaveValue('');
    expect(new Date((await storedJob('Check everything now')).due_at).toISOString()).toBe(due.toISOString());
    const ran = jobItem(page, 'Check everything now');
    await expect(ran).toContainText('every device');
    await expect(ran).toContainText('once');
    await expect(ran.locator('.job-facts')).toContainText(shownUtc(due));
    await expect(lastRun(ran)).toHaveText('done', { timeout: 20_000 });
    // what came of the run
    await expect(ran.locator('table.executions tbody tr').first()).toContainText(
      'checked 16 devices: 16 online, 0 offline',
    );

    await changeSettings((doc) => {
      doc.scheduled_jobs.never_expire = false;
      doc.scheduled_jobs.expiration_minutes = 1;
    });
    await page.locator('#job-name').fill('Too late');
    await page.locator('#job-command').selectOption('wake_on_lan');
    await page.getByRole('checkbox', { name: `${awake()[0].hostname} (${awake()[0].ip})`, exact: true }).check();
    await page.locator('#job-due').fill(await localTime(page, -10 * 60_000));
    await schedule.click();
    const late = jobItem(page, 'Too late');
    await expect(late).toContainText(`${awake()[0].hostname} (${awake()[0].ip})`);
    await expect(lastRun(late)).toHaveText('expired', { timeout: 20_000 });
    await expect(late.locator('table.executions tbody tr').first()).toContainText(
      'not started within 1 minutes of its due time',
    );

    // switched off and on again, then deleted once that is confirmed
    const jobsNotice = page.locator('section[aria-labelledby="jobs-title"] .notice-area');
    const enabled = late.getByRole('checkbox', { name: 'Enabled Too late', exact: true });
    await enabled.uncheck();
    await expect(jobsNotice).toContainText('The job “Too late” is disabled.');
    expect((await storedJob('Too late')).enabled).toBe(false);
    await enabled.check();
    await expect(jobsNotice).toContainText('The job “Too late” is enabled.');
    await expect(enabled).toBeChecked();
    expect((await storedJob('Too late')).enabled).toBe(true);
    await enabled.uncheck();
    await expect(jobsNotice).toContainText('The job “Too late” is disabled.');
    expect((await storedJob('Too late')).enabled).toBe(false);
    await late.getByRole('button', { name: 'Delete Too late' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete the job “Too late”?' });
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(late).toHaveCount(0);
    await expect(jobItem(page, 'Check everything now')).toBeVisible();
    expect(errors).toEqual([]);
  });

  test('a job form shows what is wrong with each field as it is typed', async ({ page }) => {
    const errors = watchErrors(page);
    await open(page, '/jobs');
    const schedule = page.getByRole('button', { name: 'Schedule job' });
    await expect(schedule).toBeDisabled();
    const name = page.locator('#job-name');
    await name.fill('x');
    await name.fill('  ');
    await expect(page.locator('#job-name-error')).toHaveText('give the job a name');
    await expect(name).toHaveAttribute('aria-invalid', 'true');

    await page.locator('#job-command').selectOption('reboot');
    await expect(page.locator('#job-targets-error')).toHaveText('choose the devices to reboot');
    await page.locator('#job-command').selectOption('scan');
    await page.locator('#job-ranges').fill('127.88.0.9-127.88.0.1');
    await expect(page.locator('#job-targets-error')).toContainText('is reversed');
    await page.locator('#job-ranges').fill('127.88.0.1-127.88.0.20');
    await expect(page.locator('#job-targets-error')).toBeHidden();

    await page.locator('#job-repeat').fill('0');
    await expect(page.locator('#job-repeat-error')).toHaveText('repeat every 1 to 525600 minutes, or not at all');
    await page.locator('#job-repeat').fill('often');
    await expect(page.locator('#job-repeat-error')).toHaveText('must be a whole number');
    await page.locator('#job-due').fill(await localTime(page, 60 * 60_000));
    await page.locator('#job-due').fill('');
    await expect(page.locator('#job-due-error')).toHaveText('choose the date and time it is due');
    await expect(schedule).toBeDisabled();

    await name.fill('Nightly scan');
    await page.locator('#job-repeat').fill('1440');
    await page.locator('#job-due').fill(await localTime(page, 60 * 60_000));
    await expect(page.locator('.new-job .field-error:not(:empty)')).toHaveCount(0);
    await expect(schedule).toBeEnabled();
    expect(errors).toEqual([]);
  });
});

test('the settings page leads to each discovery page, and they back to it', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/settings/network');
  const nav = page.getByRole('navigation', { name: 'Main' });
  const pages = [
    { link: 'Devices', path: '/devices', heading: 'Devices' },
    { link: 'Scans', path: '/scans', heading: 'Scans' },
    { link: 'Jobs', path: '/jobs', heading: 'Scheduled Jobs' },
  ];
  for (const { link, path, heading } of pages) {
    await nav.getByRole('link', { name: link, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${path}$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(heading);
    await nav.getByRole('link', { name: 'Server Network Settings' }).click();
    await expect(page).toHaveURL(/\/settings\/network$/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Server Network Settings');
  }
  expect(errors).toEqual([]);
});

test('reached by client-side navigation, the pages load their data themselves', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Devices' }).click();
  await expect(deviceRows(page)).toHaveCount(16);
  await nav.getByRole('link', { name: 'Jobs' }).click();
  await expect(jobItem(page, 'Check everything now')).toBeVisible();
  await nav.getByRole('link', { name: 'Scans' }).click();
  await expect(page.locator('table.scans tbody tr')).toHaveCount(2);
  expect(errors).toEqual([]);
});

test('every page reads complete without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await signIn(context);
  const page = await context.newPage();

  await page.goto('/devices');
  await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toContainText('Discovery');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Devices');
  await expect(deviceRows(page)).toHaveCount(16);
  await expect(deviceRow(page, awake()[2].ip).locator('.badge')).toHaveText('online');
  await expect(count(page, 'Online')).toHaveText('16');
  await filters(page).getByRole('link', { name: /^Offline/ }).click(); // a plain link
  await expect(page).toHaveURL(/status=offline/);
  await expect(page.getByText('No device is offline.')).toBeVisible();

  await page.goto('/scans');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Scans');
  const earlier = page.locator('table.scans tbody tr');
  await expect(earlier).toHaveCount(2);
  await expect(earlier.nth(1)).toContainText('127.88.0.1-127.88.0.40');
  await expect(earlier.nth(1)).toContainText('16');
  await earlier.nth(1).getByRole('link', { name: /^Open the scan/ }).click(); // a plain link
  await expect(page).toHaveURL(/\/scans\?scan=/);
  await expect(page.getByRole('heading', { name: 'Scan: 127.88.0.1-127.88.0.40' })).toBeVisible();
  await expect(page.locator('.progress-text')).toContainText('40 of 40 datagrams sent · 16 devices found');
  await expect(foundRows(page)).toHaveCount(16);
  await expect(page.locator('table.found .badge.registered')).toHaveCount(16);
  await expect(foundRows(page).filter({ hasText: awake()[0].mac })).toContainText(awake()[0].ip);
  await page.goto('/scans?scan=no-such-scan');
  await expect(page.locator('.current-scan .notice-area')).toContainText('There is no scan no-such-scan on this server');
  await expect(page.getByRole('heading', { name: 'No scan shown' })).toBeVisible();

  await page.goto('/jobs');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Scheduled Jobs');
  await expect(lastRun(jobItem(page, 'Check everything now'))).toHaveText('done');
  await expect(jobItem(page, 'Check everything now').locator('table.executions')).toContainText('checked 16 devices');
  await context.close();
});

test('a scan still running can be cancelled', async ({ page }) => {
  test.setTimeout(60_000);
  const errors = watchErrors(page);
  // replies are awaited 20 s after the last datagram: the scan is still running when cancelled
  await changeSettings((doc) => (doc.scan.timeout_ms = 20_000));
  try {
    await open(page, '/scans');
    await page.locator('#scan-ranges').fill('127.88.1.0-127.88.16.255');
    await expect(page.locator('#scan-ranges-count')).toHaveText('4096 addresses');
    await page.getByRole('button', { name: 'Start scan' }).click();
    await expect(page.getByRole('heading', { name: 'Scan: 127.88.1.0-127.88.16.255' })).toBeVisible();
    await expect(scanState(page)).toHaveText('running');
    // the time left is shown, but not announced at every poll
    await expect(page.locator('.progress-text .countdown')).toContainText(/left/);
    await expect(page.locator('.progress-text [aria-live]')).not.toContainText('left');
    const cancel = page.getByRole('button', { name: 'Cancel scan' });
    await cancel.click();
    await expect(scanState(page)).toHaveText('cancelled');
    await expect(cancel).toHaveCount(0);
    await expect(page.locator('.progress-text')).toContainText('Cancelled');
    await expect(page.locator('table.scans tbody tr').first()).toContainText('cancelled');
    const scans = await (await api.get('/api/v1/scans')).json();
    expect(scans.scans[0].state).toBe('cancelled');
    // no poll that was under way turns it back into a running one
    await page.waitForTimeout(1500);
    await expect(scanState(page)).toHaveText('cancelled');
    expect(errors).toEqual([]);
  } finally {
    await changeSettings((doc) => (doc.scan.timeout_ms = 3000));
  }
});
