import { ConflictError, EncryptionUnavailableError, RateLimitedError, ExpectedError, ForbiddenError, NotFoundError, ValidationError, type FieldIssue } from '../errors.js';
import { builder } from './builder.js';
import { encodeGlobalID } from './global-id.js';

export const ErrorInterface = builder.interfaceRef<ExpectedError>('Error').implement({
  description: 'An expected failure, returned as a member of a result union.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What failed and how to fix it, for people.' }),
    code: t.exposeString('code', { description: 'Stable machine-readable code, for programs.' }),
  }),
});

const FieldErrorRef = builder.objectRef<FieldIssue>('FieldError').implement({
  description: 'One invalid input value.',
  fields: (t) => ({
    path: t.stringList({
      description: 'Path of the value in the operation arguments, such as `["input", "modelAllowList", "2"]`.',
      resolve: (issue) => issue.path.map(String),
    }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input is invalid. `fieldErrors` lists every invalid value with its path.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    fieldErrors: t.field({ type: [FieldErrorRef], resolve: (error) => error.issues }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'No such object in this organization. Ids of other organizations are reported the same way.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    id: t.id({ description: 'The id that was looked up.', resolve: (error) => encodeGlobalID(error.typeName, error.id) }),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The change conflicts with an existing object or an earlier request.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: (t) => ({
    existingId: t.id({
      nullable: true,
      description: 'The object already in the way, such as the provider key that holds the slot.',
      resolve: (error) => (error.existing ? encodeGlobalID(error.existing.typeName, error.existing.id) : null),
    }),
  }),
});

builder.objectType(EncryptionUnavailableError, {
  name: 'EncryptionUnavailableError',
  description: 'The key backend (AWS KMS or the keyring) failed, so nothing was changed. Retry when `retryable` is true.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof EncryptionUnavailableError,
  fields: (t) => ({
    retryable: t.exposeBoolean('retryable'),
  }),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description: 'The management token is not allowed to do this, such as a read token running a mutation.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
  fields: () => ({}),
});

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  description: 'Too many requests of this kind from the organization. Retry after `retryAfterSeconds`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RateLimitedError,
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds'),
  }),
});
