import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile, checkRepository, REPO_ROOT, rulesTable, type Violation } from './architecture-rules.ts';

const describeViolation = (v: Violation): string => `${v.file} -> ${v.specifier}: ${v.rule}`;

describe('architecture: imports stay inside the allowed rooms (docs/architecture.md)', () => {
  const repo = checkRepository(REPO_ROOT);

  it('reads the whole of src/', () => {
    expect(repo.files).toBeGreaterThan(150);
    expect(repo.imports).toBeGreaterThan(600);
  });

  it('finds no import across a forbidden boundary', () => {
    expect(repo.violations.map(describeViolation)).toEqual([]);
  });

  it('is the table docs/architecture.md shows', () => {
    expect(readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8')).toContain(rulesTable());
  });
});

describe('architecture check on planted violations', () => {
  const rules = (file: string, source: string) => checkFile(file, source).map((v) => v.rule);

  it('catches the engine doing I/O, using a package, or importing any other room', () => {
    expect(rules('src/engine/x.ts', "import { readFile } from 'node:fs/promises';")).toEqual([
      'engine imports I/O',
    ]);
    expect(rules('src/engine/x.ts', "import { credentials } from '@grpc/grpc-js';")).toEqual([
      'engine imports a package',
    ]);
    expect(rules('src/engine/x.ts', "import type { KubeClient } from '../kube/client.ts';")).toEqual([
      'engine may not import kube',
    ]);
    expect(rules('src/engine/x.ts', "import { x } from '../operator/operator.ts';")).toEqual([
      'engine may not import operator',
    ]);
    expect(
      rules('src/engine/x.ts', "import { randomBytes } from 'node:crypto';\nimport { a } from './b.ts';"),
    ).toEqual([]);
  });

  it('catches operator ↔ ha in both directions, whatever the import form', () => {
    expect(rules('src/operator/x.ts', "import { SharedState } from '../ha/shared-state.ts';")).toEqual([
      'adapter operator imports adapter ha',
    ]);
    expect(rules('src/ha/x.ts', "export { Operator } from '../operator/operator.ts';")).toEqual([
      'adapter ha imports adapter operator',
    ]);
    expect(rules('src/ha/sub/x.ts', "const m = await import('../../operator/operator.ts');")).toEqual([
      'adapter ha imports adapter operator',
    ]);
  });

  it('catches adapters importing each other, the cli, or the Kubernetes client outside kube/', () => {
    expect(
      rules('src/aws/cluster/x.ts', "import { aliasHolder } from '../../operator/alias-decisions.ts';"),
    ).toEqual(['adapter aws imports adapter operator']);
    expect(rules('src/doctor/x.ts', "import { loadKmsV2Service } from '../kmsv2/proto.ts';")).toEqual([
      'adapter doctor imports adapter kmsv2',
    ]);
    expect(rules('src/aws/x.ts', "import { UsageError } from '../cli/flags.ts';")).toEqual([
      'aws may not import cli',
    ]);
    expect(rules('src/ha/x.ts', "import { KubeConfig } from '@kubernetes/client-node';")).toEqual([
      '@kubernetes/client-node is imported only in kube/',
    ]);
    expect(rules('src/kube/x.ts', "import { KubeConfig } from '@kubernetes/client-node';")).toEqual([]);
  });

  it('keeps node:sqlite inside the one file that wraps it', () => {
    expect(rules('src/keystore/sqlite-keystore.ts', "import { DatabaseSync } from 'node:sqlite';")).toEqual([
      'node:sqlite is imported only in src/keystore/sqlite-db.ts',
    ]);
    expect(rules('src/keystore/sqlite-db.ts', "import { DatabaseSync } from 'node:sqlite';")).toEqual([]);
  });

  it('keeps kube/ and api/ below the adapters', () => {
    expect(rules('src/kube/x.ts', "import type { KmsKey } from '../api/kinds.ts';")).toEqual([
      'kube may not import api',
    ]);
    expect(rules('src/api/x.ts', "import { x } from '../operator/context.ts';")).toEqual([
      'api may not import operator',
    ]);
  });

  it('lets the composition root and tests import anything', () => {
    const all =
      "import '../kmsv2/server.ts';\nimport '../operator/operator.ts';\nimport '../ha/shared-state.ts';";
    expect(rules('src/cli/x.ts', all)).toEqual([]);
    expect(rules('src/operator/x.test.ts', "import '../ha/shared-state.ts';")).toEqual([]);
  });
});
