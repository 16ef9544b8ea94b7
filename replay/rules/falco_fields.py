"""The field names Falco has defined for syscall rules, in any version.

This is how a rule's field is judged when scapula does not have it. A name Falco
knows (Kubernetes metadata, container runtime details, counters scapula does not
keep) makes the rule load disabled with a warning, as data the capture lacks; a
name no Falco ever had is a typo, and a load error, as Falco makes it.

The names come from libsinsp's filterchecks (falcosecurity/libs
userspace/libsinsp/sinsp_filtercheck_*.cpp; the k8s, mesos, container, span and
evtin classes from filter/checks/ before they were dropped) and from the plugins
Falco ships for syscall rules: container (container.*, k8s.pod.*, k8s.ns.name, the
container healthcheck fields of proc.*) and k8smeta. Only the names are kept: each
class lists the rest of its names after the class and a dot.
"""
from __future__ import annotations

_CLASSES = {
    "evt": """
        abspath arg args around asynctype buffer buflen buflen.file buflen.file.in
        buflen.file.out buflen.in buflen.net buflen.net.in buflen.net.out buflen.out
        category count count.error count.error.file count.error.memory count.error.net
        count.error.other count.exit count.procinfo count.threadinfo cpu datetime datetime.s
        deltatime deltatime.ns deltatime.s dir failed hostname info
        infra.docker.container.id infra.docker.container.image infra.docker.container.name
        infra.docker.name io_dir is_async is_io is_io_read is_io_write is_open_create
        is_open_exec is_open_read is_open_write is_syslog is_wait latency latency.human
        latency.ns latency.quantized latency.s num outputtime plugininfo pluginname rawarg
        rawres rawtime rawtime.ns rawtime.s reltime reltime.ns reltime.s res source time
        time.iso8601 time.s type type.is wait_latency""",
    "fd": """
        cip cip.name cnet connected containerdirectory containername cport cproto dev
        dev.major dev.minor directory filename ino ip is_lower_layer is_server
        is_upper_layer l4proto lip lip.name lnet lport lproto name name_changed nameraw net
        num port proto rip rip.name rnet rport rproto sip sip.name snet sockfamily sport
        sproto type typechar types uid""",
    "fdlist": "cips cports names nums sips sports",
    "fs": "path.name path.nameraw path.source path.sourceraw path.target path.targetraw",
    "group": "gid name",
    "proc": """
        aargs acmdline aenv aexe aexepath aname apid args cmdlenargs cmdline cmdnargs cwd
        duration env exe exe_ino exe_ino.ctime exe_ino.ctime_duration_pidns_start
        exe_ino.ctime_duration_proc_start exe_ino.mtime exeline exepath fdlimit fdopencount
        fdusage is_exe_from_memfd is_exe_lower_layer is_exe_upper_layer is_exe_writable
        is_pgid_leader is_sid_leader is_vpgid_leader loginshellid name nchilds nthreads
        pcmdline pexe pexepath pgid pgid.exe pgid.exepath pgid.name pid pid.ts
        pidns_init_start_ts pname ppid ppid.duration ppid.ts pvpid sid sid.exe sid.exepath
        sname stderr.name stderr.type stdin.name stdin.type stdout.name stdout.type tty
        vmrss vmsize vmswap vpgid vpgid.exe vpgid.exepath vpgid.name vpid
        is_container_healthcheck is_container_liveness_probe is_container_readiness_probe""",
    "syscall": "type",
    "thread": """
        cap_effective cap_inheritable cap_permitted cgroup cgroups cpu cpu.system cpu.user
        exectime ismain nametid pfmajor pfminor tid totexectime vmrss vmrss.b vmsize
        vmsize.b vtid""",
    "user": "homedir loginname loginuid name shell uid",
    "util": "cnt",
    "syslog": "facility facility.str severity severity.str message",
    "container": """
        id full_id name image image.id type privileged mounts mount mount.source mount.dest
        mount.mode mount.rdwr mount.propagation image.repository image.tag image.digest
        healthcheck liveness_probe readiness_probe start_ts duration ip cni.json host_pid
        host_network host_ipc label labels""",
    "k8s": """
        pod.name pod.id pod.uid pod.sandbox_id pod.full_sandbox_id pod.label pod.labels
        pod.ip pod.cni.json ns.name ns.id ns.label ns.labels rc.name rc.id rc.label
        rc.labels svc.name svc.id svc.label svc.labels rs.name rs.id rs.label rs.labels
        deployment.name deployment.id deployment.label deployment.labels""",
    "k8smeta": """
        pod.name pod.uid pod.label pod.labels pod.ip ns.name ns.uid ns.label ns.labels
        deployment.name deployment.uid deployment.label deployment.labels svc.name svc.uid
        svc.label svc.labels rs.name rs.uid rs.label rs.labels rc.name rc.uid rc.label
        rc.labels""",
    "mesos": "task.name task.id task.label task.labels framework.name framework.id",
    "marathon": "app.name app.id app.label app.labels group.name group.id",
    "span": """
        id time ntags nargs tags tag args arg enterargs enterarg duration duration.quantized
        duration.human duration.fortag count count.fortag childcount.fortag idtag rawtime
        rawparenttime""",
    "evtin": """
        span.id span.ntags span.nargs span.tags span.tag span.args span.arg
        span.p.id span.p.ntags span.p.nargs span.p.tags span.p.tag span.p.args span.p.arg
        span.s.id span.s.ntags span.s.nargs span.s.tags span.s.tag span.s.args span.s.arg
        span.m.id span.m.ntags span.m.nargs span.m.tags span.m.tag span.m.args span.m.arg""",
}

FALCO_FIELDS = frozenset(f"{cls}.{rest}" for cls, names in _CLASSES.items()
                         for rest in names.split())

# Fields whose argument may follow a dot instead of brackets (evt.arg.flags,
# k8s.pod.label.app): any name under them is one of theirs.
DOTTED_ARGUMENT = ("evt.arg", "evt.rawarg", "evt.type.is", "proc.env", "container.label",
                   "k8s.pod.label", "k8s.ns.label", "k8s.rc.label", "k8s.svc.label",
                   "k8s.rs.label", "k8s.deployment.label", "k8smeta.pod.label",
                   "k8smeta.ns.label", "k8smeta.deployment.label", "k8smeta.svc.label",
                   "k8smeta.rs.label", "k8smeta.rc.label", "mesos.task.label",
                   "marathon.app.label", "span.arg", "span.enterarg", "evtin.span.arg",
                   "evtin.span.p.arg", "evtin.span.s.arg", "evtin.span.m.arg")


def is_falco_field(name: str) -> bool:
    """Whether some Falco defines the field (with or without a dotted argument)."""
    if name in FALCO_FIELDS:
        return True
    return any(name.startswith(base + ".") and len(name) > len(base) + 1
               for base in DOTTED_ARGUMENT)
