import { Page, APIRequestContext, Browser } from '@playwright/test';
import { test, expect, signIn } from './auth';
import { watchErrors } from './errors';

const DEFAULTS = {
  online_check: { enabled: true, response_timeout_ms: 1000, reply_port: null },
  scheduled_jobs: { never_expire: true, expiration_minutes: 40 },
  scan: { timeout_ms: 6000, broadcast_ip: '255.255.255.255', reply_port: null },
  cluster_address: { enabled: false, host: '', port: 8443 },
  enrollment_address: { enabled: false, host: '', port: 8443, path_prefix: '' },
  distributed: { enabled: false },
};

async function resetSettings(request: APIRequestContext) {
  const reply = await request.post('/api/v1/settings/network/import', {
    data: { format_version: 2, settings: DEFAULTS },
  });
  expect(reply.status()).toBe(200);
}


async function openSettings(page: Page) {
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto('/settings/network');
  await wasm;
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

const field = (page: Page, id: string) => page.locator(`#${id}`);
const errorOf = (page: Page, id: string) => page.locator(`#${id}-error`);
const save = (page: Page) => page.getByRole('button', { name: 'Save', exact: true });

// `request` is the superuser's API client; the page signs in as the superuser too
test.beforeEach(async ({ request, page }) => {
  await resetSettings(request);
  await signIn(page);
});

test('the page is rendered on the server with the current values', async ({ browser, request }) => {
  const current = await request.get('/api/v1/settings/network');
  const etag = current.headers()['etag'];
  const doc = { ...DEFAULTS, online_check: { ...DEFAULTS.online_check, response_timeout_ms: 4321 } };
  expect((await request.put('/api/v1/settings/network', { data: doc, headers: { 'If-Match': etag } })).status()).toBe(200);

  const context = await browser.newContext({ javaScriptEnabled: false });
  await signIn(context);
  const page = await context.newPage();
  await page.goto('/settings/network');
  await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toContainText(
    'Administration',
  );
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Server Network Settings');
  await expect(field(page, 'online_check-response_timeout_ms')).toHaveValue('4321');
  for (const title of [
    'Online Check Parameters',
    'Scheduled Jobs',
    'Scan Parameters',
    'Cluster Address',
    'OS 12 Device Enrollment Address',
    'High Availability / Distributed mode',
  ]) {
    await expect(page.getByRole('heading', { name: title, level: 2 })).toBeVisible();
  }
  await context.close();
});

test('inline errors while typing, Save disabled until valid', async ({ page }) => {
  const errors = watchErrors(page);
  await openSettings(page);
  const timeout = field(page, 'online_check-response_timeout_ms');
  await expect(save(page)).toBeDisabled(); // nothing changed yet
  await timeout.fill('99');
  await expect(errorOf(page, 'online_check-response_timeout_ms')).toHaveText(
    'must be between 100 and 10000 ms',
  );
  await expect(timeout).toHaveAttribute('aria-invalid', 'true');
  await expect(save(page)).toBeDisabled();
  await timeout.fill('abc');
  await expect(errorOf(page, 'online_check-response_timeout_ms')).toHaveText('must be a whole number');
  await timeout.fill('10000');
  await expect(errorOf(page, 'online_check-response_timeout_ms')).toBeHidden();
  await expect(save(page)).toBeEnabled();
  await page.getByRole('button', { name: 'Discard changes' }).click();
  await expect(timeout).toHaveValue('1000');
  await expect(save(page)).toBeDisabled();
  expect(errors).toEqual([]);
});

test('edit every section, save, reload and see the values', async ({ page }) => {
  const errors = watchErrors(page);
  await openSettings(page);

  // Online check
  await field(page, 'online_check-response_timeout_ms').fill('2500');
  await page.locator('#online_check-reply_port-specific').check();
  await expect(errorOf(page, 'online_check-reply_port')).toHaveText('enter a port from 1 to 65535');
  await field(page, 'online_check-reply_port').fill('65536');
  await expect(errorOf(page, 'online_check-reply_port')).toHaveText('must be a port from 1 to 65535');
  await field(page, 'online_check-reply_port').fill('30100');
  await expect(errorOf(page, 'online_check-reply_port')).toBeHidden();

  // Scheduled jobs: the expiration only applies when jobs can expire
  await expect(field(page, 'scheduled_jobs-expiration_minutes')).toBeDisabled();
  await field(page, 'scheduled_jobs-never_expire').uncheck();
  await field(page, 'scheduled_jobs-expiration_minutes').fill('90');

  // Scan
  await field(page, 'scan-timeout_ms').fill('8000');
  await field(page, 'scan-broadcast_ip').fill('300.1.1.1');
  await expect(errorOf(page, 'scan-broadcast_ip')).toContainText('IPv4');
  await field(page, 'scan-broadcast_ip').fill('127.255.255.255');
  await expect(errorOf(page, 'scan-broadcast_ip')).toBeHidden();

  // Cluster address: enabling without a host is an error until one is set
  await field(page, 'cluster_address-enabled').check();
  await expect(errorOf(page, 'cluster_address-host')).toContainText('required');
  await page.locator('#cluster_address-host').click();
  const dialog = page.getByRole('dialog', { name: 'Set the cluster address' });
  await expect(dialog).toBeVisible();
  await expect(page.locator('#cluster_address-dialog-host')).toBeFocused();
  await page.locator('#cluster_address-dialog-host').fill('lb..example.com');
  await expect(dialog.getByRole('button', { name: 'OK' })).toBeDisabled();
  await page.locator('#cluster_address-dialog-host').fill('lb.example.com');
  await page.locator('#cluster_address-dialog-port').fill('443');
  await dialog.getByRole('button', { name: 'OK' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('#cluster_address-value')).toHaveText('lb.example.com:443');
  const preview = page.locator('section.preview');
  await expect(preview.getByRole('row', { name: /OS 12 device communication/ })).toContainText(
    'https://lb.example.com:443',
  );

  // Enrollment address, through the keyboard
  await field(page, 'enrollment_address-enabled').check();
  await page.locator('#enrollment_address-host').click();
  await page.locator('#enrollment_address-dialog-host').fill('enroll.example.com');
  await page.locator('#enrollment_address-dialog-port').fill('9443');
  await page.locator('#enrollment_address-dialog-prefix').fill('/device-connector/device/.well-known/est');
  await page.keyboard.press('Enter');
  await expect(page.locator('#enrollment_address-value')).toHaveText(
    'enroll.example.com:9443/device-connector/device/.well-known/est',
  );
  await expect(preview.getByRole('row', { name: /onboarding/ })).toContainText(
    'https://enroll.example.com:9443/device-connector/device/.well-known/est',
  );

  // Distributed mode needs PostgreSQL; this server runs on SQLite
  await field(page, 'distributed-enabled').check();
  await expect(errorOf(page, 'distributed-enabled')).toContainText('PostgreSQL');
  await expect(save(page)).toBeDisabled();
  await field(page, 'distributed-enabled').uncheck();

  await save(page).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();

  await openSettings(page);
  await expect(field(page, 'online_check-response_timeout_ms')).toHaveValue('2500');
  await expect(field(page, 'online_check-reply_port')).toHaveValue('30100');
  await expect(page.locator('#online_check-reply_port-specific')).toBeChecked();
  await expect(field(page, 'scheduled_jobs-never_expire')).not.toBeChecked();
  await expect(field(page, 'scheduled_jobs-expiration_minutes')).toHaveValue('90');
  await expect(field(page, 'scan-timeout_ms')).toHaveValue('8000');
  await expect(field(page, 'scan-broadcast_ip')).toHaveValue('127.255.255.255');
  await expect(page.locator('#scan-reply_port-any')).toBeChecked();
  await expect(field(page, 'cluster_address-enabled')).toBeChecked();
  await expect(page.locator('#cluster_address-value')).toHaveText('lb.example.com:443');
  await expect(page.locator('#enrollment_address-value')).toHaveText(
    'enroll.example.com:9443/device-connector/device/.well-known/est',
  );
  await expect(field(page, 'distributed-enabled')).not.toBeChecked();

  // Restore defaults fills the form; saving stores them
  await page.getByRole('button', { name: 'Restore defaults' }).click();
  await expect(field(page, 'online_check-response_timeout_ms')).toHaveValue('1000');
  await save(page).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();
  await openSettings(page);
  await expect(page.locator('#cluster_address-value')).toHaveText('not set');
  expect(errors).toEqual([]);
});

async function openIn(browser: Browser) {
  const context = await browser.newContext();
  await signIn(context);
  const page = await context.newPage();
  const errors = watchErrors(page, [412]);
  await openSettings(page);
  return { context, page, errors };
}

test('a conflict between two administrators loses nothing', async ({ browser, request }) => {
  const alice = await openIn(browser);
  const bob = await openIn(browser);

  await field(alice.page, 'scan-timeout_ms').fill('7000');
  await save(alice.page).click();
  await expect(alice.page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();

  await field(bob.page, 'online_check-response_timeout_ms').fill('3000');
  await save(bob.page).click();
  const conflict = bob.page.locator('.conflict');
  await expect(conflict).toBeVisible();
  await expect(conflict.locator('ul.theirs')).toContainText('Scan timeout: 6000 → 7000');
  await expect(conflict.locator('ul.mine')).toContainText('Online check response timeout: 1000 → 3000');
  let stored = await (await request.get('/api/v1/settings/network')).json();
  expect(stored.online_check.response_timeout_ms).toBe(1000); // nothing of Bob's was saved

  await conflict.getByRole('button', { name: 'Re-apply my changes' }).click();
  await expect(conflict).toBeHidden();
  await expect(field(bob.page, 'scan-timeout_ms')).toHaveValue('7000');
  await expect(field(bob.page, 'online_check-response_timeout_ms')).toHaveValue('3000');
  await save(bob.page).click();
  await expect(bob.page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();

  stored = await (await request.get('/api/v1/settings/network')).json();
  expect(stored.scan.timeout_ms).toBe(7000);
  expect(stored.online_check.response_timeout_ms).toBe(3000);
  expect(alice.errors).toEqual([]);
  expect(bob.errors).toEqual([]);
  await alice.context.close();
  await bob.context.close();
});

test('escape closes the address dialog without changing anything', async ({ page }) => {
  const errors = watchErrors(page);
  await openSettings(page);
  await page.locator('#cluster_address-host').click();
  await page.locator('#cluster_address-dialog-host').fill('other.example.com');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toBeHidden();
  await expect(page.locator('#cluster_address-host')).toBeFocused();
  await expect(page.locator('#cluster_address-value')).toHaveText('not set');
  await expect(save(page)).toBeDisabled();
  expect(errors).toEqual([]);
});

test('reached by client-side navigation, the page loads its data itself', async ({ page }) => {
  const errors = watchErrors(page);
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto('/');
  await wasm;
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const api = page.waitForResponse((r) => r.url().endsWith('/api/v1/settings/network'));
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Server Network Settings' })
    .click();
  await api;
  await expect(page.locator('form.settings')).toBeVisible();
  await expect(page.locator('#online_check-response_timeout_ms')).toHaveValue('1000');
  expect(errors).toEqual([]);
});

test('a refusal by the server is shown at the field, which gets the focus', async ({ page }) => {
  const errors = watchErrors(page, [422]);
  await openSettings(page);
  // A rule only the server can apply (a newer server, say): answer the save with a refusal.
  await page.route('**/api/v1/settings/network', async (route) => {
    if (route.request().method() !== 'PUT') return route.fallback();
    await route.fulfill({
      status: 422,
      contentType: 'application/json',
      body: JSON.stringify({
        errors: [{ field: 'scan.timeout_ms', message: 'is longer than this site allows' }],
      }),
    });
  });
  await field(page, 'scan-timeout_ms').fill('9000');
  await save(page).click();
  await expect(page.locator('.notice-area')).toContainText('The server refused the changes');
  await expect(errorOf(page, 'scan-timeout_ms')).toHaveText('is longer than this site allows');
  await expect(field(page, 'scan-timeout_ms')).toBeFocused();
  await expect(save(page)).toBeDisabled(); // until the value is edited
  await field(page, 'scan-timeout_ms').fill('8000');
  await expect(errorOf(page, 'scan-timeout_ms')).toBeHidden();
  await expect(save(page)).toBeEnabled();
  expect(errors).toEqual([]);
});

test('a backup downloads from the page', async ({ page }) => {
  await openSettings(page);
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download a backup' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('pharos-network-settings.json');
  const text = await (await file.createReadStream()).toArray();
  const backup = JSON.parse(Buffer.concat(text).toString());
  expect(backup).toEqual({ format_version: 2, settings: DEFAULTS });
});

test('restoring a backup from the page upgrades an old one and refuses a bad one', async ({ page }) => {
  const errors = watchErrors(page, [422]);
  await openSettings(page);
  const restore = page.locator('#restore-backup');
  const old = {
    format_version: 1,
    settings: { ...DEFAULTS, online_check: { ...DEFAULTS.online_check, response_timeout_ms: 100 } },
  };
  await restore.setInputFiles({ name: 'old.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(old)) });
  await expect(page.locator('.notice-area')).toContainText(
    'Upgraded from the older format: Online check response timeout: 100 → 1000',
  );
  await expect(field(page, 'online_check-response_timeout_ms')).toHaveValue('1000');

  const bad = { format_version: 2, settings: { ...DEFAULTS, scan: { ...DEFAULTS.scan, timeout_ms: 50 } } };
  await restore.setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(bad)) });
  await expect(page.locator('.notice-area')).toContainText('refused and nothing changed: settings.scan.timeout_ms');
  const stored = await (await page.request.get('/api/v1/settings/network')).json();
  expect(stored.scan.timeout_ms).toBe(6000);

  // unsaved edits are never overwritten by a restore
  await field(page, 'scan-timeout_ms').fill('7000');
  await restore.setInputFiles({ name: 'old.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(old)) });
  await expect(page.locator('.notice-area')).toContainText('Save or discard your changes');
  await expect(field(page, 'scan-timeout_ms')).toHaveValue('7000');
  expect(errors).toEqual([]);
});

async function saveElsewhere(request: APIRequestContext, change: (doc: any) => void) {
  const current = await request.get('/api/v1/settings/network');
  const doc = await current.json();
  change(doc);
  const reply = await request.put('/api/v1/settings/network', {
    data: doc,
    headers: { 'If-Match': current.headers()['etag'] },
  });
  expect(reply.status()).toBe(200);
}

test('a change saved by another administrator shows at once and can be loaded', async ({ page, request }) => {
  const errors = watchErrors(page);
  await openSettings(page);
  await saveElsewhere(request, (doc) => {
    doc.online_check.enabled = false;
    doc.scan.timeout_ms = 6500;
  });
  const live = page.locator('.live-change');
  await expect(live).toContainText('Online check enabled, Scan timeout');
  await expect(field(page, 'scan-timeout_ms')).toHaveValue('6000'); // nothing replaced unasked
  await live.getByRole('button', { name: 'Load the new values' }).click();
  await expect(field(page, 'scan-timeout_ms')).toHaveValue('6500');
  await expect(field(page, 'online_check-enabled')).not.toBeChecked();
  await expect(live).toBeHidden();
  await expect(save(page)).toBeDisabled();
  expect(errors).toEqual([]);
});

test('edits are kept when another administrator saves, and saving shows both sides', async ({ page, request }) => {
  const errors = watchErrors(page, [412]);
  await openSettings(page);
  await field(page, 'online_check-response_timeout_ms').fill('3000');
  await saveElsewhere(request, (doc) => (doc.scan.timeout_ms = 7000));
  const live = page.locator('.live-change');
  await expect(live).toContainText('Scan timeout');
  await expect(live).toContainText('Your edits are kept');
  await expect(field(page, 'online_check-response_timeout_ms')).toHaveValue('3000');
  await save(page).click();
  const conflict = page.locator('.conflict');
  await expect(conflict.locator('ul.theirs')).toContainText('Scan timeout: 6000 → 7000');
  await expect(conflict.locator('ul.mine')).toContainText('Online check response timeout: 1000 → 3000');
  expect(errors).toEqual([]);
});

test('saving works behind a proxy that compresses answers and weakens their ETags', async ({ page }) => {
  const errors = watchErrors(page);
  // what nginx's `gzip on` does to the answers it compresses: the strong tag becomes W/"…"
  await page.route('**/api/v1/settings/network', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    if (headers['etag'] && !headers['etag'].startsWith('W/')) headers['etag'] = `W/${headers['etag']}`;
    await route.fulfill({ response, headers });
  });
  await openSettings(page);
  for (const value of ['7100', '7200']) {
    await field(page, 'scan-timeout_ms').fill(value);
    await save(page).click();
    await expect(page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();
    await expect(save(page)).toBeDisabled();
  }
  const stored = await (await page.request.get('/api/v1/settings/network')).json();
  expect(stored.scan.timeout_ms).toBe(7200);
  expect(errors).toEqual([]);
});

test('the front end files have content-hashed names and are cached for good', async ({ page }) => {
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto('/settings/network');
  const response = await wasm;
  expect(response.url()).toMatch(/\/pkg\/pharos\.[A-Za-z0-9_-]+\.wasm$/);
  expect(response.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(response.headers()['content-encoding']).toMatch(/^(br|gzip)$/);
});
