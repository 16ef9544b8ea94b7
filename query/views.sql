-- Investigation views over the tables of query/schema.py. Every view keeps capture and
-- host, so several captures (hosts) stay apart. Column notes are in the comments.

-- process_tree: every process lifetime under its oldest known ancestor.
--   depth: 0 for a root; tree: comm indented by depth; sort_key: order by it to read
--   the tree (siblings by start time).
CREATE OR REPLACE VIEW process_tree AS
WITH RECURSIVE tree(proc_id, depth, sort_key) AS (
    SELECT p.proc_id, 0, printf('%020d:%010d/', coalesce(p.start_ns, 0), p.pid)
    FROM processes p
    WHERE p.parent_id IS NULL OR p.parent_id NOT IN (SELECT proc_id FROM processes)
    UNION ALL
    SELECT c.proc_id, t.depth + 1,
           t.sort_key || printf('%020d:%010d/', coalesce(c.start_ns, 0), c.pid)
    FROM tree t JOIN processes c ON c.parent_id = t.proc_id
    WHERE t.depth < 1000
)
SELECT p.capture, p.host, t.depth, repeat('  ', t.depth) || coalesce(p.comm, '?') AS tree,
       p.pid, p.ppid, p.exe, p.cmdline, p.uid, p.start, p."end", p.exit_code,
       p.exit_signal, p.proc_id, p.parent_id, t.sort_key
FROM tree t JOIN processes p USING (proc_id)
ORDER BY p.capture, t.sort_key;

-- process_ancestors(pid): the process (level 0), its parent (1), ... up to the oldest
-- known ancestor (init when the snapshot has it). One chain per lifetime of that pid.
CREATE OR REPLACE MACRO process_ancestors(target_pid) AS TABLE
WITH RECURSIVE up(of_proc, proc_id, parent_id, level) AS (
    SELECT proc_id, proc_id, parent_id, 0 FROM processes WHERE pid = target_pid
    UNION ALL
    SELECT u.of_proc, p.proc_id, p.parent_id, u.level + 1
    FROM up u JOIN processes p ON p.proc_id = u.parent_id
    WHERE u.level < 1000
)
SELECT u.level, p.capture, p.host, p.pid, p.ppid, p.comm, p.exe, p.cmdline, p.uid,
       p.start, p."end", p.exit_code, p.proc_id, u.of_proc
FROM up u JOIN processes p ON p.proc_id = u.proc_id
ORDER BY u.of_proc, u.level;

-- process_descendants(pid): the process (level 0) and everything it started, any depth.
CREATE OR REPLACE MACRO process_descendants(target_pid) AS TABLE
WITH RECURSIVE down(of_proc, proc_id, level, sort_key) AS (
    SELECT proc_id, proc_id, 0, printf('%020d:%010d/', coalesce(start_ns, 0), pid)
    FROM processes WHERE pid = target_pid
    UNION ALL
    SELECT d.of_proc, c.proc_id, d.level + 1,
           d.sort_key || printf('%020d:%010d/', coalesce(c.start_ns, 0), c.pid)
    FROM down d JOIN processes c ON c.parent_id = d.proc_id
    WHERE d.level < 1000
)
SELECT d.level, repeat('  ', d.level) || coalesce(p.comm, '?') AS tree, p.capture, p.host,
       p.pid, p.ppid, p.exe, p.cmdline, p.uid, p.start, p."end", p.exit_code,
       p.exit_signal, p.proc_id, p.parent_id, d.of_proc
FROM down d JOIN processes p ON p.proc_id = d.proc_id
ORDER BY d.of_proc, d.sort_key;

-- exec_timeline: every program image loaded (procexec), in time order, with its
-- parent process. filename: as passed to exec; exe: as the kernel resolved it;
-- parent_exe: the program the parent ran at that moment (its image at its last fork or
-- exec before this one; NULL when the capture saw neither and the parent exec'd).
CREATE OR REPLACE VIEW exec_timeline AS
WITH execs AS (
    SELECT e.*, p.ppid AS parent_pid, p.parent_id
    FROM events e LEFT JOIN processes p ON p.proc_id = e.proc_id
    WHERE e.type = 'procexec'
), images AS (   -- a process's image at each of its forks and execs
    SELECT proc_id, seq, exe FROM events WHERE type IN ('procfork', 'procexec')
)
SELECT x.capture, x.host, x.ts, x.pid, x.tid, x.parent_pid AS ppid,
       coalesce(i.exe, CASE WHEN pp.execs = 0 THEN pp.exe END) AS parent_exe,
       x.exe, x.args->>'filename' AS filename, CAST(x.args->'argv' AS VARCHAR[]) AS argv,
       array_to_string(CAST(x.args->'argv' AS VARCHAR[]), ' ') AS cmdline,
       x.args->>'cwd' AS cwd, x.uid, CAST(x.args->>'loginuid' AS BIGINT) AS loginuid,
       CAST(x.args->>'exe_flags' AS UBIGINT) AS exe_flags, x.proc_id
FROM execs x
ASOF LEFT JOIN images i ON i.proc_id = x.parent_id AND x.seq > i.seq
LEFT JOIN processes pp ON pp.proc_id = x.parent_id
ORDER BY x.capture, x.ts, x.seq;

-- file_activity: who opened, wrote, deleted, renamed, linked, chmod-ed what.
--   action: read | write (open for writing, creating or truncating) | delete | rmdir |
--   rename | link | symlink | mkdir | chmod | chown; path: absolute (fchmod, fchown:
--   the file the process opened as that fd, when the capture saw the open); new_path:
--   the rename's or link's new name, a symlink's target as given; fd: the fd an open
--   made, or the one fchmod/fchown named.
CREATE OR REPLACE VIEW file_activity AS
WITH acts AS (
    SELECT capture, host, ts, pid, tid, comm, exe,
           CASE
               WHEN type IN ('open', 'openat', 'openat2') THEN
                   CASE WHEN flags & 3 <> 0 OR flags & 64 <> 0 OR flags & 512 <> 0
                        THEN 'write' ELSE 'read' END
               WHEN type = 'creat' THEN 'write'
               WHEN type = 'unlinkat' AND flags & 512 <> 0 THEN 'rmdir'
               WHEN type IN ('unlink', 'unlinkat') THEN 'delete'
               WHEN type = 'rmdir' THEN 'rmdir'
               WHEN type IN ('rename', 'renameat', 'renameat2') THEN 'rename'
               WHEN type IN ('link', 'linkat') THEN 'link'
               WHEN type IN ('symlink', 'symlinkat') THEN 'symlink'
               WHEN type IN ('mkdir', 'mkdirat') THEN 'mkdir'
               WHEN type IN ('chmod', 'fchmodat', 'fchmod') THEN 'chmod'
               ELSE 'chown'
           END AS action,
           path,
           CASE WHEN type IN ('symlink', 'symlinkat') THEN args->>'target' ELSE path2 END
               AS new_path,
           path_raw, type, flags, mode,
           CASE WHEN type IN ('open', 'openat', 'openat2', 'creat') AND result >= 0
                THEN result WHEN type IN ('fchmod', 'fchown') THEN fd END AS fd,
           result, errno, proc_id, seq
    FROM events
    WHERE type IN ('open', 'openat', 'openat2', 'creat', 'unlink', 'unlinkat', 'rmdir',
                   'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink',
                   'symlinkat', 'mkdir', 'mkdirat', 'chmod', 'fchmodat', 'fchmod', 'chown',
                   'lchown', 'fchownat', 'fchown')
), fd_calls AS (
    SELECT * FROM acts WHERE type IN ('fchmod', 'fchown')
), by_fd AS (   -- fchmod and fchown: their fd's file, from the open that made it
    SELECT a.* REPLACE (o.path AS path)
    FROM fd_calls a
    ASOF LEFT JOIN (SELECT capture, proc_id, result AS fd, seq, path FROM events
                    WHERE type IN ('open', 'openat', 'openat2', 'creat') AND result >= 0
                      -- the opens of those processes only (none: no scan of the opens)
                      AND proc_id IN (SELECT proc_id FROM fd_calls)) o
        ON a.capture = o.capture AND a.proc_id = o.proc_id AND a.fd = o.fd
       AND a.seq > o.seq
)
SELECT * EXCLUDE (seq) FROM (
    SELECT * FROM acts WHERE type NOT IN ('fchmod', 'fchown')
    UNION ALL
    SELECT * FROM by_fd
)
ORDER BY capture, ts, seq;

-- network_activity: socket calls with their tuples.
--   proto: tcp/udp/raw/seqpacket of an AF_INET/AF_INET6 socket, from the socket() or
--   accept that made the fd in that process (NULL when the capture did not see it, or
--   for other families: see family); local/remote: as the call gave them (listen and
--   accept: the address the listening socket was bound to, when the capture saw it).
CREATE OR REPLACE VIEW network_activity AS
WITH made AS (   -- what each fd of a process last became: a socket, accepted, or closed
    SELECT capture, proc_id, result AS fd, seq,
           CASE WHEN family IN ('AF_INET', 'AF_INET6') THEN
               CASE WHEN type <> 'socket' THEN 'tcp'
                    ELSE CASE CAST(args->>'socktype' AS UBIGINT) & 15 WHEN 1 THEN 'tcp'
                        WHEN 2 THEN 'udp' WHEN 3 THEN 'raw' WHEN 5 THEN 'seqpacket' END
               END
           END AS proto, family
    FROM events WHERE type IN ('socket', 'accept', 'accept4') AND result >= 0
    UNION ALL
    SELECT capture, proc_id, fd, seq, NULL, NULL FROM events
    WHERE type = 'close' AND result = 0
), binds AS (
    SELECT capture, proc_id, fd, seq, local_addr, local_port
    FROM events WHERE type = 'bind' AND result = 0
), net AS (
    SELECT * FROM events
    WHERE type IN ('connect', 'accept', 'accept4', 'bind', 'listen', 'shutdown')
       OR (remote_addr IS NOT NULL
           AND type IN (SELECT type FROM event_types WHERE category = 'net'))
), joined AS (
    SELECT n.* REPLACE (coalesce(n.family, m.family) AS family), m.proto,
           -- the bind counts while no socket, accept or close came after it on the fd
           CASE WHEN n.type IN ('listen', 'accept', 'accept4')
                 AND b.seq > coalesce(m.seq, -1) THEN b.local_addr END AS bound_addr,
           CASE WHEN n.type IN ('listen', 'accept', 'accept4')
                 AND b.seq > coalesce(m.seq, -1) THEN b.local_port END AS bound_port
    FROM net n
    ASOF LEFT JOIN made m ON n.capture = m.capture AND n.proc_id = m.proc_id
                         AND n.fd = m.fd AND n.seq > m.seq
    ASOF LEFT JOIN binds b ON n.capture = b.capture AND n.proc_id = b.proc_id
                          AND n.fd = b.fd AND n.seq > b.seq
)
SELECT capture, host, ts, pid, tid, comm, exe, type, fd, family, proto,
       coalesce(local_addr, bound_addr) AS local_addr,
       coalesce(local_port, bound_port) AS local_port,
       remote_addr, remote_port,
       CASE WHEN type IN ('accept', 'accept4') AND result >= 0 THEN result END AS new_fd,
       result, errno, proc_id, seq
FROM joined
ORDER BY capture, ts, seq;

-- connections: one row per connection made (connect, also in progress) or accepted.
--   direction: out (connect) or in (accept); closed: when its fd ended (fds.closed:
--   close, exit, ...; NULL while open at the capture's end); fd_id: that fd's lifetime.
CREATE OR REPLACE VIEW connections AS
WITH conns AS (
    SELECT capture, host, ts, pid, comm, exe,
           CASE WHEN type = 'connect' THEN 'out' ELSE 'in' END AS direction,
           family, proto, local_addr, local_port, remote_addr, remote_port,
           CASE WHEN type = 'connect' THEN fd ELSE new_fd END AS fd, result, errno,
           proc_id, seq
    FROM network_activity
    WHERE (type = 'connect' AND (result = 0 OR errno = 'EINPROGRESS'))
       OR (type IN ('accept', 'accept4') AND result >= 0)
), lives AS (
    SELECT capture, proc_id, fd, coalesce(opened_seq, -1) AS since, fd_id, closed,
           closed_by
    FROM fds
)
SELECT c.capture, c.host, c.ts, c.pid, c.comm, c.exe, c.direction, c.family, c.proto,
       c.local_addr, c.local_port, c.remote_addr, c.remote_port, c.fd, c.result, c.errno,
       c.proc_id, l.closed, l.closed_by, l.fd_id
FROM conns c
ASOF LEFT JOIN lives l ON c.capture = l.capture AND c.proc_id = l.proc_id AND c.fd = l.fd
                      AND c.seq >= l.since
ORDER BY c.capture, c.ts, c.seq;

-- privilege_changes: the setuid family, capset and ptrace, with what they asked for
-- (uid, gid: the caller's real ids once the call returned; cap_*: capabilities 0-63).
CREATE OR REPLACE VIEW privilege_changes AS
SELECT capture, host, ts, pid, tid, comm, exe, type, uid, gid,
       CAST(coalesce(args->>'new_uid', args->>'ruid') AS BIGINT) AS new_uid,
       CAST(args->>'euid' AS BIGINT) AS new_euid, CAST(args->>'suid' AS BIGINT) AS new_suid,
       CAST(coalesce(args->>'new_gid', args->>'rgid') AS BIGINT) AS new_gid,
       CAST(args->>'egid' AS BIGINT) AS new_egid, CAST(args->>'sgid' AS BIGINT) AS new_sgid,
       CAST(args->>'effective' AS UBIGINT) AS cap_effective,
       CAST(args->>'permitted' AS UBIGINT) AS cap_permitted,
       CAST(args->>'request' AS UBIGINT) AS ptrace_request,
       CAST(args->>'target' AS BIGINT) AS target_pid, result, errno, proc_id
FROM events
WHERE type IN ('setuid', 'setgid', 'setresuid', 'setresgid', 'setreuid', 'setregid',
               'capset', 'ptrace')
ORDER BY capture, ts, seq;

-- suspicious: examples of what deserves a look: a program or script run from /tmp,
-- /var/tmp or /dev/shm, from a memfd (fileless), or from a file deleted since; also the
-- processes already running so when the recording started (ts: their start).
--   filename: what was run as given, made absolute with the exec's cwd (a script's
--   path, where exe is its interpreter); one that climbs (..) is left as given and
--   not judged: without the file system, /tmp/a/../../bin/x cannot be told apart.
CREATE OR REPLACE VIEW suspicious AS
WITH runs AS (
    SELECT capture, host, ts, pid, ppid, parent_exe, exe,
           CASE WHEN filename LIKE '/%' OR cwd IS NULL OR filename LIKE '%..%'
                THEN filename
                ELSE regexp_replace(cwd || '/' || filename, '/(\./)+', '/', 'g') END
               AS filename,
           cmdline, coalesce(exe_flags, 0) AS exe_flags, proc_id
    FROM exec_timeline
    UNION ALL
    SELECT p.capture, p.host, p.start, p.pid, p.ppid, pp.exe, p.exe, NULL, p.cmdline,
           CASE WHEN p.exe LIKE '% (deleted)' THEN 4 ELSE 0 END, p.proc_id
    FROM processes p LEFT JOIN processes pp ON pp.proc_id = p.parent_id
    WHERE p.origin = 'snapshot'
), judged AS (
    SELECT *, filename NOT LIKE '%/..%' AS plain,   -- (a climbing path is not judged)
           CASE
               WHEN exe_flags & 1 <> 0 OR exe LIKE '/memfd:%' THEN 'memfd exec'
               WHEN exe LIKE '/tmp/%' OR exe LIKE '/var/tmp/%'
                 OR (plain AND (filename LIKE '/tmp/%' OR filename LIKE '/var/tmp/%'))
                   THEN 'exec from /tmp'
               WHEN exe LIKE '/dev/shm/%' OR (plain AND filename LIKE '/dev/shm/%')
                   THEN 'exec from /dev/shm'
               WHEN exe_flags & 4 <> 0 THEN 'exec of a deleted file'
           END AS reason
    FROM runs
)
SELECT capture, host, ts, pid, ppid, parent_exe, exe, filename, cmdline, reason, proc_id
FROM judged
WHERE reason IS NOT NULL
ORDER BY capture, ts, pid;
