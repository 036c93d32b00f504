"""A minimal reader for MATLAB MAT-file version 5 (also what MATLAB 7 writes by default, zlib-compressed).

Enough for the SBD annotations (benchmark_RELEASE/dataset/cls/*.mat: a struct `GTcls` with fields
`Segmentation` (uint8 H x W class ids), `Boundaries` (cell of sparse matrices), `CategoriesPresent`),
without depending on scipy. Reads numeric and char arrays, structs (1x1 as dict, larger as list of dicts) and
cells (list); sparse and object arrays are skipped (returned as None). Format reference: MathWorks,
"MAT-File Format", version 5 chapter. MAT v7.3 files are HDF5 and are refused.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from drnlib.errors import DataError

# Data types of the element tags (miINT8 ... miUTF32).
_MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8", 16: "u1"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15
# Array classes (mxCELL ... mxUINT64) -> numpy dtype of the result.
_MX_CELL, _MX_STRUCT, _MX_OBJECT, _MX_CHAR, _MX_SPARSE = 1, 2, 3, 4, 5
_MX_DTYPES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
_LOGICAL_FLAG = 0x0200


class _Reader:
    def __init__(self, data: bytes, endian: str, path: Path):
        self.data, self.endian, self.path = data, endian, path

    def elements(self, start: int = 0, end: int | None = None):
        """Yield (type, payload bytes) for each data element in data[start:end]."""
        pos, end = start, len(self.data) if end is None else end
        while pos + 8 <= end:
            word0, word1 = struct.unpack_from(self.endian + "II", self.data, pos)
            if word0 >> 16:  # small data element: size and type in one word, up to 4 bytes of data
                mtype, nbytes = word0 & 0xFFFF, word0 >> 16
                yield mtype, self.data[pos + 4 : pos + 4 + nbytes]
                pos += 8
            else:
                mtype, nbytes = word0, word1
                if pos + 8 + nbytes > end:
                    raise DataError(f"{self.path}: truncated MAT file (element at byte {pos})")
                yield mtype, self.data[pos + 8 : pos + 8 + nbytes]
                # Compressed elements are not padded; everything else is padded to 8 bytes.
                pos += 8 + nbytes if mtype == _MI_COMPRESSED else 8 + ((nbytes + 7) // 8) * 8

    def numeric(self, mtype: int, payload: bytes) -> np.ndarray:
        if mtype not in _MI_DTYPES:
            raise DataError(f"{self.path}: unsupported MAT data type {mtype}")
        return np.frombuffer(payload, dtype=np.dtype(_MI_DTYPES[mtype]).newbyteorder(self.endian))


def _decode_matrix(payload: bytes, reader: _Reader):
    """Decode one miMATRIX payload into (name, value)."""
    sub = _Reader(payload, reader.endian, reader.path)
    parts = sub.elements()
    flags = sub.numeric(*next(parts))
    mx_class, logical = int(flags[0]) & 0xFF, bool(int(flags[0]) & _LOGICAL_FLAG)
    dims = tuple(int(d) for d in sub.numeric(*next(parts)))
    name = bytes(next(parts)[1]).decode("ascii", "replace")
    count = int(np.prod(dims)) if dims else 0

    if mx_class in _MX_DTYPES or mx_class == _MX_CHAR:
        mtype, real = next(parts)
        values = sub.numeric(mtype, real)
        if mx_class == _MX_CHAR:  # a char matrix: one string per row
            rows = ["".join(map(chr, row)) for row in values.reshape(dims, order="F")] if count else [""]
            return name, rows[0] if len(rows) == 1 else rows
        dtype = np.bool_ if logical else np.dtype(_MX_DTYPES[mx_class])
        # MATLAB may store data in a smaller type than the class (e.g. a double array as uint8): cast.
        return name, values.astype(dtype).reshape(dims, order="F")
    if mx_class == _MX_CELL:
        cells = [_decode_matrix(p, sub)[1] for t, p in parts if t == _MI_MATRIX]
        return name, cells
    if mx_class == _MX_STRUCT:
        field_len = int(sub.numeric(*next(parts))[0])
        raw_names = bytes(next(parts)[1])
        fields = [raw_names[i : i + field_len].split(b"\0")[0].decode("ascii") for i in range(0, len(raw_names), field_len)]
        values = [_decode_matrix(p, sub)[1] for t, p in parts if t == _MI_MATRIX]
        # Struct arrays store field values element by element (column-major over the elements).
        records = [dict(zip(fields, values[i : i + len(fields)])) for i in range(0, len(values), max(len(fields), 1))]
        return name, records[0] if count == 1 else records
    if mx_class in (_MX_SPARSE, _MX_OBJECT):
        return name, None
    raise DataError(f"{reader.path}: unsupported MAT array class {mx_class}")


def read_mat(path: str | Path) -> dict:
    """Read the variables of a MAT v5 file into a dict {name: value}."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read MAT file ({err.strerror})") from None
    if len(data) < 128:
        raise DataError(f"{path}: not a MAT file (only {len(data)} bytes)")
    if data[:19] == b"MATLAB 7.3 MAT-file" or data[:8] == b"\x89HDF\r\n\x1a\n":
        raise DataError(f"{path}: MAT v7.3 (HDF5) files are not supported; save with -v7 or -v6")
    endian = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if endian is None or not data.startswith(b"MATLAB"):
        raise DataError(f"{path}: not a MAT v5 file (bad header)")
    reader = _Reader(data, endian, path)
    variables = {}
    try:
        for mtype, payload in reader.elements(128):
            if mtype == _MI_COMPRESSED:
                inner = _Reader(zlib.decompress(payload), endian, path)
                for itype, ipayload in inner.elements():
                    if itype == _MI_MATRIX:
                        name, value = _decode_matrix(ipayload, inner)
                        variables[name] = value
            elif mtype == _MI_MATRIX:
                name, value = _decode_matrix(payload, reader)
                variables[name] = value
    except (zlib.error, struct.error, StopIteration, ValueError) as err:
        raise DataError(f"{path}: corrupt MAT file ({type(err).__name__}: {err})") from None
    return variables
