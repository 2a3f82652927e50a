"""Where the multi-DNN dataset's files live (the seed's layout).
::

    <output_root>/Multinet/Mode{m}/
        run-<UTC start>.json                 run metadata, one per run
        mapping.log                          the run's log (default --log_file)
        Mode{m}.conf                         the mode's block of /etc/nvpmodel.conf
        {SingleNet|MultiNet}_Map{n}_nm_{k}_set_{s}_class{A-D}.json   one raw file per mapping
"""
import os
import re

__all__ = ["MULTINET_DIR", "LOG_NAME", "mode_dir", "raw_files", "RAW_NAME"]

MULTINET_DIR = "Multinet"
LOG_NAME = "mapping.log"
#: A raw mapping file's name (see :mod:`.plan` for how it is made).
RAW_NAME = re.compile(r"^(SingleNet|MultiNet)_Map\d+_nm_\d+_set_\d+_class[A-D]\.json$")


def mode_dir(output_root, mode):
    """``<output_root>/Multinet/Mode{mode}``."""
    return os.path.join(output_root, MULTINET_DIR, "Mode{}".format(mode))


def raw_files(mode_dir):
    """The mapping files of a ``Mode{m}`` folder, sorted by map index."""
    names = [n for n in os.listdir(mode_dir) if RAW_NAME.match(n)] if os.path.isdir(mode_dir) else []
    return [os.path.join(mode_dir, n) for n in sorted(names, key=lambda n: int(n.split("_Map")[1].split("_")[0]))]
