#!/usr/bin/env python3
"""Writes a Llama-3.2-1B-shaped checkpoint with random weights (bf16, tied embeddings) for speed
measurements on the GPU machine, with the byte-level tokenizer of a fixture model beside it.

Usage: random_llama.py OUTPUT_DIR TOKENIZER_MODEL_DIR
"""
import shutil
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main() -> None:
    out, tokenizer_dir = Path(sys.argv[1]), Path(sys.argv[2])
    config = LlamaConfig(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True, bos_token_id=0,
        eos_token_id=1, torch_dtype="bfloat16")
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="100GB")
    # The fixture tokenizer's ids (vocabulary 8192) are valid ids of the larger vocabulary.
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_dir / name).exists():
            shutil.copy(tokenizer_dir / name, out / name)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters()) / 1e9:.3f}B parameters")


if __name__ == "__main__":
    main()
