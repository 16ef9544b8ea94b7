"""Loopback network chatter for bench/replay_workload.sh: TCP, UDP, a unix socket pair and HTTP, client and server in one process.

Usage: python loopback.py [CONNECTIONS]. Every server is a thread of this process
and is gone when it returns, so a workload killed mid-round leaves nothing behind.
"""
import http.server
import socket
import sys
import threading
import urllib.request

MESSAGES = 10


def tcp(connections: int) -> None:
    """A TCP echo server; each client connects, sends and reads MESSAGES lines."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        for _ in range(connections):
            conn, _ = server.accept()
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    t = threading.Thread(target=serve)
    t.start()
    for i in range(connections):
        with socket.create_connection(("127.0.0.1", port)) as c:
            for j in range(MESSAGES):
                c.sendall(f"hello {i} {j}\n".encode())
                c.recv(4096)
    t.join()
    server.close()


def udp(datagrams: int) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(datagrams):
        tx.sendto(f"datagram {i}".encode(), rx.getsockname())
        rx.recvfrom(4096)
    tx.close()
    rx.close()


def unix_pair(messages: int) -> None:
    a, b = socket.socketpair()
    for i in range(messages):
        a.send(f"ping {i}".encode())
        b.recv(4096)
    a.close()
    b.close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def http_gets(requests: int) -> None:
    """A threaded HTTP file server on the current folder, fetched with urllib."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=server.serve_forever)
    t.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    for _ in range(requests):
        with urllib.request.urlopen(url) as r:
            r.read()
    server.shutdown()
    t.join()
    server.server_close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    tcp(n)
    udp(n * MESSAGES)
    unix_pair(n * MESSAGES)
    http_gets(n)


if __name__ == "__main__":
    main()
