// The CA certificates trusted for the upstream: Node's own roots, NODE_EXTRA_CA_CERTS, and `ca_file` (a
// corporate CA). Node drops NODE_EXTRA_CA_CERTS as soon as a `ca` list is given, so that list names all three.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Node's root certificates, from node:tls, loaded only when a CA file is set: loading it costs every start
 * (`check`, and a sync from an http:// upstream, which never needs TLS) a few ms of CPU (issue #14 part 3).
 */
function rootCertificates(): readonly string[] {
  const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  return tls.rootCertificates;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Reading or checking a CA file failed; the message says what is wrong, for a person (no path in it). */
export class CaFileError extends Error {}

/**
 * The PEM certificates of the CA file at `path`, each checked to parse. Throws CaFileError when the file
 * cannot be read, holds no `-----BEGIN CERTIFICATE-----` block, or holds one that is not a certificate.
 */
export function readCaFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CaFileError(
      code === 'ENOENT'
        ? 'cannot read it: it does not exist'
        : `cannot read it: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    throw new CaFileError(
      'it holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)',
    );
  }
  const { X509Certificate } = process.getBuiltinModule('node:crypto'); // loaded when a CA file is read
  certificates.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new CaFileError(
        `its certificate ${i + 1} of ${certificates.length} does not parse: ` +
          `${err instanceof Error ? err.message : String(err)}`,
      );
    }
  });
  return certificates;
}

/**
 * The `ca` list for TLS connections to the upstream when `caFile` is set: Node's roots, the certificates of
 * NODE_EXTRA_CA_CERTS (from `env`; when it cannot be read, Node has already warned and so do we: `onExtraFailed`)
 * and those of `caFile`. Null when `caFile` is null: Node's defaults then apply, NODE_EXTRA_CA_CERTS included.
 */
export function trustedCertificates(
  caFile: string | null,
  env: Readonly<Record<string, string | undefined>>,
  onExtraFailed: (path: string, problem: string) => void,
): string[] | null {
  if (caFile === null) return null;
  const extraPath = env['NODE_EXTRA_CA_CERTS'] ?? '';
  let extra: string[] = [];
  if (extraPath !== '') {
    try {
      extra = readCaFile(extraPath);
    } catch (err) {
      onExtraFailed(extraPath, err instanceof Error ? err.message : String(err));
    }
  }
  return [...rootCertificates(), ...extra, ...readCaFile(caFile)];
}
