import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The server under test: a fresh data directory (embedded SQLite) on its own port.
const port = Number(process.env.E2E_PHAROS_PORT ?? 8181);
const binary = process.env.E2E_PHAROS_BIN ?? 'target/debug/pharos';
const dataDir = process.env.E2E_PHAROS_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'pharos-e2e-'));
process.env.E2E_PHAROS_DATA_DIR = dataDir; // workers re-read this file: keep one directory

// Two more servers share one PostgreSQL database (a fresh one per run) for the multi-server
// tests. Without a reachable PostgreSQL the run fails: it is never skipped.
export const PG_PORTS = [port + 1, port + 2];
/** A port for a server a test starts and stops itself. */
export const SPARE_PORT = port + 3;
/** A second one, for a test with two servers of its own. */
export const SPARE_PORT_2 = port + 4;
export const PHAROS_BIN = binary;
/** The superuser `admin`'s password: every server makes the account with it at its first start. */
export const ADMIN_PASSWORD = 'e2e-superuser-2026';
/** UDP ports of the device simulator the discovery tests start: the devices, and Wake-on-LAN. */
export const DEVICE_PORT = port + 10;
export const WOL_PORT = port + 11;
/** The reverse-proxy spec's own HTTPS server and its nginx's web, device and enrollment
 * listeners. */
export const REVERSE_PROXY_PORTS = [port + 20, port + 21, port + 22, port + 23];
const adminUrl = process.env.PHAROS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Runs SQL on the PostgreSQL server as its administrator (databases are made and dropped so). */
export const psql = (sql: string) => execFileSync('psql', [adminUrl, '-qtAc', sql], { stdio: 'pipe' });
/** The URL of a database on that server. */
export const pgDatabaseUrl = (name: string) => adminUrl.replace(/\/[^/]*$/, `/${name}`);
const freshDatabase = !process.env.E2E_PHAROS_PG_URL;
if (freshDatabase) {
  const name = `pharos_e2e_${process.pid}`;
  psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  psql(`CREATE DATABASE ${name}`);
  process.env.E2E_PHAROS_PG_URL = pgDatabaseUrl(name);
  process.env.E2E_PHAROS_PG_NAME = name;
}
const pgUrl = process.env.E2E_PHAROS_PG_URL!;
// Servers sharing a database seal their private keys with one key (workers re-read this file:
// one key per run).
process.env.E2E_PHAROS_SECRET_KEY ??= randomBytes(32).toString('base64');
/** The key every server of the shared PostgreSQL database seals private keys with. */
export const PG_SECRET_KEY = process.env.E2E_PHAROS_SECRET_KEY;

/** One `pharos` process on its own port and data directory; `env` adds to its configuration.
 * They serve plain HTTP (as behind a TLS-terminating proxy); the certificates spec starts an
 * HTTPS server of its own. */
const pharos = (p: number, name: string, env: Record<string, string> = {}) => ({
  command: binary,
  cwd: '..',
  url: `http://127.0.0.1:${p}/healthz`,
  reuseExistingServer: false,
  timeout: 60_000,
  env: {
    PHAROS_LISTEN: `127.0.0.1:${p}`,
    PHAROS_DATA_DIR: join(dataDir, name),
    PHAROS_SERVER_NAME: name,
    RUST_LOG: 'warn',
    PHAROS_ADMIN_PASSWORD: ADMIN_PASSWORD,
    PHAROS_TLS: 'off',
    ...env,
  },
});
// Discovery never sends a datagram off this machine: every socket on loopback, the device port
// the simulator's, broadcasts (scans, Wake-on-LAN) to the loopback network's broadcast address.
const e2eEnv = {
  PHAROS_UDP_BIND: '127.0.0.1',
  PHAROS_DEVICE_PORT: String(DEVICE_PORT),
  PHAROS_WAKE_ON_LAN_ADDRESS: '127.255.255.255',
  PHAROS_WAKE_ON_LAN_PORT: String(WOL_PORT),
  PHAROS_SCAN_SEND_RATE: '0',
  PHAROS_ONLINE_CHECK_INTERVAL_SECS: '1',
};
// Settings reach the other server through the change bus (the poll is only a slow safety net).
// A server killed without a word counts as gone after the heartbeat timeout: a short one keeps
// the test of it quick.
export const PG_ENV = {
  PHAROS_DATABASE_URL: pgUrl,
  PHAROS_SECRET_KEY: PG_SECRET_KEY!,
  PHAROS_HEARTBEAT_INTERVAL_SECS: '1',
  PHAROS_HEARTBEAT_TIMEOUT_SECS: '5',
  PHAROS_UDP_BIND: '127.0.0.1',
  PHAROS_DEVICE_PORT: String(port + 12),
  PHAROS_WAKE_ON_LAN_ADDRESS: '127.255.255.255',
};
const pgA = pharos(PG_PORTS[0], 'pg-a', PG_ENV);
const pgB = pharos(PG_PORTS[1], 'pg-b', PG_ENV);
// pg-a and pg-b exchange changes only in distributed mode, a stored setting each reads at start:
// on a fresh database, pg-a starts once alone to store it, before Playwright starts them both.
if (freshDatabase) {
  execFileSync(
    process.execPath,
    [join(__dirname, 'seed-distributed.mjs'), binary, join(__dirname, '..'), JSON.stringify(pgA.env)],
    { stdio: 'inherit' },
  );
}

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
  globalTeardown: './teardown.ts',
  webServer: [
    pharos(port, 'e2e', e2eEnv),
    pgA,
    pgB,
  ],
});
