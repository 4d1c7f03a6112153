/**
 * What serve has started, stopped on shutdown or when a later start-up step fails: first every listener at once
 * (each stops taking calls and drains, for at most the shutdown grace), then everything else in reverse order.
 */
export class Stoppers {
  readonly #graceMs: number;
  readonly #listeners: ((graceMs: number) => Promise<void>)[] = [];
  readonly #stops: (() => Promise<void>)[] = [];

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  push(stop: () => Promise<void>): void {
    this.#stops.push(stop);
  }

  /** A listener (KMS v2, AWS API): `drain(graceMs)` stops taking calls at once and cancels what runs at the grace. */
  pushListener(drain: (graceMs: number) => Promise<void>): void {
    this.#listeners.push(drain);
  }

  /** Drains the listeners together (never longer than the grace), then stops the rest, last first. */
  async stopAll(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drains = this.#listeners.splice(0).map((drain) => drain(this.#graceMs).catch(() => undefined));
    await Promise.race([
      Promise.all(drains),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const stop of this.#stops.splice(0).reverse()) await stop().catch(() => undefined);
  }
}
