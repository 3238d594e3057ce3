"""Exposes the libtorch that ships inside the project's Python environment (.venv, made by tools/setup.sh).

Only the compiler's tests link it; the runtime and simulator never do. The same repository also carries
`python`, a launcher for that interpreter, so build steps can run torch_frontend (export models at build
time) with the pinned torch.
"""

def _torch_impl(ctx):
    workspace = ctx.path(Label("//:WORKSPACE")).dirname
    python = ctx.os.environ.get("KILN_PYTHON", "%s/.venv/bin/python" % workspace)
    if not ctx.path(python).exists:
        fail("Kiln: no Python at %s; run tools/setup.sh first (or set KILN_PYTHON)" % python)
    res = ctx.execute([python, "-c", "import os, torch; print(os.path.dirname(torch.__file__))"])
    if res.return_code != 0:
        fail("Kiln: %s cannot import torch: %s; run tools/setup.sh" % (python, res.stderr))
    torch_dir = res.stdout.strip()
    ctx.symlink(torch_dir + "/include", "include")
    ctx.symlink(torch_dir + "/lib", "lib")

    # The interpreter's headers and nanobind, for Python extensions (torch_frontend/ext).
    res = ctx.execute([python, "-c", "import sysconfig, nanobind; " +
                                     "print(sysconfig.get_paths()['include']); print(nanobind.include_dir())"])
    if res.return_code != 0:
        fail("Kiln: %s has no Python headers or nanobind: %s; run tools/setup.sh" % (python, res.stderr))
    python_include, nanobind_include = res.stdout.strip().split("\n")
    ctx.symlink(python_include, "python_include")
    ctx.symlink(ctx.path(nanobind_include).dirname, "nanobind")
    ctx.file("python.sh", "#!/bin/sh\nexec %s \"$@\"\n" % python, executable = True)
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "libtorch",
    srcs = ["lib/libtorch_cpu.so", "lib/libc10.so"],
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh"], allow_empty = True),
    includes = ["include", "include/torch/csrc/api/include"],
    linkopts = ["-Wl,-rpath,%s/lib"],
)

# Headers only: an extension module gets the interpreter's symbols when Python loads it.
cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
)

# libnanobind (its one-file build), linked statically into each extension module.
cc_library(
    name = "nanobind",
    srcs = ["nanobind/src/nb_combined.cpp"],
    hdrs = glob(["nanobind/include/**/*.h", "nanobind/ext/robin_map/include/**/*.h"]),
    textual_hdrs = glob(["nanobind/src/*.h", "nanobind/src/*.cpp"], exclude = ["nanobind/src/nb_combined.cpp"]),
    copts = ["-fno-strict-aliasing", "-fvisibility=hidden", "-Wno-error"],
    includes = ["nanobind/include", "nanobind/ext/robin_map/include"],
    deps = [":python_headers"],
)

sh_binary(
    name = "python",
    srcs = ["python.sh"],
)
""" % torch_dir)

torch_repository = repository_rule(
    implementation = _torch_impl,
    environ = ["KILN_PYTHON"],
    local = True,
)
