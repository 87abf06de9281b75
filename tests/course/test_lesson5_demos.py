"""The measurements lesson 5 shows after its train_step exercise (p2p_ref.course.lesson5_demos)."""

import math

from p2p_ref.course.lesson5_demos import detach_reach, halving_moves


def test_a_detached_image_keeps_loss_d_out_of_g():
    reached, total = detach_reach(detach=True)
    assert total > 0 and reached == 0
    reached, total = detach_reach(detach=False)
    assert reached == total  # every tensor of G lies on the path to the image


def test_adam_nearly_cancels_the_half_on_loss_d():
    moved = halving_moves(steps=3, factors=(1.0, 2.0, 1000.0))
    assert moved[1.0] > 0
    assert math.isclose(moved[1.0], moved[2.0], rel_tol=1e-3)
    assert math.isclose(moved[1.0], moved[1000.0], rel_tol=1e-2)
