import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBlueprint } from './blueprint.js';
import { expectValidationError, rejection, temporaryDirectory } from './test-helpers.js';
import { openValidatedDocuments } from './validated-documents.js';

const MANIFEST = `
[package]
name = "memo"

[blueprint]
command = ["node", "server.js"]
port = 8080
health = "/health"
env = { GREETING = "hi" }

[blueprint.resources]
min_cpu = 1
min_memory_gb = 1
min_storage_gb = 1
`;

async function blueprintDir(text: string): Promise<string> {
  const dir = join(await temporaryDirectory(), 'service');
  await mkdir(dir);
  await writeFile(join(dir, 'Blueprint.toml'), text);
  return dir;
}

describe('validated documents', () => {
  it('returns a remembered result only for the same key, text and code', async () => {
    const file = join(await temporaryDirectory(), 'cache', 'memo.json');
    const first = openValidatedDocuments(file, 'code-1');
    first.set('/a/Blueprint.toml', 'text', { port: 1 });
    const again = openValidatedDocuments(file, 'code-1');
    expect(again.get('/a/Blueprint.toml', 'text')).toEqual({ port: 1 });
    expect(again.get('/a/Blueprint.toml', 'other text')).toBeUndefined();
    expect(again.get('/b/Blueprint.toml', 'text')).toBeUndefined();
    expect(openValidatedDocuments(file, 'code-2').get('/a/Blueprint.toml', 'text')).toBeUndefined();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('treats a damaged file as empty and keeps at most 32 documents', async () => {
    const file = join(await temporaryDirectory(), 'memo.json');
    writeFileSync(file, '{"entries": [not json');
    const memo = openValidatedDocuments(file, 'code');
    expect(memo.get('/a', 'text')).toBeUndefined();
    for (let index = 0; index < 40; index++) memo.set(`/file-${index}`, 'text', index);
    const { entries } = JSON.parse(readFileSync(file, 'utf8')) as { entries: { key: string }[] };
    expect(entries).toHaveLength(32);
    expect(entries[0]!.key).toBe('/file-39');
    expect(openValidatedDocuments(file, 'code').get('/file-0', 'text')).toBeUndefined();
    expect(openValidatedDocuments(file, 'code').get('/file-39', 'text')).toBe(39);
  });

  it('gives loadBlueprint the same blueprint without validating the same text again', async () => {
    const dir = await blueprintDir(MANIFEST);
    const file = join(await temporaryDirectory(), 'memo.json');
    const fresh = await loadBlueprint(dir);
    const first = await loadBlueprint(dir, { documents: openValidatedDocuments(file, 'code') });
    expect(first).toEqual(fresh);
    // A remembered entry is what is returned: planting a marker in the memo proves no parse happened.
    const memo = JSON.parse(readFileSync(file, 'utf8')) as { entries: { value: { port: number } }[] };
    memo.entries[0]!.value.port = 9999;
    writeFileSync(file, JSON.stringify(memo));
    const remembered = await loadBlueprint(dir, { documents: openValidatedDocuments(file, 'code') });
    expect(remembered.port).toBe(9999);
  });

  it('validates a changed or invalid manifest in full and never remembers a refusal', async () => {
    const dir = await blueprintDir(MANIFEST);
    const file = join(await temporaryDirectory(), 'memo.json');
    await loadBlueprint(dir, { documents: openValidatedDocuments(file, 'code') });
    await writeFile(join(dir, 'Blueprint.toml'), MANIFEST.replace('port = 8080', 'port = 8081'));
    expect((await loadBlueprint(dir, { documents: openValidatedDocuments(file, 'code') })).port).toBe(8081);
    await writeFile(join(dir, 'Blueprint.toml'), MANIFEST.replace('port = 8080', 'port = 0'));
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await rejection(loadBlueprint(dir, { documents: openValidatedDocuments(file, 'code') }));
      expectValidationError(error, {
        file: join(dir, 'Blueprint.toml'),
        path: 'blueprint.port',
        reason: /1 to 65535/,
      });
    }
    const { entries } = JSON.parse(readFileSync(file, 'utf8')) as { entries: { text: string }[] };
    expect(entries.some((entry) => entry.text.includes('port = 0'))).toBe(false);
  });
});
