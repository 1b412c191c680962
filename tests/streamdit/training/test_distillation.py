"""Segment-wise multistep distillation: states, teacher roll-out and the loss."""

from __future__ import annotations

import torch

from streamdit.inference.schedule import BufferSchedule, Scheme
from streamdit.training.objectives import distillation_loss, noised_buffer, segment_states, student_rollout, teacher_segment


class Oracle(torch.nn.Module):
    """Exact flow velocity towards fixed data ``x0``: ``v = (x_t - x_0) / t`` (any step size is exact)."""

    def __init__(self, x0: torch.Tensor, bias: float = 0.0) -> None:
        super().__init__()
        self.x0, self.bias = x0, bias

    def forward(self, x, t, tokens=None, mask=None):
        return (x - self.x0) / t[:, None, :, None, None] + self.bias


def test_student_grid_is_every_s_th_teacher_point() -> None:
    teacher = BufferSchedule(Scheme(4, 2, 4), shift=3.0)
    student = BufferSchedule(Scheme(4, 2, 1), shift=3.0)
    torch.testing.assert_close(student.grid, teacher.grid[::4])


def test_segment_states_cover_steady_state_and_start_up() -> None:
    teacher = BufferSchedule(Scheme(3, 1, 2))
    states = [(a.tolist(), b.tolist()) for a, b in segment_states(teacher)]
    assert states == [([4, 2, 0], [6, 4, 2]), ([0, 0, 0], [2, 2, 2]), ([2, 2, 2], [4, 4, 4])]


def test_teacher_segment_matches_the_streaming_micro_steps() -> None:
    teacher = BufferSchedule(Scheme(4, 2, 3), shift=2.0)
    velocity = lambda x, t: torch.sin(x) * t[:, None, :, None, None] + 0.1
    x = torch.randn(1, 2, 8, 3, 3)
    start, end = segment_states(teacher)[0]
    expected = x
    for j in range(3):
        t, t_next = teacher.step_times(*teacher.steady_indices(j))
        expected = expected + (t_next - t).float().view(1, 1, -1, 1, 1) * velocity(expected, t.float().expand(1, -1))
    torch.testing.assert_close(teacher_segment(velocity, teacher, x, start, end), expected)


def test_exact_student_has_zero_loss_and_a_wrong_one_does_not() -> None:
    teacher = BufferSchedule(Scheme(4, 2, 3), shift=2.0)
    x0 = torch.randn(2, 3, 8, 4, 4)
    oracle = Oracle(x0)
    text, mask = torch.zeros(2, 1, 4), torch.ones(2, 1, dtype=torch.bool)
    velocity = lambda x, t: oracle(x, t)
    for state in segment_states(teacher):
        x = noised_buffer(x0, teacher, state[0])
        loss = distillation_loss(oracle, velocity, teacher, x, text, mask, state)
        assert loss < 1e-10
        assert distillation_loss(Oracle(x0, bias=0.1), velocity, teacher, x, text, mask, state) > 1e-3


def test_dt_power_weights_segments_from_velocity_mse_to_end_point_mse() -> None:
    """``dt_power=0`` is the plain velocity MSE; ``dt_power=2`` is the MSE of the step's end point
    ``x + dt v`` against the teacher's result, over the mean squared segment length."""
    teacher = BufferSchedule(Scheme(4, 1, 3), shift=3.0)
    x0 = torch.randn(2, 3, 4, 4, 4)
    velocity = Oracle(x0)
    wrong = Oracle(x0, bias=torch.tensor([0.3, -0.1, 0.2, 0.05]).view(1, 1, 4, 1, 1))
    text, mask = torch.zeros(2, 1, 4), torch.ones(2, 1, dtype=torch.bool)
    state = segment_states(teacher)[0]
    x = noised_buffer(x0, teacher, state[0])
    t, t_next = teacher.grid[state[0]].float(), teacher.grid[state[1]].float()
    dt = (t_next - t).view(1, 1, -1, 1, 1)
    v = wrong(x, t.expand(2, -1))
    plain = distillation_loss(wrong, velocity, teacher, x, text, mask, state)
    torch.testing.assert_close(plain, ((v - velocity(x, t.expand(2, -1))) ** 2).mean())
    end_point_mse = ((x + dt * v - teacher_segment(velocity, teacher, x, *state)) ** 2).mean()
    end_point = distillation_loss(wrong, velocity, teacher, x, text, mask, state, dt_power=2.0)
    torch.testing.assert_close(end_point * (dt ** 2).mean(), end_point_mse)
    assert not torch.allclose(end_point, plain)


def test_noised_buffer_puts_each_frame_at_its_grid_time() -> None:
    teacher = BufferSchedule(Scheme(4, 1, 2), shift=2.0)
    x0, noise = torch.randn(1, 2, 4, 3, 3), torch.randn(1, 2, 4, 3, 3)
    start = segment_states(teacher)[0][0]
    x = noised_buffer(x0, teacher, start, noise)
    for f, t in enumerate(teacher.grid[start].tolist()):
        torch.testing.assert_close(x[:, :, f], (1 - t) * x0[:, :, f] + t * noise[:, :, f])


def test_student_rollout_is_the_distilled_stream_step_then_shift() -> None:
    """One chunk of roll-out: every frame crosses its segment in one step, the front chunk leaves and
    a fresh noise chunk enters at the back; zero chunks leave the buffer untouched."""
    teacher = BufferSchedule(Scheme(3, 2, 4), shift=3.0)
    student = BufferSchedule(Scheme(3, 2, 1), shift=3.0)
    velocity = lambda x, t: torch.cos(x) * t[:, None, :, None, None] - 0.2
    x = torch.randn(2, 3, 6, 4, 4)
    torch.testing.assert_close(student_rollout(velocity, teacher, x, 0), x)
    t, t_next = (v.float() for v in student.step_times(*student.steady_indices(0)))
    stepped = x + (t_next - t).view(1, 1, -1, 1, 1) * velocity(x, t.expand(2, -1))
    torch.manual_seed(0)
    out = student_rollout(velocity, teacher, x, 1)
    torch.manual_seed(0)
    noise = torch.randn_like(x[:, :, :2])
    torch.testing.assert_close(out, torch.cat([stepped[:, :, 2:], noise], dim=2))
    assert not torch.allclose(student_rollout(velocity, teacher, x, 2)[:, :, :2], out[:, :, :2])


def test_frames_that_wait_are_left_out_of_the_loss() -> None:
    """A frame whose segment is empty (``end == start``: it waits, ``t_next = t``) has no target velocity; the
    loss is the one over the moving frames alone (and finite)."""
    teacher = BufferSchedule(Scheme(4, 1, 3), shift=2.0)
    x0 = torch.randn(2, 3, 4, 4, 4)
    velocity = Oracle(x0)
    wrong = Oracle(x0, bias=torch.tensor([0.3, -0.1, 0.2, 0.05]).view(1, 1, 4, 1, 1))
    text, mask = torch.zeros(2, 1, 4), torch.ones(2, 1, dtype=torch.bool)
    start = torch.tensor([6, 3, 3, 0])
    end = torch.tensor([9, 6, 3, 0])  # frames 2 and 3 wait
    x = noised_buffer(x0, teacher, start)
    loss = distillation_loss(wrong, velocity, teacher, x, text, mask, (start, end))
    t = teacher.grid[start].float().expand(2, -1)
    expected = ((wrong(x, t) - velocity(x, t))[:, :, :2] ** 2).mean()
    torch.testing.assert_close(loss, expected)
