#!/usr/bin/env bash
# Trains the models shipped in saved_models/ (run from the repo root, TF backend), then
# `python scripts/ship_model.py runs/ship/<name> --command "..."` packs each into saved_models/<name>/.
set -x
export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=.
.venv/bin/python recipes/w000_custom_mobilenet.py --data ../shared/data/cifar10.npz --epochs 12 --lr-gamma 0.75 \
  --restart-from-best-at 0 --time-budget 2400 --run-dir runs/ship/custom_mobilenet_cifar10 --verbose 2
.venv/bin/python recipes/w002_julia_v1.py --data ../shared/data/cifar10.npz --batch-size 128 --epochs 12 \
  --no-double-softmax --time-budget 600 --run-dir runs/ship/mobilenet_v1_julia_a0.1_cifar10 --verbose 2
# Session 2 (the TF backend alone on the machine; budgets chosen to fit a session):
.venv/bin/python recipes/w001_cheap_ops.py --preset cifar10 --model cheap_v2_cifar100 --data ../shared/data/cifar10.npz \
  --epochs 3 --warmup-epochs 1 --time-budget 1500 --run-dir runs/ship/cheap_v2_cifar100 --verbose 2
# Session 3 (two queues at one thread each, see the model cards; mbv2_blog_a re-trained 2026-12-03, machine otherwise
# lightly used, its first run was lost). 003 a/b cost 266M / 155M MACs per image, about
# 50 / 30 min per full CIFAR-10 epoch here, so they train on a 10,000-image subset for a 20-minute budget.
.venv/bin/python recipes/w003_replication.py --model mbv2_blog_a_cifar10 --data ../shared/data/cifar10.npz \
  --train-subset 10000 --epochs 3 --time-budget 1200 --run-dir runs/ship/mbv2_blog_a_cifar10 --verbose 2
.venv/bin/python recipes/w003_replication.py --model mbv2_blog_b_cifar10 --data ../shared/data/cifar10.npz \
  --train-subset 10000 --epochs 3 --time-budget 1200 --run-dir runs/ship/mbv2_blog_b_cifar10 --verbose 2
# MobileNetV3-Small: at 224 px one epoch took 872 s and, with keras.applications' BN momentum 0.999, evaluated at
# chance (10.0 %); at 64 px with the torchvision momentum (Keras 0.99) and lr 0.1:
.venv/bin/python recipes/w001_cheap_ops.py --preset cifar10 --model mobilenet_v3_small --data ../shared/data/cifar10.npz \
  --image-size 64 --lr 0.1 --bn-momentum 0.99 --epochs 8 --warmup-epochs 1 --time-budget 1000 \
  --run-dir runs/ship/mobilenet_v3_small --verbose 2
# Session 4 (2026-12-04, TF backend with the fused training BatchNorm, ~2x faster per step; one queue, machine
# otherwise lightly used): the 003 models on the full training split with the write-up's step schedule compressed
# to one epoch per step (0.1, then 0.01); cheap V2 and V3-Small again with longer budgets.
.venv/bin/python recipes/w003_replication.py --model mbv2_blog_a_cifar10 --data ../shared/data/cifar10.npz \
  --epochs 2 --lr-values 0.1 0.01 --cycle-epochs 1 --time-budget 2100 --run-dir runs/ship2/mbv2_blog_a_cifar10 --verbose 2
.venv/bin/python recipes/w003_replication.py --model mbv2_blog_b_cifar10 --data ../shared/data/cifar10.npz \
  --epochs 2 --lr-values 0.1 0.01 --cycle-epochs 1 --time-budget 1500 --run-dir runs/ship2/mbv2_blog_b_cifar10 --verbose 2
.venv/bin/python recipes/w001_cheap_ops.py --preset cifar10 --model cheap_v2_cifar100 --data ../shared/data/cifar10.npz \
  --epochs 5 --warmup-epochs 1 --time-budget 1200 --run-dir runs/ship2/cheap_v2_cifar100 --verbose 2
.venv/bin/python recipes/w001_cheap_ops.py --preset cifar10 --model mobilenet_v3_small --data ../shared/data/cifar10.npz \
  --image-size 64 --lr 0.1 --bn-momentum 0.99 --epochs 12 --warmup-epochs 1 --time-budget 1200 \
  --run-dir runs/ship2/mobilenet_v3_small --verbose 2
.venv/bin/python recipes/w002_julia_v1.py --data ../shared/data/cifar10.npz --batch-size 128 --epochs 30 \
  --no-double-softmax --time-budget 900 --run-dir runs/ship2/mobilenet_v1_julia_a0.1_cifar10 --verbose 2
# Packing (model.keras deflated; all but the tiny V1 leave model_fp32.tflite out for the 40 MB cap, see README):
#   python scripts/ship_model.py runs/ship2/<name> --int8-min-agreement 0.9 [--no-fp32-tflite] [--calibration mse] \
#     --command "<the command>"   (bounds and calibrations per model: see each card.json)
