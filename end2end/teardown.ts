import { execFileSync } from 'node:child_process';

// Drops the PostgreSQL database the configuration made for this run.
export default async function teardown() {
  const name = process.env.E2E_PHAROS_PG_NAME;
  if (!name) return;
  const adminUrl = process.env.PHAROS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  execFileSync('psql', [adminUrl, '-qtAc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'pipe' });
}
