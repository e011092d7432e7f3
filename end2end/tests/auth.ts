import { test as base, expect, APIRequestContext, BrowserContext, Page, PlaywrightWorkerArgs } from '@playwright/test';
import { ADMIN_PASSWORD } from '../playwright.config';

// Every page and API route needs a signed-in administrator. Browsers sign in with a session
// cookie (per host, not per port: signing in to one of the servers on 127.0.0.1 replaces the
// session of another), scripts send an API token.

export const ADMIN = { username: 'admin', password: ADMIN_PASSWORD };

type Credentials = { username: string; password: string };

/** Signs the page's (or context's) browser context in to the server at `base` (the configured
 * one when empty): its session cookies are stored in the context. */
export async function signIn(target: Page | BrowserContext, base = '', who: Credentials = ADMIN) {
  const reply = await target.request.post(`${base}/api/v1/auth/login`, { data: who });
  expect(reply.status(), await reply.text()).toBe(200);
}

/** An API client of the server at `baseURL`, signed in as `who` with a new API token.
 * `ignoreHTTPSErrors` for a server whose generated root the script does not know. */
export async function apiClient(
  playwright: PlaywrightWorkerArgs['playwright'],
  baseURL: string,
  who: Credentials = ADMIN,
  ignoreHTTPSErrors = false,
) {
  const basic = Buffer.from(`${who.username}:${who.password}`).toString('base64');
  const bootstrap = await playwright.request.newContext({ baseURL, ignoreHTTPSErrors });
  const reply = await bootstrap.post('/api/v1/auth/tokens', {
    data: { name: 'end2end' },
    headers: { Authorization: `Basic ${basic}` },
  });
  expect(reply.status(), await reply.text()).toBe(201);
  const { token } = await reply.json();
  await bootstrap.dispose();
  return playwright.request.newContext({
    baseURL,
    ignoreHTTPSErrors,
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
}

/** Playwright's test, whose `request` is the superuser's API client of the configured server. */
export const test = base.extend<{}, { adminApi: APIRequestContext }>({
  adminApi: [
    async ({ playwright }, use, workerInfo) => {
      const api = await apiClient(playwright, workerInfo.project.use.baseURL!);
      await use(api);
      await api.dispose();
    },
    { scope: 'worker' },
  ],
  request: async ({ adminApi }, use) => {
    await use(adminApi);
  },
});

export { expect };
