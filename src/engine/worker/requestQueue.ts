// The order in which the engine takes requests. Arrival order, with two exceptions that keep annotation
// responsive: interactive queries go before background ones, and while a job (profile, evaluation,
// writing a checkpoint) pauses between its steps, waiting queries run. A `model` request (load, unload)
// is a barrier: nothing that arrived after it runs before it, nothing that arrived before it after it.
import { METHOD_CLASS, type EngineMethod, type MethodClass, type RequestPriority } from '../../protocol/engineProtocol';

export interface QueuedRequest {
  readonly id: number;
  readonly method: EngineMethod;
  readonly priority: RequestPriority;
}

export const classOf = (r: QueuedRequest): MethodClass => METHOD_CLASS[r.method] ?? 'query';

export class RequestQueue<R extends QueuedRequest> {
  private readonly items: R[] = [];

  get size(): number {
    return this.items.length;
  }

  push(r: R): void {
    this.items.push(r);
  }

  /** Removes and returns the request with this id, if it is still waiting. */
  remove(id: number): R | undefined {
    const i = this.items.findIndex((r) => r.id === id);
    return i < 0 ? undefined : this.items.splice(i, 1)[0];
  }

  /** The waiting request with this id, left in place. */
  find(id: number): R | undefined {
    return this.items.find((r) => r.id === id);
  }

  /** The next request to run when the engine is free. */
  takeNext(): R | undefined {
    return this.take(() => true);
  }

  /** The next query that may run while a job pauses (none past a model barrier). */
  takeQuery(): R | undefined {
    return this.take((r) => classOf(r) === 'query');
  }

  private take(eligible: (r: R) => boolean): R | undefined {
    const barrier = this.items.findIndex((r) => classOf(r) === 'model');
    if (barrier === 0) return eligible(this.items[0]!) ? this.items.shift() : undefined;
    const end = barrier < 0 ? this.items.length : barrier;
    let pick = -1;
    for (let i = 0; i < end; i++) {
      const r = this.items[i]!;
      if (!eligible(r)) continue;
      if (r.priority === 'interactive' && classOf(r) === 'query') {
        pick = i;
        break;
      }
      if (pick < 0) pick = i;
    }
    return pick < 0 ? undefined : this.items.splice(pick, 1)[0];
  }
}
