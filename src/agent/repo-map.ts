/**
 * Coordinator repo names ↔ local multiclaude repo names. The coordinator may call a repo
 * `backend` while this machine cloned it as `acme-backend`: `repos: {backend: acme-backend}`.
 */
export interface RepoMap {
  /** The local multiclaude repo for a coordinator repo name. */
  toLocal(coordRepo: string): string;
  /** The coordinator's name for a local repo. */
  toCoord(localRepo: string): string;
}

/** Coordinator repo name → local multiclaude repo name; repos not listed keep their name. */
export type RepoMapOptions = Readonly<Record<string, string>>;

export function createRepoMap(map: RepoMapOptions = {}): RepoMap {
  return new TableRepoMap(map);
}

class TableRepoMap implements RepoMap {
  private readonly reverse = new Map<string, string>();

  constructor(private readonly map: RepoMapOptions) {
    // The first coordinator name wins when two map to one local repo.
    for (const [coord, local] of Object.entries(map)) if (!this.reverse.has(local)) this.reverse.set(local, coord);
  }

  toLocal(coordRepo: string): string {
    return Object.hasOwn(this.map, coordRepo) ? this.map[coordRepo]! : coordRepo;
  }

  toCoord(localRepo: string): string {
    return this.reverse.get(localRepo) ?? localRepo;
  }
}
