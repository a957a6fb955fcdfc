/** `multiclaude-coord agent`: the worker-pool process (see docs/agent.md). */
export { createAgent, EXIT_INTERRUPTED, type Agent, type AgentPhase } from "./agent.js";
export { runAgent, resolveAgentOptions, type AgentFlags, type RunAgentOptions } from "./run.js";
export type { AgentOptions } from "./options.js";
export { createLogger, silentLogger, type AgentLogger, type LogFields, type LogLevel } from "./logger.js";
export { readState, workerOutcome, agentStatus, activePrs, type McState, type McRepo, type McAgent, type McHistoryEntry } from "./multiclaude-state.js";
export { writeMessageFile, messageFilePath, type McMessageFile } from "./message-files.js";
