interface Window {
  count: number;
  /** When this key's window ends (it started at the key's first hit). */
  end: number;
}

/**
 * At most `limit` hits per key per `windowMs`, the window starting at a key's first hit. The table
 * holds only keys seen within the last two windows: every `windowMs` the current generation becomes
 * the previous one and the previous one is dropped (a key still inside its window is carried over
 * when it is hit again), so memory is bounded by the request rate, with no timer to clear.
 */
export class WindowLimiter {
  private current = new Map<string, Window>();
  private previous = new Map<string, Window>();
  private rotateAt = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a hit; returns 0 when allowed, else the seconds until the key's window ends (Retry-After). */
  hit(key: string): number {
    const now = this.now();
    if (now >= this.rotateAt) {
      this.previous = now >= this.rotateAt + this.windowMs ? new Map<string, Window>() : this.current;
      this.current = new Map();
      this.rotateAt = now + this.windowMs;
    }
    let w = this.current.get(key) ?? this.previous.get(key);
    if (w === undefined || now >= w.end) w = { count: 0, end: now + this.windowMs };
    this.current.set(key, w);
    w.count++;
    return w.count <= this.limit ? 0 : Math.max(1, Math.ceil((w.end - now) / 1000));
  }
}
