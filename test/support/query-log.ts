import {
  TableNode,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import { requestContext } from '../../src/request-context.js';

export interface LoggedQuery {
  /** Operation node kind, such as `SelectQueryNode` or `RawNode`. */
  kind: string;
  /** The table the statement reads or writes first; undefined for raw SQL. */
  table: string | undefined;
  /** The server's id of the HTTP request that ran the statement; undefined for background work. */
  requestId: string | undefined;
}

/**
 * A Kysely plugin that records every statement executed through the Kysely instance it is
 * installed on, with the request that ran it, so a test can count the SQL statements of one
 * request. BEGIN and COMMIT go through the driver, not the executor, and are not recorded.
 */
export class QueryLog implements KyselyPlugin {
  // Subqueries are transformed too, under their own ids, but only the root of an executed query reaches transformResult.
  readonly #nodes = new WeakMap<QueryId, RootOperationNode>();
  queries: LoggedQuery[] = [];

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (!this.#nodes.has(args.queryId)) this.#nodes.set(args.queryId, args.node);
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const node = this.#nodes.get(args.queryId);
    this.queries.push({
      kind: node?.kind ?? 'unknown',
      table: node && tableOf(node),
      requestId: requestContext.getStore()?.requestId,
    });
    return args.result;
  }

  /** Returns the statements run while serving the request with this id (the `x-request-id` response header). */
  queriesOf(requestId: string | null): LoggedQuery[] {
    return this.queries.filter((query) => query.requestId !== undefined && query.requestId === requestId);
  }

  clear(): void {
    this.queries = [];
  }
}

function tableOf(node: RootOperationNode): string | undefined {
  let target: OperationNode | undefined;
  if (node.kind === 'SelectQueryNode' || node.kind === 'DeleteQueryNode') target = node.from?.froms[0];
  else if (node.kind === 'InsertQueryNode') target = node.into;
  else if (node.kind === 'UpdateQueryNode') target = node.table;
  return target && TableNode.is(target) ? target.table.identifier.name : undefined;
}
