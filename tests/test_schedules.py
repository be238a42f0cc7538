"""Schedules equal the write-ups' formulas at every epoch (and every step where the source steps per iteration)."""

import math

import numpy as np
import pytest

from keras_mobilenets.training import schedules as S

SPE = 7  # steps per epoch


def lrs(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_exponential_per_epoch_000():
    """CustomMobileNet: LambdaLR(0.94**epoch) stepped once per epoch: epoch e trains at 0.1·0.94^e, all its steps."""
    s = S.ExponentialPerEpoch(0.1, 0.94, SPE)
    for e in range(105):
        expected = 0.1 * 0.94**e
        got = lrs(s, range(e * SPE, (e + 1) * SPE))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert s.at_epoch(95) == pytest.approx(0.1 * 0.94**95, rel=1e-5)  # the source's restart lr 0.00028
    assert s.at_epoch(95) == pytest.approx(0.00028, rel=0.02)


def test_constant_000_baseline_and_002():
    for lr in (0.03, 3e-3):
        s = S.Constant(lr, SPE)
        np.testing.assert_allclose(lrs(s, range(0, 100 * SPE, 13)), lr, rtol=1e-6)


def test_warmup_cosine_per_step_001():
    """001: linear warm-up for 5 epochs then lr·(1+cos(π·(it−warm)/(max−warm)))/2, per iteration, to 0."""
    lr0, epochs, warm = 0.35, 400, 5
    s = S.WarmupCosine(lr0, epochs, SPE, warmup_epochs=warm, per_step=True)
    W, M = warm * SPE, epochs * SPE
    for it in list(range(0, 3 * W)) + list(range(W, M, 97)) + [M - 1]:
        expected = lr0 * it / W if it < W else lr0 * (1 + math.cos(math.pi * (it - W) / (M - W))) / 2
        assert float(s(it)) == pytest.approx(expected, rel=1e-4, abs=1e-7), it
    assert float(s(M)) == pytest.approx(0.0, abs=1e-7)


def test_cosine_annealing_per_epoch_004():
    """torch CosineAnnealingLR(T_max=E, eta_min=0) stepped per epoch: lr0·(1+cos(π·e/E))/2 during epoch e."""
    lr0, E = 1e-3, 50
    s = S.WarmupCosine(lr0, E, SPE)
    for e in range(E):
        expected = lr0 * (1 + math.cos(math.pi * e / E)) / 2
        np.testing.assert_allclose(lrs(s, range(e * SPE, (e + 1) * SPE)), expected, rtol=1e-5)


def test_cosine_warmup_per_epoch():
    s = S.WarmupCosine(0.35, 20, SPE, warmup_epochs=5)
    for e in range(20):
        expected = 0.35 * (e + 1) / 5 if e < 5 else 0.35 * (1 + math.cos(math.pi * (e - 5) / 15)) / 2
        assert s.at_epoch(e) == pytest.approx(expected, rel=1e-5)


def test_step_restarts_003_table2():
    """003 Tab2: epochs 1–50 0.1, 51–100 0.01, ..., 201–250 1e-5; 251–270 0.1 ... 431–450 1e-5 (1-based)."""
    b, v = S.step_restarts([0.1, 0.01, 1e-3, 1e-4, 1e-5], [50, 20, 20])
    s = S.PiecewiseEpochs(b, v, SPE)
    table = [(1, 50, 0.1), (51, 100, 0.01), (101, 150, 1e-3), (151, 200, 1e-4), (201, 250, 1e-5)]
    for start in (251, 351):
        table += [(start + 20 * k, start + 20 * k + 19, lr) for k, lr in enumerate([0.1, 0.01, 1e-3, 1e-4, 1e-5])]
    assert table[-1][1] == 450
    for first, last, lr in table:
        for epoch1 in range(first, last + 1):
            e = epoch1 - 1
            np.testing.assert_allclose(lrs(s, [e * SPE, e * SPE + SPE - 1]), lr, rtol=1e-5, err_msg=f"epoch {epoch1}")


def test_schedules_serialise():
    import keras

    for s in (S.ExponentialPerEpoch(0.1, 0.94, 3), S.WarmupCosine(0.35, 10, 3, 2, per_step=True),
              S.PiecewiseEpochs([2, 4], [1.0, 0.5, 0.1], 3), S.Constant(0.2, 3)):
        r = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
        assert type(r) is type(s) and r.get_config() == s.get_config()


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        S.Constant(0.1, 0)
    with pytest.raises(ValueError, match="schedule"):
        S.build("linear", lr=0.1, epochs=3, steps_per_epoch=2)
    with pytest.raises(ValueError, match="epochs"):
        S.WarmupCosine(0.1, 5, 2, warmup_epochs=5)
