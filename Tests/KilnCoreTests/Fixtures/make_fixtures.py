#!/usr/bin/env python3
"""Writes the small NumPy fixtures the KilnCore tests read (run from this folder; committed)."""
import numpy as np

np.save("f32_2x3.npy", np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
np.save("i64_scalar.npy", np.array(-7, dtype=np.int64))
np.save("bool_4.npy", np.array([True, False, False, True]))
np.save("f16_3.npy", np.array([0.5, -2.0, 65504.0], dtype=np.float16))
np.save("u8_2x2x2.npy", np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
np.save("f64_big_endian.npy", np.arange(3, dtype=">f8"))
np.save("f32_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.savez("pair.npz", x=np.ones((2, 2), np.float32), idx=np.array([1, 2, 3], np.int32))
np.savez_compressed("pair_compressed.npz", x=np.ones((2, 2), np.float32), idx=np.array([1, 2, 3], np.int32))
with open("f32_2x3.npy", "rb") as f:
    data = f.read()
with open("truncated.npy", "wb") as f:
    f.write(data[:-5])
