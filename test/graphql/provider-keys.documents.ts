import { graphql } from '../generated/gql.js';

// Operations that the provider-keys test files share.

export const ProviderKeyFields = graphql(`
  fragment ProviderKeyFields on ProviderKey {
    id
    provider
    name
    enabled
    credentialsVersion
    status
    statusErrorCode
    createdAt
    updatedAt
    credentialsUpdatedAt
    lastUsedAt
    credentials {
      __typename
      ... on ApiKey {
        maskedKey
      }
      ... on BedrockRegions {
        regions {
          region
          accessKeyId
          secretAccessKey
        }
      }
      ... on VertexServiceAccount {
        projectId
        clientEmail
        privateKeyId
        privateKey
      }
    }
    settings {
      __typename
      ... on OpenAiSettings {
        organizationId
        projectId
      }
      ... on VertexAiSettings {
        location
        vertexProjectId: projectId
      }
      ... on ZaiSettings {
        endpoint
      }
      ... on BedrockSettings {
        defaultRegion
      }
    }
    assignment {
      __typename
      ... on OrganizationAssignment {
        organization {
          id
          name
        }
      }
      ... on GatewayKeysAssignment {
        gatewayKeys {
          id
          name
        }
      }
    }
  }
`);

export const ProviderKeyCreate = graphql(`
  mutation ProviderKeyCreate($input: CreateProviderKeyInput!) {
    createProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload {
        providerKey {
          ...ProviderKeyFields
        }
        warnings {
          path
          message
        }
      }
      ... on Error {
        message
        code
      }
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
      ... on ConflictError {
        existingId
      }
      ... on EncryptionUnavailableError {
        retryable
      }
    }
  }
`);

export const ProviderKeyUpdate = graphql(`
  mutation ProviderKeyUpdate($input: UpdateProviderKeyInput!) {
    updateProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload {
        providerKey {
          ...ProviderKeyFields
        }
        warnings {
          path
          message
        }
      }
      ... on Error {
        message
        code
      }
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
      ... on ConflictError {
        existingId
      }
      ... on NotFoundError {
        id
      }
      ... on EncryptionUnavailableError {
        retryable
      }
    }
  }
`);

export const ProviderKeyDelete = graphql(`
  mutation ProviderKeyDelete($id: ID!) {
    deleteProviderKey(id: $id) {
      __typename
      ... on DeletedProviderKey {
        deletedId
      }
      ... on Error {
        message
        code
      }
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
      ... on NotFoundError {
        id
      }
    }
  }
`);

export const ProviderKeyList = graphql(`
  query ProviderKeyList($first: Int, $after: String, $filter: ProviderKeyFilter) {
    providerKeys(first: $first, after: $after, filter: $filter) {
      edges {
        cursor
        node {
          ...ProviderKeyFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ProviderKeyNode = graphql(`
  query ProviderKeyNode($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on ProviderKey {
        ...ProviderKeyFields
      }
    }
  }
`);

export const ProviderKeyGatewayKeyResolution = graphql(`
  query ProviderKeyGatewayKeyResolution($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on GatewayKey {
        name
        providerKeys {
          id
          name
        }
        credentialResolution {
          provider
          outcome
          source
          providerKey {
            id
            name
            enabled
          }
        }
      }
    }
  }
`);

export const ProviderKeyGatewayKeysResolution = graphql(`
  query ProviderKeyGatewayKeysResolution($first: Int) {
    gatewayKeys(first: $first) {
      edges {
        node {
          id
          name
          providerKeys {
            id
          }
          credentialResolution {
            provider
            outcome
            source
            providerKey {
              id
            }
          }
        }
      }
    }
  }
`);

export const ProviderKeyProviders = graphql(`
  query ProviderKeyProviders {
    providers {
      provider
      label
      modelPrefix
      credentialsKind
      settingsInputField
      settingsFields {
        name
        description
        enumValues
        defaultValue
      }
    }
  }
`);
