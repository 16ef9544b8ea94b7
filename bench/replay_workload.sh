#!/bin/sh
# The workload bench/replay_throughput.py records (with `scapula record --all`) to
# have a large, varied capture to replay: a compile, an import-heavy Python run,
# loopback sockets (TCP, UDP, unix, HTTP), an archive made, unpacked, searched and
# copied, a git repository, shell pipelines, a command run as another user, and the
# demo's shell session (which reads /etc/shadow and runs a dropped script, so some
# rules fire). Rounds repeat until ROUNDS or until the recorder has enough and stops
# the script.
#
# Usage: replay_workload.sh WORKDIR PYTHON BENCHDIR ROUNDS
# WORKDIR must hold demo.sh (scapula.demo.WORKLOAD) and target.txt.
set -u
work=$1 py=$2 bench=$3 rounds=$4
cd "$work" || exit 1
i=0
while [ "$i" -lt "$rounds" ]; do
    i=$((i + 1))
    # a compile: gcc runs cpp/cc1, as, collect2 and ld; then the program, briefly
    cc -O2 -o syscalls "$bench/syscalls.c"
    ./syscalls 1000 200 "$work/target.txt" 10 > /dev/null
    # an import-heavy Python run
    "$py" -c 'import argparse, asyncio, csv, decimal, email.mime.multipart, http.client, json
import logging, sqlite3, unittest, xml.dom.minidom, zipfile
db = sqlite3.connect("bench.db"); db.execute("create table if not exists t (x)")
db.executemany("insert into t values (?)", [(n,) for n in range(200)]); db.commit()'
    rm -f bench.db
    # loopback sockets
    "$py" "$bench/loopback.py" 20
    # files: an archive made, unpacked, searched, sorted, copied, removed
    tar czf inc.tgz -C /usr/include linux
    mkdir -p x && tar xzf inc.tgz -C x
    find x -name '*.h' | xargs grep -l 'struct' | sort > found.txt
    grep -rh '^#define' x | awk '{print $2}' | sort | uniq -c | sort -rn | sed -n 1,20p > defines.txt
    cp -r x y && chmod -R go-w y && mv y z
    rm -rf x z inc.tgz found.txt defines.txt
    # git: a repository made, committed to and read back
    rm -rf repo && mkdir repo && cd repo
    git init -q . && cp "$bench"/*.py . && git add . \
        && git -c user.name=bench -c user.email=bench@localhost commit -qm "round $i" \
        && git log --stat > /dev/null && git diff HEAD~0 > /dev/null
    cd "$work" && rm -rf repo
    # processes: short shell pipelines
    for j in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        echo "line $j" | sed "s/line/row/" | tr a-z A-Z | wc -c > /dev/null
        date +%s > /dev/null
    done
    # another user
    setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'id; ls /tmp; cat /etc/passwd' > /dev/null 2>&1
    # the demo's shell session
    sh demo.sh "$work"
done
