"""Read and write PyTorch `.pth` state dicts as numpy arrays, without torch (numpy + stdlib).

Both of torch.save's formats are read:
  legacy (torch < 1.6): pickles magic, protocol 1001, sys_info, the object, the storage keys; then
                        each storage as int64 element count + raw little-endian bytes, in key order
  zip    (torch >= 1.6): <archive>/data.pkl plus <archive>/data/<key> raw storages
The object pickle names torch classes; `find_class` maps them to numpy stand-ins here, and
`persistent_load` resolves each ('storage', type, key, location, numel[, view]) id to a storage.
Only tensors (`_rebuild_tensor_v2`, `_rebuild_parameter`), OrderedDicts and plain Python values
are accepted; any other class is refused, so no code from the file runs.

`write_pth` writes a state dict in either format (for synthetic test checkpoints).
"""
import collections
import io
import pickle
import struct
import sys
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class PthError(Exception):
    pass


class _StorageType:
    """Stand-in for torch.FloatStorage & co.: only its numpy dtype matters."""

    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(DTYPES[name])


class _Storage:
    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel, self.data = dtype, key, numel, None


class _Tensor:
    """Lazy tensor: the storage bytes may come after the pickle (legacy format)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self):
        data = self.storage.data
        if data is None:
            raise PthError(f"storage {self.storage.key} has no data")
        end = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, data.dtype)
        if self.offset < 0 or end > data.size:
            raise PthError(f"tensor of shape {self.size} overruns storage {self.storage.key} "
                           f"({data.size} elements)")
        item = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride], writeable=False)
        return np.array(view, order="C")


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *extra):
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages, zip_data=None):
        super().__init__(f)
        self.storages, self.zip_data = storages, zip_data

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        raise PthError(f"checkpoint refers to {module}.{name}; only tensors and dicts are read")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise PthError(f"unknown persistent id {pid!r}")
        stype, key, numel = pid[1], str(pid[2]), int(pid[4])
        if len(pid) > 5 and pid[5] is not None:
            raise PthError("storage views (pre-0.4 checkpoints) are not supported")
        if not isinstance(stype, _StorageType):
            raise PthError(f"storage of unknown type {stype!r}")
        if key not in self.storages:
            st = _Storage(stype.dtype, key, numel)
            if self.zip_data is not None:
                st.data = np.frombuffer(self.zip_data(key), dtype=stype.dtype.newbyteorder("<"))
                if st.data.size < numel:
                    raise PthError(f"storage {key}: {st.data.size} elements, expected {numel}")
            self.storages[key] = st
        return self.storages[key]


def _materialise(obj):
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialise(v)) for k, v in obj.items())
    return obj


def _read_legacy(f):
    if pickle.load(f) != LEGACY_MAGIC:
        raise PthError("not a PyTorch checkpoint (bad magic number)")
    if pickle.load(f) != LEGACY_PROTOCOL:
        raise PthError("unsupported legacy protocol version")
    info = pickle.load(f)
    if not info.get("little_endian", True):
        raise PthError("big-endian checkpoints are not supported")
    storages = {}
    obj = _Unpickler(f, storages).load()
    for key in pickle.load(f):
        st = storages[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        raw = f.read(numel * st.dtype.itemsize)
        if numel != st.numel:
            raise PthError(f"storage {key}: {numel} elements, the pickle says {st.numel}")
        if len(raw) != numel * st.dtype.itemsize:
            raise PthError(f"storage {key}: file truncated ({len(raw)} of {numel * st.dtype.itemsize} bytes)")
        st.data = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
    return obj


def _read_zip(z):
    pkls = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pkls) != 1:
        raise PthError("zip checkpoint without exactly one data.pkl")
    root = pkls[0][: -len("data.pkl")]
    obj = _Unpickler(io.BytesIO(z.read(pkls[0])), {}, lambda key: z.read(f"{root}data/{key}")).load()
    return obj


def read_pth(data):
    """State dict {name: np.ndarray} of the checkpoint bytes `data` (either format)."""
    try:
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                obj = _read_zip(z)
        else:
            obj = _read_legacy(io.BytesIO(data))
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error, zipfile.BadZipFile) as e:
        raise PthError(f"unreadable checkpoint: {e}") from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise PthError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    return _materialise(obj)


class _Global:
    """An object that pickles as the global `module.name` (torch need not be importable)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise TypeError(f"{self.module}.{self.name} is a stand-in for pickling only")


class _Pickler(pickle._Pickler):
    def __init__(self, f, persistent):
        super().__init__(f, protocol=2)
        self.persistent = persistent

    def persistent_id(self, obj):
        return self.persistent(obj)

    def save_global(self, obj, name=None):
        if isinstance(obj, _Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
        else:
            super().save_global(obj, name)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[_Global] = save_global


class _StorageRef:
    """Pickled as a persistent id: the storage of one `_Saved` tensor."""

    def __init__(self, saved):
        self.saved = saved


class _Saved:
    """A tensor to pickle as torch._utils._rebuild_tensor_v2(storage, 0, shape, stride, False, {})."""
    REBUILD = _Global("torch._utils", "_rebuild_tensor_v2")

    def __init__(self, key, array):
        self.key, self.array = key, np.array(array, order="C")

    def __reduce__(self):
        strides = tuple(s // self.array.itemsize for s in self.array.strides)
        return (self.REBUILD, (_StorageRef(self), 0, self.array.shape, strides, False,
                               collections.OrderedDict()))


def write_pth(path, state, fmt="legacy"):
    """Writes {name: np.ndarray} as torch.save would (`fmt` "legacy" or "zip"); float32/int64 only."""
    names = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}
    saved = collections.OrderedDict((k, _Saved(str(i), v)) for i, (k, v) in enumerate(state.items()))
    types = {n: _Global("torch", n) for n in names.values()}

    def persistent(obj):
        if not isinstance(obj, _StorageRef):
            return None
        a = obj.saved.array
        return ("storage", types[names[a.dtype]], obj.saved.key, "cpu", a.size) + \
            ((None,) if fmt == "legacy" else ())

    body = io.BytesIO()
    _Pickler(body, persistent).dump(saved)
    with open(path, "wb") as f:
        if fmt == "legacy":
            for head in (LEGACY_MAGIC, LEGACY_PROTOCOL,
                         {"protocol_version": LEGACY_PROTOCOL, "little_endian": sys.byteorder == "little",
                          "type_sizes": {"short": 2, "int": 4, "long": 4}}):
                pickle.dump(head, f, protocol=2)
            f.write(body.getvalue())
            pickle.dump([s.key for s in saved.values()], f, protocol=2)
            for s in saved.values():
                f.write(struct.pack("<q", s.array.size))
                f.write(s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())
        else:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
                z.writestr("archive/data.pkl", body.getvalue())
                z.writestr("archive/version", "3\n")
                for s in saved.values():
                    raw = s.array.astype(s.array.dtype.newbyteorder("<")).tobytes()
                    z.writestr(f"archive/data/{s.key}", raw)
