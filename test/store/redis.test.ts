import { afterAll, beforeAll, describe } from "vitest";
import { createRedisStore } from "../../src/store/redis.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { describeStoreConformance } from "./conformance.js";
import { replicaSpecs } from "./redis-replicas.js";

// Without redis-server the suite is reported as skipped; in CI a missing server is a failure.
const skip = !findRedisServer() && !process.env.CI;

describe.skipIf(skip)("Redis store (real redis-server)", () => {
  let server: RedisServer | undefined;
  let n = 0;
  // Every store gets its own key prefix on the one server: tests never see each other's keys.
  const nextPrefix = () => `t${process.pid}-${++n}:`;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describeStoreConformance("redis", (options) => createRedisStore(server!.url, { ...options, keyPrefix: nextPrefix() }));
  replicaSpecs(() => server!.url, nextPrefix);
});
