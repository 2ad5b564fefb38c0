import { describe, expect, it } from 'vitest';
import { requestContext, runWithRequestIds } from '../../src/request-context.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** Reads the store from a promise continuation, as code of a request does after an await. */
async function storeAfterAwait(): Promise<unknown> {
  await Promise.resolve();
  return requestContext.getStore();
}

describe('runWithRequestIds', () => {
  it('keeps ids while another ends', async () => {
    const releaseFirst = deferred();
    const seen: unknown[] = [];
    const first = runWithRequestIds({ requestId: 'first' }, async () => {
      await releaseFirst.promise;
      seen.push(await storeAfterAwait());
    });
    await runWithRequestIds({ requestId: 'second' }, async () => {
      seen.push(await storeAfterAwait());
    });
    // The second request ended while the first still waits: the storage must stay enabled.
    releaseFirst.resolve();
    await first;

    expect(seen).toEqual([{ requestId: 'second' }, { requestId: 'first' }]);
  });

  it('leaves no ids after the last', async () => {
    await runWithRequestIds({ requestId: 'only' }, async () => {
      expect(await storeAfterAwait()).toEqual({ requestId: 'only' });
    });
    expect(await storeAfterAwait()).toBeUndefined();
  });

  it('ends the scope on failure', async () => {
    await expect(
      runWithRequestIds({ requestId: 'failing' }, async () => {
        await Promise.resolve();
        throw new Error('resolver failed');
      }),
    ).rejects.toThrow('resolver failed');
    expect(await storeAfterAwait()).toBeUndefined();
    await runWithRequestIds({ requestId: 'after' }, async () => {
      expect(await storeAfterAwait()).toEqual({ requestId: 'after' });
    });
  });
});
