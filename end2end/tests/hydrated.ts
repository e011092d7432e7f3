import { expect, Page } from '@playwright/test';

/** Opens `path` and waits until the page is hydrated (its WebAssembly loaded and running). */
export async function open(page: Page, path: string) {
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm') && r.ok());
  await page.goto(path);
  await wasm;
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}
