import { Page } from '@playwright/test';

/** Collects every uncaught error and console error of the page, except the HTTP statuses a test
 * expects; a test fails when the list is not empty at its end. */
export function watchErrors(page: Page, allowedStatuses: number[] = []) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (allowedStatuses.some((s) => text.includes(`status of ${s}`))) return;
    errors.push(`console: ${text}`);
  });
  return errors;
}
