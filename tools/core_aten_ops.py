"""Prints the ATen overloads the installed torch tags `core`, one per line ("aten.add.Tensor"), after a
"# torch <version>" line. tools/op_docs turns the list into docs/OPS.md's status table, and
core_aten_ops_test fails when an overload in it has no status in Kiln."""

import torch


def core_overloads() -> list[str]:
    # Every registered schema, not dir(torch.ops.aten): that lists only the packets loaded so far.
    packets = sorted({n.split("::")[1].split(".")[0] for n in torch._C._dispatch_get_all_op_names()
                      if n.startswith("aten::")})
    names = set()
    for packet_name in packets:
        packet = getattr(torch.ops.aten, packet_name)
        for overload in packet.overloads():
            if torch.Tag.core in getattr(packet, overload).tags:
                names.add(f"aten.{packet_name}.{overload}")
    return sorted(names)


if __name__ == "__main__":
    print(f"# torch {torch.__version__.split('+')[0]}")
    print("\n".join(core_overloads()))
