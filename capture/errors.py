"""The exceptions the recorder raises; the CLI turns each into a one-line error."""
from scapula.errors import ScapulaError


class KernelError(ScapulaError):
    """The running kernel lacks something the recorder needs (BTF, BPF, a tracepoint)."""
    exit_code = 4
