// TypeScript client for liger.v1.LigerService on @grpc/grpc-js: generation streamed as an async
// iterator, sessions (moved between servers as exported bytes), conversion, fine-tuning jobs
// watched as snapshots, and LigerError carrying the gRPC status code of every failed call
// (DataLossError for DATA_LOSS).
import * as path from "path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO_PATH = path.resolve(__dirname, "../proto/liger/v1/liger.proto");

/* eslint-disable @typescript-eslint/no-explicit-any */
type Message = Record<string, any>;

function loadService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(PROTO_PATH, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  return loaded.liger.v1.LigerService as grpc.ServiceClientConstructor;
}

/** A failed call: `code` is the gRPC status code, `codeName` its name ("NOT_FOUND", ...). */
export class LigerError extends Error {
  readonly code: grpc.status;
  readonly codeName: string;
  readonly details: string;

  constructor(code: grpc.status, details: string) {
    const codeName = grpc.status[code] ?? "UNKNOWN";
    super(`${codeName}: ${details}`);
    this.name = "LigerError";
    this.code = code;
    this.codeName = codeName;
    this.details = details;
  }
}

/** DATA_LOSS: damaged or truncated data, such as a corrupted session export. A LigerError too. */
export class DataLossError extends LigerError {
  constructor(details: string) {
    super(grpc.status.DATA_LOSS, details);
    this.name = "DataLossError";
  }
}

function toLigerError(error: unknown): LigerError {
  if (error instanceof LigerError) return error;
  const e = error as Partial<grpc.ServiceError>;
  if (typeof e.code === "number") {
    const details = e.details ?? String(e.message);
    return e.code === grpc.status.DATA_LOSS ? new DataLossError(details) : new LigerError(e.code, details);
  }
  return new LigerError(grpc.status.UNKNOWN, String(error));
}

export interface Usage {
  promptTokens: number;
  generatedTokens: number;
  contextTokens: number;
}

/** One streamed message; the last one carries finishReason and usage. */
export interface GenerationEvent {
  tokenId?: number;
  text: string;
  logprob?: number;
  finishReason?: "length" | "stop" | "eos" | "cancelled";
  usage?: Usage;
}

export interface Completion {
  text: string;
  tokenIds: number[];
  finishReason?: string;
  usage?: Usage;
}

export interface GenerateOptions {
  model?: string;
  sessionId?: string;
  maxNewTokens?: number;
  minNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  stop?: string[];
  stopTokenIds?: number[];
  ignoreEos?: boolean;
  logprobs?: boolean;
  addSpecialTokens?: boolean;
}

export interface Session {
  sessionId: string;
  model: string;
  tokens: number;
  stateBytes: number;
  busy: boolean;
}

export interface JobProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  learningRate: number;
  tokensPerSecond: number;
}

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "unspecified";

export interface Job {
  jobId: string;
  state: JobState;
  outputDir: string;
  progress: JobProgress;
  errorMessage: string;
  done: boolean;
}

export interface FineTuneOptions {
  evalData?: string;
  maxSteps?: number;
  epochs?: number;
  learningRate?: number;
  sequenceLength?: number;
  microBatchSize?: number;
  gradientAccumulationSteps?: number;
  loraRank?: number;
  seed?: number;
}

export interface ConvertOptions {
  variant?: "gla" | "hgrn2" | "gsa";
  window?: number;
  mix?: number;
  softmaxLayers?: number[];
  loadAs?: string;
}

const FINISH: Record<string, GenerationEvent["finishReason"]> = {
  FINISH_REASON_LENGTH: "length",
  FINISH_REASON_STOP: "stop",
  FINISH_REASON_EOS: "eos",
  FINISH_REASON_CANCELLED: "cancelled",
};

function toEvent(m: Message): GenerationEvent {
  const event: GenerationEvent = { text: "" };
  if (m.token) {
    event.tokenId = m.token.tokenId;
    event.text = m.token.textDelta;
    if (m.token.logprob !== undefined && m.token.logprob !== null) event.logprob = m.token.logprob;
  }
  const finish = FINISH[m.finishReason];
  if (finish) event.finishReason = finish;
  if (m.usage) event.usage = { ...m.usage } as Usage;
  return event;
}

function toSession(s: Message): Session {
  return {
    sessionId: s.sessionId,
    model: s.model,
    tokens: s.tokens,
    stateBytes: s.stateBytes,
    busy: s.busy,
  };
}

function toJob(j: Message): Job {
  const state = (String(j.state).replace("JOB_STATE_", "").toLowerCase() || "unspecified") as JobState;
  const p = j.progress ?? {};
  return {
    jobId: j.jobId,
    state,
    outputDir: j.request?.outputDir ?? "",
    progress: {
      step: p.step ?? 0,
      totalSteps: p.totalSteps ?? 0,
      epoch: p.epoch ?? 0,
      loss: p.loss ?? 0,
      learningRate: p.learningRate ?? 0,
      tokensPerSecond: p.tokensPerSecond ?? 0,
    },
    errorMessage: j.errorMessage ?? "",
    done: state === "succeeded" || state === "failed" || state === "cancelled",
  };
}

function generateRequest(prompt: string | number[], o: GenerateOptions): Message {
  const request: Message = {
    model: o.model ?? "",
    sessionId: o.sessionId ?? "",
    minNewTokens: o.minNewTokens ?? 0,
    stop: o.stop ?? [],
    stopTokenIds: o.stopTokenIds ?? [],
    ignoreEos: o.ignoreEos ?? false,
    logprobs: o.logprobs ?? false,
    sampling: {
      temperature: o.temperature ?? 0,
      topK: o.topK ?? 0,
      minP: o.minP ?? 0,
      presencePenalty: o.presencePenalty ?? 0,
      frequencyPenalty: o.frequencyPenalty ?? 0,
      seed: o.seed ?? 0,
    },
  };
  if (typeof prompt === "string") request.text = prompt;
  else request.tokenIds = { ids: prompt };
  if (o.maxNewTokens !== undefined) request.maxNewTokens = o.maxNewTokens;
  if (o.addSpecialTokens !== undefined) request.addSpecialTokens = o.addSpecialTokens;
  if (o.topP !== undefined) request.sampling.topP = o.topP;
  if (o.repetitionPenalty !== undefined) request.sampling.repetitionPenalty = o.repetitionPenalty;
  return request;
}

/**
 * A connection to a liger server.
 *
 *     const client = new LigerClient("127.0.0.1:50051");
 *     for await (const event of client.generate("The ship sailed", { maxNewTokens: 16 })) {
 *       process.stdout.write(event.text);
 *     }
 *     client.close();
 */
export class LigerClient {
  private readonly stub: any;
  private readonly timeoutMs?: number;

  constructor(target: string, options: { timeoutMs?: number; credentials?: grpc.ChannelCredentials } = {}) {
    const Service = loadService();
    this.stub = new Service(target, options.credentials ?? grpc.credentials.createInsecure());
    this.timeoutMs = options.timeoutMs;
  }

  close(): void {
    this.stub.close();
  }

  private callOptions(): grpc.CallOptions {
    return this.timeoutMs === undefined ? {} : { deadline: new Date(Date.now() + this.timeoutMs) };
  }

  // A call naming a session carries its id as metadata too, so that a load balancer hashing on it
  // (deploy/components/session-affinity) keeps the session on the pod that holds its state.
  private metadata(request: Message): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (request.sessionId) metadata.set("x-liger-session", request.sessionId);
    return metadata;
  }

  private unary(method: string, request: Message): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.stub[method](request, this.metadata(request), this.callOptions(),
        (error: grpc.ServiceError | null, response: Message) => (error ? reject(toLigerError(error)) : resolve(response)));
    });
  }

  private async *stream(method: string, request: Message): AsyncGenerator<Message> {
    const call: grpc.ClientReadableStream<Message> = this.stub[method](request, this.metadata(request), this.callOptions());
    try {
      for await (const message of call) yield message as Message;
    } catch (error) {
      throw toLigerError(error);
    } finally {
      call.cancel(); // stops the server's work when the caller stops early; a no-op at the end
    }
  }

  /** Streams events as the server samples tokens; leaving the loop early cancels the call. */
  async *generate(prompt: string | number[], options: GenerateOptions = {}): AsyncGenerator<GenerationEvent> {
    for await (const m of this.stream("Generate", generateRequest(prompt, options))) yield toEvent(m);
  }

  /** generate() to its end, as one Completion. */
  async complete(prompt: string | number[], options: GenerateOptions = {}): Promise<Completion> {
    const completion: Completion = { text: "", tokenIds: [] };
    for await (const event of this.generate(prompt, options)) {
      if (event.tokenId !== undefined) {
        completion.tokenIds.push(event.tokenId);
        completion.text += event.text;
      }
      if (event.finishReason) completion.finishReason = event.finishReason;
      if (event.usage) completion.usage = event.usage;
    }
    return completion;
  }

  async listModels(): Promise<string[]> {
    return (await this.unary("ListModels", {})).models.map((m: Message) => m.name);
  }

  async createSession(model = ""): Promise<Session> {
    return toSession((await this.unary("CreateSession", { model })).session);
  }

  async getSession(sessionId: string): Promise<Session> {
    return toSession((await this.unary("GetSession", { sessionId })).session);
  }

  async forkSession(sessionId: string): Promise<Session> {
    return toSession((await this.unary("ForkSession", { sessionId })).session);
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.unary("DeleteSession", { sessionId });
  }

  /**
   * The session as bytes (versioned, checksummed, tied to its model) for importSession() on
   * another server or for storage; the session stays on this one until deleted.
   */
  async exportSession(sessionId: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const m of this.stream("ExportSession", { sessionId })) chunks.push(m.chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * Makes the session exportSession() returned on this server, under the same id, streaming the
   * bytes in messages of `chunkBytes` (1 MiB unless given). Damaged or truncated bytes reject with
   * DataLossError; a session this server holds already with ALREADY_EXISTS.
   */
  async importSession(data: Uint8Array, options: { chunkBytes?: number } = {}): Promise<Session> {
    const chunkBytes = options.chunkBytes ?? 1 << 20;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
      throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
    }
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let call!: grpc.ClientWritableStream<Message>;
    const response = new Promise<Message>((resolve, reject) => {
      call = this.stub.ImportSession(new grpc.Metadata(), this.callOptions(),
        (error: grpc.ServiceError | null, r: Message) => (error ? reject(toLigerError(error)) : resolve(r)));
    });
    const ended = response.then(() => true, () => true);
    // One message even for no bytes, which the server refuses as DATA_LOSS, as it does a truncation.
    for (let offset = 0; offset < Math.max(bytes.length, 1); offset += chunkBytes) {
      if (!call.write({ chunk: bytes.subarray(offset, offset + chunkBytes) })) {
        // Flow control: wait until the buffered messages are sent, or the call has ended (the
        // server answered early, e.g. refusing the header), which makes further writes moot.
        const drained = new Promise<boolean>((resolve) => call.once("drain", () => resolve(false)));
        if (await Promise.race([drained, ended])) break;
      }
    }
    call.end();
    return toSession((await response).session);
  }

  async listSessions(model = ""): Promise<Session[]> {
    return (await this.unary("ListSessions", { model })).sessions.map(toSession);
  }

  /** Converts a checkpoint on the server into a Liger model; resolves with the written output dir. */
  async convert(modelDir: string, outputDir: string, options: ConvertOptions = {}): Promise<string> {
    const request: Message = {
      modelDir,
      outputDir,
      variant: `LIGER_VARIANT_${(options.variant ?? "gla").toUpperCase()}`,
      softmaxLayers: options.softmaxLayers ?? [],
      loadAs: options.loadAs ?? "",
    };
    if (options.window !== undefined) request.window = options.window;
    if (options.mix !== undefined) request.mix = options.mix;
    let written = "";
    for await (const m of this.stream("Convert", request)) {
      if (m.result) written = m.result.outputDir;
    }
    return written;
  }

  /** Starts a LoRA fine-tuning job on the server (paths are the server's). */
  async fineTune(modelDir: string, outputDir: string, trainData: string, o: FineTuneOptions = {}): Promise<Job> {
    const request: Message = {
      modelDir,
      outputDir,
      trainData,
      evalData: o.evalData ?? "",
      maxSteps: o.maxSteps ?? 0,
      seed: o.seed ?? 0,
    };
    if (o.epochs !== undefined) request.epochs = o.epochs;
    if (o.learningRate !== undefined) request.learningRate = o.learningRate;
    if (o.sequenceLength !== undefined) request.sequenceLength = o.sequenceLength;
    if (o.microBatchSize !== undefined) request.microBatchSize = o.microBatchSize;
    if (o.gradientAccumulationSteps !== undefined) request.gradientAccumulationSteps = o.gradientAccumulationSteps;
    if (o.loraRank !== undefined) request.lora = { rank: o.loraRank };
    return toJob((await this.unary("FineTune", request)).job);
  }

  /** Streams a Job snapshot after every change, until the job ends. */
  async *watchJob(jobId: string): AsyncGenerator<Job> {
    for await (const m of this.stream("WatchJob", { jobId })) yield toJob(m.job);
  }

  async getJob(jobId: string): Promise<Job> {
    return toJob((await this.unary("GetJob", { jobId })).job);
  }

  async cancelJob(jobId: string): Promise<Job> {
    return toJob((await this.unary("CancelJob", { jobId })).job);
  }
}

export { status } from "@grpc/grpc-js";
