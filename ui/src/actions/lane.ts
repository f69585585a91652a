// Owns the one answer to "is this still current?": a lane of work where only the newest task
// counts (a summary job, reading an article, a page of the history list, a model download).
//
// Starting a task makes the one before it stale, and so does ending it. Every event handler and
// continuation of a task goes through `task.guard`, the only place that asks whether the task is
// still current; a stale task's callbacks do nothing, so nothing it answers later reaches the
// screen.

export class Task {
  constructor(
    private readonly lane: Lane,
    /** Counts up from 1 in each lane (a summary job's id is its task's id). */
    readonly id: number,
  ) {}

  /** `fn`, but calls that come after this task stopped being current are dropped. */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      if (this.lane.current === this) fn(...args);
    };
  }

  /** Ends this task if it is still current: whatever it answers from here on is dropped. */
  end(): void {
    if (this.lane.current === this) this.lane.stop();
  }
}

export class Lane {
  private count = 0;
  private active: Task | null = null;

  /** The task whose answers still count, if any. */
  get current(): Task | null {
    return this.active;
  }

  /** Starts a new task; the one before it, if any, is stale from here on. */
  start(): Task {
    this.active = new Task(this, ++this.count);
    return this.active;
  }

  /** Ends the current task, if any, and returns it. */
  stop(): Task | null {
    const task = this.active;
    this.active = null;
    return task;
  }

  /**
   * Starts a task that calls `work` and hands its value to `onValue`, or its error (including
   * one thrown by `onValue`) to `onError`; neither runs if a newer task started meanwhile.
   */
  run<T>(work: () => Promise<T>, onValue: (value: T) => void, onError: (err: unknown) => void): Task {
    const task = this.start();
    new Promise<T>((resolve) => resolve(work())).then(task.guard(onValue)).catch(task.guard(onError));
    return task;
  }
}
