"""A checkpoint's state as JSON plus arrays, and back, with no code run from the file.

`encode` walks the run's state (plain values, containers, numpy arrays, torch tensors, and objects
of recagent's own classes and a few named library ones) into a JSON tree; each array goes into a
separate table (saved as `.npz` without object arrays). Objects shared between parts of the state
(the recommender's history is the world's) are written once and referred to by number, so the
restored state shares them the same way. Objects the resumed run rebuilds from its scenario (the
model, dataset, feedback model...) are written as references by name.

`decode` makes the objects again without calling any constructor, `__setstate__` or `__reduce__`:
a class is looked up by name only among recagent's modules and the allow-list below, made with
`object.__new__` and given its attributes. A tree naming anything else is refused. A component
that knows better than its attributes implements `Stateful` (`state()` -> (arrays, JSON),
`restore(arrays, meta)`), and is written through it.
"""

from __future__ import annotations

import functools
import importlib
import random
import types
import weakref
from collections import Counter, OrderedDict, defaultdict, deque
from pathlib import Path, PurePath
from typing import Protocol, runtime_checkable

import numpy as np

# library classes a run's state holds, made again from their attributes alone
ALLOWED = {"networkx.classes.graph:Graph", "networkx.classes.digraph:DiGraph",
           "scipy.sparse._csr:csr_matrix", "scipy.sparse._csr:csr_array", "scipy.sparse._csc:csc_matrix",
           "scipy.sparse._coo:coo_matrix"}
# torch modules and optimisers are made again from their attributes like recagent's own objects;
# functions are written by name, and only these modules' functions are looked up again
TORCH_CLASS_MODULES = ("torch.nn.modules.", "torch.optim.")
FUNCTION_MODULES = ("torch.nn.functional",)
FACTORIES = {"list": list, "int": int, "float": float, "set": set, "dict": dict}  # defaultdict factories


@runtime_checkable
class Stateful(Protocol):
    """A component that writes its own checkpoint state: arrays by name and a JSON-able dict."""

    def state(self) -> tuple[dict[str, np.ndarray], dict]: ...

    def restore(self, arrays: dict[str, np.ndarray], meta: dict) -> None: ...


class CheckpointFormatError(ValueError):
    """The tree or arrays of a checkpoint do not decode: the file is not one this version wrote."""


def class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def allowed_class(name: str) -> type:
    module, _, _ = name.partition(":")
    if not (own_module(module) or module.startswith(TORCH_CLASS_MODULES) or name in ALLOWED):
        raise CheckpointFormatError(f"class {name} is not one a checkpoint may hold")
    obj = lookup(name)
    if not isinstance(obj, type):
        raise CheckpointFormatError(f"class {name} not found")
    return obj


def own_module(module: str) -> bool:
    """recagent's own modules, and those of the recommender and re-ranker plug-ins installed here (a
    scenario may run them, so their state is the run's; the package is the user's, not the file's)."""
    return module == "recagent" or module.startswith("recagent.") or module.split(".")[0] in plugin_packages()


@functools.lru_cache(maxsize=1)
def plugin_packages() -> frozenset[str]:
    from importlib.metadata import entry_points

    from ..recommenders.registry import ENTRY_POINT_GROUP, RERANKER_ENTRY_POINT_GROUP

    return frozenset(ep.module.split(".")[0] for group in (ENTRY_POINT_GROUP, RERANKER_ENTRY_POINT_GROUP)
                     for ep in entry_points(group=group))


def allowed_function(name: str):
    module, _, _ = name.partition(":")
    if not (own_module(module) or module in FUNCTION_MODULES):
        raise CheckpointFormatError(f"function {name} is not one a checkpoint may name")
    obj = lookup(name)
    if not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        raise CheckpointFormatError(f"function {name} not found")
    return obj


def lookup(name: str):
    module, _, qualname = name.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError:
        raise CheckpointFormatError(f"module of {name} not found") from None
    for part in qualname.split("."):
        if part.startswith("__"):
            raise CheckpointFormatError(f"{name} is not a name a checkpoint may hold")
        obj = getattr(obj, part, None)
    return obj


class Encoder:
    def __init__(self, refs: dict[int, str]):
        self.refs = refs
        self.arrays: dict[str, np.ndarray] = {}
        self.memo: dict[int, int] = {}
        self.keep: list = []  # keeps encoded objects alive so their ids stay unique

    def array(self, value: np.ndarray) -> str:
        if value.dtype == object:
            raise TypeError("an object array cannot be checkpointed")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(value)
        return key

    def encode(self, value, path: str = "state"):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and type(value) in (int, float):
            return value
        name = self.refs.get(id(value))
        if name is not None:
            return {"ref": name}
        if isinstance(value, np.generic):
            return {"np": [value.dtype.str, value.item()]}
        if id(value) in self.memo:
            return {"same": self.memo[id(value)]}
        self.memo[id(value)] = number = len(self.memo)
        self.keep.append(value)
        node = self.encode_new(value, path)
        node["#"] = number
        return node

    def items(self, values, path):
        return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(values)]

    def encode_new(self, value, path: str) -> dict:
        kind = type(value)
        if kind is np.ndarray:
            return {"array": self.array(value)}
        if kind is list:
            return {"list": self.items(value, path)}
        if kind is tuple:
            return {"tuple": self.items(value, path)}
        if kind in (set, frozenset):
            return {"set": self.items(sorted(value, key=repr), path), "frozen": kind is frozenset}
        if kind is deque:
            return {"deque": self.items(value, path), "maxlen": value.maxlen}
        if kind in (dict, OrderedDict, Counter, defaultdict):
            node = {"dict": [[self.encode(k, f"{path}.key"), self.encode(v, f"{path}[{k!r}]")] for k, v in value.items()],
                    "kind": kind.__name__}
            if kind is defaultdict:
                factory = value.default_factory
                if factory is not None and FACTORIES.get(getattr(factory, "__name__", "")) is not factory:
                    raise TypeError(f"{path}: a defaultdict of {factory!r} cannot be checkpointed")
                node["factory"] = None if factory is None else factory.__name__
            return node
        if isinstance(value, PurePath):
            return {"path": str(value)}
        if isinstance(value, weakref.ref):
            return {"weakref": self.encode(value(), path)}
        if isinstance(value, np.random.Generator):
            bits = value.bit_generator
            return {"generator": type(bits).__name__, "state": self.encode(bits.state, path)}
        if kind is random.Random:
            return {"random": self.encode(value.getstate(), path)}
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
            name = f"{value.__module__}:{value.__qualname__}"
            try:
                allowed_function(name)
            except CheckpointFormatError:
                raise TypeError(f"{path}: the function {name} cannot be checkpointed") from None
            return {"function": name}
        if isinstance(value, types.MethodType):  # a bound method of an object the state holds (a callback)
            function = value.__func__
            name = f"{function.__module__}:{function.__qualname__}"
            if not own_module(function.__module__) or value.__name__.startswith("__"):
                raise TypeError(f"{path}: the method {name} cannot be checkpointed")
            return {"method": value.__name__, "self": self.encode(value.__self__, f"{path}.__self__")}
        torch_node = self.torch(value, path)
        if torch_node is not None:
            return torch_node
        if isinstance(value, Stateful) and not isinstance(value, type):
            arrays, meta = value.state()
            return {"stateful": class_name(kind), "arrays": {k: self.array(np.asarray(a)) for k, a in arrays.items()},
                    "meta": self.encode(meta, f"{path}.meta")}
        name = class_name(kind)
        try:
            allowed_class(name)
        except CheckpointFormatError:
            raise TypeError(f"{path}: a {name} cannot be checkpointed") from None
        return {"object": name, "attrs": self.encode(object_attrs(value), path)}

    def torch(self, value, path):
        module = type(value).__module__
        if not module.startswith("torch"):
            return None
        import torch

        if type(value) is torch.Tensor:
            return {"tensor": self.array(value.detach().cpu().numpy()), "grad": value.requires_grad}
        if type(value) is torch.nn.Parameter:
            return {"parameter": self.array(value.detach().cpu().numpy()), "grad": value.requires_grad}
        if isinstance(value, torch.dtype):
            return {"torch_dtype": str(value).removeprefix("torch.")}
        if type(value) is torch.Generator:
            return {"torch_generator": self.array(value.get_state().numpy()), "device": str(value.device)}
        if type(value) is torch.device:
            return {"torch_device": str(value)}
        if module.startswith(TORCH_CLASS_MODULES):
            return None  # an nn.Module or optimiser: its attributes, like any allowed object
        raise TypeError(f"{path}: a {class_name(type(value))} cannot be checkpointed")


def object_attrs(value) -> dict:
    """The attributes that make `value`, less cached properties (views a library makes again on
    demand, such as a NetworkX graph's `edges`)."""
    attrs = dict(vars(value)) if hasattr(value, "__dict__") else {}
    for name in list(attrs):
        if isinstance(getattr(type(value), name, None), functools.cached_property):
            del attrs[name]
    for cls in type(value).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                attrs[slot] = getattr(value, slot)
    return attrs


def encode(state, refs: dict[int, str]) -> tuple[dict, dict[str, np.ndarray]]:
    """(JSON tree, arrays by name) of `state`; objects in `refs` (id -> name) are written by name."""
    encoder = Encoder(refs)
    return encoder.encode(state), encoder.arrays


class Decoder:
    def __init__(self, arrays, objects: dict[str, object]):
        self.arrays, self.objects = arrays, objects
        self.made: dict[int, object] = {}

    def array(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise CheckpointFormatError(f"array {key!r} missing")
        return self.arrays[key]

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict):
            raise CheckpointFormatError(f"unexpected {type(node).__name__} in the state tree")
        if "ref" in node:
            if node["ref"] not in self.objects:
                raise CheckpointFormatError(f"unknown reference {node['ref']!r}")
            return self.objects[node["ref"]]
        if "same" in node:
            if node["same"] not in self.made:
                raise CheckpointFormatError("a reference to an object not yet read")
            return self.made[node["same"]]
        if "np" in node:
            dtype, item = node["np"]
            return np.dtype(dtype).type(item)
        value = self.decode_new(node)
        if "#" in node:  # values made without `keep` (a function, a dtype) may be referred to again too
            self.made.setdefault(node["#"], value)
        return value

    def keep(self, node, value):
        self.made[node.get("#")] = value
        return value

    def decode_new(self, node: dict):
        if "array" in node:
            return self.keep(node, self.array(node["array"]))
        for kind, make in (("list", list), ("tuple", tuple)):
            if kind in node:
                if make is list:
                    out = self.keep(node, [])
                    out.extend(self.decode(v) for v in node[kind])
                    return out
                return self.keep(node, tuple(self.decode(v) for v in node[kind]))
        if "set" in node:
            values = [self.decode(v) for v in node["set"]]
            return self.keep(node, frozenset(values) if node.get("frozen") else set(values))
        if "deque" in node:
            return self.keep(node, deque((self.decode(v) for v in node["deque"]), maxlen=node.get("maxlen")))
        if "dict" in node:
            return self.decode_dict(node)
        if "generator" in node:
            bits = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
                    "Philox": np.random.Philox, "SFC64": np.random.SFC64}.get(node["generator"])
            if bits is None:
                raise CheckpointFormatError(f"unknown bit generator {node['generator']!r}")
            generator = np.random.Generator(bits())
            generator.bit_generator.state = self.decode(node["state"])
            return self.keep(node, generator)
        if "random" in node:
            value = random.Random()
            value.setstate(self.decode(node["random"]))
            return self.keep(node, value)
        if "path" in node:
            return self.keep(node, Path(str(node["path"])))
        if "weakref" in node:
            return self.keep(node, weakref.ref(self.decode(node["weakref"])))
        if "tensor" in node or "parameter" in node:
            import torch

            data = torch.from_numpy(np.array(self.array(node.get("tensor", node.get("parameter")))))
            value = torch.nn.Parameter(data, requires_grad=node["grad"]) if "parameter" in node else \
                data.requires_grad_(node["grad"])
            return self.keep(node, value)
        if "torch_generator" in node:
            import torch

            generator = torch.Generator(device=str(node["device"]))
            generator.set_state(torch.from_numpy(np.array(self.array(node["torch_generator"]), dtype=np.uint8)))
            return self.keep(node, generator)
        if "torch_device" in node:
            import torch

            return torch.device(str(node["torch_device"]))
        if "method" in node:
            owner, name = self.decode(node["self"]), str(node["method"])
            method = getattr(owner, name, None) if not name.startswith("_" * 2) else None
            if not isinstance(method, types.MethodType) or not own_module(method.__func__.__module__):
                raise CheckpointFormatError(f"method {name!r} not found on {type(owner).__name__}")
            return self.keep(node, method)
        if "function" in node:
            return allowed_function(str(node["function"]))
        if "torch_dtype" in node:
            import torch

            value = getattr(torch, str(node["torch_dtype"]), None)
            if not isinstance(value, torch.dtype):
                raise CheckpointFormatError(f"unknown torch dtype {node['torch_dtype']!r}")
            return value
        if "stateful" in node:
            cls = allowed_class(node["stateful"])
            value = self.keep(node, cls.__new__(cls))
            value.restore({k: self.array(a) for k, a in node["arrays"].items()}, self.decode(node["meta"]))
            return value
        if "object" in node:
            cls = allowed_class(node["object"])
            value = self.keep(node, object.__new__(cls))
            attrs = self.decode(node["attrs"])
            if not isinstance(attrs, dict):
                raise CheckpointFormatError(f"attributes of {node['object']} are not a mapping")
            for name, attr in attrs.items():
                object.__setattr__(value, name, attr)
            return value
        raise CheckpointFormatError(f"unknown node {sorted(node)[:3]}")

    def decode_dict(self, node):
        kinds = {"dict": dict, "OrderedDict": OrderedDict, "Counter": Counter}
        if node.get("kind") == "defaultdict":
            factory = node.get("factory")
            if factory is not None and factory not in FACTORIES:
                raise CheckpointFormatError(f"defaultdict factory {factory!r} not allowed")
            out = defaultdict(FACTORIES.get(factory))
        elif node.get("kind") in kinds:
            out = kinds[node["kind"]]()
        else:
            raise CheckpointFormatError(f"unknown mapping kind {node.get('kind')!r}")
        self.keep(node, out)
        for pair in node["dict"]:
            key, value = pair
            out[self.decode(key)] = self.decode(value)
        return out


def decode(tree, arrays, objects: dict[str, object]):
    """The state `encode` wrote, its references resolved in `objects`."""
    try:
        return Decoder(arrays, objects).decode(tree)
    except CheckpointFormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ImportError) as error:
        raise CheckpointFormatError(f"{type(error).__name__}: {error}") from None

