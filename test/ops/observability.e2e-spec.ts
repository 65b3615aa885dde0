/**
 * The drop-in observability files in deploy/: the Grafana dashboard and the Prometheus alert rules
 * name only metrics a running gateway exports, and the rules pass `promtool check rules` and their
 * own unit tests (`promtool test rules`). promtool comes from Debian's `prometheus` package,
 * installed by scripts/install-promtool.sh (npm test runs it through scripts/test-prereqs.sh).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  deleteKeys,
  GatewayProcess,
  PROJECT_ROOT as ROOT,
  SHARED_REDIS_URL,
  uniquePrefix,
} from '../harness/index.js';

const DASHBOARD = join(ROOT, 'deploy', 'grafana-dashboard.json');
const RULES = join(ROOT, 'deploy', 'prometheus-rules.yml');
const RULE_TESTS = join(ROOT, 'deploy', 'prometheus-rules.test.yml');

/** Metric names in a PromQL expression (the gateway's and prom-client's default families). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:gateway|process|nodejs)_[a-z0-9_]+\b/g)].map((m) => m[0]);
}

/** Every `expr` of every panel (rows included) of a Grafana dashboard. */
function dashboardExprs(dashboard: { panels?: unknown[] }): string[] {
  const exprs: string[] = [];
  const visit = (panel: any): void => {
    for (const t of panel.targets ?? []) if (typeof t.expr === 'string') exprs.push(t.expr);
    for (const p of panel.panels ?? []) visit(p);
  };
  for (const p of dashboard.panels ?? []) visit(p);
  return exprs;
}

/** The `expr` values of a rules file (single-line or `>-` folded). */
function ruleExprs(yaml: string): string[] {
  const exprs: string[] = [];
  const lines = yaml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (!/^[>|]/.test(m[2])) {
      exprs.push(m[2]);
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > m[1].length)) {
      body.push(lines[++i].trim());
    }
    exprs.push(body.join(' '));
  }
  return exprs;
}

/** Sample names a /metrics answer can hold: each `# TYPE` family, with a histogram's series. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

function promtool(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: join(ROOT, 'deploy'), encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      `promtool: ${r.error.message}; install it with scripts/install-promtool.sh (npm test does)`,
    );
  }
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('deploy/: Grafana dashboard and Prometheus rules', () => {
  let gw: GatewayProcess;
  let exported: Set<string>;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    // With Redis: gateway_redis_up exists only then.
    gw = await GatewayProcess.start({ env: { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix } });
    const res = await fetch(`http://127.0.0.1:${gw.port}/metrics`);
    expect(res.status).toBe(200);
    exported = exportedNames(await res.text());
  });
  afterAll(async () => {
    await gw?.stop();
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('the dashboard covers each area and names only exported metrics', () => {
    const exprs = dashboardExprs(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
    const used = new Set(exprs.flatMap(metricNames));
    // The areas the dashboard is for, each by the metric that shows it.
    for (const name of [
      'gateway_connections',
      'gateway_handshake_refusals_total',
      'gateway_frames_sent_total',
      'gateway_fanout_latency_seconds_bucket',
      'gateway_send_queue_depth_bucket',
      'gateway_slow_consumer_evictions_total',
      'gateway_bus_published_total',
      'gateway_bus_received_total',
      'gateway_history_replays_total',
    ]) {
      expect(used).toContain(name);
    }
    const missing = [...used].filter((n) => !exported.has(n));
    expect(missing).toEqual([]);
  });

  it('the alert rules name only exported metrics', () => {
    const exprs = ruleExprs(readFileSync(RULES, 'utf8'));
    expect(exprs).toHaveLength(4);
    const used = new Set(exprs.flatMap(metricNames));
    expect([...used].sort()).toEqual(
      [
        'gateway_fanout_latency_seconds_bucket',
        'gateway_ready',
        'gateway_redis_up',
        'gateway_slow_consumer_evictions_total',
      ].sort(),
    );
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });

  it('promtool accepts the rules and their unit tests pass', () => {
    const check = promtool(['check', 'rules', RULES]);
    expect(check.out).toContain('SUCCESS: 4 rules found');
    expect(check.code).toBe(0);
    const test = promtool(['test', 'rules', RULE_TESTS]);
    expect(test.out).toContain('SUCCESS');
    expect(test.code).toBe(0);
  });
});
