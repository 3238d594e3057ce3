"""Test models, exported from torch_frontend's registry at build time with the pinned PyTorch."""

def exported_model(name, num_inputs = 1, num_outputs = 1):
    """Declares <name>.pt2, <name>.input<i>.npy and <name>.ref<i>.npy."""
    inputs = ["%s.input%d.npy" % (name, i) for i in range(num_inputs)]
    refs = ["%s.ref%d.npy" % (name, i) for i in range(num_outputs)]
    native.genrule(
        name = name,
        srcs = ["//torch_frontend:srcs"],
        outs = [name + ".pt2"] + inputs + refs,
        tools = ["@libtorch//:python"],
        # torch writes caches under $HOME by default; the sandbox's temp dir keeps the build hermetic.
        cmd = " ".join([
            "HOME=$$(mktemp -d) TMPDIR=$$(mktemp -d) PYTHONPATH=.",
            "$(location @libtorch//:python) -m torch_frontend.export --model " + name,
            "--pt2 $(location %s.pt2)" % name,
            "--inputs " + " ".join(["$(location %s)" % f for f in inputs]),
            "--refs " + " ".join(["$(location %s)" % f for f in refs]),
            "> /dev/null",
        ]),
    )

def compiled_model(model):
    """Declares <model>_kiln: <model>.kiln compiled at build time by the compile tool, for runtime-only tests."""
    native.genrule(
        name = model + "_kiln",
        srcs = [model + ".pt2"],
        outs = [model + ".kiln"],
        cmd = "$(location //tools:compile) $(location %s.pt2) -o $@ --quiet" % model,
        tools = ["//tools:compile"],
    )
