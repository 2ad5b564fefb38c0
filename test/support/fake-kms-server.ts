import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local AWS KMS for tests and benchmarks: listens on 127.0.0.1 on a free port and speaks the KMS
 * JSON 1.1 protocol (`POST /`, `X-Amz-Target: TrentService.<Operation>`, content type
 * `application/x-amz-json-1.1`, binary fields as base64) for GenerateDataKey, Encrypt, Decrypt and
 * ReEncrypt.
 *
 * Every request must carry an AWS Signature Version 4 `Authorization` header that this server
 * verifies with the static test credentials. Like KMS, it binds the encryption context to each
 * ciphertext blob, and a Decrypt or ReEncrypt with another context fails with
 * InvalidCiphertextException. Faults can be injected per request (see `injectFault`).
 *
 * The ciphertext blob format is this server's own and has nothing in common with real KMS blobs.
 */

export const FAKE_KMS_REGION = 'us-east-1';
export const FAKE_KMS_ACCOUNT_ID = '111122223333';

/** Static credentials that the server accepts; anything else fails with UnrecognizedClientException. */
export const FAKE_KMS_CREDENTIALS = {
  accessKeyId: 'AKIAKEYROUTETEST0001',
  secretAccessKey: 'keyroute-fake-kms-secret-access-key-for-tests',
} as const;

/**
 * `network` destroys the socket without a response and `timeout` never responds. The others
 * respond with a KMS error: ThrottlingException, AccessDeniedException, DisabledException and
 * KMSInternalException (HTTP 500).
 */
export type FakeKmsFault = 'network' | 'timeout' | 'throttling' | 'access-denied' | 'disabled' | 'internal';

export interface FakeKmsKeySpec {
  /** Key id in UUID form; a random one when omitted. */
  keyId?: string;
  /** Alias names, such as `alias/keyroute`. */
  aliases?: string[];
  /** @default true */
  enabled?: boolean;
}

/** What the server received, for tests to assert on. */
export interface FakeKmsRequest {
  operation: string;
  /** Access key id from the verified SigV4 credential scope. */
  accessKeyId: string;
  /** `EncryptionContext`, or for ReEncrypt `SourceEncryptionContext`, as sent. */
  encryptionContext: Record<string, string> | undefined;
  /** HTTP status of the response, or 0 when a fault left the request without one. */
  status: number;
  /** The injected fault that this request met, if any. */
  fault?: FakeKmsFault;
}

interface FakeKey {
  keyId: string;
  arn: string;
  material: Buffer;
  enabled: boolean;
}

interface PendingFault {
  fault: FakeKmsFault;
  remaining: number;
  operations: Set<string> | undefined;
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const BLOB_MAGIC = Buffer.from('FKMS', 'ascii');
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

export class FakeKmsServer {
  /** Every request that passed signature verification or met a fault, in arrival order. */
  readonly requests: FakeKmsRequest[] = [];
  /** Every plaintext data key this server sent, so that leak tests can search output for them. */
  readonly issuedDataKeys: Buffer[] = [];

  readonly #server: Server;
  readonly #keys = new Map<string, FakeKey>();
  readonly #aliases = new Map<string, FakeKey>();
  #faults: PendingFault[] = [];

  private constructor(server: Server, keys: FakeKmsKeySpec[]) {
    this.#server = server;
    for (const spec of keys) this.addKey(spec);
  }

  /** Starts a server on 127.0.0.1 with a free port. */
  static async start(options: { keys: FakeKmsKeySpec[] }): Promise<FakeKmsServer> {
    const server = createServer();
    const fake = new FakeKmsServer(server, options.keys);
    server.on('request', (request, response) => {
      // A request that fails inside the fake ends its connection, which the client reports as a
      // network error, instead of an unhandled rejection that would hide which test caused it.
      fake.#handle(request, response).catch((error: unknown) => response.destroy(error as Error));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** Base URL to pass as the KMS client's `endpoint`. */
  get endpoint(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Adds a key and returns its ARN. */
  addKey(spec: FakeKmsKeySpec): string {
    const keyId = spec.keyId ?? randomUUID();
    const key: FakeKey = {
      keyId,
      arn: `arn:aws:kms:${FAKE_KMS_REGION}:${FAKE_KMS_ACCOUNT_ID}:key/${keyId}`,
      material: randomBytes(32),
      enabled: spec.enabled ?? true,
    };
    this.#keys.set(keyId, key);
    for (const alias of spec.aliases ?? []) this.#aliases.set(alias, key);
    return key.arn;
  }

  /** Returns the ARN of a key given by id, ARN or alias. */
  keyArn(keyId: string): string {
    return this.#resolveKey(keyId).arn;
  }

  setKeyEnabled(keyId: string, enabled: boolean): void {
    this.#resolveKey(keyId).enabled = enabled;
  }

  /** Points an alias at another key, as UpdateAlias does. */
  retargetAlias(alias: string, keyId: string): void {
    this.#aliases.set(alias, this.#resolveKey(keyId));
  }

  /**
   * Makes the next `count` matching requests fail with `fault`. Faults apply in the order they
   * were injected.
   *
   * @param options.count how many requests fail; Infinity until clearFaults().
   * @param options.operations limit the fault to these operations, such as `['Decrypt']`.
   */
  injectFault(fault: FakeKmsFault, options: { count?: number; operations?: string[] } = {}): void {
    this.#faults.push({
      fault,
      remaining: options.count ?? Number.POSITIVE_INFINITY,
      operations: options.operations ? new Set(options.operations) : undefined,
    });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Counts received requests of one operation. */
  countRequests(operation: string): number {
    return this.requests.filter((request) => request.operation === operation).length;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Kept-alive client sockets and requests held by a `timeout` fault would keep close() waiting.
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const operation = String(request.headers['x-amz-target'] ?? '').replace(/^TrentService\./, '');

    const fault = this.#takeFault(operation);
    if (fault !== undefined) {
      const status = this.#applyFault(fault, request, response);
      this.requests.push({ operation, accessKeyId: '', encryptionContext: undefined, status, fault });
      return;
    }

    let status = 200;
    let payload: unknown;
    let accessKeyId = '';
    let input: Record<string, unknown> = {};
    try {
      accessKeyId = verifySignature(request, body);
      input = parseInput(request, body);
      payload = this.#dispatch(operation, input);
    } catch (error) {
      if (!(error instanceof KmsError)) throw error;
      status = error.status;
      payload = { __type: error.type, message: error.message };
    }

    const context = (input.EncryptionContext ?? input.SourceEncryptionContext) as Record<string, string> | undefined;
    this.requests.push({ operation, accessKeyId, encryptionContext: context, status });
    sendJson(response, status, payload);
  }

  #takeFault(operation: string): FakeKmsFault | undefined {
    const pending = this.#faults.find(
      (candidate) => candidate.remaining > 0 && (!candidate.operations || candidate.operations.has(operation)),
    );
    if (pending === undefined) return undefined;
    pending.remaining -= 1;
    return pending.fault;
  }

  /** Responds as the fault prescribes and returns the HTTP status sent, 0 for none. */
  #applyFault(fault: FakeKmsFault, request: IncomingMessage, response: ServerResponse): number {
    const answers = {
      throttling: [400, 'ThrottlingException', 'Rate exceeded'],
      'access-denied': [400, 'AccessDeniedException', 'User is not authorized to perform this operation on this key'],
      disabled: [400, 'DisabledException', 'The key is disabled.'],
      internal: [500, 'KMSInternalException', 'Internal failure.'],
    } as const;

    if (fault === 'network') {
      request.socket.destroy();
      return 0;
    }
    if (fault === 'timeout') {
      // No response at all: the client's request timeout has to end the request.
      return 0;
    }
    const [status, type, message] = answers[fault];
    sendJson(response, status, { __type: type, message });
    return status;
  }

  #dispatch(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GenerateDataKey':
        return this.#generateDataKey(input);
      case 'Encrypt':
        return this.#encrypt(input);
      case 'Decrypt':
        return this.#decrypt(input);
      case 'ReEncrypt':
        return this.#reEncrypt(input);
      default:
        throw new KmsError('UnknownOperationException', `Operation ${operation} is not supported.`);
    }
  }

  #generateDataKey(input: Record<string, unknown>): unknown {
    const key = this.#usableKey(requireString(input, 'KeyId'));
    const keySpecLengths: Record<string, number> = { AES_128: 16, AES_256: 32 };
    const length = keySpecLengths[String(input.KeySpec)] ?? Number(input.NumberOfBytes);
    if (!Number.isInteger(length) || length < 1 || length > 1024) {
      throw new KmsError('ValidationException', 'Either KeySpec or NumberOfBytes is required.');
    }
    const dataKey = randomBytes(length);
    this.issuedDataKeys.push(Buffer.from(dataKey));
    return {
      KeyId: key.arn,
      Plaintext: dataKey.toString('base64'),
      CiphertextBlob: this.#seal(key, dataKey, contextOf(input, 'EncryptionContext')).toString('base64'),
    };
  }

  #encrypt(input: Record<string, unknown>): unknown {
    const key = this.#usableKey(requireString(input, 'KeyId'));
    const plaintext = requireBlob(input, 'Plaintext');
    return {
      KeyId: key.arn,
      CiphertextBlob: this.#seal(key, plaintext, contextOf(input, 'EncryptionContext')).toString('base64'),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  #decrypt(input: Record<string, unknown>): unknown {
    const { key, plaintext } = this.#open(
      requireBlob(input, 'CiphertextBlob'),
      contextOf(input, 'EncryptionContext'),
      typeof input.KeyId === 'string' ? input.KeyId : undefined,
    );
    this.issuedDataKeys.push(Buffer.from(plaintext));
    return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  #reEncrypt(input: Record<string, unknown>): unknown {
    const source = this.#open(
      requireBlob(input, 'CiphertextBlob'),
      contextOf(input, 'SourceEncryptionContext'),
      typeof input.SourceKeyId === 'string' ? input.SourceKeyId : undefined,
    );
    const destination = this.#usableKey(requireString(input, 'DestinationKeyId'));
    const blob = this.#seal(destination, source.plaintext, contextOf(input, 'DestinationEncryptionContext'));
    source.plaintext.fill(0);
    return {
      CiphertextBlob: blob.toString('base64'),
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  /** Blob: "FKMS", key id length (1 byte), key id, IV (12), tag (16), ciphertext. */
  #seal(key: FakeKey, plaintext: Buffer, context: Record<string, string>): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.material, iv);
    cipher.setAAD(canonicalContext(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const keyId = Buffer.from(key.keyId, 'utf8');
    return Buffer.concat([BLOB_MAGIC, Buffer.from([keyId.length]), keyId, iv, cipher.getAuthTag(), ciphertext]);
  }

  #open(blob: Buffer, context: Record<string, string>, expectedKeyId: string | undefined): { key: FakeKey; plaintext: Buffer } {
    const invalid = () => new KmsError('InvalidCiphertextException', 'The ciphertext is invalid.');
    if (blob.length < BLOB_MAGIC.length + 1 || !blob.subarray(0, BLOB_MAGIC.length).equals(BLOB_MAGIC)) throw invalid();
    const keyIdLength = blob[BLOB_MAGIC.length]!;
    const keyIdEnd = BLOB_MAGIC.length + 1 + keyIdLength;
    if (blob.length < keyIdEnd + 28) throw invalid();
    const key = this.#keys.get(blob.subarray(BLOB_MAGIC.length + 1, keyIdEnd).toString('utf8'));
    if (key === undefined) throw invalid();

    if (expectedKeyId !== undefined && this.#resolveKey(expectedKeyId) !== key) {
      throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify the key that encrypted the ciphertext.');
    }
    if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);

    const decipher = createDecipheriv('aes-256-gcm', key.material, blob.subarray(keyIdEnd, keyIdEnd + 12));
    decipher.setAAD(canonicalContext(context));
    decipher.setAuthTag(blob.subarray(keyIdEnd + 12, keyIdEnd + 28));
    try {
      return { key, plaintext: Buffer.concat([decipher.update(blob.subarray(keyIdEnd + 28)), decipher.final()]) };
    } catch {
      throw invalid();
    }
  }

  #usableKey(keyId: string): FakeKey {
    const key = this.#resolveKey(keyId);
    if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  }

  #resolveKey(keyId: string): FakeKey {
    const aliasArn = /^arn:aws:kms:[^:]+:\d{12}:(alias\/.+)$/.exec(keyId);
    const keyArn = /^arn:aws:kms:[^:]+:\d{12}:key\/(.+)$/.exec(keyId);
    const key = aliasArn
      ? this.#aliases.get(aliasArn[1]!)
      : keyArn
        ? this.#keys.get(keyArn[1]!)
        : keyId.startsWith('alias/')
          ? this.#aliases.get(keyId)
          : this.#keys.get(keyId);
    if (key === undefined) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(response: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  response.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(body);
}

function parseInput(request: IncomingMessage, body: Buffer): Record<string, unknown> {
  if (request.method !== 'POST' || request.url !== '/') {
    throw new KmsError('UnknownOperationException', 'Expected POST /.');
  }
  if (request.headers['content-type'] !== JSON_CONTENT_TYPE) {
    throw new KmsError('SerializationException', `Expected content type ${JSON_CONTENT_TYPE}.`);
  }
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new KmsError('SerializationException', 'The request body is not a JSON object.');
}

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') throw new KmsError('ValidationException', `${field} is required.`);
  return value;
}

function requireBlob(input: Record<string, unknown>, field: string): Buffer {
  return Buffer.from(requireString(input, field), 'base64');
}

function contextOf(input: Record<string, unknown>, field: string): Record<string, string> {
  const value = input[field];
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Object.values(value).some((item) => typeof item !== 'string')) {
    throw new KmsError('ValidationException', `${field} must be a map of strings.`);
  }
  return value as Record<string, string>;
}

/** Encodes the encryption context as JSON with sorted keys, so that key order does not matter. */
function canonicalContext(context: Record<string, string>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((key) => [key, context[key]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

/**
 * Verifies the AWS Signature Version 4 of a request and returns its access key id. The steps
 * (canonical request, string to sign, derived signing key) follow "Create a signed AWS API
 * request" in the AWS IAM User Guide. KMS requests have the path "/" and no query string, so
 * both are used as received.
 */
function verifySignature(request: IncomingMessage, body: Buffer): string {
  const authorization = request.headers.authorization;
  if (authorization === undefined) {
    throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (match === null) throw new KmsError('IncompleteSignatureException', 'The Authorization header is malformed.');
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];

  if (accessKeyId !== FAKE_KMS_CREDENTIALS.accessKeyId) {
    throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const amzDate = request.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !amzDate.startsWith(date!) || region !== FAKE_KMS_REGION || service !== 'kms') {
    throw new KmsError('InvalidSignatureException', 'The credential scope does not match the request.');
  }

  const headerNames = signedHeaders!.split(';');
  if (!headerNames.includes('host') || !headerNames.includes('x-amz-date')) {
    throw new KmsError('InvalidSignatureException', 'The signature must cover the host and x-amz-date headers.');
  }
  const canonicalHeaders = headerNames
    .map((name) => `${name}:${String(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    request.method,
    request.url,
    '',
    canonicalHeaders,
    signedHeaders,
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');

  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${FAKE_KMS_CREDENTIALS.secretAccessKey}`, date!), region!), service!),
    'aws4_request',
  );
  const expected = hmac(signingKey, stringToSign);
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
    throw new KmsError('InvalidSignatureException', 'The request signature does not match.');
  }
  return accessKeyId!;
}
