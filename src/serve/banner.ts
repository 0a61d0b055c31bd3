// What `gnp serve` tells a person beside its log: the listening line, the admin address, how
// to connect, first-run certificates, loaded handlers, the shutdown notice. With text logs
// these are plain lines on stdout. With JSON logs stdout holds JSON lines only, since a
// collector parses every line: each becomes an info event, or nothing where an event of the
// log (listening, shutting down) already carries the same facts.

import type { LogFields, Logger } from "../ops/logger.ts";
import type { CliIo } from "../io.ts";

/** The log event that stands for a banner line in JSON mode. */
export type BannerEvent = { event: string; fields?: LogFields };

/**
 * Banner lines of one `gnp serve` process, written the way its log is.
 *
 * @example new ServeBanner(io, logger).say(`loaded 2 command(s)\n`, { event: "handlers loaded", fields: { count: 2 } });
 */
export class ServeBanner {
  readonly #io: CliIo;
  readonly #logger: Logger;

  constructor(io: CliIo, logger: Logger) {
    this.#io = io;
    this.#logger = logger;
  }

  /** `text` (whole lines) with text logs; with JSON logs `instead` as an info event, or nothing without one. */
  say(text: string, instead?: BannerEvent): void {
    if (this.#logger.format === "text") this.#io.stdout(text);
    else if (instead !== undefined) this.#logger.info(instead.event, instead.fields);
  }
}
