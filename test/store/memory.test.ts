import { createMemoryStore } from "../../src/store/memory.js";
import { describeStoreConformance } from "./conformance.js";

describeStoreConformance("memory", async (options) => createMemoryStore(options));
