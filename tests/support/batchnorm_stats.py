"""BatchNorm statistics and affine far from the identity for fastconv.nn models, so that
a wrong fold or fusion of a BatchNorm shows in the output."""
import numpy as np

from fastconv import nn


def randomize_fc_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            C = m.num_features
            m.weight.data = rng.uniform(0.5, 1.5, C).astype(np.float32)
            m.bias.data = rng.normal(0, 0.2, C).astype(np.float32)
            m.running_mean = rng.normal(0, 0.5, C).astype(np.float32)
            m.running_var = rng.uniform(0.3, 2.0, C).astype(np.float32)
    return model
