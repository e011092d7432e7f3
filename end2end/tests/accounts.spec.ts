import { Page } from '@playwright/test';
import { test, expect, signIn, ADMIN } from './auth';
import { watchErrors } from './errors';

// Administrators in their browsers: signing in and out, a page opened without a session, a
// reader's disabled controls, and two administrators editing the same settings.

const SETTINGS = '/api/v1/settings/network';

/** A reader of the network settings, and a second administrator who may change them. */
const READER = { username: 'reader', password: 'quiet-river-4821' };
const ALICE = { username: 'alice', password: 'amber-falcon-7395' };

test.beforeAll(async ({ adminApi }) => {
  for (const [who, access] of [
    [READER, ['read']],
    [ALICE, ['read', 'write']],
  ] as const) {
    const created = await adminApi.post('/api/v1/accounts/users', { data: who });
    expect(created.status(), await created.text()).toBe(201);
    const user = await created.json();
    const grants = access.map((a) => ({ area: 'network_settings', access: a, effect: 'allow' }));
    const changed = await adminApi.patch(`/api/v1/accounts/users/${user.id}`, {
      data: { revision: user.revision, grants },
    });
    expect(changed.status(), await changed.text()).toBe(200);
  }
});

/** Waits until the page in view is hydrated (its buttons then act). */
async function hydrated(page: Page) {
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

async function open(page: Page, path: string) {
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto(path);
  await wasm;
  await hydrated(page);
}

const field = (page: Page, id: string) => page.locator(`#${id}`);
const save = (page: Page) => page.getByRole('button', { name: 'Save', exact: true });
const topBar = (page: Page) => page.locator('header.topbar');

async function fillSignIn(page: Page, username: string, password: string) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an administrator signs in through the sign-in page; a wrong password is refused', async ({ page }) => {
  const errors = watchErrors(page, [401]);
  await open(page, '/login');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0); // nobody signed in
  await expect(page.getByLabel('Username')).toBeFocused();

  await fillSignIn(page, ADMIN.username, 'not-the-right-one-42');
  await expect(page.getByRole('alert')).toContainText('wrong username or password');
  await expect(page.getByLabel('Password')).toHaveValue('');
  await expect(page.getByLabel('Password')).toBeFocused();
  await expect(page).toHaveURL(/\/login$/);

  await fillSignIn(page, ADMIN.username, ADMIN.password);
  await expect(page).toHaveURL(/\/settings\/network$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Server Network Settings');
  const account = topBar(page).getByRole('link', { name: 'admin', exact: true });
  await expect(account).toHaveAttribute('href', '/account');
  await expect(topBar(page).getByRole('button', { name: 'Sign out' })).toBeVisible();
  // the superuser reads and changes everything
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const area of ['Server Network Settings', 'Devices', 'Scans', 'Jobs', 'Accounts', 'Audit']) {
    await expect(nav.getByRole('link', { name: area, exact: true })).toBeVisible();
  }
  await expect(page.getByText('You can read these settings but not change them.')).toHaveCount(0);
  await field(page, 'scan-timeout_ms').fill('6100');
  await expect(save(page)).toBeEnabled();
  expect(errors).toEqual([]);
});

test('a page opened without a session leads to sign-in, and back to it after', async ({ page }) => {
  const errors = watchErrors(page);
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto('/jobs?tab=all');
  await wasm;
  await expect(page).toHaveURL(/\/login\?next=%2Fjobs%3Ftab%3Dall$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  await fillSignIn(page, ADMIN.username, ADMIN.password);
  await expect(page).toHaveURL(/\/jobs\?tab=all$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Scheduled Jobs');
  await expect(topBar(page).getByRole('link', { name: 'admin', exact: true })).toBeVisible();
  expect(errors).toEqual([]);
});

test('a reader sees the settings with every control disabled, and only what they may read', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page, '', READER);
  await open(page, '/settings/network');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Server Network Settings');
  const notice = page.locator('.notice.info', { hasText: 'You can read these settings but not change them.' });
  await expect(notice).toBeVisible();
  await expect(topBar(page).getByRole('link', { name: 'reader', exact: true })).toBeVisible();

  // the values are shown, and nothing can change them
  await expect(field(page, 'online_check-response_timeout_ms')).toHaveValue(/^\d+$/);
  const controls = page.locator('form.settings').locator('input, select, textarea, button');
  expect(await controls.count()).toBeGreaterThan(10);
  for (const control of await controls.all()) {
    await expect(control).toBeDisabled();
  }
  await expect(save(page)).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Set Address…' }).first()).toBeDisabled();

  // the navigation offers only the one area they may read
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Server Network Settings']);

  // and the server agrees: a change is refused, another area's page is not shown
  const csrf = (await page.context().cookies()).find((c) => c.name === 'pharos_csrf')!.value;
  const current = await page.request.get(SETTINGS);
  expect(current.status()).toBe(200);
  const refused = await page.request.put(SETTINGS, {
    data: await current.json(),
    headers: { 'If-Match': current.headers()['etag'], 'x-csrf-token': csrf },
  });
  expect(refused.status()).toBe(403);
  expect((await page.request.get('/devices', { maxRedirects: 0 })).status()).toBe(403);
  expect(errors).toEqual([]);
});

test('two administrators: the live notice and the conflict name the one who saved first', async ({ browser, request }) => {
  const stored = await (await request.get(SETTINGS)).json();
  const theirs = stored.scan.timeout_ms === 7000 ? 7100 : 7000;
  const mine = stored.online_check.response_timeout_ms === 3000 ? 3100 : 3000;

  const admin = await browser.newContext();
  const alice = await browser.newContext();
  await signIn(admin);
  await signIn(alice, '', ALICE);
  const adminPage = await admin.newPage();
  const alicePage = await alice.newPage();
  const adminErrors = watchErrors(adminPage, [412]);
  const aliceErrors = watchErrors(alicePage);
  await open(adminPage, '/settings/network');
  await open(alicePage, '/settings/network');
  await expect(topBar(alicePage).getByRole('link', { name: 'alice', exact: true })).toBeVisible();

  await field(alicePage, 'scan-timeout_ms').fill(String(theirs));
  await save(alicePage).click();
  await expect(alicePage.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();

  const live = adminPage.locator('.live-change');
  await expect(live).toContainText('alice saved new settings since this page was loaded: Scan timeout.');
  await field(adminPage, 'online_check-response_timeout_ms').fill(String(mine));
  await expect(live).toContainText('Your edits are kept');
  await save(adminPage).click();

  const conflict = adminPage.locator('.conflict');
  await expect(conflict).toBeVisible();
  await expect(conflict.getByRole('heading')).toHaveText(
    /^alice saved first, at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/,
  );
  await expect(conflict.locator('ul.theirs')).toContainText(
    `Scan timeout: ${stored.scan.timeout_ms} → ${theirs}`,
  );
  await expect(conflict.locator('ul.mine')).toContainText(
    `Online check response timeout: ${stored.online_check.response_timeout_ms} → ${mine}`,
  );
  await expect(adminPage.locator('.notice-area')).toContainText(
    'alice saved these settings after you opened them. Nothing of yours was saved',
  );
  const now = await (await request.get(SETTINGS)).json();
  expect(now.scan.timeout_ms).toBe(theirs);
  expect(now.online_check.response_timeout_ms).toBe(stored.online_check.response_timeout_ms);

  expect(adminErrors).toEqual([]);
  expect(aliceErrors).toEqual([]);
  await admin.close();
  await alice.close();
});

test('signing out leads to the sign-in page, and the pages need signing in again', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  await open(page, '/settings/network');
  await topBar(page).getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  await expect(topBar(page).getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  expect((await page.context().cookies()).find((c) => c.name === 'pharos_session')).toBeUndefined();

  await page.goto('/settings/network');
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Fnetwork$/);
  await expect(page.getByLabel('Username')).toBeVisible();
  expect((await page.request.get(SETTINGS)).status()).toBe(401);
  expect(errors).toEqual([]);
});
