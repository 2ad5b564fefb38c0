import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Creates a self-signed P-256 certificate for `hostname`, valid for one day, with the openssl
 * command-line tool, which must be on PATH.
 */
export function createSelfSignedCertificate(hostname: string): { key: string; cert: string } {
  const directory = mkdtempSync(path.join(tmpdir(), 'keyroute-cert-'));
  try {
    const keyPath = path.join(directory, 'key.pem');
    const certPath = path.join(directory, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '1',
        '-subj', `/CN=${hostname}`, '-addext', `subjectAltName=DNS:${hostname}`,
      ],
      { stdio: 'pipe' },
    );
    return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
