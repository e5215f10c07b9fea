#!/usr/bin/env python3
"""The softmax model's side of bench/serving/serving_benchmark: the same figures for a Hugging Face
checkpoint through transformers (bf16, sdpa attention, its own KV cache), written as JSON with the
keys serving_benchmark reads (--baseline FILE).

Decode: every session is prefilled with a random prompt of CONTEXT tokens (the whole batch in one
call, only the last position's logits computed), then STEPS greedy steps are timed after 3 warm-up
steps, the next tokens chosen on the device. Prefill: the best of two calls per length. The state
of a session is its KV cache after the prompt.

Usage: hf_serving_benchmark.py MODEL_DIR OUT.json [--batches 1,16,64,256] [--context 2048]
                               [--long-context 32768] [--prefill 2048,8192,32768] [--steps 32]
"""
import argparse
import json
import time

import torch
from transformers import AutoModelForCausalLM, DynamicCache


def synchronized_seconds(fn):
    torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start, result


def prefill(model, ids, cache):
    """Runs the prompt and returns the last position's logits (never the whole [B, T, V])."""
    hidden = model.model(input_ids=ids, past_key_values=cache, use_cache=True).last_hidden_state
    return model.lm_head(hidden[:, -1:, :])[:, -1, :]


def cache_bytes(cache):
    """Bytes of every key and value tensor, across the cache layouts transformers has used."""
    if hasattr(cache, "layers"):
        tensors = [t for layer in cache.layers for t in (layer.keys, layer.values)]
    elif hasattr(cache, "key_cache"):
        tensors = list(cache.key_cache) + list(cache.value_cache)
    else:
        tensors = [t for layer in range(len(cache)) for t in cache[layer]]
    return sum(t.numel() * t.element_size() for t in tensors)


def decode_rate(model, vocab, batch, context, steps):
    cache = DynamicCache()
    ids = torch.randint(3, vocab, (batch, context), device="cuda")
    with torch.no_grad():
        logits = prefill(model, ids, cache)
        state_bytes = cache_bytes(cache) // batch
        next_ids = logits.argmax(-1, keepdim=True)

        def step():
            nonlocal next_ids
            out = model(input_ids=next_ids, past_key_values=cache, use_cache=True)
            next_ids = out.logits[:, -1, :].argmax(-1, keepdim=True)

        for _ in range(3):
            step()
        seconds, _ = synchronized_seconds(lambda: [step() for _ in range(steps)])
    del cache
    torch.cuda.empty_cache()
    return batch * steps / seconds, state_bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("out")
    parser.add_argument("--batches", default="1,16,64,256")
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--long-context", type=int, default=32768)
    parser.add_argument("--prefill", default="2048,8192,32768")
    parser.add_argument("--steps", type=int, default=32)
    args = parser.parse_args()

    model = AutoModelForCausalLM.from_pretrained(args.model_dir, torch_dtype=torch.bfloat16,
                                                 attn_implementation="sdpa").cuda().eval()
    vocab = model.config.vocab_size
    torch.manual_seed(0)
    result = {"model": args.model_dir, "prefill_ms": {}, "decode_tokens_per_s": {}}
    with torch.no_grad():
        prefill(model, torch.randint(3, vocab, (1, 256), device="cuda"), DynamicCache())
        for length in [int(x) for x in args.prefill.split(",")]:
            ids = torch.randint(3, vocab, (1, length), device="cuda")
            best = min(synchronized_seconds(lambda: prefill(model, ids, DynamicCache()))[0]
                       for _ in range(2))
            result["prefill_ms"][str(length)] = best * 1e3
    for batch in [int(x) for x in args.batches.split(",")]:
        rate, state_bytes = decode_rate(model, vocab, batch, args.context, args.steps)
        result["decode_tokens_per_s"][str(batch)] = rate
        result["state_bytes"] = state_bytes
    result["sessions_in_70GB"] = 70_000_000_000 // result["state_bytes"]
    result["decode_long_tokens_per_s"], _ = decode_rate(model, vocab, 1, args.long_context,
                                                        args.steps)
    with open(args.out, "w") as out:
        json.dump(result, out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
