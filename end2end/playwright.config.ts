import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The server under test: a fresh data directory (embedded SQLite) on its own port.
const port = Number(process.env.E2E_PHAROS_PORT ?? 8181);
const binary = process.env.E2E_PHAROS_BIN ?? 'target/debug/pharos';
const dataDir = process.env.E2E_PHAROS_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'pharos-e2e-'));
process.env.E2E_PHAROS_DATA_DIR = dataDir; // workers re-read this file: keep one directory

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    viewport: { width: 1366, height: 768 },
  },
  webServer: {
    command: `${binary}`,
    cwd: '..',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      PHAROS_LISTEN: `127.0.0.1:${port}`,
      PHAROS_DATA_DIR: dataDir,
      PHAROS_SERVER_NAME: 'e2e',
      RUST_LOG: 'warn',
    },
  },
});
