import { cpus, freemem, totalmem } from "node:os";
import type { NodeMetrics } from "../core/types.js";

/** Busy and total CPU time of all cores, in ms, as `os.cpus()` counts it since boot. */
export interface CpuTimes {
  busy: number;
  total: number;
}

export function readCpuTimes(list: ReturnType<typeof cpus> = cpus()): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of list) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** CPU use between two samples, 0-100, one decimal. */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return round1(Math.min(100, Math.max(0, ((after.busy - before.busy) / total) * 100)));
}

/** Memory in use, 0-100, one decimal. */
export function memoryPercent(total: number = totalmem(), free: number = freemem()): number {
  if (total <= 0) return 0;
  return round1(Math.min(100, Math.max(0, ((total - free) / total) * 100)));
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * Samples the machine for heartbeats. CPU percent is measured over the time since the
 * previous sample (not since boot), so each heartbeat reports the load of its own interval.
 */
export interface MetricsSampler {
  sample(): NodeMetrics;
}

export interface MetricsSamplerOptions {
  /** Where CPU times come from (default `os.cpus()`; tests give their own). */
  readCpu?: () => CpuTimes;
}

export function createMetricsSampler(options: MetricsSamplerOptions = {}): MetricsSampler {
  return new IntervalSampler(options.readCpu ?? (() => readCpuTimes()));
}

class IntervalSampler implements MetricsSampler {
  private last: CpuTimes;

  constructor(private readonly read: () => CpuTimes) {
    this.last = read();
  }

  sample(): NodeMetrics {
    const now = this.read();
    const cpu = cpuPercent(this.last, now);
    this.last = now;
    return { cpu_percent: cpu, memory_percent: memoryPercent() };
  }
}
