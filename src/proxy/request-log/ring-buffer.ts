/**
 * First-in, first-out queue on a growable ring buffer. `push` and `shiftMany` cost O(1) per item,
 * amortized over the capacity doublings, whereas `Array.prototype.shift` can copy the whole array.
 * The caller enforces any size bound.
 */
export class RingBuffer<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(1_024);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length += 1;
  }

  /** Removes and returns up to `count` items from the front. */
  shiftMany(count: number): T[] {
    const shiftedCount = Math.min(count, this.#length);
    const items = new Array<T>(shiftedCount);
    for (let index = 0; index < shiftedCount; index += 1) {
      items[index] = this.#items[this.#head] as T;
      // Release the reference, so that a written entry can be garbage collected.
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#items.length;
    }
    this.#length -= shiftedCount;
    return items;
  }

  clear(): void {
    this.#items = new Array<T | undefined>(1_024);
    this.#head = 0;
    this.#length = 0;
  }

  #grow(): void {
    const items = new Array<T | undefined>(this.#items.length * 2);
    for (let index = 0; index < this.#length; index += 1) {
      items[index] = this.#items[(this.#head + index) % this.#items.length];
    }
    this.#items = items;
    this.#head = 0;
  }
}
