"""Non-trivial BatchNorm2d state for torch twins, so that folding and eval-mode paths
are tested against statistics other than the defaults (mean 0, variance 1)."""


def randomize_bn(tm, seed=0):
    """Draws every BatchNorm2d's weight, bias and running statistics of torch module tm
    from a generator seeded with seed; returns tm."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
                m.running_mean.normal_(0, 0.5, generator=g)
                m.running_var.uniform_(0.3, 2.0, generator=g)
    return tm
