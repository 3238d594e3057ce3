"""A torch_frontend tool module run with the compile and run tools Bazel just built (frontend_tool.sh)."""

def frontend_tool(name, module, args = [], data = [], test = False, **kwargs):
    rule = native.sh_test if test else native.sh_binary
    rule(
        name = name,
        srcs = ["frontend_tool.sh"],
        args = [
            "$(location @libtorch//:python)",
            "$(location :compile)",
            "$(location :run)",
            module,
        ] + args,
        data = [
            ":compile",
            ":run",
            "//torch_frontend:srcs",
            "@libtorch//:python",
        ] + data,
        **kwargs
    )
