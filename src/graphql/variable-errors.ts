import { GraphQLError } from 'graphql';

const invalidVariablePrefix = /^Variable "\$[_A-Za-z][_0-9A-Za-z]*" got invalid value /;

/** Values this short are no secret, and replacing them would garble paths such as `[1]`. */
const minHiddenValueLength = 3;

/**
 * Returns the error without the variable value that graphql-js 16 prints in its message, or
 * undefined when the message has another form.
 *
 * graphql-js reports an invalid variable as `Variable "$input" got invalid value <value> at
 * "input.credentials"; <reason>`, where `<value>` is the invalid part of the variable, such as a
 * whole CredentialsInput, and a scalar's reason repeats it. Variables carry API keys and
 * service-account files, which must never come back in a response.
 */
export function hideVariableValue(error: GraphQLError): GraphQLError | undefined {
  const prefix = invalidVariablePrefix.exec(error.message)?.[0];
  if (prefix === undefined) return undefined;

  const rest = error.message.slice(prefix.length);
  const value = rest.slice(0, printedValueLength(rest));
  let remainder = rest.slice(value.length);
  if (value.length >= minHiddenValueLength) remainder = remainder.split(value).join('(value not shown)');

  return new GraphQLError(`${prefix.replace('got invalid value ', 'got an invalid value')}${remainder}`, {
    nodes: error.nodes,
    extensions: error.extensions,
  });
}

/**
 * Length of the value that graphql-js `inspect` printed at the start of `text`: everything up to
 * ` at "` or `; ` outside a string. `inspect` prints strings as JSON, so their quotes are escaped.
 */
function printedValueLength(text: string): number {
  let index = 0;
  while (index < text.length) {
    if (text[index] === '"') {
      index += 1;
      while (index < text.length && text[index] !== '"') index += text[index] === '\\' ? 2 : 1;
      index += 1;
    } else if (text.startsWith(' at "', index) || text.startsWith('; ', index)) {
      return index;
    } else {
      index += 1;
    }
  }
  return text.length;
}
