"""kiln_fuzz_test: one libFuzzer target, built two ways from one source file.

With `--config=fuzz` (clang-14, see .bazelrc) it is a libFuzzer binary; tools/fuzz.sh runs it for a
while on a copy of its seed corpus. Without it (gcc, `bazel test //...`) it links
//tools/fuzz:regression_main and runs every seed once. Either way `bazel test` runs the seeds once
(`-runs=0` is libFuzzer's "execute the corpus, do not fuzz").
"""

def _fuzz_corpus_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    cmds = ["mkdir -p '%s'" % out.path]
    for f in ctx.files.srcs:
        # The seed's workspace path, flattened, so seeds from different packages cannot collide.
        flat = f.short_path.replace("../", "").replace("/", "_")
        cmds.append("cp '%s' '%s/%s'" % (f.path, out.path, flat))
    ctx.actions.run_shell(
        inputs = ctx.files.srcs,
        outputs = [out],
        command = " && ".join(cmds),
        mnemonic = "FuzzCorpus",
        progress_message = "Collecting the seed corpus %s" % ctx.label,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

# A directory holding copies of `srcs`, the form libFuzzer takes a corpus in.
fuzz_corpus = rule(
    implementation = _fuzz_corpus_impl,
    attrs = {"srcs": attr.label_list(allow_files = True, mandatory = True)},
)

def kiln_fuzz_test(name, srcs, deps, seeds, dict = None, size = "small", **kwargs):
    """Declares `name` (the fuzz target / seed regression test) and `name + "_corpus"`.

    Args:
      name: the target; its source defines LLVMFuzzerTestOneInput.
      srcs: the fuzz target's sources.
      deps: what it fuzzes.
      seeds: files (or rules making files) that form the seed corpus.
      dict: an optional libFuzzer dictionary, used by tools/fuzz.sh.
      size: the test size of the seed run.
      **kwargs: passed to cc_test.
    """
    fuzz_corpus(name = name + "_corpus", srcs = seeds, testonly = True)
    native.cc_test(
        name = name,
        size = size,
        srcs = srcs,
        deps = deps + select({
            "//tools/fuzz:fuzzing": [],
            "//conditions:default": ["//tools/fuzz:regression_main"],
        }),
        linkopts = select({
            "//tools/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        args = ["-runs=0", "$(location :%s_corpus)" % name],
        data = [":%s_corpus" % name] + ([dict] if dict else []),
        **kwargs
    )
