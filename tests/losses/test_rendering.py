"""The rendering loss (alpha, soft and hard renders over palette colours) and the naive baseline."""

import torch

from wan_alpha.losses import naive_losses, rendering_losses
from wan_alpha.rgba import black_background, hard_render


def video(seed=0, channels=3, frames=2, size=16):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, frames, size, size, generator=g) * 2 - 1


def test_rendering_losses_use_reconstructed_alpha():
    rgb = video(0)
    alpha = (video(1, channels=1) + 1) / 2
    perfect = rendering_losses(rgb, alpha, rgb, alpha, generator=torch.Generator().manual_seed(0))
    assert set(perfect) == {"alpha", "soft", "hard", "loss"}
    assert perfect["loss"].abs() < 1e-4
    alpha_hat = (alpha * 0.5).requires_grad_()
    wrong = rendering_losses(rgb, alpha_hat, rgb, alpha, generator=torch.Generator().manual_seed(0))
    assert wrong["alpha"] > 0 and wrong["soft"] > 0  # the soft render sees the wrong alpha
    wrong["loss"].backward()
    assert alpha_hat.grad.abs().sum() > 0


def test_rendering_colours_are_seeded():
    rgb, alpha = video(0), (video(1, channels=1) + 1) / 2
    rgb_hat = rgb + 0.1
    runs = [rendering_losses(rgb_hat, alpha, rgb, alpha, generator=torch.Generator().manual_seed(3))["loss"] for _ in range(2)]
    torch.testing.assert_close(runs[0], runs[1])


def test_naive_baseline_scores_the_clip_over_black():
    rgb, alpha = video(0), (video(1, channels=1) + 1) / 2
    alpha[..., :8] = 0  # a transparent half, whose colour the naive VAE sees as black
    over_black = hard_render(rgb, alpha, black_background(rgb))
    terms = naive_losses(over_black, alpha, rgb, alpha)
    assert set(terms) == {"alpha", "rgb", "loss"} and terms["loss"].abs() < 1e-4  # colour under alpha 0 is black
    assert naive_losses(rgb, alpha, rgb, alpha)["rgb"] > 0.01
