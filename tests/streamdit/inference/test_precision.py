"""bf16 where it is fast, fp32 elsewhere: the choice, and what a model makes in each."""

import numpy as np
import pytest
import torch

from streamdit import StreamDiTPipeline
from streamdit.inference.precision import fast_dtype, resolve_dtype

# Stated tolerances, with what was measured on the bundled student (AMD EPYC, AVX512-BF16):
VELOCITY_TOLERANCE = 0.03  # relative error of one evaluation in bf16 (measured below 0.01)
FRAME_TOLERANCE = 8.0  # mean absolute difference of a streamed frame, of 255 (measured: 0.4-4.6 over 48 frames:
# bf16 rounding moves an object's edge by a pixel, and the stream carries that on)


def test_dtype_names_and_auto():
    assert resolve_dtype("float32") is torch.float32 and resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype("auto") is fast_dtype("cpu") in (torch.float32, torch.bfloat16)
    slow, fast = {torch.float32: 2e11, torch.bfloat16: 2.5e11}, {torch.float32: 2e11, torch.bfloat16: 9e11}
    assert resolve_dtype("auto", "cpu", slow) is torch.float32 and resolve_dtype("auto", "cpu", fast) is torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8")


@pytest.fixture(scope="module")
def student_pipes():
    return {dtype: StreamDiTPipeline.from_pretrained(None, dtype=dtype) for dtype in (torch.float32, torch.bfloat16)}


def test_one_evaluation_in_bf16_is_within_tolerance_of_fp32(student_pipes):
    fp32 = student_pipes[torch.float32]
    cfg = fp32.model.config
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, cfg.in_channels, cfg.buffer_frames, cfg.latent_height, cfg.latent_width, generator=generator)
    t = torch.linspace(0.2, 0.95, cfg.buffer_frames)[None]
    text = fp32.encode_prompt("a blue square moving up")
    with torch.no_grad():
        reference = fp32.model(x, t, text.tokens, text.mask)
        low = student_pipes[torch.bfloat16].model(x.bfloat16(), t.bfloat16(), text.tokens.bfloat16(), text.mask)
    assert low.dtype == torch.bfloat16
    assert (low.float() - reference).norm() / reference.norm() <= VELOCITY_TOLERANCE


def test_bundled_student_streams_the_same_video_in_bf16_as_in_fp32(student_pipes):
    from streamdit.data import detect_adherence

    prompt = "a blue square moving up on a white background"
    videos = {dtype: pipe.generate(prompt, num_frames=32, seed=3) for dtype, pipe in student_pipes.items()}
    difference = np.abs(videos[torch.float32].astype(np.int16) - videos[torch.bfloat16].astype(np.int16))
    assert difference.mean(axis=(1, 2, 3)).max() <= FRAME_TOLERANCE
    assert detect_adherence(videos[torch.float32], prompt) == detect_adherence(videos[torch.bfloat16], prompt)
