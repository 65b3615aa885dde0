/** One line of the exposition, as prom-client's Registry formats it. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * `gateway_send_queue_depth`: every connection's queue length, sampled at each scrape, at a cost
 * that does not grow with the number of connections. Between event-loop turns only the connections
 * waiting for their socket to drain can hold frames (the others are flushed within the turn), so a
 * sample is their lengths, one observation each, plus one observation of 0 for every other
 * connection, added to the 0 bucket in one step. prom-client's Histogram has no "observe n times",
 * hence this small metric of its own, which the Registry formats like any other.
 */
export class DepthHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: number[];
  private count = 0;
  private sum = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    private readonly sample: () => { connections: number; backedUpDepths: readonly number[] },
  ) {
    this.counts = buckets.map(() => 0);
  }

  /** Observes `n` connections whose queue holds `depth` frames. */
  observe(depth: number, n = 1): void {
    if (n <= 0) return;
    this.count += n;
    this.sum += depth * n;
    for (let i = 0; i < this.buckets.length; i++) if (depth <= this.buckets[i]) this.counts[i] += n;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const { connections, backedUpDepths } = this.sample();
    this.observe(0, connections - backedUpDepths.length);
    for (const depth of backedUpDepths) this.observe(depth);
    const values: Sample[] = this.buckets.map((le, i) => ({
      metricName: `${this.name}_bucket`,
      labels: { le },
      value: this.counts[i],
    }));
    values.push(
      { metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.sum },
      { metricName: `${this.name}_count`, labels: {}, value: this.count },
    );
    const { name, help, type, aggregator } = this;
    return Promise.resolve({ name, help, type, aggregator, values });
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
  }
}
