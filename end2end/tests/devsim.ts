import { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

// The device simulator (`pharos-devsim`) as the discovery and dashboard specs start it.

/** Resolves once the simulator says it listens; fails if it exits first. */
export async function ready(child: ChildProcess) {
  const lines = createInterface({ input: child.stdout! });
  const seen = (async () => {
    for await (const line of lines) {
      if (line.startsWith('ready ')) return;
    }
    throw new Error('the device simulator exited before it was ready');
  })();
  const late = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('the device simulator did not get ready in 30 s')), 30_000).unref(),
  );
  await Promise.race([seen, late]);
  child.stdout!.resume(); // its counters at exit go nowhere, and never block it
}
