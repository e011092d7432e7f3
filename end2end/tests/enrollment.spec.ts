import { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test, expect, signIn } from './auth';
import { watchErrors } from './errors';

// The device enrollment page: a key made in the page (its secret shown once), listed and
// revoked; a reader of certificates who sees the lists and nothing to change them with; a device
// that enrolls over EST shows up live, linked to its device, and its certificate is revoked.

const KEYS = '/api/v1/enrollment/keys';
const CERTIFICATES = '/api/v1/enrollment/certificates';
// a worker that starts again after a failure makes its own
const CERT_READER = { username: `cert-reader-${randomBytes(3).toString('hex')}`, password: 'silent-harbor-5930' };

test.beforeAll(async ({ adminApi }) => {
  const created = await adminApi.post('/api/v1/accounts/users', { data: CERT_READER });
  expect(created.status(), await created.text()).toBe(201);
  const user = await created.json();
  const changed = await adminApi.patch(`/api/v1/accounts/users/${user.id}`, {
    data: { revision: user.revision, grants: [{ area: 'certificates', access: 'read', effect: 'allow' }] },
  });
  expect(changed.status(), await changed.text()).toBe(200);
});

/** Opens `path` and waits until it is hydrated (its buttons then act). */
async function open(page: Page, path: string) {
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto(path);
  await wasm;
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

const unique = () => randomBytes(4).toString('hex');
const keyRow = (page: Page, id: string) => page.getByTestId('enrollment-keys').locator(`tr[data-id="${id}"]`);
const keysNotice = (page: Page) => page.locator('section[aria-labelledby="enrollment-keys-title"] > .notice-area');

/** A DER certificate request for `name` (a fresh P-256 key), made by openssl as a device would. */
const csrFor = (name: string) => execFileSync('openssl', [
  'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
  '-keyout', '/dev/null', '-subj', `/CN=${name}`, '-outform', 'DER',
], { stdio: ['ignore', 'pipe', 'ignore'] });

test('an administrator makes an enrollment key, sees its secret once, and revokes it', async ({ page, request }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await open(page, '/enrollment');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Device enrollment');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Device enrollment', exact: true })).toHaveAttribute('href', '/enrollment');

  // the shared rules, as the administrator types
  const create = page.getByRole('button', { name: 'Create key' });
  await page.locator('#key-uses').fill('0');
  await expect(page.locator('#key-uses-error')).toHaveText('a key authorises between 1 and 100000 enrollments');
  await expect(create).toBeDisabled();
  await page.locator('#key-minutes').fill('soon');
  await expect(page.locator('#key-minutes-error')).toHaveText('the time until it expires must be a whole number');
  await page.locator('#key-uses').fill('3');
  await page.locator('#key-minutes').fill('90');
  const note = `e2e batch ${unique()}`;
  await page.locator('#key-note').fill(note);
  await expect(page.locator('#key-uses-error')).toBeEmpty();
  await create.click();

  // the secret, once
  const created = page.getByTestId('created-key');
  await expect(created).toContainText('Copy the secret now: it will not be shown again.');
  const id = (await page.getByTestId('created-key-id').textContent())!.trim();
  const secret = (await page.getByTestId('created-key-secret').textContent())!.trim();
  expect(id).not.toBe('');
  expect(secret.length).toBeGreaterThanOrEqual(16);
  await expect(page.locator('#key-note')).toHaveValue('');
  const row = keyRow(page, id);
  await expect(row).toContainText(note);
  await expect(row).toContainText('3 / 3');
  await expect(row).toContainText('admin');
  await expect(row.locator('.badge')).toHaveText('active');
  await expect(row).not.toContainText(secret);

  // gone after a reload, from the page as from the server's answers
  await open(page, '/enrollment');
  await expect(page.getByTestId('created-key')).toHaveCount(0);
  await expect(row.locator('.badge')).toHaveText('active');
  expect(await page.content()).not.toContain(secret);
  expect(await (await request.get(KEYS)).text()).not.toContain(secret);

  // revoked, after a confirmation
  await row.getByRole('button', { name: `Revoke key ${id}` }).click();
  const dialog = page.getByRole('alertdialog', { name: `Revoke the enrollment key ${id}?` });
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row.locator('.badge')).toHaveText('revoked');
  await expect(row.getByRole('button')).toHaveCount(0);
  await expect(keysNotice(page)).toHaveText(`The enrollment key ${id} was revoked.`);
  const keys = (await (await request.get(KEYS)).json()).keys as { id: string; state: string }[];
  expect(keys.find((k) => k.id === id)?.state).toBe('revoked');
  expect(errors).toEqual([]);
});

test('a reader of certificates sees the lists and nothing to change them with', async ({ page, request }) => {
  const errors = watchErrors(page);
  const made = await request.post(KEYS, { data: { uses: 2, expires_in_minutes: 30, note: 'for the reader' } });
  expect(made.status(), await made.text()).toBe(201);
  const { id } = await made.json();

  await signIn(page, '', CERT_READER);
  await open(page, '/enrollment');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Device enrollment');
  await expect(page.locator('.notice.info.read-only')).toHaveText(
    'You can see the enrollment keys and device certificates but not change them.',
  );
  await expect(keyRow(page, id)).toContainText('for the reader');
  await expect(page.locator('main form')).toHaveCount(0);
  await expect(page.locator('main button')).toHaveCount(0);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Certificates', 'Device enrollment']);

  // and the server agrees
  const csrf = (await page.context().cookies()).find((c) => c.name === 'pharos_csrf')!.value;
  const refused = await page.request.post(KEYS, {
    data: { uses: 1, expires_in_minutes: 10, note: '' },
    headers: { 'x-csrf-token': csrf },
  });
  expect(refused.status()).toBe(403);
  expect(errors).toEqual([]);
});

/** Devices a test registered, removed after it: the discovery tests count the shared server's list. */
const registered: number[] = [];
test.afterEach(async ({ request }) => {
  for (const id of registered.splice(0)) {
    const removed = await request.delete(`/api/v1/devices/${id}`);
    expect(removed.ok(), await removed.text()).toBe(true);
  }
});

test('a device that enrolls shows up live, linked to its device, and its certificate is revoked', async ({ page, request, playwright, baseURL }) => {
  const errors = watchErrors(page);
  const name = `kiosk-${unique()}`;
  const ip = '127.88.9.9';
  // a registered device of that name: the certificate names it
  expect((await request.post('/api/v1/devices', { data: { ip, hostname: name } })).status()).toBe(201);
  const devices = (await (await request.get('/api/v1/devices?limit=1000')).json()).devices as { id: number; ip: string }[];
  const deviceId = devices.find((d) => d.ip === ip)!.id;
  registered.push(deviceId);
  const made = await request.post(KEYS, { data: { uses: 1, expires_in_minutes: 30, note: name } });
  expect(made.status(), await made.text()).toBe(201);
  const key = await made.json();

  await signIn(page);
  await open(page, '/enrollment');
  await expect(keyRow(page, key.id)).toContainText('1 / 1');

  // the device enrolls (RFC 8951: a base64 DER request) with the key as HTTP Basic credentials
  const csr = csrFor(name);
  const device = await playwright.request.newContext({ baseURL });
  const basic = Buffer.from(`${key.id}:${key.secret}`).toString('base64');
  const enrolled = await device.post('/.well-known/est/simpleenroll', {
    data: csr.toString('base64'),
    headers: { 'Content-Type': 'application/pkcs10', Authorization: `Basic ${basic}` },
  });
  expect(enrolled.status(), await enrolled.text()).toBe(200);
  await device.dispose();

  // it shows up without a reload, and the key is spent
  const row = page.getByTestId('device-certificates').locator('tr', { hasText: `CN=${name}` });
  await expect(row.locator('.badge')).toHaveText('valid');
  await expect(row).toContainText(key.id);
  await expect(row.getByRole('link', { name: `device ${deviceId}` })).toHaveAttribute('href', `/devices?id=${deviceId}#device-${deviceId}`);
  await expect(keyRow(page, key.id)).toContainText('0 / 1');
  await expect(keyRow(page, key.id).locator('.badge')).toHaveText('used up');
  const serial = (await row.getAttribute('data-serial'))!;

  // revoked, after a confirmation
  await row.getByRole('button', { name: `Revoke certificate ${serial}` }).click();
  const dialog = page.getByRole('alertdialog', { name: `Revoke the certificate ${serial} of CN=${name}?` });
  await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
  await expect(row.locator('.badge')).toHaveText('revoked');
  await expect(row.getByRole('button')).toHaveCount(0);
  await expect(page.locator('section[aria-labelledby="device-certificates-title"] > .notice-area')).toHaveText(
    `The certificate ${serial} of CN=${name} was revoked.`,
  );
  const listed = (await (await request.get(CERTIFICATES)).json()).certificates as { serial: string; state: string }[];
  expect(listed.find((c) => c.serial === serial)?.state).toBe('revoked');

  // the link leads to the device alone, whatever page of the list it is on, with its certificate
  await row.getByRole('link', { name: `device ${deviceId}` }).click();
  await expect(page).toHaveURL(new RegExp(`/devices\\?id=${deviceId}#device-${deviceId}$`));
  const deviceRow = page.locator(`#device-${deviceId}`);
  await expect(deviceRow).toContainText(ip);
  await expect(page.locator('table.devices tbody tr')).toHaveCount(1);
  await expect(page.getByRole('columnheader', { name: 'Certificate' })).toBeVisible();
  const certificate = deviceRow.locator('td.certificate a');
  await expect(certificate.locator('.badge')).toHaveText('revoked');
  await expect(certificate).toContainText(serial.slice(0, 8));
  await expect(certificate).toHaveAttribute('title', `Certificate ${serial}`);
  await expect(certificate).toHaveAttribute('href', '/enrollment');
  await expect(page.getByText(`Only device ${deviceId} is shown.`)).toBeVisible();

  // a new certificate shows up live in the device list
  const renewKey = await (await request.post(KEYS, { data: { uses: 1, expires_in_minutes: 30, note: name } })).json();
  const again = await playwright.request.newContext({ baseURL });
  const reenrolled = await again.post('/.well-known/est/simpleenroll', {
    data: csrFor(name).toString('base64'),
    headers: {
      'Content-Type': 'application/pkcs10',
      Authorization: `Basic ${Buffer.from(`${renewKey.id}:${renewKey.secret}`).toString('base64')}`,
    },
  });
  expect(reenrolled.status(), await reenrolled.text()).toBe(200);
  await again.dispose();
  await expect(certificate.locator('.badge')).toHaveText('valid');
  await expect(certificate).not.toHaveAttribute('title', `Certificate ${serial}`);

  // every device again
  await page.getByRole('link', { name: 'Show every device' }).click();
  await expect(page).toHaveURL(/\/devices$/);
  expect(errors).toEqual([]);
});
