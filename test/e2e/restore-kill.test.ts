/**
 * `kubekms restore --shared-state` killed with SIGKILL half way, against a real kube-apiserver 1.36 and etcd
 * (ADR 0020): it leaves some of the backup's KmsStateRecords, and the same command run again keeps them and writes
 * the rest, so the namespace ends holding exactly the backup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackup } from '../../src/keystore/backup.ts';
import { FileKeyStore } from '../../src/keystore/file-keystore.ts';
import { alias, minimalKey } from '../../src/keystore/testdata/sample-records.ts';
import { FileRootKey } from '../../src/rootkey/file-root-key.ts';
import { createRunDir, run, startApiserver, startEtcd } from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN, stopsAfterAll } from './lifecycle.ts';
import { waitFor } from './secrets.ts';
import { prepareSharedState } from './shared-state.ts';

keepLogsOnFailure();

const KEYS = 150;
const RECORDS = 2 * KEYS; // a key and an alias each
const stops = stopsAfterAll();

describe('restore --shared-state killed half way', () => {
  it('leaves a subset of the backup that the same restore finishes', async () => {
    const dir = createRunDir('kubekms-rk-');
    const etcd = await startEtcd(dir);
    stops.push(() => etcd.stop());
    const api = await startApiserver({ dir, etcd });
    stops.push(() => api.stop());
    await prepareSharedState(api);

    const rootKeyFile = join(dir, 'root.key');
    const rootKey = await FileRootKey.create(rootKeyFile);
    const store = new FileKeyStore({ dataDir: join(dir, 'data'), rootKey });
    await store.open();
    const keys = await Promise.all(Array.from({ length: KEYS }, () => minimalKey(rootKey, randomUUID())));
    await store.commit({ putKeys: keys, putAliases: keys.map((k, i) => alias(`alias/app-${i}`, k.keyId)) });
    await store.close();
    const backup = join(dir, 'backup.json');
    writeFileSync(backup, (await createBackup({ dataDir: join(dir, 'data'), rootKey })).text);

    const args = [
      ...[MAIN, 'restore', backup, '--shared-state', '--namespace', 'kubekms'],
      ...['--kubeconfig', api.kubeconfigPath, '--root-key-file', rootKeyFile],
    ];
    const count = async (): Promise<number> => {
      const r = await api.request('/apis/kubekms.io/v1alpha1/namespaces/kubekms/kmsstaterecords');
      return (JSON.parse(r.body) as { items: unknown[] }).items.length;
    };
    const child: ChildProcess = spawn(process.execPath, args, { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) =>
      child.once('exit', (_code, signal) => r(signal)),
    );
    await waitFor('the first records', async () => ((await count()) >= 10 ? true : undefined), 120_000, 50);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const left = await count();
    console.info(`restore killed with ${left} of ${RECORDS} records written`);
    expect(left).toBeGreaterThanOrEqual(10);
    expect(left, 'killed before it finished').toBeLessThan(RECORDS);

    const out = (await run(process.execPath, args, { timeoutMs: 180_000 })).stdout.toString('utf8');
    const m = /; (\d+) records created \((\d+) already there from an interrupted restore\)\n$/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(RECORDS);
    expect(Number(m![2])).toBe(left);
    expect(await count()).toBe(RECORDS);
    // Run once more: nothing left to write.
    expect((await run(process.execPath, args)).stdout.toString('utf8')).toMatch(
      new RegExp(`; 0 records created \\(${RECORDS} already there from an interrupted restore\\)\\n$`),
    );
  }, 400_000);
});
