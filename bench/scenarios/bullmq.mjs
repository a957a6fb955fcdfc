import { performance } from "node:perf_hooks";
import { Queue, Worker } from "bullmq";
import { sleep, summarize } from "../lib/stats.mjs";

const connectionOf = (redisUrl) => {
  const u = new URL(redisUrl);
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
};

/**
 * Scenario 6a: BullMQ doing scenario 1's work on the same redis-server: jobs added at a steady
 * rate, a worker with concurrency 50 (the 50 nodes); latency from sending the add to the job
 * starting in the worker.
 */
export async function bullmqLatency(redisUrl, { rate = 200, seconds = 5, warmupSeconds = 1 } = {}) {
  const connection = connectionOf(redisUrl);
  const name = `lat-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const sentAt = [];
  const latencies = [];
  const worker = new Worker(
    name,
    async (job) => {
      if (job.data.i >= warmupSeconds * rate) latencies.push(performance.now() - sentAt[job.data.i]);
    },
    { connection, concurrency: 50 },
  );
  await worker.waitUntilReady();
  const total = (seconds + warmupSeconds) * rate;
  const start = performance.now();
  const adds = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt[i] = performance.now();
    adds.push(queue.add("task", { i }, { removeOnComplete: true }));
  }
  await Promise.all(adds);
  const deadline = performance.now() + 10_000;
  while (latencies.length < total - warmupSeconds * rate && performance.now() < deadline) await sleep(50);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return summarize(latencies);
}

/** Scenario 6b: BullMQ lifecycle throughput: 16 producers add as fast as answered, concurrency 32 completes. */
export async function bullmqLifecycle(redisUrl, { producers = 16, seconds = 5 } = {}) {
  const connection = connectionOf(redisUrl);
  const name = `life-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let completed = 0;
  let deadline = Infinity;
  const worker = new Worker(name, async () => {}, { connection, concurrency: 32 });
  worker.on("completed", () => {
    if (performance.now() <= deadline) completed++;
  });
  await worker.waitUntilReady();
  deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) await queue.add("task", {}, { removeOnComplete: true });
    }),
  );
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { tasks_per_second: Math.round(completed / seconds) };
}
