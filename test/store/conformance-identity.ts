import { expect, it } from "vitest";
import type { Caller } from "../../src/core/identity.js";
import { expectCode, OFFLINE_THRESHOLD_MS, type Harness } from "./conformance-harness.js";

const teamA: Caller = { name: "team-a", role: "node" };
const teamB: Caller = { name: "team-b", role: "node" };
const admin: Caller = { name: "lead", role: "admin" };

/** Node ownership (DESIGN §10): the owner is stored with the node and survives every write of it. */
export function identitySpecs(h: () => Harness): void {
  it("keeps a node's owner through heartbeats, offline and online, claims, deregistration and re-registration", async () => {
    const { coord, store, createTask, advance } = h();
    const reg = (await coord.nodes.register({ node_id: "victim" }, teamA)).registration_id;
    expect((await store.getNode("victim"))!.owner).toBe("team-a");
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" }, teamA);
    await coord.nodes.heartbeat({ registration_id: reg, agents: [{ name: "w", type: "worker", status: "running" }] }, teamA);
    advance(OFFLINE_THRESHOLD_MS + 1);
    await coord.sweep();
    expect(await store.getNode("victim")).toMatchObject({ status: "offline", owner: "team-a" });
    await coord.nodes.heartbeat({ registration_id: reg }, teamA);
    await coord.tasks.complete(task.id, { registration_id: reg, pr: "#1" }, teamA);
    expect((await store.getNodeByRegistration(reg))!.owner).toBe("team-a");
    await coord.nodes.deregister(reg, teamA);
    expect(await store.getNode("victim")).toMatchObject({ status: "deregistered", owner: "team-a" });
    expect((await store.listNodes({})).find((n) => n.id === "victim")!.owner).toBe("team-a");

    // Deregistered is not forgotten: the id still belongs to team-a.
    expect((await expectCode(coord.nodes.register({ node_id: "victim" }, teamB), "NODE_OWNED")).details).toMatchObject({ owner: "team-a" });
    await coord.nodes.register({ node_id: "victim" }, teamA);
    expect((await store.getNode("victim"))!.owner).toBe("team-a");
    // The API shape of a node does not carry it.
    expect(await coord.nodes.getNode("victim")).not.toHaveProperty("owner");
  });

  it("refuses another token's registration everywhere and lets an admin take the node over", async () => {
    const { coord, store, createTask } = h();
    const reg = (await coord.nodes.register({ node_id: "victim" }, teamA)).registration_id;
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" }, teamA);
    await expectCode(coord.nodes.heartbeat({ registration_id: reg }, teamB), "FORBIDDEN");
    await expectCode(coord.tasks.complete(task.id, { registration_id: reg, pr: "#666" }, teamB), "FORBIDDEN");
    await expectCode(coord.tasks.release(task.id, { registration_id: reg }, teamB), "FORBIDDEN");
    await expectCode(coord.claimNext({ registration_id: reg, worker_name: "x" }, undefined, teamB), "FORBIDDEN");
    await expectCode(coord.nodes.deregister(reg, teamB), "FORBIDDEN");
    expect((await store.getTask(task.id))!).toMatchObject({ status: "claimed", claimed_node: "victim" });

    const takeover = await coord.nodes.register({ node_id: "victim" }, admin);
    expect(takeover.takeover_from).toBe("team-a");
    expect((await store.getNode("victim"))!.owner).toBe("lead");
    await expectCode(coord.nodes.heartbeat({ registration_id: reg }, teamA), "REGISTRATION_NOT_FOUND");
    await expectCode(coord.nodes.register({ node_id: "victim" }, teamA), "NODE_OWNED");
    const registered = (await h().allEvents()).filter((e) => e.type === "node.registered").at(-1)!;
    expect(registered.data).toMatchObject({ node_id: "victim", takeover_from: "team-a" });
  });
}
