"""``python -m mhp_tf.pretrained``: list the presets found, with their metadata.

    python -m mhp_tf.pretrained            # every preset, a few lines each
    python -m mhp_tf.pretrained --verify   # also check each file's sha256
"""

import sys

from mhp_tf import pretrained


def main(argv) -> int:
    verify = "--verify" in argv[1:]
    names = pretrained.list_presets()
    if not names:
        print("no presets found (searched: " + ", ".join(pretrained.search_path()) + ")")
        return 0
    for name in names:
        preset = pretrained.get_preset(name)
        print(pretrained.describe(preset))
        if verify:
            preset.verify()
            print("  files: sha256 ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
