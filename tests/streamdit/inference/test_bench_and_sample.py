"""`python -m streamdit sample` and the streaming benchmark on a small random pipeline (plumbing)."""

from __future__ import annotations

import json

import av
import pytest
import torch

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder
from streamdit.cli import main
from streamdit.inference.bench import bench_pipeline, benchmark_autoencoder, format_results

SMALL = dict(buffer_frames=4, latent_height=4, latent_width=4, patch_size=(1, 1, 1), hidden_size=32, depth=1,
             num_heads=2, window_size=(4, 4, 4))


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory, text_encoder):
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(8), text_encoder=text_encoder,
                                         config=PipelineConfig(chunk_size=2, micro_steps=2), **SMALL)
    directory = tmp_path_factory.mktemp("pipe")
    pipe.save_pretrained(directory)
    return directory


def test_sample_writes_videos_sidecars_and_prompts_plumbing_random_weights(pipe_dir, tmp_path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle moving left\n\na blue square moving up\n")
    out = tmp_path / "videos"
    assert main(["sample", "--model", str(pipe_dir), "--prompts", str(prompts), "--out", str(out),
                 "--seconds", "0.5", "--device", "cpu"]) == 0
    assert (out / "prompts.txt").read_text().splitlines() == ["a red circle moving left", "a blue square moving up"]
    for i in range(2):
        with av.open(str(out / f"video_{i:04d}.mp4")) as container:
            assert sum(1 for _ in container.decode(video=0)) == 8
            assert container.streams.video[0].codec_context.profile == "High 4:4:4 Predictive"  # x264 lossless
        meta = json.loads((out / f"video_{i:04d}.mp4.json").read_text())
        assert meta["chunk_frames"] == 2 and meta["seed"] == i and meta["crf"] == 0


def test_sample_takes_the_prompts_of_the_models_world_plumbing_random_weights(pipe_dir, tmp_path, text_encoder) -> None:
    from streamdit.data import eval_prompts as v1_prompts
    from streamdit.data.v2 import eval_prompts as v2_prompts

    v2_dir = tmp_path / "v2-pipe"
    pipe = StreamDiTPipeline.from_pretrained(pipe_dir, text_encoder=text_encoder)
    pipe.config.world = "v2"
    pipe.save_pretrained(v2_dir)
    for model, world, expected in ((pipe_dir, [], v1_prompts("heldout", 2)), (v2_dir, [], v2_prompts("heldout", 2)),
                                   (v2_dir, ["--world", "v1"], v1_prompts("heldout", 2))):
        out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
        assert main(["sample", "--model", str(model), "-n", "2", "--out", str(out), "--seconds", "0.2",
                     "--device", "cpu", *world]) == 0
        assert (out / "prompts.txt").read_text().splitlines() == expected
    assert expected != v2_prompts("heldout", 2)
    with pytest.raises(ValueError, match="world must be one of"):
        PipelineConfig(world="v3")


def test_sample_writes_lossy_videos_when_asked_and_rejects_a_crf_out_of_range_plumbing_random_weights(
        pipe_dir, tmp_path, capsys) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle moving left\n")
    args = ["sample", "--model", str(pipe_dir), "--prompts", str(prompts), "--seconds", "0.5", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "lossy"), "--crf", "20"]) == 0
    with av.open(str(tmp_path / "lossy" / "video_0000.mp4")) as container:
        assert container.streams.video[0].codec_context.profile == "High"
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "bad"), "--crf", "99"])
    assert exit_info.value.code == 2 and "--crf" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_bench_reports_every_pipeline_against_the_first_plumbing_random_weights(pipe_dir, text_encoder) -> None:
    results = []
    for name in ("a", "b"):
        pipe = StreamDiTPipeline.from_pretrained(pipe_dir, text_encoder=text_encoder)
        results.append(bench_pipeline(pipe, name, "a red circle", chunks=4))
        assert "forward" not in vars(pipe.model)  # the timing wrapper is removed again
    for r in results:
        # K = 2, s = 2: T = 4 evaluations to the first chunk, then s = 2 per chunk; the producer stops at 4
        assert r.frames == 8 and r.evaluations == 4 + 3 * 2
        # FPS counts the frames after the first chunk over the time from the first chunk to the last
        assert r.fps == pytest.approx((r.frames - 2) / r.chunk_latency_s.sum(), rel=1e-9)
        assert len(r.chunk_latency_s) == 3  # one latency between each two of the 4 chunks
        # the model runs in one thread and the decoder in another, each inside the measured wall time
        assert 0 < r.model_share <= 1 and 0 < r.autoencoder_share <= 1
        assert r.rest_share == pytest.approx(max(0.0, 1 - r.model_share - r.autoencoder_share), abs=1e-9)
        assert r.mfu is None and r.peak_memory_gib is None  # CPU
    table = format_results(results, "cpu", (32, 32))
    assert "1.00x" in table and table.count("K=2 c=2 s=2") == 2 and "TFLOP/s" in table


@pytest.mark.parametrize("spec, channels", [("random-taew2.1", 16), ("random-wan2.1", 16)])
def test_bench_random_autoencoders_have_the_real_geometry_plumbing_random_weights(spec, channels) -> None:
    autoencoder = benchmark_autoencoder(spec)
    assert (autoencoder.latent_channels, autoencoder.temporal_compression, autoencoder.spatial_compression) == \
        (channels, 4, 8)
    assert callable(autoencoder.stream_decoder)  # causal across chunks: the stream decodes it chunk by chunk


def test_bench_pairs_a_random_init_model_with_a_tiny_decoder_plumbing_random_weights(text_encoder) -> None:
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=benchmark_autoencoder("random-taew2.1"),
                                         text_encoder=text_encoder, config=PipelineConfig(chunk_size=1, micro_steps=1),
                                         buffer_frames=2, latent_height=4, latent_width=4, hidden_size=24, depth=1,
                                         num_heads=2, window_size=(2, 2, 2), patch_size=(1, 1, 1))
    result = bench_pipeline(pipe, "tiny+taew", "a red circle", chunks=3)
    assert result.frames == 1 + 4 + 4 and pipe.resolution == (32, 32)
    assert 0 < result.autoencoder_share <= 1  # the decoder's time is measured (it is 0 if the timer is not in place)


def test_bench_autoencoder_option_needs_random_init(pipe_dir) -> None:
    with pytest.raises(SystemExit, match="--autoencoder pairs with --random-init"):
        main(["bench", "--model", str(pipe_dir), "--autoencoder", "random-taew2.1", "--device", "cpu"])


def test_bench_table_columns_stay_aligned_with_long_model_names(pipe_dir, text_encoder) -> None:
    pipe = StreamDiTPipeline.from_pretrained(pipe_dir, text_encoder=text_encoder)
    short = bench_pipeline(pipe, "a", "a red circle", chunks=2)
    long = bench_pipeline(pipe, "random-paper-4b+random-taew2.1", "a red circle", chunks=2)
    header, *rows = format_results([short, long], "cpu", (32, 32)).splitlines()[1:4]
    assert {line.index("K=2") for line in rows} == {header.index("scheme")}


def test_bench_unknown_random_autoencoder_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="random-wan2.1, random-taew2.1"):
        benchmark_autoencoder("random-wan")


def test_bench_share_of_peak_is_of_the_models_own_dtype_plumbing_random_weights(pipe_dir, text_encoder) -> None:
    peaks = {torch.float32: 2e11, torch.bfloat16: 1e12}  # as if measured
    for dtype in (torch.float32, torch.bfloat16):
        pipe = StreamDiTPipeline.from_pretrained(pipe_dir, text_encoder=text_encoder, dtype=dtype)
        result = bench_pipeline(pipe, "a", "a red circle", chunks=2, peaks=peaks)
        assert result.dtype == str(dtype).removeprefix("torch.")
        assert result.mfu == pytest.approx(result.model_tflops * 1e12 / peaks[dtype])
    table = format_results([result], "cpu", (32, 32), peaks)
    assert "matmul peak (1024x1024, measured now): float32 200 GFLOP/s, bfloat16 1,000 GFLOP/s" in table
    assert "bfloat16" in table.splitlines()[-2]


def test_matmul_throughput_counts_two_flops_per_multiply_add() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from streamdit.models.flops import matmul_throughput

    a = torch.randn(64, 64)
    with FlopCounterMode(display=False) as counter:
        a @ a
    assert counter.get_total_flops() == 2 * 64**3  # the count matmul_throughput assumes per product
    assert 1e8 < matmul_throughput(torch.float32, size=256, seconds=0.05) < 1e15
