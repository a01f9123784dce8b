// Runs async work one piece at a time: each call starts after the previous one settled
// (resolved or failed), so reloads, reshapes and the like never interleave.
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}
