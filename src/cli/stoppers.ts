/** What serve has started, stopped in reverse order on shutdown or when a later start-up step fails. */
export class Stoppers {
  readonly #stops: (() => Promise<void>)[] = [];

  push(stop: () => Promise<void>): void {
    this.#stops.push(stop);
  }

  /** Stops everything pushed so far, last first; a failing stop does not keep the others from running. */
  async stopAll(): Promise<void> {
    for (const stop of this.#stops.splice(0).reverse()) await stop().catch(() => undefined);
  }
}
