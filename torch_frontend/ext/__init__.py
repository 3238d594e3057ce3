"""Loads kiln_ext, the Bazel-built extension module (//torch_frontend/ext:kiln_ext.so).

It is found beside this file (in a Bazel test's runfiles), else in the checkout's bazel-bin (after
`bazel build //torch_frontend/ext:kiln_ext.so`, which tools/setup.sh runs), else at $KILN_EXT.
"""

import importlib.machinery
import importlib.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))


def _candidates() -> list[str]:
    paths = [os.environ.get("KILN_EXT", ""), os.path.join(_HERE, "kiln_ext.so"),
             os.path.join(_REPO, "bazel-bin", "torch_frontend", "ext", "kiln_ext.so")]
    return [p for p in paths if p]


def _load():
    for path in _candidates():
        if os.path.isfile(path):
            loader = importlib.machinery.ExtensionFileLoader("kiln_ext", path)
            spec = importlib.util.spec_from_file_location("kiln_ext", path, loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            return module
    raise ImportError("Kiln's extension module is not built; looked for " + ", ".join(_candidates()) +
                      ". Run `bazel build //torch_frontend/ext:kiln_ext.so` (tools/setup.sh does).")


kiln_ext = _load()
