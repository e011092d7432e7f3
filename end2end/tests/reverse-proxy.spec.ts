import { chromium, Browser, Page } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, ADMIN } from './auth';
import { PHAROS_BIN, REVERSE_PROXY_PORTS } from '../playwright.config';
import { watchErrors } from './errors';

// Pharos behind a real nginx, as docs/reverse-proxy.md sets it up: a server of its own over
// HTTPS that trusts only nginx (which connects from 127.0.0.2) to say who the client is, and
// nginx started by scripts/nginx-for-tests with docs/nginx/pharos.conf on loopback ports. The
// browser talks to nginx only, trusting nginx's root through its NSS database.
const [PHAROS_PORT, WEB_PORT, DEVICE_PORT, ENROLL_PORT] = REVERSE_PROXY_PORTS;
const ORIGIN = `https://127.0.0.1:${WEB_PORT}`;
const PREFIX = '/device-connector/device';

let home: string;
let server: ChildProcess;
let nginx: ChildProcess;
let browser: Browser;

/** A GET that trusts `ca` (or, with none, anything: before the root is known). */
function getStatus(url: string, ca?: string): Promise<number> {
  return new Promise((resolve) => {
    const options = ca ? { ca } : { rejectUnauthorized: false };
    httpsGet(url, options, (reply) => {
      reply.resume();
      resolve(reply.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
}

async function stop(child: ChildProcess | undefined) {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

test.beforeAll(async ({}, workerInfo) => {
  home = mkdtempSync(join(tmpdir(), 'pharos-proxy-'));
  server = spawn(PHAROS_BIN, [], {
    cwd: '..',
    env: {
      ...process.env,
      PHAROS_LISTEN: `127.0.0.1:${PHAROS_PORT}`,
      PHAROS_DATA_DIR: join(home, 'data'),
      PHAROS_SERVER_NAME: 'proxy-e2e',
      PHAROS_TRUSTED_PROXIES: '127.0.0.2/32',
      PHAROS_UDP_BIND: '127.0.0.1',
      PHAROS_DEVICE_PORT: String(PHAROS_PORT + 30),
      PHAROS_WAKE_ON_LAN_ADDRESS: '127.255.255.255',
      PHAROS_ADMIN_PASSWORD: ADMIN.password,
      RUST_LOG: 'warn',
    },
    stdio: 'inherit',
  });
  await expect(async () => {
    expect(await getStatus(`https://127.0.0.1:${PHAROS_PORT}/healthz`)).toBe(200);
  }).toPass({ timeout: 30_000 });

  // the script execs nginx: this child is nginx's master process
  const dir = join(home, 'nginx');
  nginx = spawn(
    'scripts/nginx-for-tests',
    [dir, `127.0.0.1:${PHAROS_PORT}`, ...[WEB_PORT, DEVICE_PORT, ENROLL_PORT].map(String), PREFIX],
    { cwd: '..', stdio: 'inherit' },
  );
  await expect(async () => {
    expect(nginx.exitCode, 'nginx stopped').toBeNull();
    expect(existsSync(join(dir, 'nginx-ca.pem'))).toBe(true);
    const ca = readFileSync(join(dir, 'nginx-ca.pem'), 'utf8');
    expect(await getStatus(`${ORIGIN}/healthz`, ca)).toBe(200);
  }).toPass({ timeout: 30_000 });

  // the browser's home: an NSS database that trusts nginx's root
  const nssdb = join(home, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  execFileSync('certutil', ['-N', '--empty-password', '-d', `sql:${nssdb}`]);
  execFileSync('certutil', ['-A', '-t', 'C,,', '-n', 'nginx', '-i', join(dir, 'nginx-ca.pem'), '-d', `sql:${nssdb}`]);
  const launch = workerInfo.project.use.launchOptions ?? {};
  browser = await chromium.launch({ ...launch, env: { ...process.env, HOME: home } });
});

test.afterAll(async () => {
  await browser?.close();
  await stop(nginx);
  await stop(server);
  rmSync(home, { recursive: true, force: true });
});

async function signInOn(page: Page, path: string) {
  await page.goto(`${ORIGIN}${path}`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#login-username').fill(ADMIN.username);
  await page.locator('#login-password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${ORIGIN}${path}`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
}

test('through nginx: sign in, save the settings, the audit log names the browser, not nginx', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await signInOn(page, '/settings/network');

  // devices are pointed at nginx's enrollment listener; the preview shows what they will use
  await page.locator('#enrollment_address-enabled').check();
  await page.locator('#enrollment_address-host').click();
  const dialog = page.getByRole('dialog', { name: /enrollment address/i });
  await page.locator('#enrollment_address-dialog-host').fill('127.0.0.1');
  await page.locator('#enrollment_address-dialog-port').fill(String(ENROLL_PORT));
  await page.locator('#enrollment_address-dialog-prefix').fill(PREFIX);
  await dialog.getByRole('button', { name: 'OK' }).click();
  await expect(dialog).toBeHidden();
  const est = `https://127.0.0.1:${ENROLL_PORT}${PREFIX}/.well-known/est`;
  await expect(page.locator('section.preview').getByRole('row', { name: /onboarding/ })).toContainText(est);
  await page.locator('#scan-timeout_ms').fill('7000');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: /saved/i }).first()).toBeVisible();

  await page.goto(`${ORIGIN}/audit`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  const row = page.locator('table.log tbody tr').filter({ hasText: 'settings.network.scan.timeout_ms' });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('127.0.0.1');
  await expect(page.locator('table.log')).not.toContainText('127.0.0.2');

  // and the API says the same, read by the browser through nginx
  const entries = await page.evaluate(async () => (await (await fetch('/api/v1/audit')).json()).entries);
  const saved = entries.filter((e: { field: string }) => e.field.startsWith('settings.network.'));
  expect(saved.length).toBeGreaterThan(0);
  for (const entry of saved) expect(entry.source).toBe('127.0.0.1');
  expect(errors).toEqual([]);
  await context.close();
});
