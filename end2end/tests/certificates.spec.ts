import { chromium, Browser, BrowserContext, Page, APIRequestContext } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, signIn, apiClient, ADMIN } from './auth';
import { PHAROS_BIN, SPARE_PORT } from '../playwright.config';
import { watchErrors } from './errors';

// Pharos over HTTPS, as it starts by default: a server of its own (a High Availability
// installation, so that a cluster address asks for one certificate for all servers) with a
// fresh data directory and its generated web root. The browser trusts that root for real: it is
// in the NSS database of the browser's own home directory, and nothing ignores HTTPS errors.
const ORIGIN = `https://127.0.0.1:${SPARE_PORT}`;
// the second test works on what the first one made (the certificate it renews)
test.describe.configure({ mode: 'serial' });
const CLUSTER = 'lb.pharos.test';

let server: ChildProcess;
let home: string;
let caPem: string;
let browser: Browser;
let api: APIRequestContext;

/** A GET the script makes before it knows the root (trust on first use, as `curl -k` would). */
function insecureGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(`${ORIGIN}${path}`, { rejectUnauthorized: false }, (reply) => {
      let body = '';
      reply.on('data', (chunk) => (body += chunk));
      reply.on('end', () => resolve({ status: reply.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** The names of the certificate the server presents to a client that asks for `servername`,
 * verified against the root the browser trusts. */
function presentedNames(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // the chain is verified; the names are the caller's to look at
    const options = { host: '127.0.0.1', port: SPARE_PORT, ca: caPem, servername, checkServerIdentity: () => undefined };
    const socket = connect(options, () => {
      const names = socket.getPeerCertificate().subjectaltname ?? '';
      socket.end();
      resolve(names);
    });
    socket.on('error', reject);
  });
}

test.beforeAll(async ({ playwright }, workerInfo) => {
  home = mkdtempSync(join(tmpdir(), 'pharos-tls-'));
  server = spawn(PHAROS_BIN, [], {
    cwd: '..',
    env: {
      ...process.env,
      PHAROS_LISTEN: `127.0.0.1:${SPARE_PORT}`,
      PHAROS_DATA_DIR: join(home, 'data'),
      PHAROS_SERVER_NAME: 'tls-e2e',
      PHAROS_INSTALLATION: 'ha',
      PHAROS_UDP_BIND: '127.0.0.1',
      PHAROS_DEVICE_PORT: String(SPARE_PORT + 30),
      PHAROS_WAKE_ON_LAN_ADDRESS: '127.255.255.255',
      PHAROS_ADMIN_PASSWORD: ADMIN.password,
      RUST_LOG: 'warn',
    },
    stdio: 'inherit',
  });
  await expect(async () => {
    expect((await insecureGet('/healthz')).status).toBe(200);
  }).toPass({ timeout: 30_000 });
  const ca = await insecureGet('/ca.pem');
  expect(ca.status).toBe(200);
  caPem = ca.body;
  expect(caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);

  // the browser's home: an NSS database that trusts the root for web servers
  const nssdb = join(home, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  writeFileSync(join(home, 'ca.pem'), caPem);
  execFileSync('certutil', ['-N', '--empty-password', '-d', `sql:${nssdb}`]);
  execFileSync('certutil', ['-A', '-t', 'C,,', '-n', 'pharos', '-i', join(home, 'ca.pem'), '-d', `sql:${nssdb}`]);

  // the script's API client: it knows no root, the browser does the trusting
  api = await apiClient(playwright, ORIGIN, ADMIN, true);
  await setClusterAddress(CLUSTER);

  const launch = workerInfo.project.use.launchOptions ?? {};
  browser = await chromium.launch({ ...launch, env: { ...process.env, HOME: home } });
});

test.afterAll(async () => {
  await browser?.close();
  await api?.dispose();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
  rmSync(home, { recursive: true, force: true });
});

async function setClusterAddress(host: string) {
  const current = await api.get('/api/v1/settings/network');
  expect(current.status()).toBe(200);
  const doc = await current.json();
  doc.cluster_address = { ...doc.cluster_address, enabled: true, host };
  const saved = await api.put('/api/v1/settings/network', {
    data: doc,
    headers: { 'If-Match': current.headers()['etag'] },
  });
  expect(saved.status(), await saved.text()).toBe(200);
}

/** A browser context signed in through the sign-in page, on `path`. */
async function openSignedIn(context: BrowserContext, path: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${ORIGIN}${path}`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#login-username').fill(ADMIN.username);
  await page.locator('#login-password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${ORIGIN}${path}`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  return page;
}

const rows = (page: Page) => page.getByTestId('certificates').locator('tbody tr');

/** The row of the certificate whose common name is `name`. */
const row = (page: Page, name: string) =>
  page
    .getByTestId('certificates')
    .locator('tbody tr')
    .filter({ has: page.locator('span.subject').getByText(name, { exact: true }) });

const checkState = (page: Page) => page.getByTestId('certificate-check').locator('.check-state');

test('a trusted HTTPS server: a root, one certificate for all servers, the check turns green', async () => {
  test.setTimeout(90_000);
  const context = await browser.newContext();
  const page = await openSignedIn(context, '/settings/network');
  const errors = watchErrors(page);

  // the server's first certificate lacks the cluster address
  await expect(checkState(page)).toHaveAttribute('data-state', 'failing');
  await expect(checkState(page)).toContainText(CLUSTER);
  expect(await presentedNames(CLUSTER)).not.toContain(`DNS:${CLUSTER}`);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Certificates' }).click();
  await expect(page).toHaveURL(`${ORIGIN}/certificates`);
  await expect(row(page, 'Pharos Web Root CA')).toHaveCount(1);

  // a root of our own, checked as it is typed
  await page.locator('#generate-days').fill('0');
  await expect(page.locator('#generate-days-error')).toContainText('between 1 and');
  await page.locator('#generate-days').fill('3650');
  await page.locator('#generate-name').fill('E2E Root');
  await page.getByRole('button', { name: 'Generate CA' }).click();
  const root = row(page, 'E2E Root');
  await expect(root).toHaveCount(1);
  await expect(root).toContainText('root CA');
  await expect(root).toContainText('key present');

  // one certificate for all servers, signed by the root the browser trusts
  const trusted = await row(page, 'Pharos Web Root CA').getAttribute('data-fingerprint');
  await page.locator('#signed-issuer').selectOption(trusted!);
  await expect(page.locator('#signed-servers')).toHaveValue('all');
  const names = page.getByTestId('hostnames');
  await expect(names).toContainText(CLUSTER);
  await expect(names).toContainText('localhost');
  await page.locator('#signed-new-hostname').fill('a..b');
  await expect(page.locator('#signed-new-hostname-error')).toContainText('empty name part');
  await page.locator('#signed-new-hostname').fill('extra.pharos.test');
  await page.locator('#signed-new-hostname').press('Enter');
  await expect(names).toContainText('extra.pharos.test');
  await page.getByRole('button', { name: 'Remove extra.pharos.test' }).click();
  await expect(names).not.toContainText('extra.pharos.test');
  await page.getByRole('button', { name: 'Create certificate' }).click();
  await expect(page.locator('form.signed')).toContainText('was created');
  const leaf = rows(page).filter({ hasText: CLUSTER }).filter({ hasText: 'issued by Pharos Web Root CA' });
  await expect(leaf).toHaveCount(1);
  await expect(leaf.locator('td.assigned')).toHaveText('—');

  // assigned to all servers
  await leaf.getByRole('button', { name: /^Assign / }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog.locator('#assign-servers')).toHaveValue('all');
  await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
  await expect(dialog).toHaveCount(0);
  await expect(leaf.locator('td.assigned')).toHaveText('all servers');
  // new connections get it, and it chains to the root the browser trusts
  await expect(async () => {
    expect(await presentedNames(CLUSTER)).toContain(`DNS:${CLUSTER}`);
  }).toPass({ timeout: 5_000 });

  // the check on the settings page is green (a new page load: a new connection, trusted)
  await page.goto(`${ORIGIN}/settings/network`);
  await expect(page.locator('#main')).toHaveAttribute('data-hydrated', 'true');
  await expect(checkState(page)).toHaveAttribute('data-state', 'ok');
  await expect(checkState(page)).toContainText('Every server presents one certificate with all names');

  // another cluster address: the open page sees the check fail, and the one-click fix mends it
  await setClusterAddress('lb2.pharos.test');
  await expect(checkState(page)).toHaveAttribute('data-state', 'failing');
  await expect(checkState(page)).toContainText('lb2.pharos.test');
  await page.getByTestId('certificate-fix').click();
  await expect(checkState(page)).toHaveAttribute('data-state', 'ok');
  await expect(async () => {
    expect(await presentedNames('lb2.pharos.test')).toContain('DNS:lb2.pharos.test');
  }).toPass({ timeout: 5_000 });

  // the device CA's chain, for a reverse proxy
  const download = page.waitForEvent('download');
  await page.getByTestId('client-chain').click();
  const file = await (await download).path();
  const chain = readFileSync(file, 'utf8');
  expect(chain).toMatch(/^-----BEGIN CERTIFICATE-----/);
  expect(chain).toContain('-----END CERTIFICATE-----');
  expect(chain).not.toContain(caPem.trim()); // not the web root: the device CA

  expect(errors).toEqual([]);
  await context.close();
});

test('refusals are shown with the server’s reason; exports download', async () => {
  const context = await browser.newContext();
  const page = await openSignedIn(context, '/certificates');
  const errors = watchErrors(page, [409, 422]);

  // the web root issued the certificates in use: not deleted, and why
  const root = row(page, 'Pharos Web Root CA');
  await root.getByRole('button', { name: 'Delete Pharos Web Root CA' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.locator('.notice-area').first()).toContainText('was not deleted');

  // a renewal keeps the names; the new certificate is presented where the old one was
  const current = row(page, 'lb2.pharos.test');
  await expect(current).toHaveCount(1);
  const before = await current.getAttribute('data-fingerprint');
  await current.getByRole('button', { name: 'Renew lb2.pharos.test' }).click();
  await expect(page.locator('.notice-area').first()).toContainText('was renewed with the same names');
  await expect(current).toHaveCount(2);
  const renewed = page
    .locator(`[data-testid=certificates] tbody tr:not([data-fingerprint="${before}"])`)
    .filter({ has: page.locator('span.subject').getByText('lb2.pharos.test', { exact: true }) });
  await expect(renewed.locator('td.assigned')).toHaveText('all servers');
  await expect(renewed.locator('ul.sans')).toContainText('lb2.pharos.test');

  // an import the server refuses says why
  await page.locator('#import-cert').fill('-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
  await page.getByRole('button', { name: 'Import PEM' }).click();
  await expect(page.locator('form.import-pem')).toContainText('was not imported');

  // PEM of the root, and its PKCS#12 with a password checked as it is typed
  const pem = page.waitForEvent('download');
  await root.getByRole('link', { name: 'Pharos Web Root CA: PEM' }).click();
  expect(readFileSync(await (await pem).path(), 'utf8')).toBe(caPem);
  await root.getByRole('button', { name: /PKCS#12/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('#p12-password').fill('short');
  await expect(dialog.locator('#p12-password-error')).toContainText('at least 8');
  await dialog.locator('#p12-password').fill('a long enough password');
  const p12 = page.waitForEvent('download');
  await dialog.getByRole('button', { name: 'Export PKCS#12' }).click();
  const p12File = await (await p12).path();
  expect(readFileSync(p12File).length).toBeGreaterThan(100);
  expect(
    execFileSync('openssl', ['pkcs12', '-in', p12File, '-nokeys', '-passin', 'pass:a long enough password'], {
      encoding: 'utf8',
    }),
  ).toContain('BEGIN CERTIFICATE');


  // the file read in the browser and sent back: the server knows it already, and says so
  const listed = await rows(page).count();
  await page.locator('#import-p12').setInputFiles(p12File);
  await page.locator('#import-p12-password').fill('a long enough password');
  await page.getByRole('button', { name: 'Import PKCS#12' }).click();
  await expect(page.locator('form.import-p12')).toContainText('The PKCS#12 file was not imported:');
  await expect(page.locator('form.import-p12')).toContainText('is in the list already');
  await expect(rows(page)).toHaveCount(listed);

  expect(errors).toEqual([]);
  await context.close();
});

test('the certificates page is rendered on the server (no JavaScript)', async ({ browser: plain }) => {
  // on the suite's plain-HTTP server: its certificates exist too
  const context = await plain.newContext({ javaScriptEnabled: false });
  await signIn(context);
  const page = await context.newPage();
  await page.goto('/certificates');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Certificates');
  await expect(row(page, 'Pharos Web Root CA')).toHaveCount(1);
  await expect(rows(page).filter({ hasText: 'localhost' }).first()).toContainText('days left');
  await expect(page.getByRole('heading', { name: 'Create signed certificate' })).toBeVisible();
  await expect(page.getByTestId('hostnames')).toContainText('localhost');
  await context.close();
});
