"""Segment-wise multistep distillation: states, teacher roll-out and the loss."""

from __future__ import annotations

import torch

from streamdit.distillation import distillation_loss, segment_states, teacher_segment
from streamdit.schedule import BufferSchedule, Scheme


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
        loss = distillation_loss(oracle, velocity, teacher, x0, text, mask, state)
        assert loss < 1e-10
        assert distillation_loss(Oracle(x0, bias=0.1), velocity, teacher, x0, text, mask, state) > 1e-3
