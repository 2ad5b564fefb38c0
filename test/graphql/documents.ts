import { graphql } from '../generated/gql.js';

// Operations that several GraphQL test files run. Operations specific to one file live in it.

export const GatewayKeyFields = graphql(`
  fragment SharedGatewayKeyFields on GatewayKey {
    id
    name
    displayPrefix
    active
    expiresAt
    modelAllowList
    createdAt
    updatedAt
    lastUsedAt
  }
`);

export const CreateGatewayKey = graphql(`
  mutation SharedCreateGatewayKey($input: CreateGatewayKeyInput!) {
    createGatewayKey(input: $input) {
      __typename
      ... on GatewayKeyWithSecret {
        secret
        gatewayKey {
          ...SharedGatewayKeyFields
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
    }
  }
`);

export const UpdateGatewayKey = graphql(`
  mutation SharedUpdateGatewayKey($input: UpdateGatewayKeyInput!) {
    updateGatewayKey(input: $input) {
      __typename
      ... on GatewayKey {
        ...SharedGatewayKeyFields
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

export const RegenerateGatewayKeySecret = graphql(`
  mutation SharedRegenerateGatewayKeySecret($id: ID!) {
    regenerateGatewayKeySecret(id: $id) {
      __typename
      ... on GatewayKeyWithSecret {
        secret
        gatewayKey {
          ...SharedGatewayKeyFields
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
      ... on NotFoundError {
        id
      }
    }
  }
`);

export const DeleteGatewayKey = graphql(`
  mutation SharedDeleteGatewayKey($id: ID!) {
    deleteGatewayKey(id: $id) {
      __typename
      ... on DeletedGatewayKey {
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

export const GatewayKeysPage = graphql(`
  query SharedGatewayKeysPage($first: Int, $after: String, $last: Int, $before: String) {
    gatewayKeys(first: $first, after: $after, last: $last, before: $before) {
      edges {
        cursor
        node {
          ...SharedGatewayKeyFields
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
`);

export const NodeById = graphql(`
  query SharedNodeById($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on GatewayKey {
        ...SharedGatewayKeyFields
      }
    }
  }
`);

export const Viewer = graphql(`
  query SharedViewer {
    viewer {
      organization {
        id
        name
      }
      token {
        id
        actorLabel
        scope
      }
    }
  }
`);
