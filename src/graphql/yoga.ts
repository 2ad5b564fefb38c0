import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';
import { createGraphQLError, createYoga, maskError as defaultMaskError } from 'graphql-yoga';
import type { Config } from '../config/environment.js';
import { ExpectedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GraphqlContext } from './context.js';
import { schema } from './schema.js';
import { hideVariableValue } from './variable-errors.js';

/** Context that the HTTP layer passes to Yoga for each request, after authentication. */
export type GraphqlServerContext = Omit<GraphqlContext, 'principal'> & {
  principal: GraphqlContext['principal'] | undefined;
};

const defaultQuery = `# Paste the header printed at first start into the Headers tab, then run this query.
query Viewer {
  viewer {
    organization { id name }
    token { actorLabel scope }
  }
}
`;

export function createGraphqlServer(config: Config, logger: Logger) {
  return createYoga<GraphqlServerContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug({ yoga: args.map(String) }, 'yoga'),
      info: (...args) => logger.info({ yoga: args.map(String) }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args.map(String) }, 'yoga'),
      error: (...args) => {
        // Yoga reports each error that maskError replaced. maskError has logged the unexpected
        // ones with their cause, and expected ones are the client's to fix, so each is skipped here.
        const [error] = args;
        if (args.length === 1 && error instanceof GraphQLError && error.originalError) return;
        logger.error({ yoga: args.map(String) }, 'yoga');
      },
    },
    graphiql: config.graphql.graphiql
      ? { title: 'Keyroute GraphiQL', defaultQuery, headers: JSON.stringify({ Authorization: 'Bearer <token>' }) }
      : false,
    cors:
      config.server.corsOrigins.length > 0
        ? {
            origin: config.server.corsOrigins,
            methods: ['POST', 'GET', 'OPTIONS'],
            allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
            exposedHeaders: ['x-request-id'],
            credentials: false,
            maxAge: 600,
          }
        : false,
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const original = (error as { originalError?: unknown }).originalError;
        // graphql-js reports an invalid variable with its value, which can contain a secret.
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) {
          const hidden = hideVariableValue(error);
          if (hidden) return hidden;
        }
        // An expected failure thrown where no result union lists it, such as a malformed cursor
        // argument, is the client's to fix: it keeps its message and gains its code.
        if (error instanceof GraphQLError && original instanceof ExpectedError) {
          return createGraphQLError(original.message, {
            nodes: error.nodes,
            path: error.path,
            extensions: { code: original.code },
          });
        }
        const masked = defaultMaskError(error, message, isDev);
        // Yoga masks only unexpected errors; log those with the request id before they are hidden.
        if (masked !== error && original) {
          logger.error({ err: original }, 'Unexpected error in a GraphQL resolver');
        }
        return masked;
      },
    },
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: config.graphql.maxDepth, ignoreIntrospection: true },
        maxAliases: { n: config.graphql.maxAliases },
        maxTokens: { n: config.graphql.maxTokens },
        costLimit: { maxCost: config.graphql.maxCost, ignoreIntrospection: true },
        maxDirectives: { n: 20 },
        blockFieldSuggestion: { enabled: !config.graphql.graphiql },
      }),
    ],
  });
}
