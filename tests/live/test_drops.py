"""Nothing is lost silently: a storm into a tiny ring shows its drops in the file, in `scapula info` and in the record summary."""
import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import require_live

pytestmark = pytest.mark.live

from tests.conftest import SCAPULA

# open+close as fast as Python goes: far more than a 16K ring holds between two polls
STORM = "import os, sys\nfor _ in range(200_000):\n    os.close(os.open(sys.argv[1], os.O_RDONLY))\n"


@pytest.fixture(scope="module")
def stormed(tmp_path_factory):
    require_live()
    tmp = tmp_path_factory.mktemp("drops")
    target = tmp / "target.txt"
    target.write_text("x")
    out = tmp / "storm.scapula"
    proc = subprocess.run([str(SCAPULA), "record", "-w", str(out), "--buffer-size", "16K",
                           "--", sys.executable, "-c", STORM, str(target)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


def test_record_summary_reports_drops_with_a_warning(stormed):
    _, stderr = stormed
    m = re.search(r"dropped (\d+) \(([^)]*)\)", stderr)
    assert m, stderr
    assert int(m[1]) > 0
    per_cpu = [int(n) for n in re.findall(r"cpu\d+: (\d+)", m[2])]
    assert len(per_cpu) == os.cpu_count() and sum(per_cpu) == int(m[1])
    assert re.search(rf"warning: {m[1]} events were lost", stderr), stderr


def test_file_stats_hold_the_drops(stormed):
    from scapula.replay.reader import Capture
    path, stderr = stormed
    with Capture(str(path)) as cap:
        drops = cap.stats["drops"]
    assert sum(drops) > 0
    assert f"dropped {sum(drops)} " in stderr


def test_info_text_and_json_show_the_drops(stormed):
    path, _ = stormed
    text = subprocess.run([str(SCAPULA), "info", str(path)], capture_output=True, text=True,
                          check=True).stdout
    m = re.search(r"^dropped\s+(\d+)\s+\((cpu\d+=\d+ ?)+[;)]", text, re.M)
    assert m and int(m[1]) > 0, text
    js = json.loads(subprocess.run([str(SCAPULA), "info", "--json", str(path)],
                                   capture_output=True, text=True, check=True).stdout)
    assert js["dropped"] == sum(js["drops"]) == int(m[1]) > 0
    assert sum(js["sent"]) > 0
