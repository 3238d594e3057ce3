"""Seeds for the .pt2 and export-JSON fuzz targets, from one .pt2 fixture.

usage: pt2_seeds.py IN.pt2 OUT_PREFIX
writes OUT_PREFIX.deflated.pt2 (the same archive with every member deflated, so the fuzzer starts
from both stored and compressed members), OUT_PREFIX.model.json (models/*.json),
OUT_PREFIX.weights_config.json and OUT_PREFIX.constants_config.json.
"""

import sys
import zipfile


def main(src, prefix):
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    with zipfile.ZipFile(prefix + ".deflated.pt2", "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members.items():
            # A fixed date keeps the output byte-identical from build to build.
            out.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)

    def member(suffix):
        found = [n for n in members if n.endswith(suffix)]
        if len(found) != 1:
            sys.exit("%s: expected one member ending in %s, found %s" % (src, suffix, found))
        return members[found[0]]

    for suffix, name in [("/models/model.json", "model"),
                         ("/data/weights/model_weights_config.json", "weights_config"),
                         ("/data/constants/model_constants_config.json", "constants_config")]:
        with open("%s.%s.json" % (prefix, name), "wb") as f:
            f.write(member(suffix))


if __name__ == "__main__":
    main(*sys.argv[1:])
