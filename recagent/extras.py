"""Optional parts of recagent and the pip extra that installs each.

The core install runs scenarios (the Mesa model, the ensemble user simulator, the recommenders, the
offline and OpenAI-compatible language backends, reports). The rest is heavy and used by few runs, so
it comes as an extra; `require` turns a missing one into the one line a user needs to fix it.
"""

from __future__ import annotations

from importlib.util import find_spec

from .errors import UserError

# extra -> (what it is for, the top-level modules it provides)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "web": ("the web page (recagent serve, run --serve, run --play)", ("fastapi", "uvicorn")),
    "memory": ("agent memory (llm.memory)", ("chromadb",)),
    "rl": ("RL environments and baselines (recagent rl)", ("gymnasium", "stable_baselines3", "sb3_contrib")),
    "sweep": ("sweeps on Ray (--executor ray)", ("ray",)),
    "local": ("an in-process local language model (llm.provider: local)", ("llama_cpp",)),
}


# llama.cpp compiles from source, and its default (native) build crashes on some CPUs: the portable flags
# go with the install line (the README's install command sets the same)
BUILD_ENV = {"local": 'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON '
                      '-DLLAVA_BUILD=OFF" '}


def install_command(extra: str) -> str:
    """The one command that installs `extra`."""
    return f"{BUILD_ENV.get(extra, '')}pip install 'recagent[{extra}]'"


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [name for name in EXTRAS[extra][1] if find_spec(name) is None]


def require(extra: str, where: str | None = None) -> None:
    """Raise a one-line UserError naming the pip install to run when `extra` is not installed."""
    absent = missing(extra)
    if absent:
        purpose = EXTRAS[extra][0]
        raise UserError(
            f"{purpose} needs the '{extra}' extra ({', '.join(absent)} not installed): {install_command(extra)}",
            where,
        )
