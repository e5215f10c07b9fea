// LigerClient against a real `liger serve` on port 0 with the embedded model: a streamed
// generation, a two-turn session, a session moved to a second server (continuing token for token
// like a fork that never moved; damaged exports refused with DataLossError), a conversion plus a
// fine-tune job watched to its end, and status codes surfaced as LigerError.
import { ChildProcessWithoutNullStreams, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";

import { DataLossError, LigerClient, LigerError, status } from "../src/index";

const BINARY = process.env.LIGER_BINARY ?? "";
const MODEL = process.env.LIGER_MODEL ?? "";

const servers: ChildProcessWithoutNullStreams[] = [];
let client: LigerClient;
let address = "";
const root = fs.mkdtempSync(path.join(os.tmpdir(), "liger-ts-client-"));

// Starts a server (stopped after the tests) and resolves with the address from its "listening on"
// line.
function startServer(jobsDir: string): Promise<string> {
  const server = spawn(BINARY, ["serve", "--model", MODEL, "--port", "0", "--jobs-dir", jobsDir]);
  servers.push(server);
  server.stderr.resume();
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("liger serve did not start")), 120_000);
    server.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on("exit", (code) => reject(new Error(`liger serve exited with ${code}`)));
  });
}

before(async () => {
  assert.ok(BINARY && MODEL, "LIGER_BINARY and LIGER_MODEL must be set");
  address = await startServer(path.join(root, "jobs"));
  client = new LigerClient(address, { timeoutMs: 300_000 });
});

after(() => {
  client?.close();
  for (const server of servers) server.kill("SIGTERM");
  fs.rmSync(root, { recursive: true, force: true });
});

// The token ids a session generates after `text`: greedy and a fixed length, so the same state
// always yields the same ids.
async function turn(on: LigerClient, sessionId: string, text: string): Promise<number[]> {
  return (await on.complete(text, { sessionId, maxNewTokens: 12, ignoreEos: true })).tokenIds;
}
const FIRST_TURN = "Call me Ishmael. Some years ago, never mind how long precisely,";
const SECOND_TURN = " having little or no money in my purse,";

test("streams a generation token by token", async () => {
  const events = [];
  for await (const event of client.generate("The ship sailed", { maxNewTokens: 8, ignoreEos: true })) {
    events.push(event);
  }
  assert.equal(events.length, 8);
  assert.ok(events.every((e) => e.tokenId !== undefined));
  assert.ok(events.slice(0, -1).every((e) => e.finishReason === undefined));
  assert.equal(events[7].finishReason, "length");
  assert.equal(events[7].usage?.generatedTokens, 8);
  const completion = await client.complete("The ship sailed", { maxNewTokens: 8, ignoreEos: true });
  assert.deepEqual(completion.tokenIds, events.map((e) => e.tokenId));
  assert.equal(completion.text, events.map((e) => e.text).join(""));
});

test("continues a session", async () => {
  const session = await client.createSession();
  const first = await client.complete("Call me Ishmael.", { sessionId: session.sessionId, maxNewTokens: 4, ignoreEos: true });
  const afterFirst = await client.getSession(session.sessionId);
  assert.equal(afterFirst.tokens, (first.usage?.promptTokens ?? 0) + 4);
  const second = await client.complete(" Some years ago", { sessionId: session.sessionId, maxNewTokens: 4, ignoreEos: true });
  assert.equal(second.usage?.contextTokens, afterFirst.tokens);
  assert.ok((await client.listSessions()).some((s) => s.sessionId === session.sessionId));
  await client.deleteSession(session.sessionId);
  await assert.rejects(client.getSession(session.sessionId), (e: unknown) => e instanceof LigerError && e.code === status.NOT_FOUND);
});

test("moves a session to another server, where it continues like a fork that never moved", async () => {
  const target = new LigerClient(await startServer(path.join(root, "target-jobs")), { timeoutMs: 300_000 });
  try {
    const { sessionId } = await client.createSession();
    await turn(client, sessionId, FIRST_TURN);
    const unmoved = (await client.forkSession(sessionId)).sessionId;
    const exported = await client.exportSession(sessionId);
    assert.ok(exported.length > 0);

    // Never a silent fresh start on a server that does not hold the session.
    await assert.rejects(turn(target, sessionId, SECOND_TURN), (e: unknown) =>
      e instanceof LigerError && e.code === status.NOT_FOUND);
    // Small messages, so that the import streams many of them.
    const moved = await target.importSession(exported, { chunkBytes: 4096 });
    assert.equal(moved.sessionId, sessionId);
    assert.equal(moved.tokens, (await client.getSession(sessionId)).tokens);
    await client.deleteSession(sessionId);

    assert.deepEqual(await turn(target, sessionId, SECOND_TURN), await turn(client, unmoved, SECOND_TURN));
    await assert.rejects(target.importSession(exported), (e: unknown) =>
      e instanceof LigerError && e.code === status.ALREADY_EXISTS && !(e instanceof DataLossError));
    await target.deleteSession(sessionId);
    await client.deleteSession(unmoved);

    // A damaged, a truncated and an empty export are DATA_LOSS, and create nothing.
    const { sessionId: other } = await client.createSession();
    await turn(client, other, FIRST_TURN);
    const bytes = await client.exportSession(other);
    const refused: Uint8Array[] = [0, 20, bytes.length >> 1, bytes.length - 1].map((position) => {
      const damaged = Buffer.from(bytes);
      damaged[position] ^= 0x01;
      return damaged;
    });
    refused.push(bytes.subarray(0, bytes.length - 100), Buffer.alloc(0));
    for (const [i, damaged] of refused.entries()) {
      await assert.rejects(target.importSession(damaged), (e: unknown) =>
        e instanceof DataLossError && e instanceof LigerError && e.code === status.DATA_LOSS &&
        e.codeName === "DATA_LOSS" && e.name === "DataLossError", `export ${i}`);
    }
    assert.deepEqual(await target.listSessions(), []);
    await client.deleteSession(other);
    await assert.rejects(client.exportSession(other), (e: unknown) =>
      e instanceof LigerError && e.code === status.NOT_FOUND);
  } finally {
    target.close();
  }
});

test("surfaces status codes", async () => {
  await assert.rejects(client.complete("hello", { model: "no-such-model" }), (e: unknown) =>
    e instanceof LigerError && e.codeName === "NOT_FOUND" && e.details.includes("no-such-model"));
  await assert.rejects(client.complete("hello", { maxNewTokens: -1 }), (e: unknown) =>
    e instanceof LigerError && e.code === status.INVALID_ARGUMENT);
  const unreachable = new LigerClient("127.0.0.1:1", { timeoutMs: 5_000 });
  await assert.rejects(unreachable.listModels(), (e: unknown) =>
    e instanceof LigerError && (e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED));
  unreachable.close();
});

test("watches a fine-tune job to its end", async () => {
  const converted = await client.convert(MODEL, path.join(root, "tiny-gla"), { variant: "gla" });
  assert.equal(converted, path.join(root, "tiny-gla"));
  const train = path.join(root, "train.jsonl");
  fs.writeFileSync(train, [
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.",
    "It is a way I have of driving off the spleen and regulating the circulation, whenever I grow grim.",
  ].map((text) => JSON.stringify({ text })).join("\n") + "\n");
  const job = await client.fineTune(converted, path.join(root, "tuned"), train, {
    maxSteps: 2, sequenceLength: 32, gradientAccumulationSteps: 1, seed: 3,
  });
  assert.ok(job.state === "queued" || job.state === "running");
  const snapshots = [];
  for await (const snapshot of client.watchJob(job.jobId)) snapshots.push(snapshot);
  const last = snapshots[snapshots.length - 1];
  assert.equal(last.state, "succeeded", last.errorMessage);
  assert.deepEqual([last.progress.step, last.progress.totalSteps], [2, 2]);
  assert.ok(snapshots.filter((s) => s.progress.step >= 1).every((s) => Number.isFinite(s.progress.loss)));
  assert.ok(fs.existsSync(path.join(root, "tuned", "config.json")));
  assert.equal((await client.getJob(job.jobId)).state, "succeeded");
});
