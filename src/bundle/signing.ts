// Ed25519 keys and detached manifest signatures (node:crypto): `keygen` writes the pair as PEM files, export
// signs the manifest's canonical bytes with `bundle_private_key`, import checks them with `bundle_public_key`.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from '../errors.js';
import { ensureDir, FILE_MODE } from '../util/fs.js';

const PRIVATE_KEY_FILE = 'bundle.key';
const PUBLIC_KEY_FILE = 'bundle.pub';

/** Writes a new Ed25519 pair into `dir`: `bundle.key` (PKCS#8 PEM, 0600) and `bundle.pub` (SPKI PEM, 0644). */
export async function generateKeys(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await ensureDir(dir);
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  // 'wx': an existing key is never overwritten (the inside trusts it).
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  await writeFile(privatePath, pem, { mode: 0o600, flag: 'wx' }).catch((err: unknown) => {
    throw keyExists(privatePath, err);
  });
  await chmod(privatePath, 0o600);
  await writeFile(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), {
    mode: FILE_MODE,
    flag: 'wx',
  }).catch((err: unknown) => {
    throw keyExists(publicPath, err);
  });
  await chmod(publicPath, FILE_MODE);
  return { privateKey: privatePath, publicKey: publicPath };
}

function keyExists(path: string, err: unknown): Error {
  const code = (err as { code?: unknown }).code;
  if (code !== 'EEXIST') return err as Error;
  return new BundleError('BUNDLE_KEY', `${path} exists; keygen never overwrites a key (remove it first)`);
}

async function readKey(path: string | null, kind: 'private' | 'public', key: string): Promise<KeyObject> {
  if (path === null)
    throw new BundleError('BUNDLE_KEY', `${key} is not set in the config: export and import need it`);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new BundleError('BUNDLE_KEY', `${key} = ${path}: ${(err as Error).message}`, { cause: err });
  }
  let object: KeyObject;
  try {
    object = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new BundleError('BUNDLE_KEY', `${key} = ${path}: not a PEM ${kind} key`, { cause: err });
  }
  if (object.asymmetricKeyType !== 'ed25519') {
    throw new BundleError(
      'BUNDLE_KEY',
      `${key} = ${path}: a ${object.asymmetricKeyType} key; expected Ed25519`,
    );
  }
  return object;
}

export const readPrivateKey = (path: string | null): Promise<KeyObject> =>
  readKey(path, 'private', 'bundle_private_key');
export const readPublicKey = (path: string | null): Promise<KeyObject> =>
  readKey(path, 'public', 'bundle_public_key');

/** The detached signature of `bytes`, base64 with a newline (the `.manifest.sig` file). */
export function signBytes(bytes: Buffer, key: KeyObject): string {
  return `${sign(null, bytes, key).toString('base64')}\n`;
}

/** Does `signature` (the `.manifest.sig` text) sign `bytes` under `key`? */
export function isSignatureValid(bytes: Buffer, signature: string, key: KeyObject): boolean {
  const raw = Buffer.from(signature.trim(), 'base64');
  return raw.length === 64 && verify(null, bytes, key, raw);
}
