"""The small group-wise video autoencoder, its motion head and deadband, and its training loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from streamdit.loading import load_autoencoder
from streamdit.training.autoencoder import (batches, fit_latent_normalisation, motion_loss, train_autoencoder,
                                            with_motion_head)
from streamdit.autoencoders.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig, warp_keyframes
from causal_vae_checks import decode_in_chunks  # on the path via tests/streamdit/conftest.py


def small() -> VideoAutoencoder:
    torch.manual_seed(0)
    return VideoAutoencoder(VideoAutoencoderConfig(widths=(8, 16))).eval()


def test_shapes_and_chunkwise_decoding_equals_whole_decoding_plumbing_random_weights() -> None:
    ae = small()
    assert (ae.temporal_compression, ae.spatial_compression, ae.latent_channels) == (4, 8, 8)
    video = torch.rand(2, 3, 8, 32, 32) * 2 - 1
    z = ae.encode(video)
    assert z.shape == (2, 8, 2, 4, 4)
    with torch.no_grad():
        whole = ae.decode(z)
        pieces = torch.cat([ae.decode(z[:, :, :1]), ae.decode(z[:, :, 1:])], dim=2)
    assert whole.shape == video.shape
    torch.testing.assert_close(pieces, whole)  # groups are independent: streaming decode is exact
    with pytest.raises(ValueError, match="multiple of 4"):
        ae.encode(torch.zeros(1, 3, 6, 32, 32))


def test_save_load_round_trip_through_load_autoencoder_plumbing_random_weights(tmp_path) -> None:
    ae = small()
    ae.config.latent_scale, ae.config.latent_shift = 2.5, 0.1
    ae.save_pretrained(tmp_path)
    loaded = load_autoencoder(tmp_path)
    assert isinstance(loaded, VideoAutoencoder) and loaded.config == ae.config
    video = torch.rand(1, 3, 4, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(video), ae.encode(video))


def test_training_reduces_the_loss_and_normalises_latents() -> None:
    from streamdit import data

    ae = VideoAutoencoder(VideoAutoencoderConfig(widths=(8, 16)))
    heldout = next(batches(data.stream(seed=1, num_frames=4, resolution=32), 4))
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(ae.decode_raw(ae.encode_raw(heldout)), heldout).item()
    metrics = train_autoencoder(ae, data.stream(seed=0, num_frames=4, resolution=32), heldout, steps=40,
                                batch_size=4, lr=3e-3)
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(ae.decode_raw(ae.encode_raw(heldout)), heldout).item()
    assert after < 0.7 * before, (before, after)  # measured: 0.113 -> 0.062
    assert metrics["heldout_psnr_db"] > 10
    fit_latent_normalisation(ae, heldout)
    with torch.no_grad():
        z = ae.encode(heldout)
    assert abs(z.mean().item()) < 1e-4 and abs(z.std().item() - 1) < 1e-3


def test_reconstruction_loss_weights_saturated_pixels() -> None:
    from streamdit.training.autoencoder import pixel_weights, reconstruction_loss

    video = torch.zeros(1, 3, 4, 2, 2)  # grey
    video[0, :, :, 0, 0] = torch.tensor([1.0, -1.0, -1.0])[:, None]  # one pure red pixel per frame
    weights = pixel_weights(video, 10.0)
    assert weights[0, 0, 0, 0, 0] == 11.0 and weights[0, 0, 0, 1, 1] == 1.0
    recon = video + 0.1
    plain = torch.nn.functional.l1_loss(recon, video) + torch.nn.functional.mse_loss(recon, video)
    torch.testing.assert_close(reconstruction_loss(recon, video, 0.0), plain)
    off_object = video.clone()
    off_object[0, :, :, 1, 1] += 0.5
    on_object = video.clone()
    on_object[0, :, :, 0, 0] += 0.5
    assert reconstruction_loss(on_object, video, 10.0) > 5 * reconstruction_loss(off_object, video, 10.0)


@pytest.mark.parametrize("context", [1, 2])
def test_motion_decoder_streams_exactly_like_the_whole_clip(context) -> None:
    ae = with_motion_head(small(), context).eval()
    ae.config.carry_keyframe = True
    randomise(ae.motion)
    z = torch.randn(1, 8, 5, 4, 4)
    with torch.no_grad():
        whole = ae.decode(z)
        for chunks in ([1, 1, 1, 1, 1], [2, 3], [1, 4]):
            parts = torch.cat(decode_in_chunks(ae, z, chunks), dim=2)
            torch.testing.assert_close(parts, whole, atol=1e-4, rtol=0)  # batch sizes differ: float rounding
    assert whole.shape == (1, 3, 20, 32, 32)


def randomise(module: torch.nn.Module) -> None:
    """Random weights everywhere, also in the zero-initialised last layer (a head that moves things)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0, 0.3)


def test_motion_head_looks_back_but_never_ahead() -> None:
    ae = with_motion_head(small(), 1).eval()
    randomise(ae.motion)
    z = torch.randn(1, 8, 3, 4, 4)
    changed = z.clone()
    changed[:, :, 1] += 1.0  # the middle latent
    with torch.no_grad():
        a, b = ae.decode(z), ae.decode(changed)
    group = lambda v, i: v[:, :, 4 * i:4 * i + 4]  # noqa: E731
    torch.testing.assert_close(group(a, 0), group(b, 0))  # the group before does not see it
    assert (group(a, 1) - group(b, 1)).abs().mean() > 1e-3  # its own group
    assert (group(a, 2) - group(b, 2)).abs().mean() > 1e-3  # and the next one, through the motion head


def test_warp_moves_the_keyframe_by_the_velocity_about_the_group_centre() -> None:
    keyframe = torch.zeros(1, 3, 32, 32)
    keyframe[:, :, 10:14, 10:14] = 1.0  # a square centred at x = y = 11.5
    velocity = torch.zeros(1, 2, 4, 4)
    velocity[:, 0], velocity[:, 1] = 2.0, -1.0  # right 2 and up 1 pixel per frame
    frames = warp_keyframes(keyframe, velocity, 4)[0, 0]
    coords = torch.arange(32.0)
    x = [(f.sum(0) * coords).sum() / f.sum() for f in frames.unbind(0)]
    y = [(f.sum(1) * coords).sum() / f.sum() for f in frames.unbind(0)]
    torch.testing.assert_close(torch.stack(x), torch.tensor([8.5, 10.5, 12.5, 14.5]))
    torch.testing.assert_close(torch.stack(y), torch.tensor([13.0, 12.0, 11.0, 10.0]))


def test_a_new_motion_head_keeps_the_latents_and_shows_the_keyframes_still() -> None:
    source = small()
    ae = with_motion_head(source, 1).eval()
    assert ae.config.context_latents == 1 and ae.config.latent_scale == source.config.latent_scale
    video = torch.rand(1, 3, 12, 32, 32) * 2 - 1
    with torch.no_grad():
        z = source.encode(video)
        torch.testing.assert_close(ae.encode(video), z)
        still = source.decode(z).view(1, 3, 3, 4, 32, 32).mean(dim=3, keepdim=True).expand(-1, -1, -1, 4, -1, -1)
        torch.testing.assert_close(ae.decode(z), still.reshape(1, 3, 12, 32, 32), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="at least one earlier latent"):
        with_motion_head(source, 0)
    with pytest.raises(ValueError, match="carry_keyframe needs a motion head"):
        VideoAutoencoderConfig(carry_keyframe=True)


def test_an_autoencoder_saved_before_motion_heads_loads_without_one(tmp_path) -> None:
    import json

    small().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    for key in ("context_latents", "motion_width", "carry_keyframe"):
        del config[key]  # as directories written before the options existed
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = load_autoencoder(tmp_path)
    assert loaded.config.context_latents == 0 and loaded.motion is None
    config["from_the_future"] = 1
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown settings.*from_the_future"):
        load_autoencoder(tmp_path)


def test_carried_keyframe_fades_the_previous_group_into_the_next() -> None:
    ae = with_motion_head(small(), 1).eval()  # zero velocity: keyframes stay where they are
    z = torch.randn(1, 8, 2, 4, 4)
    with torch.no_grad():
        still = ae.decode(z)
        ae.config.carry_keyframe = True
        faded = ae.decode(z)
    first, second = still[:, :, 0], still[:, :, 4]  # the two keyframes
    torch.testing.assert_close(faded[:, :, :4], still[:, :, :4])  # the first group has nothing before it
    for j, weight in enumerate([0.75, 0.5, 0.25, 0.0]):
        torch.testing.assert_close(faded[:, :, 4 + j], weight * first + (1 - weight) * second)


def test_a_still_video_decodes_alike_in_every_group_the_first_included() -> None:
    """A video starts as if its first latent had always been there: latents that never change give every
    group the same frames, the first group too (its head reads the first latent repeated, not zeros)."""
    ae = with_motion_head(small(), 2).eval()
    randomise(ae.motion)
    z = torch.randn(1, 8, 1, 4, 4).expand(-1, -1, 3, -1, -1).contiguous()
    with torch.no_grad():
        groups = ae.decode(z).view(1, 3, 3, 4, 32, 32)
    assert (groups[:, :, 0, 0] - groups[:, :, 0, 3]).abs().mean() > 1e-3  # the head does move things
    torch.testing.assert_close(groups[:, :, 0], groups[:, :, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(groups[:, :, 0], groups[:, :, 2], atol=1e-5, rtol=0)


def test_carried_keyframe_moves_on_along_its_velocity_on_a_non_square_frame() -> None:
    """A uniform velocity of 2 pixels per frame to the right on 32 x 64 frames, groups of 4: frame j of a group
    shows its keyframe moved by 2 (j - 1.5) pixels, the previous group's keyframe moved on by 2 (4 + j - 1.5),
    faded with weights (3 - j) / 4; a backward warp with border padding repeats the edge column. Expected
    frames built here by indexing columns."""
    ae = with_motion_head(small(), 1).eval()
    z = torch.randn(1, 8, 2, 4, 8)
    with torch.no_grad():
        still = ae.decode(z)  # a new head: zero velocity, each group shows its keyframe
        keys = still[:, :, 0], still[:, :, 4]
        ae.motion.net[-1].bias.copy_(torch.tensor([2.0, 0.0]))  # x then y, pixels per frame
        ae.config.carry_keyframe = True
        moved = ae.decode(z)
    assert moved.shape == (1, 3, 8, 32, 64)

    def shifted(frame: torch.Tensor, pixels: int) -> torch.Tensor:
        return frame[..., (torch.arange(64) - pixels).clamp(0, 63)]

    for j in range(4):
        torch.testing.assert_close(moved[:, :, j], shifted(keys[0], 2 * j - 3), atol=1e-4, rtol=0)
        weight = (3 - j) / 4
        expected = weight * shifted(keys[0], 2 * j + 5) + (1 - weight) * shifted(keys[1], 2 * j - 3)
        torch.testing.assert_close(moved[:, :, 4 + j], expected, atol=1e-4, rtol=0)


def test_motion_loss_charges_a_decoder_that_holds_one_picture_per_group() -> None:
    video = torch.linspace(-1, 1, 8).view(1, 1, 8, 1, 1).expand(1, 3, 8, 2, 2).contiguous()
    held = video[:, :, ::4].repeat_interleave(4, dim=2)  # each group shows its first frame four times
    assert motion_loss(video, video, 0.0) == 0
    assert motion_loss(held, video, 0.0) > 0.1


def test_head_training_keeps_the_autoencoder_and_trains_the_head() -> None:
    from streamdit import data

    source = small()
    source.config.latent_scale, source.config.latent_shift = 1.7, 0.2
    ae = with_motion_head(source, 1)
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    heldout = next(batches(data.stream(seed=1, num_frames=8, resolution=32), 2))
    metrics = train_autoencoder(ae, data.stream(seed=0, num_frames=8, resolution=32), heldout, steps=3, batch_size=2,
                                motion_weight=1.0, parts="head", latent_noise=0.1, crop=16)
    assert metrics["parts"] == "head" and (ae.config.latent_scale, ae.config.latent_shift) == (1.7, 0.2)
    after = ae.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.startswith("motion.") for k in changed), changed


def test_object_crops_follow_the_object_around_the_torus() -> None:
    from streamdit.training.autoencoder import object_crops

    video = -torch.ones(2, 3, 4, 32, 32)
    video[0, 0, :, 30:32, 0:2] = 1.0  # a red object in the corner: the crop wraps around the borders
    video[1, 0, :, 8:10, 20:22] = 1.0
    crops = object_crops(video, 16)
    assert crops.shape == (2, 3, 4, 16, 16)
    assert ((crops[:, 0] > 0).flatten(1).sum(1) == 4 * 4).all()  # the whole object is in each crop


def test_train_autoencoder_cli_refuses_a_fade_without_a_motion_head(tmp_path, capsys) -> None:
    from streamdit.training.autoencoder import main

    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "ae"), "--carry-keyframe"])
    assert "--carry-keyframe needs a motion head" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "ae"), "--motion-from", str(tmp_path / "nowhere")])
    assert "--motion-from" in capsys.readouterr().err and not (tmp_path / "ae").exists()


def test_an_interrupted_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_one_does(tmp_path) -> None:
    from itertools import islice

    from streamdit import data

    def clips():
        return data.stream(seed=0, num_frames=4, resolution=32)

    heldout = next(batches(data.stream(seed=1, num_frames=4, resolution=32), 2))
    whole = small().train()
    train_autoencoder(whole, clips(), heldout, steps=4, batch_size=2, lr=3e-3)
    interrupted = small().train()
    checkpoint = tmp_path / "checkpoint.pt"
    train_autoencoder(interrupted, islice(clips(), 4), heldout, steps=4, batch_size=2, lr=3e-3,  # dies after 2 steps
                      checkpoint=checkpoint, checkpoint_every=2)
    torch.manual_seed(123)
    resumed = VideoAutoencoder(VideoAutoencoderConfig(widths=(8, 16)))  # other weights: the checkpoint's must win
    train_autoencoder(resumed, islice(clips(), 4, None), heldout, steps=4, batch_size=2, lr=3e-3,
                      checkpoint=checkpoint, checkpoint_every=2)
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, msg=name)
    assert resumed.config.latent_scale == whole.config.latent_scale


def test_bf16_training_runs_and_keeps_fp32_weights() -> None:
    from streamdit import data

    ae = small().train()
    heldout = next(batches(data.stream(seed=1, num_frames=4, resolution=32), 2))
    metrics = train_autoencoder(ae, data.stream(seed=0, num_frames=4, resolution=32), heldout, steps=2,
                                batch_size=2, mixed_precision="bf16")
    assert all(p.dtype == torch.float32 for p in ae.parameters()) and metrics["heldout_psnr_db"] > 0
    with pytest.raises(ValueError, match="mixed_precision"):
        train_autoencoder(ae, data.stream(seed=0, num_frames=4, resolution=32), heldout, steps=1, mixed_precision="fp8")


def test_train_autoencoder_cli_refuses_to_overwrite_a_checkpoint_without_resume(tmp_path, capsys) -> None:
    from streamdit.training.autoencoder import main

    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--steps", "1"])
    assert "add --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "new"), "--world", "v2", "--patch-size", "3", "--widths", "8", "--steps", "1"])
    assert "not a multiple of the spatial compression" in capsys.readouterr().err


def test_stage_blocks_add_residual_blocks_at_each_resolution_and_zero_keeps_the_old_layout() -> None:
    """Each ResBlock(w) holds two 3x3 convolutions w -> w with biases: 2 * (9 w^2 + w) parameters. One block per
    stage, in encoder and decoder, at widths 8 and 16: 2 * 2 * (9 * 64 + 8) + 2 * 2 * (9 * 256 + 16) more.
    With none, the weights' names are those of the layout before stage blocks existed (shipped models load)."""
    plain = small()
    deeper = VideoAutoencoder(VideoAutoencoderConfig(widths=(8, 16), stage_blocks=1))
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(deeper) - count(plain) == 4 * (9 * 64 + 8) + 4 * (9 * 256 + 16)
    names = set(plain.state_dict())
    assert {"encoder.1.weight", "encoder.3.weight", "encoder.5.weight", "encoder.6.conv1.weight",
            "decoder.0.weight", "decoder.1.conv1.weight", "decoder.4.weight", "decoder.7.weight",
            "decoder.9.weight"} <= names
    video = torch.rand(1, 3, 8, 32, 32) * 2 - 1
    with torch.no_grad():
        z = deeper.encode(video)
        assert z.shape == (1, 8, 2, 4, 4) and deeper.decode(z).shape == video.shape
    with pytest.raises(ValueError, match="stage_blocks"):
        VideoAutoencoderConfig(stage_blocks=-1)


def test_motion_head_training_scores_the_first_group_which_has_no_earlier_latent() -> None:
    """Clips of one 4-frame group: every frame lies in the group with no earlier latent, and the head still
    trains on them (finite weights that moved), learning a first group's velocity from its one latent."""
    from streamdit import data

    ae = with_motion_head(small(), 1)
    before = {k: v.clone() for k, v in ae.motion.state_dict().items()}
    heldout = next(batches(data.stream(seed=1, num_frames=4, resolution=32), 2))
    metrics = train_autoencoder(ae, data.stream(seed=0, num_frames=4, resolution=32), heldout, steps=2, batch_size=2,
                                motion_weight=1.0, parts="head")
    after = ae.motion.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(after[k], before[k]) for k in after)
    assert torch.isfinite(torch.tensor(metrics["final_loss_ema"]))


def test_train_parts_choose_what_trains_with_a_new_head_and_only_all_refits_the_latent_space(tmp_path) -> None:
    """`train-autoencoder --motion-from DIR --train PART`: 'all' moves the head, the encoder and the decoder and
    normalises the latents anew; 'decoder' moves the head and decoder and keeps the encoder and normalisation;
    the default moves the head alone."""
    from streamdit.training.autoencoder import main

    source = small()
    source.config.latent_scale, source.config.latent_shift = 1.7, 0.2
    source.save_pretrained(tmp_path / "plain")
    common = ["--motion-from", str(tmp_path / "plain"), "--steps", "2", "--batch-size", "2", "--frames", "8",
              "--resolution", "32", "--motion-weight", "1"]
    before = source.state_dict()
    for part, expected in (("all", {"encoder", "decoder"}), ("decoder", {"decoder"}), (None, set())):
        out = tmp_path / str(part)
        assert main(["--out", str(out), *common, *(["--train", part] if part else [])]) == 0
        trained = VideoAutoencoder.from_pretrained(out)
        after = trained.state_dict()
        changed = {k.split(".")[0] for k in before if not torch.equal(after[k], before[k])}
        assert changed == expected, part
        head = with_motion_head(source, 1).motion.net[-1].weight  # a new head's last layer starts at zero
        assert torch.count_nonzero(head) == 0 and torch.count_nonzero(trained.motion.net[-1].weight) > 0
        normalisation = (trained.config.latent_scale, trained.config.latent_shift)
        assert (normalisation != (1.7, 0.2)) == (part == "all"), part
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--train", "all", "--steps", "1"])
    with pytest.raises(ValueError, match="parts must be one of"):
        train_autoencoder(source, [], torch.zeros(1, 3, 4, 32, 32), steps=1, parts="encoder")


def test_clips_rendered_in_background_workers_are_the_stream_itself_and_two_workers_render_different_ones() -> None:
    from streamdit.data.worlds import stream
    from streamdit.training.autoencoder import world_clips

    def first(clips, n):
        return [np.asarray(video) for video, _ in itertools.islice(clips, n)]

    direct = first(stream("v2", seed=5, num_frames=4, resolution=32), 4)
    one_worker = first(world_clips("v2", 5, 4, 32, workers=1, batch_size=2), 4)
    assert all(np.array_equal(a, b) for a, b in zip(direct, one_worker))
    assert all(np.array_equal(a, b) for a, b in zip(direct, first(world_clips("v2", 5, 4, 32, 0, 2), 4)))
    two_workers = first(world_clips("v2", 5, 4, 32, workers=2, batch_size=2), 8)
    assert len({clip.tobytes() for clip in two_workers}) == 8  # each worker its own stream, no clip twice
