import { type Metric, Registry } from 'prom-client';
import { DepthHistogram } from './depth-histogram.js';

describe('DepthHistogram', () => {
  it('observes every connection per scrape: the backed-up ones by depth, the others as 0', async () => {
    let sample = { connections: 5, backedUpDepths: [3, 200] };
    const h = new DepthHistogram('q_depth', 'help text', [0, 1, 4, 256], () => sample);
    const registry = new Registry();
    registry.registerMetric(h as unknown as Metric);

    const text = await registry.metrics();
    expect(text).toContain('# TYPE q_depth histogram');
    expect(text).toContain('q_depth_bucket{le="0"} 3');
    expect(text).toContain('q_depth_bucket{le="1"} 3');
    expect(text).toContain('q_depth_bucket{le="4"} 4');
    expect(text).toContain('q_depth_bucket{le="256"} 5');
    expect(text).toContain('q_depth_bucket{le="+Inf"} 5');
    expect(text).toContain('q_depth_sum 203');
    expect(text).toContain('q_depth_count 5');

    // Cumulative across scrapes, like any Prometheus histogram.
    sample = { connections: 2, backedUpDepths: [2000] };
    const again = await registry.metrics();
    expect(again).toContain('q_depth_bucket{le="0"} 4');
    expect(again).toContain('q_depth_bucket{le="256"} 6');
    expect(again).toContain('q_depth_bucket{le="+Inf"} 7');
    expect(again).toContain('q_depth_sum 2203');
  });
});
