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

const PAIR = /^([A-Za-z0-9][A-Za-z0-9._/-]{0,62}):([A-Za-z0-9._/+@=-]{1,128})$/;

/** Parses `k:v,k:v` (API query form) into labels; keys and values follow the same rules as in bodies. */
export function parseLabelQuery(text: string, field = "labels"): Labels {
  const labels: Labels = {};
  if (text === "") return labels;
  for (const part of text.split(",")) {
    const m = PAIR.exec(part);
    if (!m) {
      throw new CoordError("INVALID_REQUEST", `${field}: expected key:value pairs separated by commas, got ${JSON.stringify(part.slice(0, 100))}`, {
        fields: [{ field: `query.${field}`, message: "bad key:value pair" }],
      });
    }
    labels[m[1]!] = m[2]!;
  }
  return labels;
}
