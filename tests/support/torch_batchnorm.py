"""Non-trivial BatchNorm2d state for torch twins, so that folding and eval-mode paths
are tested against statistics other than the defaults (mean 0, variance 1)."""


def randomize_bn(tm, seed=0, bias_std=0.2, mean_std=0.5, var_range=(0.3, 2.0)):
    """Draws every BatchNorm2d's weight (uniform 0.5-1.5), bias, running mean (normal
    with those deviations) and running variance (uniform over var_range) of torch module
    tm from a generator seeded with seed; returns tm."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, bias_std, generator=g)
                m.running_mean.normal_(0, mean_std, generator=g)
                m.running_var.uniform_(*var_range, generator=g)
    return tm
