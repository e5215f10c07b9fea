#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/ from the fixture models
(../shared/models): small valid inputs and near-valid variants of them. The output is committed;
rerun this only to change the seeds. Usage: fuzz/make_seed_corpus.py [SHARED_DIR]"""
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "..", "shared")
MODELS = os.path.join(SHARED, "models")


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.join(ROOT, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def read(model, name):
    with open(os.path.join(MODELS, model, name), "rb") as f:
        return f.read()


# --- safetensors_header_fuzzer: whole files ---------------------------------------------------

DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1, "F64": 8}


def safetensors(tensors, metadata=None, pad=0):
    """tensors: [(name, dtype, shape)] laid out back to back."""
    header, offset = {}, 0
    for name, dtype, shape in tensors:
        n = DTYPE_SIZE[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference writer pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + bytes(range(256)) * (offset // 256) + bytes(offset % 256 + pad)


def safetensors_seeds():
    # The fixture's real tensor names and dtypes, with shapes shrunk to keep the seed small.
    file = read("llama3-tiny", "model.safetensors")[:1 << 20]
    (length,) = struct.unpack("<Q", file[:8])
    real = json.loads(file[8:8 + length])
    names = sorted(k for k in real if k != "__metadata__")[:6]
    tensors = [(k, real[k]["dtype"], [min(d, 3) for d in real[k]["shape"]]) for k in names]
    write("safetensors_header_fuzzer", "fixture_names", safetensors(tensors, real.get("__metadata__")))
    write("safetensors_header_fuzzer", "dtypes", safetensors(
        [("f32", "F32", [2, 3]), ("bf16", "BF16", [4]), ("i64", "I64", [1, 1]), ("u8", "U8", [5]),
         ("scalar", "F32", []), ("empty", "F16", [0, 7])], {"format": "pt"}))
    write("safetensors_header_fuzzer", "empty_header", safetensors([]))
    valid = safetensors([("a", "F32", [2]), ("b", "F32", [2])])
    write("safetensors_header_fuzzer", "truncated", valid[:-3])
    write("safetensors_header_fuzzer", "header_past_end", struct.pack("<Q", 1 << 40) + valid[8:])
    overlap = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
    write("safetensors_header_fuzzer", "overlap", struct.pack("<Q", len(overlap)) + overlap + bytes(12))
    bad_dtype = b'{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}'
    write("safetensors_header_fuzzer", "bad_dtype", struct.pack("<Q", len(bad_dtype)) + bad_dtype + bytes(2))


# --- model_config_fuzzer: config.json text ------------------------------------------------------

def config_seeds():
    llama = json.loads(read("llama3-tiny", "config.json"))
    write("model_config_fuzzer", "llama3_tiny", read("llama3-tiny", "config.json"))
    write("model_config_fuzzer", "mistral_tiny", read("mistral-tiny", "config.json"))
    qwen2 = dict(llama, model_type="qwen2", architectures=["Qwen2ForCausalLM"], use_sliding_window=False,
                 rope_scaling=None, eos_token_id=[1, 2], dtype="bfloat16")
    write("model_config_fuzzer", "qwen2", json.dumps(qwen2, indent=1))
    qwen3 = dict(llama, model_type="qwen3", rope_scaling={"rope_type": "linear", "factor": 2.0})
    write("model_config_fuzzer", "qwen3_linear_rope", json.dumps(qwen3, indent=1))
    for variant in ("gla", "hgrn2", "gsa"):
        converted = dict(llama, model_type="liger_" + variant,
                         liger={"base_model_type": "llama", "variant": variant, "window": 64, "mix": 0.5,
                                "softmax_layers": [0, 4], "gate_normalizer": 16, "gsa_slots": 64,
                                "chunk_size": 64})
        write("model_config_fuzzer", "liger_" + variant, json.dumps(converted, indent=1))
    missing = {k: v for k, v in llama.items() if k != "hidden_size"}
    write("model_config_fuzzer", "missing_hidden_size", json.dumps(missing))
    write("model_config_fuzzer", "bad_heads", json.dumps(dict(llama, num_key_value_heads=3)))


# --- tokenizer_json_fuzzer: tokenizer.json text ---------------------------------------------------

def tokenizer_json_seeds():
    full = json.loads(read("llama3-tiny", "tokenizer.json"))
    vocab = full["model"]["vocab"]
    # The 3 added tokens, the 256-symbol byte-level alphabet and the tokens of the first merges whose
    # parts and results all stay in the trimmed vocabulary (ids must stay dense).
    keep = {token: i for token, i in vocab.items() if i < 259}
    merges = []
    for merge in full["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ")
        if left in keep and right in keep and left + right in vocab and len(keep) < 340:
            if left + right not in keep:
                keep[left + right] = len(keep)
            merges.append([left, right])
    small = dict(full)
    small["model"] = dict(full["model"], vocab=keep, merges=merges)
    write("tokenizer_json_fuzzer", "llama3_tiny_trimmed", json.dumps(small, ensure_ascii=False))
    minimal = {"version": "1.0", "added_tokens": [], "normalizer": None,
               "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                 "use_regex": True},
               "post_processor": None, "decoder": {"type": "ByteLevel"},
               "model": {"type": "BPE", "vocab": {k: v - 3 for k, v in keep.items() if 3 <= v < 259},
                         "merges": []}}
    write("tokenizer_json_fuzzer", "alphabet_only", json.dumps(minimal, ensure_ascii=False))
    write("tokenizer_json_fuzzer", "merges_as_strings",
          json.dumps(dict(small, model=dict(small["model"], merges=[" ".join(m) for m in merges])),
                     ensure_ascii=False))
    write("tokenizer_json_fuzzer", "unknown_model", json.dumps(dict(minimal, model={"type": "WordPiece"})))


# --- tokenizer_codec_fuzzer: mode byte, then text or int32 ids ------------------------------------
# mode bit 0: 0 llama3-tiny (BPE), 1 mistral-tiny (SentencePiece); bit 1: ids, else text;
# bit 2: text: add special tokens; ids: skip special tokens.

def codec_seeds():
    for model, bit in (("llama3-tiny", 0), ("mistral-tiny", 1)):
        lines = [json.loads(l) for l in read(model, "tokenizer-cases.jsonl").decode().splitlines() if l]
        for case in lines[:12]:
            digest = hashlib.sha1(case["text"].encode()).hexdigest()[:8]
            write("tokenizer_codec_fuzzer", f"{model}_text_{digest}", bytes([bit | 4]) + case["text"].encode())
            ids = b"".join(struct.pack("<i", i) for i in case["ids"])
            write("tokenizer_codec_fuzzer", f"{model}_ids_{digest}", bytes([bit | 2 | 4]) + ids)
    write("tokenizer_codec_fuzzer", "invalid_utf8", b"\x00caf\xc3 \xff\xfe")
    write("tokenizer_codec_fuzzer", "split_emoji_ids", b"\x02" + b"".join(struct.pack("<i", i) for i in (243, 253, 247, 224)))


# --- request_fuzzer: front byte (0 gRPC, 1 completions, 2 chat), then the request ------------------

def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def request_seeds():
    sampling = (field(1, 5, struct.pack("<f", 0.8)) + field(2, 0, varint(50)) + field(3, 5, struct.pack("<f", 0.95))
                + field(5, 5, struct.pack("<f", 1.1)) + field(8, 0, varint(7)))
    text = (field(1, 2, b"llama3-tiny") + field(2, 2, b"Call me Ishmael.") + field(4, 0, varint(1))
            + field(6, 2, sampling) + field(7, 0, varint(32)) + field(8, 0, varint(2))
            + field(9, 2, b"\n\n") + field(10, 0, varint(1)) + field(12, 0, varint(1)) + field(13, 0, varint(5)))
    write("request_fuzzer", "grpc_text", b"\x00" + text)
    ids = field(3, 2, field(1, 2, b"".join(varint(i) for i in (0, 42, 1452)))) + field(5, 2, b"session-1")
    write("request_fuzzer", "grpc_token_ids", b"\x00" + ids)
    bad = field(6, 2, field(1, 5, struct.pack("<f", -0.5))) + field(7, 0, varint(-1)) + field(13, 0, varint(21))
    write("request_fuzzer", "grpc_out_of_range", b"\x00" + bad)
    write("request_fuzzer", "completion", b"\x01" + json.dumps(
        {"model": "llama3-tiny", "prompt": "The ship sailed", "max_tokens": 40, "temperature": 0.7, "top_p": 0.9,
         "seed": 3, "stop": ["\n", "END"], "presence_penalty": 0.5, "frequency_penalty": -0.5, "n": 1,
         "stream": True}).encode())
    write("request_fuzzer", "completion_minimal", b'\x01{"prompt": "x"}')
    write("request_fuzzer", "completion_bad", b'\x01{"prompt": "x", "max_tokens": -1, "top_p": 0}')
    write("request_fuzzer", "chat", b"\x02" + json.dumps(
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi \u00e9"}],
         "max_completion_tokens": 8, "stop": "User:"}).encode())
    write("request_fuzzer", "chat_bad", b'\x02{"messages": [{"role": "", "content": 1}]}')
    # Crashes found by fuzzing, kept as seeds (the unit tests hold them too).
    write("request_fuzzer", "regression_top_p_rounds_to_zero", b'\x01{"prompt":"x","top_p":1e-50}')


safetensors_seeds()
config_seeds()
tokenizer_json_seeds()
codec_seeds()
request_seeds()
