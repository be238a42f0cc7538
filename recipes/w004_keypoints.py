"""Write-up 004, MobileNetV3-Small with a 42-output regression head (21 (x, y) keypoints):
Adam + CosineAnnealingLR (per epoch, to 0), Resize(256) → CenterCrop(224) applied to images and points,
ColorJitter(0.2, 0.2, 0.2, 0.1) (keras.layers.RandomColorJitter), ImageNet mean/std inside the model,
MSE loss, "Avg PixelDiff" metric (keras_mobilenets.training.AvgPixelDiff). lr, epochs and batch size are not
given in the write-up: 1e-3, 50 and 32 are our choices.

    python recipes/w004_keypoints.py --data /path/to/folder_with_images_and_keypoints.csv
"""

import _common  # noqa: F401

from keras_mobilenets.training import TrainConfig, main

CONFIG = TrainConfig(
    recipe="w004_keypoints", model="mobilenet_v3_small_42", task="keypoints", data="keypoints",
    optimizer="adam", lr=1e-3, schedule="cosine", final_lr=0.0, epochs=50, batch_size=32,
    image_size=224, resize=256, color_jitter=[0.2, 0.2, 0.2, 0.1], monitor="val_avg_pixel_diff",
)

if __name__ == "__main__":
    raise SystemExit(main(defaults=CONFIG, description=__doc__))
