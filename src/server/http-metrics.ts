import type { Metric, Registry } from "prom-client";

/** What one route answered to one method: answers by status, and the duration histogram. */
interface RouteStats {
  method: string;
  route: string;
  byStatus: Map<number, number>;
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

export interface HttpMetricsOptions {
  registry: Registry;
  requests: { name: string; help: string };
  duration: { name: string; help: string; buckets: number[] };
}

/**
 * `mcc_http_requests_total{method,route,status}` and `mcc_http_request_duration_seconds{method,route}`
 * as prom-client would expose them, counted with a few map lookups per request. prom-client's own
 * Counter and Histogram check and hash their label objects on every `inc` and `observe`: two
 * microseconds of every request, for series that are read once per scrape. Here the work of
 * writing the series happens at scrape time. Their labels are bounded: routes are the app's own
 * (or `unmatched`), methods the ones the HTTP parser accepts, statuses the ones the app answers.
 */
export function createHttpMetrics(options: HttpMetricsOptions): (method: string, route: string, status: number, seconds: number) => void {
  const bounds = [...options.duration.buckets].sort((a, b) => a - b);
  // route → method → stats: both strings come from fastify's route table and the HTTP parser,
  // the same string each time, so the maps find them without building a key.
  const stats = new Map<string, Map<string, RouteStats>>();
  const all = () => [...stats.values()].flatMap((m) => [...m.values()]);

  const metric = (name: string, help: string, type: "counter" | "histogram", values: () => unknown[], reset: () => void) => ({
    name,
    help,
    type,
    aggregator: "sum",
    get: async () => ({ name, help, type, values: values(), aggregator: "sum" }),
    reset,
  });
  const requests = metric(
    options.requests.name,
    options.requests.help,
    "counter",
    () => all().flatMap((s) => [...s.byStatus].map(([status, value]) => ({ labels: { method: s.method, route: s.route, status: String(status) }, value }))),
    () => all().forEach((s) => s.byStatus.clear()),
  );
  const name = options.duration.name;
  const duration = metric(
    name,
    options.duration.help,
    "histogram",
    () =>
      all()
        .filter((s) => s.count > 0)
        .flatMap((s) => {
          // As prom-client writes a histogram: cumulative buckets with `le` first, then +Inf, sum and count.
          const labels = { method: s.method, route: s.route };
          let acc = 0;
          return [
            ...bounds.map((le, i) => ({ labels: { le, ...labels }, value: (acc += s.counts[i]!), metricName: `${name}_bucket` })),
            { labels: { le: "+Inf", ...labels }, value: s.count, metricName: `${name}_bucket` },
            { labels, value: s.sum, metricName: `${name}_sum` },
            { labels, value: s.count, metricName: `${name}_count` },
          ];
        }),
    () =>
      all().forEach((s) => {
        s.counts.fill(0);
        s.sum = 0;
        s.count = 0;
      }),
  );
  options.registry.registerMetric(requests as unknown as Metric);
  options.registry.registerMetric(duration as unknown as Metric);

  return (method, route, status, seconds) => {
    let methods = stats.get(route);
    if (!methods) stats.set(route, (methods = new Map()));
    let s = methods.get(method);
    if (!s) methods.set(method, (s = { method, route, byStatus: new Map(), counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 }));
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  };
}
