/**
 * Bedrock's fixed endpoints. Only the region varies, and it is checked against the AWS region
 * pattern before it gets here, so a request cannot be aimed at another host. Tests reach a fake
 * through the transport's connection-level override, which keeps these URLs and their Host.
 */

/** The runtime API's operations, each a path under `/model/{modelId}/`. */
export type BedrockRuntimeOperation = 'invoke' | 'invoke-with-response-stream' | 'converse' | 'converse-stream';

/** The SigV4 service name of both the runtime and the control plane. */
export const bedrockSigningService = 'bedrock';

export function bedrockRuntimeHost(region: string): string {
  return `bedrock-runtime.${region}.amazonaws.com`;
}

export function bedrockControlPlaneHost(region: string): string {
  return `bedrock.${region}.amazonaws.com`;
}

/**
 * Builds the runtime URL of one operation. The model id is percent-encoded as one path segment, so the
 * `:` of a version and the `/` of an ARN become `%3A` and `%2F`, exactly as
 * `@aws-sdk/client-bedrock-runtime` 3.1178 sends them. The signer then encodes the path once more
 * for the canonical request, which is what AWS computes on its side.
 */
export function bedrockRuntimeUrl(region: string, modelId: string, operation: BedrockRuntimeOperation): URL {
  return new URL(`https://${bedrockRuntimeHost(region)}/model/${encodeURIComponent(modelId)}/${operation}`);
}

/** ListFoundationModels of the control plane, filtered to one model provider to keep the response small. */
export function foundationModelsUrl(region: string, byProvider = 'anthropic'): URL {
  const url = new URL(`https://${bedrockControlPlaneHost(region)}/foundation-models`);
  url.searchParams.set('byProvider', byProvider);
  return url;
}
