// Connection handles in the order they began to wait, for the connections that wait for a
// turn of the event loop (flow-control.ts to read, write-turns.ts to write). Taking the first
// costs no copy of the rest; what was taken is dropped once it is most of the array.

export class HandleQueue {
  #handles: number[] = [];
  /** Where the handles not yet taken begin. */
  #head = 0;

  /** Handles waiting. */
  get length(): number {
    return this.#handles.length - this.#head;
  }

  push(handle: number): void {
    this.#handles.push(handle);
  }

  /** The first handle waiting, taken out; undefined when none waits. */
  shift(): number | undefined {
    if (this.#head === this.#handles.length) return undefined;
    const handle = this.#handles[this.#head++]!;
    if (this.#head === this.#handles.length) {
      this.#handles = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#handles.length) {
      this.#handles = this.#handles.slice(this.#head);
      this.#head = 0;
    }
    return handle;
  }
}
