// Outgoing bytes of one client connection. Requests queued in the same tick are merged into one
// write; what the socket does not take (write returns fewer bytes: backpressure) is kept, in
// order, and offered again on `drain`. Nothing is ever written out of order or twice.

/** The part of a Bun socket the queue needs; a fake one is enough in tests. */
export type Writable = { write(data: Uint8Array): number };

const utf8 = new TextEncoder();

export class OutputQueue {
  /** Heads and string bodies not yet encoded; encoded in one go when written. */
  #text = "";
  /** Encoded chunks waiting, in order, after #backlog. */
  #parts: Uint8Array[] = [];
  /** Bytes offered to the socket that it did not take yet. */
  #backlog: Uint8Array | undefined;

  /** Bytes not yet taken by the socket (strings counted in UTF-16 units: an estimate). */
  get buffered(): number {
    let n = this.#text.length + (this.#backlog?.length ?? 0);
    for (const part of this.#parts) n += part.length;
    return n;
  }

  enqueue(head: string, body: string | Uint8Array | undefined): void {
    if (body === undefined) this.#text += head;
    else if (typeof body === "string") this.#text += head + body;
    else {
      this.#text += head;
      this.#seal();
      if (body.length > 0) this.#parts.push(body);
    }
  }

  /** Writes what the socket takes now; returns true when nothing is left waiting. */
  writeTo(socket: Writable): boolean {
    if (this.#backlog !== undefined) {
      const left = offer(socket, this.#backlog);
      this.#backlog = left;
      if (left !== undefined) return false;
    }
    this.#seal();
    if (this.#parts.length === 0) return true;
    const data = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    this.#parts = [];
    this.#backlog = offer(socket, data);
    return this.#backlog === undefined;
  }

  clear(): void {
    this.#text = "";
    this.#parts = [];
    this.#backlog = undefined;
  }

  /** Moves pending text into #parts, so the byte order of text and binary bodies is kept. */
  #seal(): void {
    if (this.#text.length === 0) return;
    this.#parts.push(utf8.encode(this.#text));
    this.#text = "";
  }
}

/** Writes `data`; returns what the socket did not take, or undefined when all went (or it is closed). */
function offer(socket: Writable, data: Uint8Array): Uint8Array | undefined {
  const written = socket.write(data);
  if (written < 0 || written >= data.length) return undefined;
  return data.subarray(written);
}
