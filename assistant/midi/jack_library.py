"""Finding and loading the native JACK module (``_jackmidi*.so``) and declaring its C
functions for ctypes: once per process, from whichever thread asks first (the main
thread in practice). :func:`available` says whether it can be used here, and why not.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.machinery
import os


_lib: ctypes.CDLL | None = None
_lib_error: str | None = None


class NativeJackUnavailable(RuntimeError):
    """The native module is not built or cannot load (the reason is the message)."""


def library_path() -> str | None:
    """The built ``_jackmidi`` shared object inside the package, or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        hits = glob.glob(os.path.join(here, f"_jackmidi{suffix}"))
        if hits:
            return hits[0]
    return None


def load_library() -> ctypes.CDLL:
    """The native module with its signatures declared; raises NativeJackUnavailable."""
    global _lib, _lib_error
    if _lib is not None:
        return _lib
    if _lib_error is not None:
        raise NativeJackUnavailable(_lib_error)
    path = library_path()
    if path is None:
        _lib_error = ("the native JACK module (assistant/midi/_jackmidi) is not built: reinstall with a C compiler "
                      "(`apt-get install gcc`, then `pip install -e .`)")
        raise NativeJackUnavailable(_lib_error)
    try:
        lib = ctypes.CDLL(path)
    except OSError as err:
        _lib_error = f"cannot load {path}: {err}"
        raise NativeJackUnavailable(_lib_error) from err
    p, i32, i64, u32, u64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64
    sigs = {
        "mj_load_error": (ctypes.c_char_p, []),
        "mj_open": (p, [ctypes.c_char_p]),
        "mj_add_port": (ctypes.c_int, [p, ctypes.c_char_p, ctypes.c_int]),
        "mj_port_name": (ctypes.c_char_p, [p, ctypes.c_int]),
        "mj_connect": (ctypes.c_int, [p, ctypes.c_char_p, ctypes.c_char_p]),
        "mj_set_latency": (ctypes.c_int, [p, ctypes.c_int, u32]),
        "mj_reports_latency": (ctypes.c_int, []),
        "mj_alive": (ctypes.c_int, [p]),
        "mj_sample_rate": (u32, [p]),
        "mj_buffer_size": (u32, [p]),
        "mj_counters": (None, [p, ctypes.POINTER(u64)]),
        "mj_send": (ctypes.c_int, [p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, i64, u32]),
        "mj_withdraw": (ctypes.c_int, [p, ctypes.c_int, i64, ctypes.POINTER(u32), ctypes.POINTER(i64), ctypes.c_int]),
        "mj_pending_slots": (ctypes.c_int, []),
        "mj_connections": (ctypes.c_int, [p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]),
        "mj_last_jump_ns": (i64, [p]),
        "mj_base_shift_ns": (i64, [p, i64]),
        "mj_frame_zero_ns": (i64, [p]),
        "mj_keep_to_frames": (None, [p]),
        "mj_wait": (ctypes.c_int, [p, ctypes.c_int]),
        "mj_wake": (None, [p]),
        "mj_read": (ctypes.c_int, [p, p, ctypes.POINTER(i32), ctypes.POINTER(i32), ctypes.POINTER(i64),
                                   ctypes.c_int]),
        "mj_slot_data": (ctypes.c_int, []),
        "mj_drain": (ctypes.c_int, [p, ctypes.c_int]),
        "mj_close": (None, [p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    _lib = lib
    return lib


def available() -> str | None:
    """None if the native backend can be used here, else the reason it cannot."""
    try:
        load_library()
    except NativeJackUnavailable as err:
        return str(err)
    return None
