import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { BedrockRegionCredential } from '../../../features/provider-keys/credentials.js';
import { bedrockSigningService } from './bedrock-endpoints.js';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * SHA-256, or HMAC-SHA-256 when constructed with a secret, from node:crypto, in the `Checksum`
 * shape that `@smithy/signature-v4` takes as its `sha256` option.
 */
export class NodeSha256 {
  readonly #secret: Buffer | undefined;
  #hash!: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : toBuffer(secret);
    this.reset();
  }

  update(data: SourceData): void {
    this.#hash.update(toBuffer(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }

  reset(): void {
    this.#hash = this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }
}

export interface BedrockSigningRequest {
  method: 'GET' | 'POST';
  /** The real Bedrock URL, path already percent-encoded as it is sent (see bedrockRuntimeUrl). */
  url: URL;
  /** Headers to send and sign, such as `content-type`. Names are sent in lower case. */
  headers?: Record<string, string>;
  /** The exact bytes that will be sent; the signature covers their SHA-256. */
  body?: string | Uint8Array;
}

/**
 * Signs Bedrock requests with AWS Signature Version 4 for one credential row and one region,
 * using `@smithy/signature-v4` (service `bedrock`).
 *
 * The canonical URI is the sent path encoded once more (`uriEscapePath`, the library's default),
 * so a model id's `%3A` is signed as `%253A`. AWS computes the same for every service but S3, and
 * test/bedrock/signer.test.ts checks it against the signature of `@aws-sdk/client-bedrock-runtime`.
 */
export class BedrockSigner {
  readonly #signer: SignatureV4;

  constructor(
    credentials: { accessKeyId: string; secretAccessKey: string },
    readonly region: string,
  ) {
    // Only what is given here signs: no session token (temporary keys are rejected at input), and
    // never the server's own AWS environment or instance metadata.
    this.#signer = new SignatureV4({
      service: bedrockSigningService,
      region,
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
      sha256: NodeSha256,
      uriEscapePath: true,
      applyChecksum: true,
    });
  }

  /**
   * Returns the headers to send: the request's own headers and `host`, `x-amz-date`,
   * `x-amz-content-sha256` and `authorization`. Send the body exactly as given, since any change
   * after signing breaks the signature.
   */
  async sign(request: BedrockSigningRequest, signingDate: Date = new Date()): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
    headers.host = request.url.host;

    const query: Record<string, string | string[]> = {};
    for (const name of new Set(request.url.searchParams.keys())) {
      const values = request.url.searchParams.getAll(name);
      query[name] = values.length === 1 ? values[0]! : values;
    }

    const signed = await this.#signer.sign(
      {
        method: request.method,
        protocol: request.url.protocol,
        hostname: request.url.hostname,
        path: request.url.pathname,
        query,
        headers,
        body: request.body,
      },
      { signingDate },
    );
    return { ...(signed.headers as Record<string, string>) };
  }
}

/**
 * Signers kept per (credential set, credentials version, credential row, region), so that a busy
 * key does not build one per request. The map is bounded and drops the least recently used entry
 * first. A credentials change increments the version, so a stale entry is never used again and
 * ages out. `deleteCredentialSet` drops a set's entries at once, such as when its key is deleted.
 */
export class BedrockSignerCache {
  readonly #entries = new Map<string, BedrockSigner>();

  constructor(readonly maxEntries = 1_000) {}

  /**
   * Returns the signer of `row` for `region`, building it on first use.
   * @param credentialSetId the provider key id, or another stable id for platform credentials
   */
  get(credentialSetId: string, credentialsVersion: number, row: BedrockRegionCredential, region: string): BedrockSigner {
    const key = [credentialSetId, credentialsVersion, row.region, row.accessKeyId, region].join('\u0000');
    let signer = this.#entries.get(key);
    if (signer) {
      // Re-inserting moves the entry to the end of the Map's order, the most recently used end.
      this.#entries.delete(key);
    } else {
      signer = new BedrockSigner(row, region);
    }
    this.#entries.set(key, signer);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return signer;
  }

  deleteCredentialSet(credentialSetId: string): void {
    const prefix = `${credentialSetId}\u0000`;
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
