"""Memory and throughput plan for training a StreamDiT preset with FSDP (docs/scaling.md).

Counted, not guessed, where that is possible without a GPU: parameters, FLOPs per sample
(streamdit.models.flops) and the bytes autograd saves for backward in one bf16 training forward, with and
without activation checkpointing (saved-tensor hooks on a weightless meta-device model). The step time
comes from a measured run (--step-seconds, from scripts/train_paper_4b.sh) or, until there is one, from an
assumed MFU (--mfu), and the table says which.

    python scripts/scaling_plan.py --preset paper-4b --gpus 1,8,32,64 --batch 4 --samples 5e6
"""

from __future__ import annotations

import argparse
import math
from unittest import mock

import torch
import torch.nn.functional as F

from streamdit.models.dit import PRESETS, StreamDiT, StreamDiTConfig
from streamdit.models.flops import PEAK_FLOPS, forward_flops

STATE_BYTES_PER_PARAM = 4 + 4 + 8 + 4  # fp32 weights, fp32 gradients, AdamW's two moments, EMA


class _FlashSaves(torch.autograd.Function):
    """Identity on the attention output that saves what a flash attention kernel keeps for backward."""

    @staticmethod
    def forward(ctx, q, k, v, out):
        log_sum_exp = torch.empty(q.shape[:-1], dtype=torch.float32, device=q.device)
        ctx.save_for_backward(q, k, v, out, log_sum_exp)
        return out.view_as(out)

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("only used to count saved tensors")


def saved_activation_bytes(config: StreamDiTConfig, text_tokens: int, checkpointing: bool) -> int:
    """Bytes autograd keeps for backward in one bf16 training forward over one buffer (weights excluded).

    Attention is counted as the GPU's flash/cuDNN kernels keep it (q, k, v, the output and a float32
    log-sum-exp), not as the math kernel that runs on the meta device (its attention matrices).
    Tensors are told apart by identity, so two views of one tensor count twice: an upper bound."""
    with torch.device("meta"):
        model = StreamDiT(config).to(torch.bfloat16)
        x = torch.zeros(1, config.in_channels, config.buffer_frames, config.latent_height, config.latent_width,
                        dtype=torch.bfloat16)
        t, text = torch.zeros(1, config.buffer_frames), torch.zeros(1, text_tokens, config.text_dim, dtype=torch.bfloat16)
    if checkpointing:
        model.enable_gradient_checkpointing()
    model.train()
    weights = {id(p) for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if id(tensor) not in weights:
            saved[id(tensor)] = tensor.numel() * tensor.element_size()
        return tensor

    def flash_attention(q, k, v, *args, **kwargs):
        with torch.autograd.graph.saved_tensors_hooks(lambda z: z, lambda z: z):  # the math kernel: not counted
            out = sdpa(q, k, v, *args, **kwargs)
        return _FlashSaves.apply(q, k, v, out)  # saved through the active hooks (checkpointing's, or pack)

    sdpa = F.scaled_dot_product_attention
    with (torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor),
          mock.patch.object(F, "scaled_dot_product_attention", flash_attention)):
        model(x, t, text)
    return sum(saved.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper-4b", choices=sorted(PRESETS))
    parser.add_argument("--text-tokens", type=int, default=64)
    parser.add_argument("--gpus", default="1,8,32,64", help="GPU counts to plan for")
    parser.add_argument("--batch", type=int, default=4, help="buffers per GPU and step")
    parser.add_argument("--gpu", default="H100", choices=sorted(PEAK_FLOPS), help="for the peak FLOP/s")
    parser.add_argument("--mfu", type=float, default=0.35, help="assumed model FLOP utilisation")
    parser.add_argument("--step-seconds", type=float, default=None,
                        help="measured seconds per step at --batch (replaces the MFU assumption)")
    parser.add_argument("--samples", type=float, default=5e6, help="training buffers to plan for")
    args = parser.parse_args()

    cfg = StreamDiTConfig.preset(args.preset)
    with torch.device("meta"):
        params = StreamDiT(cfg).num_parameters()
    tokens = math.prod(cfg.token_grid)
    flops = 4 * forward_flops(cfg, args.text_tokens)  # forward, backward (2x), recomputed forward
    plain = saved_activation_bytes(cfg, args.text_tokens, checkpointing=False)
    kept = saved_activation_bytes(cfg, args.text_tokens, checkpointing=True)
    block = (plain - kept) / cfg.depth  # one block's activations, alive while it is recomputed
    gathered = 2 * 2 * params / cfg.depth  # bf16 weights of the running and the prefetched block
    print(f"{args.preset}: {params / 1e9:.2f}B parameters, {tokens} tokens per buffer, "
          f"{flops / 1e12:.0f} TFLOPs per buffer and training step (with recomputation)")
    print(f"saved for backward per buffer (bf16): {plain / 2**30:.1f} GiB plain, {kept / 2**30:.2f} GiB with "
          f"activation checkpointing (+{block / 2**30:.2f} GiB while a block is recomputed)")
    print(f"training state: {STATE_BYTES_PER_PARAM * params / 1e9:.0f} GB (fp32 weights, gradients, AdamW, EMA), "
          f"divided over the GPUs by FSDP")
    if args.step_seconds:
        step, source = args.step_seconds, f"measured {args.step_seconds:.2f} s/step"
    else:
        step = args.batch * flops / (args.mfu * PEAK_FLOPS[args.gpu])
        source = f"ASSUMED MFU {args.mfu:.0%} of the {args.gpu}'s {PEAK_FLOPS[args.gpu] / 1e12:.0f} TFLOP/s"
    print(f"\nbatch {args.batch} per GPU, step {step:.2f} s ({source}), {args.samples:.3g} buffers:")
    print(f"{'GPUs':>5} {'memory/GPU':>11} {'tokens/s':>12} {'days':>7}")
    for gpus in (int(g) for g in args.gpus.split(",")):
        memory = STATE_BYTES_PER_PARAM * params / gpus + args.batch * kept + block + gathered
        rate = gpus * args.batch / step  # buffers per second
        print(f"{gpus:>5} {memory / 2**30:>8.1f} GiB {rate * tokens:>12,.0f} {args.samples / rate / 86400:>7.1f}")


if __name__ == "__main__":
    main()
