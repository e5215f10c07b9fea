#!/usr/bin/env python3
"""Perplexity of a checkpoint under Hugging Face transformers, packed exactly as `liger eval` packs.

Each document is tokenized with its BOS (the checkpoint's own tokenizer library: `tokenizers` for
tokenizer.json, `sentencepiece` for tokenizer.model), EOS appended, all documents concatenated in
file order, cut into non-overlapping seq_len windows (last partial one dropped); the figure is
exp(mean next-token loss over positions 1..seq_len-1 of every window). Runs where transformers is
installed (the GPU machine); prints `perplexity: <number>` last, like `liger eval`.
"""
import argparse
import json
import math
import os

import torch
from transformers import AutoModelForCausalLM


def encode_fn(model_dir):
    if os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        eos = json.load(open(os.path.join(model_dir, "config.json")))["eos_token_id"]
        return (lambda text: tok.encode(text).ids), eos
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    return (lambda text: [sp.bos_id()] + sp.encode(text)), sp.eos_id()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cuda")
    a = p.parse_args()
    encode, eos = encode_fn(a.model)
    if isinstance(eos, list):
        eos = eos[0]
    stream = []
    with open(a.data) as f:
        for line in f:
            if line.strip():
                stream += encode(json.loads(line)["text"]) + [eos]
    windows = len(stream) // a.seq_len
    ids = torch.tensor(stream[: windows * a.seq_len]).view(windows, a.seq_len)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32).to(a.device).eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, windows, a.batch_size):
            batch = ids[i : i + a.batch_size].to(a.device)
            logits = model(batch).logits.float()
            total += torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1), reduction="sum"
            ).item()
    scored = windows * (a.seq_len - 1)
    print(f"tokens: {len(stream)}\nwindows: {windows}\nmean loss: {total / scored:.6f}")
    print(f"perplexity: {math.exp(total / scored):.4f}")


if __name__ == "__main__":
    main()
