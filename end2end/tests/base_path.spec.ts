import { test, expect } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ADMIN } from './auth';
import { PHAROS_BIN, SPARE_PORT } from '../playwright.config';
import { watchErrors } from './errors';

// Pharos below a path prefix, as behind a reverse proxy that forwards the full path (nginx's
// `location /pharos/ { proxy_pass http://127.0.0.1:8080; }`): a server of its own, started with
// PHAROS_BASE_PATH. Its pages, assets, links, API calls and event stream all stay below it.
const ORIGIN = `http://127.0.0.1:${SPARE_PORT}`;
const BASE = `${ORIGIN}/pharos`;

let server: ChildProcess;

test.beforeAll(async () => {
  server = spawn(PHAROS_BIN, [], {
    cwd: '..',
    env: {
      ...process.env,
      PHAROS_LISTEN: `127.0.0.1:${SPARE_PORT}`,
      PHAROS_DATA_DIR: join(process.env.E2E_PHAROS_DATA_DIR!, 'below-a-prefix'),
      PHAROS_SERVER_NAME: 'below-a-prefix',
      PHAROS_BASE_PATH: '/pharos',
      PHAROS_TLS: 'off',
      PHAROS_UDP_BIND: '127.0.0.1',
      PHAROS_DEVICE_PORT: String(SPARE_PORT + 20),
      PHAROS_WAKE_ON_LAN_ADDRESS: '127.255.255.255',
      PHAROS_ADMIN_PASSWORD: ADMIN.password,
      RUST_LOG: 'warn',
    },
    stdio: 'inherit',
  });
  await expect(async () => {
    const reply = await fetch(`${BASE}/healthz`);
    expect(reply.status).toBe(200);
  }).toPass({ timeout: 30_000 });
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
});

test('signs in, hydrates and navigates below the prefix', async ({ page }) => {
  const errors = watchErrors(page);
  const outside: string[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(ORIGIN) && !r.url().startsWith(`${BASE}/`) && r.url() !== BASE) {
      outside.push(r.url());
    }
  });

  await page.goto(`${BASE}/settings/network`);
  await expect(page).toHaveURL(`${BASE}/login?next=%2Fpharos%2Fsettings%2Fnetwork`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#login-username').fill(ADMIN.username);
  await page.locator('#login-password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page).toHaveURL(`${BASE}/settings/network`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('heading', { name: 'Server Network Settings' })).toBeVisible();
  const cookies = await page.context().cookies(`${BASE}/`);
  expect(cookies.find((c) => c.name === 'pharos_session')?.path).toBe('/pharos');

  // a client-side navigation: the page's router knows the prefix
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
  await expect(page).toHaveURL(`${BASE}/devices`);
  await expect(page.getByRole('heading', { name: 'Devices', exact: true })).toBeVisible();
  await page.reload();
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('heading', { name: 'Devices', exact: true })).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(`${BASE}/login`);

  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
});
