"""Kiln Python frontend: model registry, torch.export -> .pt2 + .npy, output comparison.

Importing the package points torch's cache directories at a temp dir (unless the
caller already set them). This must happen before `import torch`, which is why it
lives here: every entry point (`-m torch_frontend.export`, tests) imports the
package first. Bazel sandboxes may make $HOME read-only.
"""

import os as _os
import tempfile as _tempfile


def _default_cache_dirs() -> None:
    cache = _os.path.join(_tempfile.gettempdir(), "kiln-torch-cache")
    for var in ("XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR",
                "TORCH_EXTENSIONS_DIR", "TORCH_HOME"):
        _os.environ.setdefault(var, _os.path.join(cache, var.lower()))


_default_cache_dirs()
