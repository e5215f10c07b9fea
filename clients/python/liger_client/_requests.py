"""Request builders shared by the sync and asyncio clients."""

from liger_client._proto import pb

# Sent with every call that names a session, so that a load balancer hashing on it (Envoy's
# consistent hash, deploy/components/session-affinity) keeps a session on the pod that holds it.
SESSION_METADATA_KEY = "x-liger-session"


def call_metadata(request, api_key=None):
    """Call metadata for `request`: the API key as a bearer token, when there is one, and the
    request's session id, when it has one."""
    metadata = []
    if api_key:
        metadata.append(("authorization", f"Bearer {api_key}"))
    session_id = getattr(request, "session_id", "")
    if session_id:
        metadata.append((SESSION_METADATA_KEY, session_id))
    return tuple(metadata) or None


_VARIANTS = {"gla": pb.LIGER_VARIANT_GLA, "hgrn2": pb.LIGER_VARIANT_HGRN2,
             "gsa": pb.LIGER_VARIANT_GSA}


def generate_request(prompt, *, model="", session_id="", max_new_tokens=None, min_new_tokens=0,
                     temperature=0.0, top_k=0, top_p=None, min_p=0.0, repetition_penalty=None,
                     presence_penalty=0.0, frequency_penalty=0.0, seed=0, stop=(),
                     stop_token_ids=(), ignore_eos=False, logprobs=False, top_logprobs=0,
                     add_special_tokens=None):
    """A GenerateRequest; `prompt` is text (str) or token ids (a sequence of ints)."""
    request = pb.GenerateRequest(model=model, session_id=session_id,
                                 min_new_tokens=min_new_tokens, stop=list(stop),
                                 stop_token_ids=list(stop_token_ids), ignore_eos=ignore_eos,
                                 logprobs=logprobs, top_logprobs=top_logprobs)
    if isinstance(prompt, str):
        request.text = prompt
    else:
        request.token_ids.ids.extend(int(i) for i in prompt)
    if max_new_tokens is not None:
        request.max_new_tokens = max_new_tokens
    if add_special_tokens is not None:
        request.add_special_tokens = add_special_tokens
    s = request.sampling
    s.temperature = temperature
    s.top_k = top_k
    s.min_p = min_p
    s.presence_penalty = presence_penalty
    s.frequency_penalty = frequency_penalty
    s.seed = seed
    if top_p is not None:
        s.top_p = top_p
    if repetition_penalty is not None:
        s.repetition_penalty = repetition_penalty
    return request


def convert_request(model_dir, output_dir, *, variant="gla", window=None, mix=None,
                    softmax_layers=(), load_as=""):
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, not {variant!r}")
    request = pb.ConvertRequest(model_dir=model_dir, output_dir=output_dir,
                                variant=_VARIANTS[variant], softmax_layers=list(softmax_layers),
                                load_as=load_as)
    if window is not None:
        request.window = window
    if mix is not None:
        request.mix = mix
    return request


def fine_tune_request(model_dir, output_dir, train_data, *, eval_data="", max_steps=0,
                      epochs=None, learning_rate=None, sequence_length=None,
                      micro_batch_size=None, gradient_accumulation_steps=None, lora_rank=None,
                      seed=0, save_every_steps=0, data_parallel_ranks=0, device=""):
    request = pb.FineTuneRequest(model_dir=model_dir, output_dir=output_dir,
                                 train_data=train_data, eval_data=eval_data, max_steps=max_steps,
                                 seed=seed, save_every_steps=save_every_steps,
                                 data_parallel_ranks=data_parallel_ranks, device=device)
    for field, value in (("epochs", epochs), ("learning_rate", learning_rate),
                         ("sequence_length", sequence_length),
                         ("micro_batch_size", micro_batch_size),
                         ("gradient_accumulation_steps", gradient_accumulation_steps)):
        if value is not None:
            setattr(request, field, value)
    if lora_rank is not None:
        request.lora.rank = lora_rank
    return request
