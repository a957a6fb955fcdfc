/**
 * Coordinator repo names ↔ local multiclaude repo names. The coordinator may call a repo
 * `backend` while this machine cloned it as `acme-backend`: `repos: {backend: acme-backend}`.
 */
export interface RepoMap {
  /** The local multiclaude repo for a coordinator repo name. */
  toLocal(coordRepo: string): string;
  /** The coordinator's name for a local repo. */
  toCoord(localRepo: string): string;
  /**
   * The coordinator repo names whose tasks this node can run: those that map to one of
   * `localRepos` (the repos multiclaude has initialised here), sorted.
   */
  claimable(localRepos: readonly string[]): string[];
}

/** Coordinator repo name → local multiclaude repo name; repos not listed keep their name. */
export type RepoMapOptions = Readonly<Record<string, string>>;

/** What the coordinator accepts as a repo name (others could never match a task). */
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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

  claimable(localRepos: readonly string[]): string[] {
    const local = new Set(localRepos);
    const names = new Set<string>();
    for (const [coord, target] of Object.entries(this.map)) if (local.has(target)) names.add(coord);
    for (const l of local) if (!Object.hasOwn(this.map, l)) names.add(l);
    return [...names].filter((n) => REPO_NAME.test(n)).sort();
  }
}
