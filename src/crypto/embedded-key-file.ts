import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { DATA_KEY_LENGTH } from './envelope.js';
import { InvalidKeyFileError } from './errors.js';

/** File name of the generated key inside the data directory. */
export const EMBEDDED_KEY_FILE_NAME = 'encryption-key';

// One line in the form of a KEYRING_KEYS entry, so that the line can be moved into that variable.
const keyFileLinePattern = /^([A-Za-z0-9._-]{1,64}):([A-Za-z0-9+/]{43}=)$/;

export interface EmbeddedKey {
  keyId: string;
  /** The key bytes. The caller zeroes them after use. */
  key: Buffer;
  path: string;
  /** True when this call generated the key, false when it read an existing file. */
  generated: boolean;
  /** Permission bits of the file, such as 0o600. */
  mode: number;
}

/**
 * Reads the local key from the data directory, or generates it there on first start.
 *
 * The key is written to a temporary file with mode 0600 and then hard-linked to its final name.
 * link(2) fails with EEXIST when the name exists, so of two processes starting at once exactly one
 * creates the key, and the other never reads a partly written file: it finds EEXIST and reads the
 * winner's key instead.
 */
export async function loadOrCreateEmbeddedKey(dataDirectory: string): Promise<EmbeddedKey> {
  const keyPath = path.resolve(dataDirectory, EMBEDDED_KEY_FILE_NAME);
  const existing = await readKeyFile(keyPath);
  if (existing !== undefined) return existing;

  await mkdir(path.dirname(keyPath), { recursive: true, mode: 0o700 });
  const keyId = `local-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
  const key = randomBytes(DATA_KEY_LENGTH);
  const temporaryPath = `${keyPath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

  try {
    const handle = await open(temporaryPath, 'wx', 0o600);
    try {
      // The mode argument of open() is reduced by the umask; chmod sets exactly 0600.
      await handle.chmod(0o600);
      await handle.writeFile(`${keyId}:${key.toString('base64')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }

    try {
      await link(temporaryPath, keyPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      key.fill(0);
      const winner = await readKeyFile(keyPath);
      if (winner === undefined) throw new InvalidKeyFileError(keyPath, 'the file disappeared while it was read');
      return winner;
    }
  } finally {
    await unlink(temporaryPath).catch(() => undefined);
  }

  return { keyId, key, path: keyPath, generated: true, mode: 0o600 };
}

/** Returns the key in the file, or undefined when the file does not exist. */
async function readKeyFile(keyPath: string): Promise<EmbeddedKey | undefined> {
  let content: Buffer;
  try {
    content = await readFile(keyPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }

  try {
    const match = keyFileLinePattern.exec(content.toString('utf8').trim());
    if (match === null) {
      throw new InvalidKeyFileError(keyPath, `expected one line "id:base64" with a ${DATA_KEY_LENGTH}-byte key`);
    }
    const [, keyId, encodedKey] = match as unknown as [string, string, string];
    const key = Buffer.from(encodedKey, 'base64');
    if (key.length !== DATA_KEY_LENGTH) {
      key.fill(0);
      throw new InvalidKeyFileError(keyPath, `the key is ${key.length} bytes, not ${DATA_KEY_LENGTH}`);
    }
    const { mode } = await stat(keyPath);
    return { keyId, key, path: keyPath, generated: false, mode: mode & 0o777 };
  } finally {
    content.fill(0);
  }
}
