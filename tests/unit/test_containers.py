"""Container ids parsed from cgroup paths, one case per runtime's naming."""
import pytest

from scapula.capture.containers import container_id
from scapula.capture.snapshot import cgroup_path

ID = "3f4e1c2b" * 8  # 64 hex digits


@pytest.mark.parametrize("path", [
    f"/docker/{ID}",                                                     # docker, cgroupfs
    f"/system.slice/docker-{ID}.scope",                                  # docker, systemd
    f"/kubepods/besteffort/pod1234-abcd/{ID}",                           # kubelet, cgroupfs
    f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/"
    f"cri-containerd-{ID}.scope",                                        # containerd, systemd
    f"/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope",              # cri-o
    f"/crio/{ID}",
    f"/machine.slice/libpod-{ID}.scope",                                 # podman, systemd
    f"/libpod_parent/libpod-{ID}",                                       # podman, cgroupfs
    f"/system.slice/docker-{ID}.scope/init.scope",                       # nested: the id above
])
def test_each_runtime_pattern_gives_the_full_id(path):
    assert container_id(path.encode()) == ID.encode()


@pytest.mark.parametrize("path", [
    None, b"", b"/", b"/user.slice/user-0.slice/session-1.scope",
    b"/process_api/b2f3543ea070244474b61da2ef812c7d",                     # 32 hex: not an id
    f"/docker/{ID.upper()}".encode(),                                     # ids are lowercase
    f"/system.slice/crio-conmon-{ID}.scope".encode(),                     # cri-o's monitor
    f"/docker/{ID}0".encode(),                                            # 65 digits
])
def test_paths_that_name_no_container(path):
    assert container_id(path) is None


def test_the_snapshot_picks_the_cgroup_path_the_kernel_side_does():
    hybrid = b"4:memory:/process_api/abc\n3:cpuset:/\n1:cpu,cpuacct:/x\n0::/"
    # unified at its root: the first v1 controller below its root, in kernel order
    # (cpuset, cpu, cpuacct, ..., memory on every kernel with them)
    assert cgroup_path(hybrid) == b"/x"
    assert cgroup_path(b"0::/system.slice/ssh.service") == b"/system.slice/ssh.service"
    assert cgroup_path(b"1:cpu:/a\n0::/user.slice") == b"/user.slice"
