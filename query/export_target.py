"""The export's output directory: checked before anything is loaded, written through a
staging directory inside it, and filled only once every file is complete, so a failed or
interrupted export leaves the directory as it was."""
import json
import os
import shutil
import tempfile

from scapula.errors import OutputError, UsageError

MANIFEST = "export.json"


class Target:
    """DIR for one export. Use as a context manager: `stage` is where files go, and
    publish() moves them into DIR (replacing an earlier export's with --overwrite)."""

    def __init__(self, out: str, overwrite: bool = False):
        self.out, self.overwrite = out, overwrite
        self.stage: str | None = None
        self.created = False
        self.previous: list[str] = []  # what an earlier export wrote here
        self._umask = 0

    def __enter__(self):
        self._check()
        # Exports hold what the captures hold (argv, environments, paths): private to
        # the owner like the capture files (0600), whatever writes them (DuckDB too).
        self._umask = os.umask(0o077)
        try:
            if not os.path.isdir(self.out):
                os.makedirs(self.out)
                self.created = True
            # inside DIR, so publishing is a rename on one file system
            self.stage = tempfile.mkdtemp(prefix=".scapula-export-", dir=self.out)
        except OSError as e:
            self.__exit__(type(e))  # the umask back, and DIR if made here
            raise OutputError(f"{self.out}: cannot write there: {e.strerror}") from None
        return self

    def __exit__(self, exc_type, *_):
        os.umask(self._umask)
        if self.stage:
            shutil.rmtree(self.stage, ignore_errors=True)
        if exc_type is not None and self.created:
            try:
                os.rmdir(self.out)
            except OSError:
                pass
        return False

    def publish(self, names: list[str]) -> None:
        """Move the staged outputs into DIR; an earlier export's go first. Nothing is
        removed unless all of it is what an export writes (checked before anything is)."""
        self._check_replaceable(names)
        try:
            for name in sorted(set(self.previous) | set(names)):
                _remove(os.path.join(self.out, name))
            for name in names:
                os.rename(os.path.join(self.stage, name), os.path.join(self.out, name))
        except OSError as e:
            raise OutputError(f"{e.filename or self.out}: cannot write: {e.strerror}") from None

    def _check_replaceable(self, names: list[str]) -> None:
        """Refuse to replace a file the earlier export did not list, or a listed
        directory holding anything an export does not write (a note of the user's in
        DIR/events/host=web1/): the user's files are never removed."""
        for name in names:
            path = os.path.join(self.out, name)
            if os.path.lexists(path) and name not in self.previous:
                raise UsageError(f"{path}: exists and is not from the earlier export "
                                 f"(its {MANIFEST} does not list it); move it away first")
        for name in set(self.previous) | set(names):
            foreign = _foreign(os.path.join(self.out, name))
            if foreign:
                raise UsageError(f"{foreign}: not written by a scapula export; --overwrite "
                                 "would remove it with its directory: move it away first")

    def _check(self) -> None:
        if os.path.lexists(self.out) and not os.path.isdir(self.out):
            raise UsageError(f"{self.out}: exists and is not a directory")
        if not os.path.isdir(self.out):
            return
        try:
            entries = os.listdir(self.out)
        except OSError as e:
            raise OutputError(f"{self.out}: cannot read: {e.strerror}") from None
        if not entries:
            return
        if not self.overwrite:
            raise UsageError(f"{self.out}: exists and is not empty "
                             "(--overwrite replaces an earlier export there)")
        self.previous = self._previous_outputs()

    def _previous_outputs(self) -> list[str]:
        """The names an earlier export listed. --overwrite never touches a directory
        that is not one: it could be anyone's files."""
        try:
            with open(os.path.join(self.out, MANIFEST), encoding="utf-8") as f:
                outputs = json.load(f)["outputs"]
            names = [n for n in outputs if isinstance(n, str)]
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError(f"{self.out}: is not empty and holds no scapula export "
                             f"(no readable {MANIFEST}); --overwrite only replaces one") from None
        # plain names only: a damaged manifest must not point outside DIR
        return [n for n in names if n not in ("", ".", "..") and "/" not in n]


def _foreign(path: str) -> str | None:
    """The first thing under an output directory that an export does not write: it
    writes hive partition directories (key=value) holding data_N.parquet files, or, for
    a table without partitions, one data_0.parquet."""
    if os.path.islink(path) or not os.path.isdir(path):
        return None
    for top, dirs, files in os.walk(path):
        for d in dirs:
            if "=" not in d:
                return os.path.join(top, d)
        for f in files:
            if not (f.startswith("data_") and f.endswith(".parquet")
                    and f[5:-8].isdigit()):
                return os.path.join(top, f)
    return None


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
