/**
 * A module hook for footprint tests (`node --import ./test/unit/record-modules.ts …`): records the URL of every
 * module the process loads, ESM and CommonJS alike, and writes them one a line to $KUBEKMS_RECORD_MODULES when the
 * process exits, followed by Node's own internal modules (`process.moduleLoadList`, lines `NativeModule …`), which
 * no hook sees. Test-only; nothing in src/ knows about it.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.KUBEKMS_RECORD_MODULES;
const loaded = new Set<string>();
if (out) {
  registerHooks({
    load(url, context, nextLoad) {
      loaded.add(url);
      return nextLoad(url, context);
    },
  });
  process.on('exit', () => {
    const internal = (process as unknown as { moduleLoadList: readonly string[] }).moduleLoadList;
    writeFileSync(out, [...loaded, ...internal.filter((m) => m.startsWith('NativeModule '))].join('\n'));
  });
}
