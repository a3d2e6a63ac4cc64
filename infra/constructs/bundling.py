"""The code asset of the platform functions: one asset, shared by every function.

It holds the ``functions/`` and ``shared/`` packages plus the runtime dependencies of
``pyproject.toml`` (``[project].dependencies``):

- ``bundle=True`` (``cdk deploy`` / ``scrm synth``): :class:`LocalPythonBundler` builds it
  without Docker: ``pip install --platform manylinux2014_aarch64 --only-binary=:all:`` into
  a cache under ``.build/deps-<hash>`` (keyed by the dependency list and the target
  platform, so repeated synths skip pip), then copies the cache and the two packages into
  the asset directory. Everything in it is byte-compiled by the runtime's Python (3.13,
  ``cpython-313`` pyc files under ``__pycache__``) with ``--invalidation-mode unchecked-hash``, so a
  cold start on Lambda does not compile every module it imports, and the pyc files depend on the
  sources only (not on mtimes or on the build directory: code paths are rebased on ``/var/task``).
  The dependency cache is compiled once, with the cache. Without a Python 3.13 on this machine the
  asset ships sources only (a note says so).
- ``bundle=False`` (tests and the local twin, which runs handlers in-process): no pip; the
  asset is the project root filtered down to ``functions/`` and ``shared/`` (a glob
  exclude list, so ``.venv`` and friends are never walked), which stages in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_ROOT / ".build"
CODE_PACKAGES = ("functions", "shared")
PIP_PLATFORM = ("manylinux2014_aarch64", "cp", "3.13")
LAMBDA_TASK_ROOT = "/var/task"
"""Where Lambda unpacks the asset: the source paths recorded in the byte-compiled modules."""

# Glob patterns that reduce the project root to the code packages (bundle=False), and the
# source fingerprint of the bundled asset (bundle=True, which also needs pyproject.toml).
_NOISE = ["**/__pycache__", "**/__pycache__/**", "**/*.pyc", "**/.DS_Store"]
SOURCE_EXCLUDES = [
    "*",
    ".*",
    *(f"!{p}" for p in CODE_PACKAGES),
    *(f"!{p}/**" for p in CODE_PACKAGES),
    *_NOISE,
]
BUNDLE_SOURCE_EXCLUDES = ["*", ".*", "!pyproject.toml", *SOURCE_EXCLUDES[2:]]


def runtime_dependencies(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    with pyproject.open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def runtime_python() -> str | None:
    """A Python of the functions' runtime version on this machine (``SCRM_RUNTIME_PYTHON``, else
    ``python3.13`` on the path, else a pyenv install), to byte-compile the asset; ``None`` if none runs."""
    version = PIP_PLATFORM[2]
    candidates = [os.environ.get("SCRM_RUNTIME_PYTHON", ""), shutil.which(f"python{version}") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def compile_bytecode(directory: Path, python: str) -> None:
    """Byte-compile every module under ``directory`` as the runtime will import it from ``/var/task``."""
    command = [
        python,
        "-m",
        "compileall",
        "-q",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(directory),
        "-p",
        LAMBDA_TASK_ROOT,
        str(directory),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"could not byte-compile {directory}:\n{(result.stdout + result.stderr)[-4000:]}")


def _copy_tree(src: Path, dst: Path, *, bytecode: bool = False) -> None:
    """Copy a tree, hard-linking files where the file system allows it (fast, no extra space).

    Without ``bytecode`` the ``__pycache__`` directories stay behind (the development tree's pyc are
    of another Python)."""

    def link_or_copy(s: str, d: str) -> Any:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
        return d

    shutil.copytree(
        src,
        dst,
        dirs_exist_ok=True,
        copy_function=link_or_copy,
        ignore=None if bytecode else shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Builds the Lambda asset on this machine (no Docker) for Python 3.13 on arm64."""

    def __init__(
        self, root: Path = PROJECT_ROOT, cache_dir: Path = BUILD_DIR, python: str | None = "auto"
    ) -> None:
        """``python``: the interpreter that byte-compiles the asset (``"auto"``: ``runtime_python()``;
        ``None``: no bytecode)."""
        self.root = root
        self.cache_dir = cache_dir
        self.dependencies = runtime_dependencies(root / "pyproject.toml")
        self._python = python

    @property
    def cache_key(self) -> str:
        text = json.dumps({"deps": sorted(self.dependencies), "platform": PIP_PLATFORM})
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def python(self) -> str | None:
        if self._python == "auto":
            self._python = runtime_python()
            if self._python is None:
                print(
                    f"note: no Python {PIP_PLATFORM[2]} here (set SCRM_RUNTIME_PYTHON): the Lambda asset "
                    "ships without bytecode, so every cold start compiles the modules it imports",
                    file=sys.stderr,
                )
        return self._python

    def dependency_layer(self) -> Path:
        """The pip-installed dependencies, built once per dependency list into ``.build/``, and
        byte-compiled once (``.compiled``) when a runtime Python is here."""
        target = self.cache_dir / f"deps-{self.cache_key}"
        if (target / ".complete").exists():
            if self.python is not None and not (target / ".compiled").exists():
                compile_bytecode(target, self.python)  # a cache built before bytecode or without 3.13
                (target / ".compiled").write_text(self.python + "\n")
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        platform, implementation, version = PIP_PLATFORM
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--platform",
            platform,
            "--implementation",
            implementation,
            "--python-version",
            version,
            "--only-binary=:all:",
            "--target",
            str(partial),
            *self.dependencies,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip could not build the Lambda dependencies:\n{result.stderr[-4000:]}")
        shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts: useless in Lambda
        if self.python is not None:
            compile_bytecode(partial, self.python)
            (partial / ".compiled").write_text(self.python + "\n")
        (partial / ".complete").write_text("\n".join(self.dependencies) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        return target

    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: Any) -> bool:
        """Called by CDK before Docker would be: build here, always (no Docker fallback)."""
        out = Path(output_dir)
        _copy_tree(self.dependency_layer(), out, bytecode=True)
        (out / ".complete").unlink(missing_ok=True)
        (out / ".compiled").unlink(missing_ok=True)
        for package in CODE_PACKAGES:
            _copy_tree(self.root / package, out / package)
            if self.python is not None:
                compile_bytecode(out / package, self.python)
        return True


def function_code(*, bundle: bool, root: Path = PROJECT_ROOT) -> lambda_.Code:
    """The one code asset of every platform function (see the module docstring)."""
    if not bundle:
        return lambda_.Code.from_asset(str(root), exclude=SOURCE_EXCLUDES)
    return lambda_.Code.from_asset(
        str(root),
        exclude=BUNDLE_SOURCE_EXCLUDES,
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            # Never pulled: the local bundler always builds the asset (or raises).
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=LocalPythonBundler(root),
        ),
    )
