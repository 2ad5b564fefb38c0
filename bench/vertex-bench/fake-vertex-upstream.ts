/**
 * Google's token endpoint and Vertex AI for bench/vertex.bench.ts, as a process of its own: the
 * fakes of test/support/fake-upstreams/vertex.ts, which verify each JWT assertion and accept only
 * the access tokens they issued, and respond without any artificial delay.
 *
 * At start it creates two service accounts in one project: one for the gateway's provider key,
 * and one whose token the benchmark uses for its direct calls, obtained here so that the
 * benchmark signs nothing itself. It listens on 127.0.0.1 (port 0), then prints one JSON line on
 * stdout (VertexFakeReady). Over the IPC channel it replies to `{type: "read-stats"}` with
 * `{type: "stats", stats: VertexFakeStats}`. It exits on SIGTERM, on SIGINT and when its stdin
 * closes, which happens when the benchmark process dies.
 */
import { requestGoogleAccessToken } from '../../src/proxy/upstream/vertex/google-access-token.js';
import { createTestTransport } from '../../test/support/fake-upstreams/test-transport.js';
import { createFakeServiceAccount, startFakeGoogleTokenEndpoint, startFakeVertex, vertexOverrides } from '../../test/support/fake-upstreams/vertex.js';

/** The line printed on stdout once both fakes listen. */
export interface VertexFakeReady {
  /** `http://127.0.0.1:PORT` of the token endpoint, for `https://oauth2.googleapis.com`. */
  tokenAddress: string;
  /** `http://127.0.0.1:PORT` of Vertex, for `https://aiplatform.googleapis.com`. */
  vertexAddress: string;
  project: string;
  /** The key file of the gateway's service account, for createProviderKey. */
  gatewayServiceAccount: string;
  /** An access token of the other account, for direct calls. */
  directAccessToken: string;
}

/** Counters since start. */
export interface VertexFakeStats {
  /** Access tokens issued to the gateway's account. */
  gatewayMints: number;
  /** Access tokens issued to the direct calls' account; 1, obtained at start. */
  directMints: number;
  /** Requests to the token endpoint that it rejected. */
  rejectedTokenRequests: number;
  vertexRequests: number;
  /** Vertex requests rejected for their Host, path, token or project. */
  rejectedVertexRequests: number;
}

export type VertexFakeMessage = { type: 'read-stats' };

const project = 'keyroute-bench';
const gateway = createFakeServiceAccount({ projectId: project, clientEmail: `keyroute-gateway@${project}.iam.gserviceaccount.com` });
const direct = createFakeServiceAccount({ projectId: project, clientEmail: `keyroute-direct@${project}.iam.gserviceaccount.com` });

const tokens = await startFakeGoogleTokenEndpoint();
tokens.register(gateway);
tokens.register(direct);
const vertex = await startFakeVertex({
  tokens,
  projects: { [project]: [gateway.account.client_email, direct.account.client_email] },
  locations: ['global'],
});

// The token for direct calls, through a transport that reaches the fakes only.
const transport = createTestTransport(vertexOverrides(tokens, vertex));
const directToken = await requestGoogleAccessToken(transport, direct.account, { now: Date.now, timeoutMs: 10_000 });
await transport.destroy();

/**
 * The fakes keep every request for the tests to inspect. A benchmark run sends tens of thousands,
 * so the records are dropped once counted.
 */
let vertexRequests = 0;
let rejectedVertexRequests = 0;
let rejectedTokenRequests = 0;
function countAndDropRecords(): void {
  vertexRequests += vertex.requests.length;
  rejectedVertexRequests += vertex.requests.filter((request) => request.rejection !== undefined).length;
  rejectedTokenRequests += tokens.requests.filter((request) => request.rejection !== undefined).length;
  vertex.requests.splice(0);
  tokens.requests.splice(0);
}
const dropTimer = setInterval(countAndDropRecords, 1_000);

function readStats(): VertexFakeStats {
  countAndDropRecords();
  return {
    gatewayMints: tokens.mintCount(gateway.account.client_email),
    directMints: tokens.mintCount(direct.account.client_email),
    rejectedTokenRequests,
    vertexRequests,
    rejectedVertexRequests,
  };
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(dropTimer);
  await Promise.all([tokens.close(), vertex.close()]);
  process.exit(0);
}

process.on('message', (message: VertexFakeMessage) => {
  if (message.type === 'read-stats') process.send?.({ type: 'stats', stats: readStats() });
});
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

const ready: VertexFakeReady = {
  tokenAddress: tokens.address,
  vertexAddress: vertex.address,
  project,
  gatewayServiceAccount: gateway.json,
  directAccessToken: directToken.token,
};
process.stdout.write(`${JSON.stringify(ready)}\n`);
