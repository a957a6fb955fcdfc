export { createCoordinator, MAX_WAIT_SECONDS, type Coordinator } from "./coordinator.js";
export type * from "./types.js";
