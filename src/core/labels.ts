import type { Labels } from "./types.js";
import { CoordError } from "./errors.js";

/** Labels are requirements: a task fits a node when every `key:value` of the task is among the node's labels. */
export function labelsSatisfied(required: Labels, offered: Labels): boolean {
  for (const key in required) {
    if (offered[key] !== required[key]) return false;
  }
  return true;
}

/** The labels a node lacks for a task, for the LABELS_NOT_SATISFIED details. */
export function missingLabels(required: Labels, offered: Labels): Labels {
  const missing: Labels = {};
  for (const key in required) {
    if (offered[key] !== required[key]) missing[key] = required[key]!;
  }
  return missing;
}

/** A canonical string for a label set, so tasks with equal requirements share an index bucket. */
export function labelSignature(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}:${labels[k]}`)
    .join(",");
}

/** Parses `k:v,k:v` (API query form) into labels. */
export function parseLabelQuery(text: string, field = "labels"): Labels {
  const labels: Labels = {};
  if (text.trim() === "") return labels;
  for (const part of text.split(",")) {
    const i = part.indexOf(":");
    const key = i > 0 ? part.slice(0, i).trim() : "";
    const value = i > 0 ? part.slice(i + 1).trim() : "";
    if (!key || !value) {
      throw new CoordError("INVALID_REQUEST", `${field}: expected key:value pairs separated by commas, got "${part}"`, {
        fields: [{ field, message: `bad pair "${part}"` }],
      });
    }
    labels[key] = value;
  }
  return labels;
}
