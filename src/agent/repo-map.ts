/**
 * Coordinator repo names ↔ local multiclaude repo names. The coordinator may call a repo
 * `backend` while this machine cloned it as `acme-backend`: `repos: {backend: acme-backend}`.
 */
export class RepoMap {
  private readonly reverse = new Map<string, string>();

  constructor(private readonly map: Readonly<Record<string, string>> = {}) {
    // The first coordinator name wins when two map to one local repo.
    for (const [coord, local] of Object.entries(map)) if (!this.reverse.has(local)) this.reverse.set(local, coord);
  }

  /** The local multiclaude repo for a coordinator repo name. */
  toLocal(coordRepo: string): string {
    return Object.hasOwn(this.map, coordRepo) ? this.map[coordRepo]! : coordRepo;
  }

  /** The coordinator's name for a local repo. */
  toCoord(localRepo: string): string {
    return this.reverse.get(localRepo) ?? localRepo;
  }
}
