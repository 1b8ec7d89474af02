import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A memo of documents that passed validation: reading the very same text again, with the same validating
 * code, returns the earlier result without loading the TOML parser or zod (about 15 ms of every `bp deploy`).
 * Only successes are remembered, so an invalid document is always checked and reported in full.
 */
export interface ValidatedDocuments {
  /** The value remembered for `key` (an absolute file path) when its text was exactly `text`. */
  get(key: string, text: string): unknown;
  /** Remembers `value`, the result of validating `text` read from `key`. Never throws. */
  set(key: string, text: string, value: unknown): void;
}

interface Entry {
  key: string;
  code: string;
  text: string;
  value: unknown;
}

/** The most documents remembered; the least recently validated go first. */
const MAX_ENTRIES = 32;

/**
 * Opens the memo kept in `file` (one small JSON file, written 0600 by an atomic rename; a missing or
 * damaged file is an empty memo). `code` identifies the caller's validating code: an entry made by
 * other code (another bp build) is never returned.
 */
export function openValidatedDocuments(file: string, code: string): ValidatedDocuments {
  const identity = `${code}|${ownIdentity()}`;
  let entries: Entry[] | undefined;
  const load = (): Entry[] => {
    if (entries) return entries;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { entries?: unknown };
      entries = Array.isArray(parsed.entries) ? (parsed.entries as Entry[]) : [];
    } catch {
      entries = [];
    }
    return entries;
  };
  return {
    get(key, text) {
      const found = load().find(
        (entry) => entry.key === key && entry.code === identity && entry.text === text,
      );
      return found?.value;
    },
    set(key, text, value) {
      const kept = load().filter((entry) => entry.key !== key && entry.code === identity);
      entries = [{ key, code: identity, text, value }, ...kept].slice(0, MAX_ENTRIES);
      const temporary = `${file}.${process.pid}.${Date.now().toString(36)}`;
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(temporary, JSON.stringify({ entries }), { mode: 0o600 });
        renameSync(temporary, file);
      } catch {
        // A memo that cannot be written only costs the next read its validation.
      }
    },
  };
}

/** Identifies a module's code by its file's path and modification time (a rebuild or an upgrade changes it). */
export function moduleIdentity(moduleUrl: string): string {
  try {
    const path = fileURLToPath(moduleUrl);
    return `${path}@${statSync(path).mtimeMs}`;
  } catch {
    return `${moduleUrl}@${Date.now()}`;
  }
}

let own: string | undefined;
function ownIdentity(): string {
  own ??= moduleIdentity(import.meta.url);
  return own;
}
