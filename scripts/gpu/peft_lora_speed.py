#!/usr/bin/env python3
"""Training speed of LoRA (r=8, alpha=8, q/k/v) under PEFT on a Hugging Face checkpoint: the
same-card baseline for `liger finetune`. Random token sequences, AdamW, 8 sequences per optimizer
step split into micro-batches; prints tokens/s over the timed steps and the peak allocated memory.

Usage: peft_lora_speed.py MODEL_DIR MICRO_BATCH [SEQ_LEN] [STEPS]
"""
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM


def main() -> None:
    model_dir, micro = sys.argv[1], int(sys.argv[2])
    seq_len = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    global_batch = 8
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16,
                                                 attn_implementation="sdpa").cuda()
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=8, lora_dropout=0.0,
                                             target_modules=["q_proj", "k_proj", "v_proj"]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                                  betas=(0.9, 0.95), weight_decay=0.0)
    vocab = model.config.vocab_size
    torch.manual_seed(0)
    timed_tokens, start = 0, None
    for step in range(steps):
        if step == 2:  # the first steps include allocator warm-up and kernel selection
            torch.cuda.synchronize()
            start = time.perf_counter()
            timed_tokens = 0
        for _ in range(global_batch // micro):
            ids = torch.randint(0, vocab, (micro, seq_len), device="cuda")
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=ids).loss / (global_batch // micro)
            loss.backward()
            timed_tokens += micro * seq_len
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    print(f"peft softmax LoRA: micro-batch {micro} seq {seq_len}: "
          f"{timed_tokens / elapsed:.0f} tokens/s, peak {torch.cuda.max_memory_allocated() / 1e9:.1f} GB")


if __name__ == "__main__":
    main()
