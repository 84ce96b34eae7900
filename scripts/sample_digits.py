"""Write a few of the built-in digits as 32x32 PNG files, for trying `netlang predict`.

python scripts/sample_digits.py OUT_DIR [COUNT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from netlang.data import load_data
from netlang.semantics.train_spec import Call


def main() -> None:
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    out.mkdir(parents=True, exist_ok=True)
    test = load_data(Call("digits", (), {"size": 32, "split": [0.7, 0.15, 0.15]}), seed=0).test
    assert test is not None
    for i in range(count):
        pixels = (np.clip(test.x[i, 0], 0, 1) * 255).astype(np.uint8)
        path = out / f"digit{i}-label{int(test.y[i])}.png"
        Image.fromarray(pixels).save(path)
        print(path)


if __name__ == "__main__":
    main()
