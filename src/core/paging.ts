/** Default and largest page of a list answer (DESIGN §10: every list answer is bounded). */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** One page of a list, and where the next one starts (null: this was the last). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Cuts a page from `limit + 1` records read in order: the extra one only says that more follow,
 * and the cursor is the id of the page's last record (the next page starts after it).
 */
export function toPage<T extends { id: string }>(records: T[], limit: number): Page<T> {
  if (records.length <= limit) return { items: records, next_cursor: null };
  const items = records.slice(0, limit);
  return { items, next_cursor: items[items.length - 1]!.id };
}
