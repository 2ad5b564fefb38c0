import { graphql } from '../generated/gql.js';

// Operations of the usage, request log and audit event tests.

export const UsageFields = graphql(`
  fragment UsageTestFigures on UsageFigures {
    requests
    errors
    inputUncachedTokens
    cacheReadTokens
    cacheWriteTokens
    outputTokens
    reasoningTokens
    costMicroUsd
    latencyP50Ms
    latencyP95Ms
    latencyP99Ms
  }
`);

export const UsageResultFields = graphql(`
  fragment UsageTestResult on Usage {
    from
    to
    bucket
    timeZone
    totals {
      ...UsageTestFigures
    }
    buckets {
      start
      end
      ...UsageTestFigures
    }
  }
`);

export const OrganizationUsage = graphql(`
  query UsageTestOrganization($from: DateTime!, $to: DateTime!, $bucket: UsageBucketSize!, $timeZone: String!, $filter: UsageFilter) {
    viewer {
      organization {
        usage(from: $from, to: $to, bucket: $bucket, timeZone: $timeZone, filter: $filter) {
          __typename
          ...UsageTestResult
          ... on ValidationError {
            message
            code
            fieldErrors {
              path
              message
            }
          }
        }
      }
    }
  }
`);

export const ProviderKeyUsage = graphql(`
  query UsageTestProviderKey($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: UsageBucketSize!, $timeZone: String!, $filter: UsageFilter) {
    node(id: $id) {
      __typename
      ... on ProviderKey {
        usage(from: $from, to: $to, bucket: $bucket, timeZone: $timeZone, filter: $filter) {
          __typename
          ...UsageTestResult
          ... on ValidationError {
            message
            fieldErrors {
              path
              message
            }
          }
        }
      }
    }
  }
`);

export const GatewayKeyUsage = graphql(`
  query UsageTestGatewayKey($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: UsageBucketSize!, $timeZone: String!, $filter: UsageFilter) {
    node(id: $id) {
      __typename
      ... on GatewayKey {
        usage(from: $from, to: $to, bucket: $bucket, timeZone: $timeZone, filter: $filter) {
          __typename
          ...UsageTestResult
          ... on ValidationError {
            message
            fieldErrors {
              path
              message
            }
          }
        }
      }
    }
  }
`);

export const ProviderKeyListUsage = graphql(`
  query UsageTestProviderKeyList($from: DateTime!, $to: DateTime!) {
    providerKeys(first: 20) {
      edges {
        node {
          id
          usage(from: $from, to: $to, bucket: DAY) {
            __typename
            ... on Usage {
              totals {
                requests
              }
            }
          }
        }
      }
    }
  }
`);

export const RequestLogFields = graphql(`
  fragment RequestLogTestFields on RequestLog {
    id
    occurredAt
    gatewayKeyId
    gatewayKey {
      id
      name
    }
    providerKeyId
    providerKey {
      id
      name
    }
    credentialSource
    provider
    model
    region
    stream
    status
    errorCode
    latencyMs
    ttfbMs
    upstreamLatencyMs
    inputUncachedTokens
    cacheReadTokens
    cacheWriteTokens
    outputTokens
    reasoningTokens
    costMicroUsd
    priceTableVersion
    tags
    requestId
    clientRequestId
    upstreamRequestId
  }
`);

export const OrganizationRequestLogs = graphql(`
  query RequestLogTestOrganization(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $from: DateTime
    $to: DateTime
    $filter: RequestLogFilter
  ) {
    viewer {
      organization {
        requestLogs(first: $first, after: $after, last: $last, before: $before, from: $from, to: $to, filter: $filter) {
          edges {
            cursor
            node {
              ...RequestLogTestFields
            }
          }
          pageInfo {
            hasNextPage
            hasPreviousPage
            startCursor
            endCursor
          }
        }
      }
    }
  }
`);

export const ProviderKeyRequestLogs = graphql(`
  query RequestLogTestProviderKey($id: ID!, $first: Int, $from: DateTime, $to: DateTime, $filter: RequestLogFilter) {
    node(id: $id) {
      __typename
      ... on ProviderKey {
        requestLogs(first: $first, from: $from, to: $to, filter: $filter) {
          edges {
            node {
              id
              requestId
              providerKeyId
            }
          }
        }
      }
    }
  }
`);

export const GatewayKeyRequestLogs = graphql(`
  query RequestLogTestGatewayKey($id: ID!, $first: Int, $from: DateTime, $to: DateTime) {
    node(id: $id) {
      __typename
      ... on GatewayKey {
        requestLogs(first: $first, from: $from, to: $to) {
          edges {
            node {
              id
              requestId
              gatewayKeyId
            }
          }
        }
      }
    }
  }
`);

export const NodeById = graphql(`
  query UsageTestNode($id: ID!) {
    node(id: $id) {
      __typename
      id
    }
  }
`);

export const OrganizationAuditEvents = graphql(`
  query AuditTestEvents($first: Int, $after: String, $filter: AuditEventFilter) {
    viewer {
      organization {
        auditEvents(first: $first, after: $after, filter: $filter) {
          edges {
            cursor
            node {
              id
              createdAt
              actorLabel
              actorTokenId
              action
              subjectType
              subjectId
              changes
              requestId
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  }
`);
